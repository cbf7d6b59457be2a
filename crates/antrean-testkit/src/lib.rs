//! Test and documentation tools for antrean-kiosk, outside the product:
//! the shared support of the kiosk's integration tests and benchmarks
//! (temporary offices, pseudo-terminal ports, a printer emulator, the real
//! binaries, the central service, keys and tokens, waiting with a
//! deadline), and headless rendering of the screens with Slint's testing
//! backend. The kiosk's tests and benchmarks use it as a dev-dependency;
//! no release build links it (checked by the kiosk's dependency test).

pub mod central;
pub mod daemon;
pub mod keys;
pub mod office;
pub mod printer_emulator;
pub mod pty;
pub mod screenshots;
pub mod wait;

/// Everything a test usually needs, in one `use`.
pub mod prelude {
    pub use crate::central::*;
    pub use crate::daemon::*;
    pub use crate::keys::*;
    pub use crate::office::*;
    pub use crate::printer_emulator::*;
    pub use crate::pty::*;
    pub use crate::wait::*;
}
