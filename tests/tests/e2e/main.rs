//! signgate end to end: a real gateway started in-process on 127.0.0.1:0, driven through its
//! real gRPC API with the `signgate-proto` client.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code,
    reason = "test code: helpers are not #[test] fns, and a failed expectation should stop loudly"
)]

mod admin;
mod alert_effects;
mod alert_rules;
mod alerts;
mod approvals;
mod attacks;
mod audit_down;
mod bad_input;
mod bybit;
mod cancel;
mod chain;
mod console;
mod decisions;
mod demo;
mod eligible;
mod failures;
mod list_events;
mod list_fetch;
mod live_chain;
mod logs;
mod metrics;
mod nonce;
mod oracle;
mod policy_apply;
mod release;
mod restart;
mod sanctions;
mod shutdown;
mod signatures;
mod support;
mod velocity;
mod webauthn;
mod witness;
mod words;
