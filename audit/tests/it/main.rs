//! Audit crate tests: Merkle proofs against RFC 6962 examples and a naive model, a realistic
//! log that verifies, ≥1,000 tamper trials per kind and replay under a stricter policy.
//! The log is built in memory
//! ([`memory::MemoryLog`]); the gateway's tests build the same log in its SQLite store.

mod memory;
mod merkle;
mod realistic;
mod replay;
mod tamper;
