//! The crate's software authenticator (`signgate_webauthn::testing`, feature `testing`).

pub use signgate_webauthn::testing::*;
