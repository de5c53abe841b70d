//! The signgate gRPC API, package `signgate.v1`: generated prost messages and tonic services.
//! No logic lives here; conversion to domain types happens in the gateway.

#![allow(missing_docs, missing_debug_implementations, clippy::all)]

/// Messages and services of `signgate.v1`.
pub mod v1 {
    tonic::include_proto!("signgate.v1");
}
