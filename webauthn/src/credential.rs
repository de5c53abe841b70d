//! The enrolled credential as a policy holds it: credential id, public key, relying-party id,
//! and their text forms (base64url without padding) for the policy TOML.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::{
    base64url,
    public_key::{CredentialPublicKey, MAX_COSE_KEY_LEN, PublicKeyError},
};

/// The longest credential id WebAuthn allows (§5.8.3: at most 1023 bytes).
pub const MAX_CREDENTIAL_ID_LEN: usize = 1023;

/// The longest relying-party id accepted (a DNS name is at most 253 characters).
pub const MAX_RP_ID_LEN: usize = 253;

/// Why a credential (or one of its parts) is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// An empty credential id.
    #[error("credential id is empty")]
    IdEmpty,
    /// A credential id over [`MAX_CREDENTIAL_ID_LEN`] bytes.
    #[error("credential id is {len} bytes; at most {max} are allowed")]
    IdTooLong {
        /// Its length.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// The credential id's text is not base64url without padding.
    #[error("credential id is not base64url without padding")]
    IdEncoding,
    /// The public key's text is not base64url without padding.
    #[error("public key is not base64url without padding")]
    PublicKeyEncoding,
    /// The public key is refused.
    #[error("public key: {0}")]
    PublicKey(#[from] PublicKeyError),
    /// The relying-party id is not a lowercase DNS name (letters, digits, `-`, `.`), or empty,
    /// or too long.
    #[error("relying-party id {rp_id:?} is not a lowercase domain name")]
    RpId {
        /// What was given (at most [`MAX_RP_ID_LEN`] + 1 characters of it).
        rp_id: String,
    },
}

/// A credential id: 1 to [`MAX_CREDENTIAL_ID_LEN`] opaque bytes the authenticator chose.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CredentialId(Vec<u8>);

impl CredentialId {
    /// Checks the length.
    pub fn new(bytes: Vec<u8>) -> Result<Self, CredentialError> {
        if bytes.is_empty() {
            return Err(CredentialError::IdEmpty);
        }
        if bytes.len() > MAX_CREDENTIAL_ID_LEN {
            return Err(CredentialError::IdTooLong {
                len: bytes.len(),
                max: MAX_CREDENTIAL_ID_LEN,
            });
        }
        Ok(Self(bytes))
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// base64url without padding.
impl fmt::Display for CredentialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&base64url::encode(&self.0))
    }
}

impl FromStr for CredentialId {
    type Err = CredentialError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // 4 characters per 3 bytes: refuse before decoding anything far over the bound.
        if s.len() > MAX_CREDENTIAL_ID_LEN.div_ceil(3) * 4 {
            return Err(CredentialError::IdTooLong {
                len: s.len() / 4 * 3,
                max: MAX_CREDENTIAL_ID_LEN,
            });
        }
        Self::new(base64url::decode(s).ok_or(CredentialError::IdEncoding)?)
    }
}

/// base64url (no padding) of the canonical COSE encoding.
impl fmt::Display for CredentialPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&base64url::encode(self.to_cose()))
    }
}

impl FromStr for CredentialPublicKey {
    type Err = CredentialError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() > MAX_COSE_KEY_LEN.div_ceil(3) * 4 {
            return Err(PublicKeyError::TooLong {
                len: s.len() / 4 * 3,
                max: MAX_COSE_KEY_LEN,
            }
            .into());
        }
        let bytes = base64url::decode(s).ok_or(CredentialError::PublicKeyEncoding)?;
        Ok(Self::from_canonical_cose(&bytes)?)
    }
}

/// Checks a relying-party id: a lowercase domain name (or `localhost`), compared byte for byte
/// with what authenticators hash, so one spelling only.
pub(crate) fn check_rp_id(rp_id: &str) -> Result<(), CredentialError> {
    let ok = !rp_id.is_empty()
        && rp_id.len() <= MAX_RP_ID_LEN
        && !rp_id.starts_with('.')
        && !rp_id.ends_with('.')
        && rp_id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(CredentialError::RpId {
            rp_id: rp_id.chars().take(MAX_RP_ID_LEN + 1).collect(),
        })
    }
}

/// An enrolled WebAuthn credential: what the policy holds for an operator who approves with a
/// security key or passkey.
///
/// Its text form (serde) is a table `{ id, public_key, rp_id }` with `id` and `public_key` in
/// base64url without padding; unknown fields are refused and the key must be canonical.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "CredentialText", into = "CredentialText")]
pub struct Credential {
    id: CredentialId,
    public_key: CredentialPublicKey,
    rp_id: String,
}

impl Credential {
    /// Checks the relying-party id and puts the parts together.
    pub fn new(
        id: CredentialId,
        public_key: CredentialPublicKey,
        rp_id: &str,
    ) -> Result<Self, CredentialError> {
        check_rp_id(rp_id)?;
        Ok(Self {
            id,
            public_key,
            rp_id: rp_id.to_owned(),
        })
    }

    /// The credential id.
    pub fn id(&self) -> &CredentialId {
        &self.id
    }

    /// The public key.
    pub fn public_key(&self) -> &CredentialPublicKey {
        &self.public_key
    }

    /// The relying-party id whose SHA-256 every assertion must carry.
    pub fn rp_id(&self) -> &str {
        &self.rp_id
    }

    /// The 32-byte identifier of the key ([`CredentialPublicKey::key_id`]): the same key
    /// enrolled twice, under two credential ids, is one approver.
    pub fn key_id(&self) -> [u8; 32] {
        self.public_key.key_id()
    }
}

/// The text form of a [`Credential`].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialText {
    id: String,
    public_key: String,
    rp_id: String,
}

impl TryFrom<CredentialText> for Credential {
    type Error = CredentialError;

    fn try_from(t: CredentialText) -> Result<Self, Self::Error> {
        Self::new(t.id.parse()?, t.public_key.parse()?, &t.rp_id)
    }
}

impl From<Credential> for CredentialText {
    fn from(c: Credential) -> Self {
        Self {
            id: c.id.to_string(),
            public_key: c.public_key.to_string(),
            rp_id: c.rp_id,
        }
    }
}
