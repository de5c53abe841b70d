//! Audit crate tests: Merkle proofs against RFC 6962 examples and a naive model, a realistic
//! log that verifies, ≥1,000 tamper trials per kind, replay under a stricter policy, and the
//! `signgate-audit` binary on a real export. The log is built in memory
//! ([`memory::MemoryLog`]); the gateway's tests build the same log in its SQLite store.

mod cli;
mod memory;
mod merkle;
mod policy_chain;
mod realistic;
mod replay;
mod tamper;
