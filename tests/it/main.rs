//! The kiosk's integration tests, one binary (one link of the whole crate),
//! one module per concern. The real binaries run on pseudo-terminals with
//! a printer emulator, the real central service on 127.0.0.1, the screens
//! under Slint's testing backend. The shared support (ptys, the printer
//! emulator, the daemon and central processes, keys, waiting) is the
//! `antrean-testkit` crate. Tests that run `antrean-central` find it next
//! to this binary: run the whole `cargo test` at the top of the workspace.

mod audio;
mod board_sync;
mod cage;
mod central_faults;
mod central_loop;
mod central_unreachable;
mod cli;
mod config_files;
mod daemon;
mod dependencies;
mod fuzz;
mod hostile;
mod manifest_match;
mod ops;
mod panic_policy;
mod printer;
mod printer_setup;
mod priority;
mod shipped_config;
mod soak;
mod spec_vectors;
mod ticket_status;
mod ui;
