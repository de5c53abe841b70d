//! Test support for the live chain state feature, from `signgate-testkit` (shared with the load
//! generator's live mode): a real JSON-RPC node (ganache) with the real Safe 1.4.1 stack
//! ([`node::ChainNode`]) and a JSON-RPC proxy that counts round trips and injects faults
//! ([`proxy::RpcProxy`]). Re-exported here so the tests keep naming them `crate::chain::…`;
//! `selftest` checks the support itself against a real node.

pub use signgate_testkit::{ChainNode, RpcProxy, node, proxy};

mod selftest;
