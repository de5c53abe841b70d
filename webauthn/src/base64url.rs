//! base64url without padding: the one text form of bytes in WebAuthn's JSON (challenges,
//! `toJSON()` fields) and in policy files.
//!
//! Decoding is strict (no padding, no non-zero trailing bits), so every byte string has exactly
//! one text form and a text form decodes to at most one byte string.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};

pub(crate) fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `None` when `text` is not canonical unpadded base64url.
pub(crate) fn decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}
