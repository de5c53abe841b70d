//! Integration tests of the Safe model against real vectors and fixtures.

mod decode;
mod deployments;
mod signatures;
mod tx_service;
mod vectors;
mod support;
mod evm_bybit;
mod evm_transfers;
mod evm_multisend;
mod evm_permissions;
mod evm_disguised;
mod evm_failures;
mod evm_fork;
mod differential;
mod evm_snapshots;
