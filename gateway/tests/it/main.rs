//! Integration tests of the gateway's foundations: the SQLite store on a real file, the tonic
//! server through real gRPC on 127.0.0.1:0, and the gateway's client to reference signers.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers fail the test loudly"
)]

mod fixtures;
mod limits;
#[path = "../pki/mod.rs"]
mod pki;
mod server;
mod signer_backends;
mod store;
mod support;
mod tls;
