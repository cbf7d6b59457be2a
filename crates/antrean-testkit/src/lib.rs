//! Test and documentation tools for antrean-kiosk, outside the product:
//! headless rendering of the screens with Slint's testing backend. The
//! kiosk's tests and benchmarks use it as a dev-dependency; no release
//! build links it (checked by `tests/dependencies.rs`).

pub mod screenshots;
