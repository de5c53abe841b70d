//! Audit log tests that need the live SQLite log: the durable store (reopening, key binding,
//! on-disk edits, an unwritable or full volume, checkpoint delivery) and the `signgate audit`
//! commands. The format, Merkle, verifier and replay tests live in the audit crate
//! (`audit/tests/it`), which builds the same realistic log in memory.

mod cli;
mod fixtures;
mod store;

/// The realistic log, defined once beside the audit crate's tests and appended here to the
/// durable log.
#[path = "../../../audit/tests/it/realistic.rs"]
mod realistic;

/// The CLI module refers to `crate::audit`; point that at the library so the file compiles
/// here exactly as it does inside the crate.
mod audit {
    pub use signgate_gateway::audit::*;
}
mod out {
    pub use signgate_gateway::cli::out::*;
}
mod console {
    pub use signgate_gateway::console::*;
}
#[path = "../../src/cli/audit.rs"]
#[allow(dead_code)]
mod cli_audit;
