//! The signgate gateway: besides `signgate-signer`, the only crate that does I/O or reads the clock.

#![warn(unreachable_pub)]
#![warn(missing_docs)]

pub mod anomaly;
pub mod api;
pub mod audit;
pub mod call_facts;
pub mod call_span;
pub mod cli;
pub mod clock;
pub mod config;
pub mod console;
pub mod descriptors;
pub mod domain;
pub mod error;
pub mod governance;
pub mod lists;
pub mod metrics;
pub mod pipeline;
pub mod serve;
pub mod server;
pub mod signer_backends;
pub mod store;
pub mod tls;
pub mod transport;
