//! Integration tests of signgate-policy: one binary, one module per area.

mod keys;
mod corpus;
