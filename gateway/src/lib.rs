//! The signgate gateway: the only crate that does I/O or reads the clock.

pub mod audit;
pub mod cli;
pub mod config;
pub mod governance;
pub mod lists;
pub mod metrics;
pub mod pipeline;
pub mod server;
pub mod signer;
pub mod store;
pub mod tls;
pub mod transport;
