//! clientDataJSON (WebAuthn §5.8.1): what the browser says it asked the authenticator to sign,
//! and the checks that bind it to one ceremony, one challenge and one allowed origin.
//!
//! The browser, not the authenticator, writes this JSON; the authenticator signs its SHA-256.
//! Fields signgate does not read (`tokenBinding`, future ones) are ignored, as WebAuthn asks;
//! a field given twice is refused.

use serde::{Deserialize, Deserializer};
use sha2::{Digest as _, Sha256};

use crate::base64url;

/// The longest clientDataJSON accepted (browsers write a few hundred bytes).
pub const MAX_CLIENT_DATA_JSON_LEN: usize = 4096;

/// Why clientDataJSON is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientDataError {
    /// Longer than [`MAX_CLIENT_DATA_JSON_LEN`].
    #[error("clientDataJSON is {len} bytes; at most {max} are accepted")]
    TooLong {
        /// Its length.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// Not a JSON object with string `type`, `challenge` and `origin`.
    #[error("clientDataJSON is malformed (line {line}, column {column})")]
    Malformed {
        /// Where the parser stopped.
        line: usize,
        /// Where the parser stopped.
        column: usize,
    },
    /// `type` names the other ceremony (`webauthn.create` for an assertion, or the reverse).
    #[error("clientDataJSON type is {found:?}; {expected:?} is required")]
    WrongType {
        /// The type this ceremony requires.
        expected: &'static str,
        /// The type found.
        found: String,
    },
    /// `challenge` is not base64url without padding.
    #[error("clientDataJSON challenge is not base64url without padding")]
    ChallengeEncoding,
    /// `challenge` decodes to other bytes than the expected challenge: the signature was made
    /// for another statement or another enrolment.
    #[error("clientDataJSON challenge is not the expected challenge")]
    ChallengeMismatch,
    /// `origin` is not one of the allowed origins (exact comparison).
    #[error("origin {origin:?} is not allowed")]
    OriginNotAllowed {
        /// The origin found.
        origin: String,
    },
    /// `crossOrigin` is true: the ceremony ran in an iframe of another origin.
    #[error("the ceremony ran in a cross-origin iframe (crossOrigin is true)")]
    CrossOrigin,
    /// `crossOrigin` is present but not a boolean.
    #[error("clientDataJSON crossOrigin is not a boolean")]
    CrossOriginNotBoolean,
    /// `topOrigin` is present: the ceremony ran inside another site's page.
    #[error("clientDataJSON carries a topOrigin")]
    TopOrigin,
}

/// Which ceremony the client data must name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ceremony {
    Get,
    Create,
}

impl Ceremony {
    fn type_name(self) -> &'static str {
        match self {
            Self::Get => "webauthn.get",
            Self::Create => "webauthn.create",
        }
    }
}

#[derive(Deserialize)]
struct CollectedClientData {
    #[serde(rename = "type")]
    ty: String,
    challenge: String,
    origin: String,
    #[serde(rename = "crossOrigin", default, deserialize_with = "present")]
    cross_origin: Option<serde_json::Value>,
    #[serde(rename = "topOrigin", default, deserialize_with = "present")]
    top_origin: Option<serde_json::Value>,
}

/// `Some` whenever the field is there, `null` included (serde's `Option` would read `null` as
/// absent, and an odd `null` is not the same as no field).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(d).map(Some)
}

/// Checks `json` in order (size, parse, type, challenge, origin, crossOrigin, topOrigin) and
/// returns its SHA-256, the hash the authenticator signed.
pub(crate) fn check(
    json: &[u8],
    ceremony: Ceremony,
    challenge: &[u8],
    origins: &[String],
) -> Result<[u8; 32], ClientDataError> {
    if json.len() > MAX_CLIENT_DATA_JSON_LEN {
        return Err(ClientDataError::TooLong {
            len: json.len(),
            max: MAX_CLIENT_DATA_JSON_LEN,
        });
    }
    let data: CollectedClientData =
        serde_json::from_slice(json).map_err(|e| ClientDataError::Malformed {
            line: e.line(),
            column: e.column(),
        })?;
    if data.ty != ceremony.type_name() {
        return Err(ClientDataError::WrongType {
            expected: ceremony.type_name(),
            found: data.ty,
        });
    }
    let got = base64url::decode(&data.challenge).ok_or(ClientDataError::ChallengeEncoding)?;
    if got != challenge {
        return Err(ClientDataError::ChallengeMismatch);
    }
    if !origins.contains(&data.origin) {
        return Err(ClientDataError::OriginNotAllowed {
            origin: data.origin,
        });
    }
    match data.cross_origin {
        None | Some(serde_json::Value::Bool(false)) => {}
        Some(serde_json::Value::Bool(true)) => return Err(ClientDataError::CrossOrigin),
        Some(_) => return Err(ClientDataError::CrossOriginNotBoolean),
    }
    if data.top_origin.is_some() {
        return Err(ClientDataError::TopOrigin);
    }
    Ok(Sha256::digest(json).into())
}
