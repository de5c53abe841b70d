//! Issue 18: the anomaly rules on a synthetic but realistic team.
//!
//! Eight operators in six time zones (one working Sunday to Thursday), each with declared
//! working hours kept with some jitter, one or two devices, an office and a home network (a
//! hotel now and then), a handful of wallets, their own read volume, proposals submitted in
//! their hours and approved by colleagues minutes to hours later in theirs, the odd stale
//! signature, days off, an early start or a late finish now and then; plus a service client
//! listing proposals around the clock. The history is generated from a fixed seed, so every run sees the same 60 days (starting
//! Monday 2026-02-16, across both the US and the EU daylight-saving switches).
//!
//! Profiles learn days 1–30; then each rule must fire on its injected pattern, and the benign
//! days 31–60 must alert on at most 1% of calls.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers fail loudly on broken fixtures"
)]

mod effects;
mod month;
mod rules;
mod settings;
mod team;
