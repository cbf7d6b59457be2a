//! The thermal printer: ESC/POS encoding of tickets and the port they go to.

pub mod encode;
pub mod port;
