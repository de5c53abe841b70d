//! The signgate gRPC API, package `signgate.v1`: generated prost messages and tonic services
//! (`Gateway`, `Admin`, `Signer`) plus the encoded file descriptor set for server reflection.
//! No logic lives here; conversion to domain types happens in the gateway.

#![allow(missing_docs, missing_debug_implementations, clippy::all)]

/// Messages and services of `signgate.v1`.
pub mod v1 {
    tonic::include_proto!("signgate.v1");

    /// The encoded `FileDescriptorSet` of every `signgate.v1` file, for gRPC server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("signgate_descriptor");
}

/// Re-exported so users of the generated code name the same `Timestamp` type.
pub use prost_types;
