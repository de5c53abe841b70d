//! The deny rules. Each is a pure function from policy and evidence to reasons; none can be
//! overridden by any number of approvals.
//!
//! - [`effects`]: sanctions, simulation outcome, singleton and proxy upgrades, delegatecall
//!   allowlist and mutable code, reached Safes — the rules that stop Bybit and the sanctioned
//!   counterparty;
//! - [`initiator`]: who may propose;
//! - [`refund`]: every gas refund (the proposal's and inner Safe transactions'), denied unless
//!   capped for its wallet and asset;
//! - [`velocity`]: rolling-window limits per wallet and asset, a reached governed Safe's own
//!   included;
//! - [`intent`]: effects outside what the initiator declared.

pub mod effects;
pub mod initiator;
pub mod intent;
pub mod refund;
pub mod velocity;
