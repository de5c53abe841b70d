//! Integration tests of the Safe model against real vectors and fixtures.
mod support;
mod evm_bybit;
