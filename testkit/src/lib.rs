//! Test and benchmark support for the live chain state feature: a real JSON-RPC node (ganache)
//! with the real Safe 1.4.1 stack at its canonical addresses ([`node::ChainNode`]), and a
//! JSON-RPC proxy in front of it that counts round trips and injects faults
//! ([`proxy::RpcProxy`]). The end-to-end tests (`tests/`) and the load generator's live mode
//! (`loadgen/`) both use it, so it is a library of its own rather than a test module. It also
//! holds an HTTPS sanctions list publisher with faults ([`list_server::ListServer`]), and
//! PostgreSQL for the tests of several replicas on one database: a fresh database per test on
//! the shared server, or a private server a test may stop and start ([`postgres`]).
//!
//! Why a real node and not a snapshot: the gateway reads state over JSON-RPC, so its tests need
//! the wire (batches, keep-alive, timeouts, odd answers) as well as the EVM. Why ganache: it is
//! what `scripts/test-node-start` already pins and installs, and it can place code and storage
//! at any address (`evm_setAccountCode`, `evm_setAccountStorageAt`). The script and the Safe and
//! test-contract fixtures are found from this crate's `CARGO_MANIFEST_DIR`, so callers need no
//! particular working directory (and the fixtures are compiled in).
//!
//! ganache 7.9.2 limits the tests written on top of this (checked by hand and in the e2e
//! `chain::selftest`): no EIP-1898 block objects (`{"blockHash": …}` and `{"blockNumber": …}`
//! are refused as the block parameter of `eth_getBalance`, `eth_getStorageAt`, `eth_call`; a
//! bare block hash is "header not found"), so reads must be pinned by number; no
//! `eth_createAccessList` and no `debug_traceCall` ("method does not exist"); batches work. See
//! [`node`] for the rest.
//!
//! **This crate panics.** It is test support: a node that does not start, a JSON-RPC call that
//! fails, a transaction that reverts when it must succeed all panic with what went wrong,
//! because the test (or benchmark) built on it cannot go on and should stop loudly at the
//! cause. Never use it in the gateway or anything it links; callers that must not unwind (the
//! load generator) run it on a task and turn the panic into their own error.

#![warn(missing_docs, unreachable_pub)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test support: a broken node or proxy stops the test at the cause (see the crate docs)"
)]

pub mod list_server;
pub mod node;
pub mod pki;
pub mod postgres;
pub mod proxy;

pub use node::ChainNode;
pub use proxy::RpcProxy;
