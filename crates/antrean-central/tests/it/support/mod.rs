//! Support for the central service's tests, one concern per module:
//! waiting with a deadline (`wait`), the service in this process
//! (`service`), reading its event streams (`sse`), the real binary
//! (`binary`), the back ends tests run on (`stores`: SQLite, and
//! PostgreSQL from the throwaway cluster of `postgres`).

pub mod binary;
pub mod city;
pub mod postgres;
pub mod service;
pub mod sse;
pub mod stores;
pub mod wait;

/// The vectors' day, 20 minutes into the 09:00 session.
pub const NOW: &str = "2024-05-08T09:20:00+07:00";
/// The vectors' day.
pub const TODAY: &str = "2024-05-08";
pub const OFFICE: &str = "kota-bogor";
