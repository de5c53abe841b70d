//! Test support for the live chain state feature: a real JSON-RPC node (ganache) with the real
//! Safe 1.4.1 stack at its canonical addresses ([`node::ChainNode`]), and a JSON-RPC proxy in
//! front of it that counts round trips and injects faults ([`proxy::RpcProxy`]).
//!
//! Why a real node and not a snapshot: the gateway will read state over JSON-RPC, so its tests
//! need the wire (batches, keep-alive, timeouts, odd answers) as well as the EVM. Why ganache:
//! it is what `scripts/test-node-start` already pins and installs, and it can place code and
//! storage at any address (`evm_setAccountCode`, `evm_setAccountStorageAt`).
//!
//! ganache 7.9.2 limits the tests written on top of this (checked by hand and in `selftest`):
//! no EIP-1898 block objects (`{"blockHash": …}` and `{"blockNumber": …}` are refused as the
//! block parameter of `eth_getBalance`, `eth_getStorageAt`, `eth_call`; a bare block hash is
//! "header not found"), so reads must be pinned by number; no `eth_createAccessList` and no
//! `debug_traceCall` ("method does not exist"); batches work. See [`node`] for the rest.

pub mod node;
pub mod proxy;
mod selftest;

pub use node::ChainNode;
pub use proxy::RpcProxy;
