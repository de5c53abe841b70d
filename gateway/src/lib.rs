//! The signgate gateway: the only crate that does I/O or reads the clock.

pub mod audit;
pub mod cli;
pub mod config;
pub mod lists;
pub mod store;
pub mod server;
pub mod signer;
