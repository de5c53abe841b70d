//! Integration tests of signgate-policy: one binary, one module per area.

mod keys;
mod corpus;
mod sanctions_parse;
mod sanctions_screen;
mod sanctions_support;
mod governance;
mod properties;
mod adapters;
