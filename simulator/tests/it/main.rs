//! Integration tests of the Safe model against real vectors and fixtures.

mod decode;
mod deployments;
mod differential;
mod evm_bybit;
mod evm_disguised;
mod evm_failures;
mod evm_fork;
mod evm_lifecycle;
mod evm_multisend;
mod evm_mutable_code;
mod evm_nonces;
mod evm_permissions;
mod evm_refunds;
mod evm_report_fixtures;
mod evm_snapshots;
mod evm_transfers;
mod signatures;
mod support;
mod tx_service;
mod vectors;
