//! The Slint screens: the kiosk screen and the call board. `model` holds
//! pure view models (no Slint types); the adapters are the only code that
//! touches the generated types; `controller` turns what people do into
//! commands and what the kiosk side pushes into view models; `run` owns
//! the windows and the event loop. The UI imports the kiosk side's
//! `screen_feed` and `kiosk` types and the core, never an adapter (HTTP,
//! disk, printer). Headless screenshots are rendered by the
//! `antrean-testkit` crate, outside the product.

slint::include_modules!();

pub mod board_adapter;
pub mod controller;
pub mod kiosk_adapter;
pub mod model;
pub mod run;
