//! Audit log tests: Merkle proofs against RFC 6962 examples and a naive model, a realistic
//! log that verifies, ≥1,000 tamper trials per kind, replay under a stricter policy, an
//! unwritable store, and the `signgate audit` commands.

mod cli;
mod fixtures;
mod merkle;
mod replay;
mod store;
mod tamper;

/// The CLI module refers to `crate::audit`, `crate::server::keys` and its sibling `super::out`;
/// point those at the library so the file compiles here exactly as it does inside the crate.
mod audit {
    pub use signgate_gateway::audit::*;
}
mod server {
    pub mod keys {
        pub use signgate_gateway::server::keys::*;
    }
}
mod out {
    pub use signgate_gateway::cli::out::*;
}
#[path = "../../src/cli/audit.rs"]
#[allow(dead_code)]
mod cli_audit;
