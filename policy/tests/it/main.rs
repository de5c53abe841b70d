//! Integration tests of signgate-policy: one binary, one module per area.

mod adapters;
mod anomaly;
mod corpus;
mod governance;
mod keys;
mod properties;
mod real_reports;
mod sanctions_parse;
mod sanctions_screen;
mod sanctions_support;
mod webauthn_keys;
