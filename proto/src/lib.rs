//! The signgate gRPC API, package `signgate.v1`: generated prost messages and tonic services
//! (`Gateway`, `Admin`, `Signer`) plus the encoded file descriptor set for server reflection.
//! Beside the generated code, one piece of logic lives here because every party signs or
//! verifies the same bytes: [`envelope`], the ed25519 signature over an encoded payload under
//! a context naming its message type (submissions, approvals, release tickets, policies).
//! So does [`wire`], the one parser of the text forms inside messages (addresses, hashes,
//! amounts, instants, Safe transactions). Conversion to each crate's own types happens there.

#![deny(missing_docs)]
#![warn(unreachable_pub)]

pub mod envelope;
pub mod wire;

/// Messages and services of `signgate.v1`. Generated code: documented by the `.proto` files,
/// so the crate's lints are off inside.
#[allow(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    clippy::all
)]
pub mod v1 {
    tonic::include_proto!("signgate.v1");

    /// The encoded `FileDescriptorSet` of every `signgate.v1` file, for gRPC server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("signgate_descriptor");
}

/// Re-exported so users of the generated code name the same `Timestamp` type.
pub use prost_types;
