//! Integration tests of signgate-webauthn: one binary, one module per area. Every signature is
//! made by a real key through `authenticator`, a software authenticator.

mod assertions;
mod authenticator;
mod counter;
mod credentials;
mod encoding;
mod fixtures;
mod properties;
mod registrations;
