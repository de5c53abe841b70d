//! authenticatorData (WebAuthn §6.1): the 37-byte header (rpIdHash, flags, signCount), the
//! attested credential data of an enrolment, and the extensions map, each checked against its
//! flag.
//!
//! The fixed-offset framing is read here; the two CBOR items it may hold (the credential public
//! key and the extensions map) are decoded by ciborium and the key interpreted by coset.

use ciborium::Value;
use sha2::{Digest as _, Sha256};

use crate::{
    credential::MAX_CREDENTIAL_ID_LEN,
    public_key::{CredentialPublicKey, PublicKeyError},
};

const UP: u8 = 1 << 0;
const UV: u8 = 1 << 2;
const BE: u8 = 1 << 3;
const BS: u8 = 1 << 4;
const AT: u8 = 1 << 6;
const ED: u8 = 1 << 7;

/// The header's length: rpIdHash (32), flags (1), signCount (4).
pub const HEADER_LEN: usize = 37;

/// Why authenticatorData is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthenticatorDataError {
    /// Shorter than the 37-byte header.
    #[error("authenticator data is {len} bytes, shorter than its 37-byte header")]
    TooShort {
        /// Its length.
        len: usize,
    },
    /// rpIdHash is not SHA-256 of the credential's relying-party id.
    #[error("authenticator data was made for another relying party")]
    RpIdMismatch,
    /// The UP flag is clear: nobody touched the authenticator.
    #[error("user presence flag (UP) is not set")]
    UserNotPresent,
    /// The UV flag is clear although user verification is required.
    #[error("user verification flag (UV) is not set, and user verification is required")]
    UserNotVerified,
    /// The AT flag is set in an assertion; attested credential data belongs to enrolments.
    #[error("attested credential data flag (AT) is set in an assertion")]
    AttestedDataInAssertion,
    /// The AT flag is clear in an enrolment: there is no credential to enrol.
    #[error("attested credential data flag (AT) is not set in an enrolment")]
    AttestedDataMissing,
    /// BS (backed up) is set but BE (backup eligible) is not, which WebAuthn forbids.
    #[error("backup state flag (BS) is set without backup eligibility (BE)")]
    BackupStateWithoutEligibility,
    /// The attested credential data ends early.
    #[error("attested credential data is truncated")]
    AttestedDataTruncated,
    /// The attested credential id is longer than WebAuthn allows.
    #[error("attested credential id is {len} bytes; at most {max} are allowed")]
    CredentialIdTooLong {
        /// Its length.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// The attested credential public key is refused.
    #[error("credential public key: {0}")]
    CredentialPublicKey(PublicKeyError),
    /// The ED flag is set but no extensions map follows.
    #[error("extension data flag (ED) is set but no extensions follow")]
    ExtensionsMissing,
    /// What follows under the ED flag is not one CBOR map.
    #[error("extension data is not a CBOR map")]
    ExtensionsMalformed,
    /// Bytes follow the last item the flags announce (including extension data without ED).
    #[error("{len} bytes follow the end of the authenticator data")]
    TrailingBytes {
        /// How many.
        len: usize,
    },
}

/// The flags a verified assertion or enrolment reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flags {
    /// UP: the user touched the authenticator.
    pub user_present: bool,
    /// UV: the authenticator verified the user (PIN, biometric).
    pub user_verified: bool,
    /// BE: the credential may be backed up (synced passkey).
    pub backup_eligible: bool,
    /// BS: the credential is backed up now.
    pub backup_state: bool,
}

impl Flags {
    fn from_byte(b: u8) -> Self {
        Self {
            user_present: b & UP != 0,
            user_verified: b & UV != 0,
            backup_eligible: b & BE != 0,
            backup_state: b & BS != 0,
        }
    }
}

/// The 37-byte header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header {
    rp_id_hash: [u8; 32],
    flags: u8,
    pub(crate) counter: u32,
}

/// Which ceremony the data belongs to: assertions must not carry attested credential data,
/// enrolments must.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ceremony {
    Assertion,
    Registration,
}

/// The attested credential data of an enrolment.
#[derive(Debug)]
pub(crate) struct AttestedCredential {
    pub(crate) aaguid: [u8; 16],
    pub(crate) credential_id: Vec<u8>,
    pub(crate) public_key: CredentialPublicKey,
}

/// What [`check`] found.
#[derive(Debug)]
pub(crate) struct Checked {
    pub(crate) header: Header,
    pub(crate) flags: Flags,
    pub(crate) attested: Option<AttestedCredential>,
}

