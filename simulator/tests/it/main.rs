//! Integration tests of the Safe model against real vectors and fixtures.

mod decode;
mod deployments;
mod signatures;
mod tx_service;
mod vectors;
mod support;
mod evm_bybit;
