//! Renders both screens in their main states at every supported size (PNG):
//! `cargo run -p antrean-testkit --bin screenshots [-- OUT_DIR]`
//! (default `docs/screenshots`).

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("docs/screenshots"));
    match antrean_testkit::screenshots::render_all(&out) {
        Ok(files) => {
            println!("{} screenshots in {}", files.len(), out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("screenshots: {e}");
            ExitCode::FAILURE
        }
    }
}