/// Parses `data` and checks, in order: the header is there, rpIdHash is SHA-256 of `rp_id`,
/// UP is set, UV is set when `require_uv`, AT matches the ceremony, BS implies BE, the
/// attested credential data (enrolments) is well formed, and ED matches what follows.
pub(crate) fn check(
    data: &[u8],
    rp_id: &str,
    require_uv: bool,
    ceremony: Ceremony,
) -> Result<Checked, AuthenticatorDataError> {
    let (header, rest) = split_header(data)?;
    let expected_hash: [u8; 32] = Sha256::digest(rp_id.as_bytes()).into();
    if header.rp_id_hash != expected_hash {
        return Err(AuthenticatorDataError::RpIdMismatch);
    }
    if header.flags & UP == 0 {
        return Err(AuthenticatorDataError::UserNotPresent);
    }
    if require_uv && header.flags & UV == 0 {
        return Err(AuthenticatorDataError::UserNotVerified);
    }
    let at = header.flags & AT != 0;
    match (ceremony, at) {
        (Ceremony::Assertion, true) => return Err(AuthenticatorDataError::AttestedDataInAssertion),
        (Ceremony::Registration, false) => return Err(AuthenticatorDataError::AttestedDataMissing),
        _ => {}
    }
    if header.flags & BS != 0 && header.flags & BE == 0 {
        return Err(AuthenticatorDataError::BackupStateWithoutEligibility);
    }
    let (attested, rest) = if at {
        let (attested, rest) = attested_credential(rest)?;
        (Some(attested), rest)
    } else {
        (None, rest)
    };
    extensions(rest, header.flags & ED != 0)?;
    Ok(Checked {
        header,
        flags: Flags::from_byte(header.flags),
        attested,
    })
}

/// The signature counter of authenticatorData, read without any other check: for the caller
/// that keeps the highest counter a credential showed (the gateway reads it back from the
/// assertions it stored after verifying them). `None` when the header is incomplete.
pub fn counter_of(data: &[u8]) -> Option<u32> {
    split_header(data).ok().map(|(h, _)| h.counter)
}

fn split_header(data: &[u8]) -> Result<(Header, &[u8]), AuthenticatorDataError> {
    let too_short = AuthenticatorDataError::TooShort { len: data.len() };
    let (rp_id_hash, rest) = data.split_first_chunk::<32>().ok_or(too_short.clone())?;
    let (&flags, rest) = rest.split_first().ok_or(too_short.clone())?;
    let (counter, rest) = rest.split_first_chunk::<4>().ok_or(too_short)?;
    Ok((
        Header {
            rp_id_hash: *rp_id_hash,
            flags,
            counter: u32::from_be_bytes(*counter),
        },
        rest,
    ))
}

fn attested_credential(data: &[u8]) -> Result<(AttestedCredential, &[u8]), AuthenticatorDataError> {
    let truncated = AuthenticatorDataError::AttestedDataTruncated;
    let (aaguid, rest) = data.split_first_chunk::<16>().ok_or(truncated.clone())?;
    let (len, rest) = rest.split_first_chunk::<2>().ok_or(truncated.clone())?;
    let len = usize::from(u16::from_be_bytes(*len));
    if len > MAX_CREDENTIAL_ID_LEN {
        return Err(AuthenticatorDataError::CredentialIdTooLong {
            len,
            max: MAX_CREDENTIAL_ID_LEN,
        });
    }
    if len == 0 {
        return Err(truncated);
    }
    let (credential_id, rest) = rest.split_at_checked(len).ok_or(truncated)?;
    let (value, rest) = read_cbor(rest).ok_or(AuthenticatorDataError::CredentialPublicKey(
        PublicKeyError::Malformed,
    ))?;
    let public_key = CredentialPublicKey::from_cbor_value(value)
        .map_err(AuthenticatorDataError::CredentialPublicKey)?;
    Ok((
        AttestedCredential {
            aaguid: *aaguid,
            credential_id: credential_id.to_vec(),
            public_key,
        },
        rest,
    ))
}

fn extensions(data: &[u8], ed: bool) -> Result<(), AuthenticatorDataError> {
    if !ed {
        return match data.len() {
            0 => Ok(()),
            len => Err(AuthenticatorDataError::TrailingBytes { len }),
        };
    }
    if data.is_empty() {
        return Err(AuthenticatorDataError::ExtensionsMissing);
    }
    match read_cbor(data) {
        Some((Value::Map(_), [])) => Ok(()),
        Some((Value::Map(_), rest)) => {
            Err(AuthenticatorDataError::TrailingBytes { len: rest.len() })
        }
        _ => Err(AuthenticatorDataError::ExtensionsMalformed),
    }
}

/// One CBOR item from the front of `data`, and what follows it.
fn read_cbor(data: &[u8]) -> Option<(Value, &[u8])> {
    let mut rest = data;
    let value = ciborium::from_reader::<Value, _>(&mut rest).ok()?;
    Some((value, rest))
}
