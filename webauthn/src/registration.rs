//! Enrolment: a `navigator.credentials.create()` response checked and turned into the
//! [`Credential`] a policy will hold.
//!
//! Attestation: signgate does not trust device attestation chains (it keeps no FIDO Metadata
//! Service roots and decides nothing on an authenticator's make). The operator's identity at
//! enrolment is established by whoever approves the enrolment, not by the device. Accepted
//! formats are therefore `none` (empty statement) and `packed` self-attestation (no `x5c`, the
//! signature made by the credential's own key over `authenticatorData || clientDataHash`,
//! which shows the key is used by the authenticator that produced this data). Every other
//! format, and `packed` with a certificate chain, is refused with an error naming it; a
//! browser asked for `attestation: "none"` (the console's default) sends `none`.

use ciborium::Value;
use serde::Deserialize;

use crate::{
    authenticator_data::{self, AuthenticatorDataError, Ceremony, Flags},
    base64url,
    client_data::{self, ClientDataError},
    credential::{Credential, CredentialError, CredentialId},
    public_key::SignatureError,
};

/// The longest attestation object accepted (a `none` or self-attested one is a few hundred
/// bytes; the bound leaves room to read and name a refused certificate-carrying one).
pub const MAX_ATTESTATION_OBJECT_LEN: usize = 16 * 1024;

/// The longest JSON form accepted by [`RegistrationResponse::from_json`].
pub const MAX_REGISTRATION_JSON_LEN: usize = 32 * 1024;

/// What an enrolment must match, decided by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationExpected {
    /// The challenge the browser was given for this enrolment.
    pub challenge: Vec<u8>,
    /// The allowed origins, compared exactly.
    pub origins: Vec<String>,
    /// The relying-party id the credential is created for.
    pub rp_id: String,
    /// Whether the UV flag is required.
    pub require_user_verification: bool,
}

/// The attestation formats accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttestationFormat {
    /// `none`.
    None,
    /// `packed` self-attestation (signed by the credential key, no certificate).
    PackedSelf,
}

/// A verified enrolment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    /// The credential the policy will hold.
    pub credential: Credential,
    /// The initial signature counter, the first value to store for [`crate::check_counter`].
    pub counter: u32,
    /// The authenticator's flags.
    pub flags: Flags,
    /// The AAGUID the authenticator claims (its make and model). Not attested, so it is
    /// information only, never a reason to trust the device.
    pub aaguid: [u8; 16],
    /// The attestation format.
    pub attestation: AttestationFormat,
}

/// Why an enrolment is refused; each check has its own variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistrationError {
    /// clientDataJSON is refused.
    #[error("{0}")]
    ClientData(#[from] ClientDataError),
    /// The attestation object is longer than [`MAX_ATTESTATION_OBJECT_LEN`].
    #[error("attestation object is {len} bytes; at most {max} are accepted")]
    AttestationObjectTooLong {
        /// Its length.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// The attestation object is not one CBOR map of `fmt`, `attStmt` and `authData` of the
    /// right types, each once, and nothing else.
    #[error("attestation object is not a CBOR map of fmt, attStmt and authData")]
    AttestationObjectMalformed,
    /// An attestation format other than `none` and `packed`.
    #[error(
        "attestation format {fmt:?} is not accepted; only \"none\" and self-attested \"packed\" are"
    )]
    UnsupportedFormat {
        /// The format named.
        fmt: String,
    },
    /// `packed` attestation with a certificate chain (`x5c`) or an ECDAA key: signgate does not
    /// trust device attestation chains; ask the browser for `attestation: "none"`.
    #[error(
        "packed attestation with a certificate chain is not accepted (device attestation is not trusted)"
    )]
    PackedWithCertificate,
    /// The attestation statement does not have the format's shape (`none`: empty map;
    /// `packed`: `alg` and `sig` only).
    #[error("attestation statement is malformed for its format")]
    AttestationStatementMalformed,
    /// `packed`'s `alg` is not the credential key's algorithm.
    #[error("attestation statement algorithm {statement} is not the credential key's ({key})")]
    AttestationAlgorithmMismatch {
        /// The statement's COSE algorithm.
        statement: i64,
        /// The credential key's COSE algorithm.
        key: i64,
    },
    /// authenticatorData is refused.
    #[error("{0}")]
    AuthenticatorData(#[from] AuthenticatorDataError),
    /// The credential (its id or the expected rp id) is refused.
    #[error("{0}")]
    Credential(#[from] CredentialError),
    /// The self-attestation signature is refused.
    #[error("attestation signature: {0}")]
    Signature(#[from] SignatureError),
    /// The response's `rawId` is not the credential id in authenticatorData.
    #[error("the response's id is not the credential id the authenticator attested")]
    CredentialIdMismatch,
}

/// The attestation object's three members.
struct AttestationObject {
    fmt: String,
    att_stmt: Vec<(Value, Value)>,
    auth_data: Vec<u8>,
}

/// Verifies an enrolment: `attestation_object` and `client_data_json` as the browser returned
/// them from `navigator.credentials.create()`.
///
/// Checks, in order: clientDataJSON (`type == "webauthn.create"`, challenge, origin,
/// cross-origin); the attestation object's shape and format; authenticatorData (rpIdHash ==
/// SHA-256 of `expected.rp_id`, UP, UV when required, AT set, BS only with BE, the attested
/// credential with an ES256 or EdDSA key, ED iff extensions follow); the `packed`
/// self-attestation signature.
pub fn verify_registration(
    attestation_object: &[u8],
    client_data_json: &[u8],
    expected: &RegistrationExpected,
) -> Result<Enrolment, RegistrationError> {
    let client_data_hash = client_data::check(
        client_data_json,
        client_data::Ceremony::Create,
        &expected.challenge,
        &expected.origins,
    )?;
    let object = parse_attestation_object(attestation_object)?;
    let format = match object.fmt.as_str() {
        "none" => AttestationFormat::None,
        "packed" => AttestationFormat::PackedSelf,
        _ => return Err(RegistrationError::UnsupportedFormat { fmt: object.fmt }),
    };
    let packed = match format {
        AttestationFormat::None if object.att_stmt.is_empty() => None,
        AttestationFormat::None => return Err(RegistrationError::AttestationStatementMalformed),
        AttestationFormat::PackedSelf => Some(packed_statement(&object.att_stmt)?),
    };
    let checked = authenticator_data::check(
        &object.auth_data,
        &expected.rp_id,
        expected.require_user_verification,
        Ceremony::Registration,
    )?;
    let attested = checked
        .attested
        .ok_or(AuthenticatorDataError::AttestedDataMissing)?;
    if let Some((alg, sig)) = packed {
        let key_alg = attested.public_key.algorithm().cose_id();
        if alg != key_alg {
            return Err(RegistrationError::AttestationAlgorithmMismatch {
                statement: alg,
                key: key_alg,
            });
        }
        let mut message = object.auth_data.clone();
        message.extend_from_slice(&client_data_hash);
        attested.public_key.verify(&message, &sig)?;
    }
    let credential = Credential::new(
        CredentialId::new(attested.credential_id)?,
        attested.public_key,
        &expected.rp_id,
    )?;
    Ok(Enrolment {
        credential,
        counter: checked.header.counter,
        flags: checked.flags,
        aaguid: attested.aaguid,
        attestation: format,
    })
}

fn parse_attestation_object(bytes: &[u8]) -> Result<AttestationObject, RegistrationError> {
    if bytes.len() > MAX_ATTESTATION_OBJECT_LEN {
        return Err(RegistrationError::AttestationObjectTooLong {
            len: bytes.len(),
            max: MAX_ATTESTATION_OBJECT_LEN,
        });
    }
    let malformed = || RegistrationError::AttestationObjectMalformed;
    let mut rest = bytes;
    let value: Value = ciborium::from_reader(&mut rest).map_err(|_| malformed())?;
    if !rest.is_empty() {
        return Err(malformed());
    }
    let Value::Map(entries) = value else {
        return Err(malformed());
    };
    let (mut fmt, mut att_stmt, mut auth_data) = (None, None, None);
    for (key, value) in entries {
        let duplicate = match (key.as_text(), value) {
            (Some("fmt"), Value::Text(t)) => fmt.replace(t).is_some(),
            (Some("attStmt"), Value::Map(m)) => att_stmt.replace(m).is_some(),
            (Some("authData"), Value::Bytes(b)) => auth_data.replace(b).is_some(),
            _ => true,
        };
        if duplicate {
            return Err(malformed());
        }
    }
    Ok(AttestationObject {
        fmt: fmt.ok_or_else(malformed)?,
        att_stmt: att_stmt.ok_or_else(malformed)?,
        auth_data: auth_data.ok_or_else(malformed)?,
    })
}

/// `packed` without a certificate: `{alg: int, sig: bytes}`, nothing else.
fn packed_statement(stmt: &[(Value, Value)]) -> Result<(i64, Vec<u8>), RegistrationError> {
    let malformed = RegistrationError::AttestationStatementMalformed;
    if stmt
        .iter()
        .any(|(k, _)| matches!(k.as_text(), Some("x5c" | "ecdaaKeyId")))
    {
        return Err(RegistrationError::PackedWithCertificate);
    }
    let (mut alg, mut sig) = (None, None);
    for (key, value) in stmt {
        let duplicate = match (key.as_text(), value) {
            (Some("alg"), Value::Integer(i)) => {
                let i = i64::try_from(*i).map_err(|_| malformed.clone())?;
                alg.replace(i).is_some()
            }
            (Some("sig"), Value::Bytes(b)) => sig.replace(b.clone()).is_some(),
            _ => true,
        };
        if duplicate {
            return Err(malformed);
        }
    }
    Ok((alg.ok_or(malformed.clone())?, sig.ok_or(malformed)?))
}

/// A `navigator.credentials.create()` response as `PublicKeyCredential.toJSON()` writes it:
/// `rawId`, `response.attestationObject`, `response.clientDataJSON` (base64url). Other fields
/// (`transports`, `publicKey`, `authenticatorAttachment`, …) are ignored: everything signgate
/// keeps comes from the attestation object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationResponse {
    credential_id: Vec<u8>,
    attestation_object: Vec<u8>,
    client_data_json: Vec<u8>,
}

/// Why a registration response's JSON is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistrationJsonError {
    /// Longer than [`MAX_REGISTRATION_JSON_LEN`].
    #[error("registration JSON is {len} bytes; at most {max} are accepted")]
    TooLong {
        /// Its length.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// Not the shape of `PublicKeyCredential.toJSON()`.
    #[error("registration JSON is malformed (line {line}, column {column})")]
    Json {
        /// Where the parser stopped.
        line: usize,
        /// Where the parser stopped.
        column: usize,
    },
    /// A field is not base64url without padding.
    #[error("{field} is not base64url without padding")]
    NotBase64Url {
        /// The JSON field.
        field: &'static str,
    },
    /// `type` is not `public-key`.
    #[error("credential type is not \"public-key\"")]
    WrongCredentialType,
    /// `id` and `rawId` differ.
    #[error("id and rawId differ")]
    IdMismatch,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegistrationJson {
    id: String,
    raw_id: String,
    #[serde(rename = "type")]
    ty: String,
    response: RegistrationResponseJson,
}

#[derive(Deserialize)]
struct RegistrationResponseJson {
    #[serde(rename = "attestationObject")]
    attestation_object: String,
    #[serde(rename = "clientDataJSON")]
    client_data_json: String,
}

impl RegistrationResponse {
    /// Puts the parts together (no checks: [`RegistrationResponse::verify`] makes them).
    pub fn new(
        credential_id: Vec<u8>,
        attestation_object: Vec<u8>,
        client_data_json: Vec<u8>,
    ) -> Self {
        Self {
            credential_id,
            attestation_object,
            client_data_json,
        }
    }

    /// Reads the JSON of `PublicKeyCredential.toJSON()` for a `create()` response.
    pub fn from_json(json: &str) -> Result<Self, RegistrationJsonError> {
        if json.len() > MAX_REGISTRATION_JSON_LEN {
            return Err(RegistrationJsonError::TooLong {
                len: json.len(),
                max: MAX_REGISTRATION_JSON_LEN,
            });
        }
        let j: RegistrationJson =
            serde_json::from_str(json).map_err(|e| RegistrationJsonError::Json {
                line: e.line(),
                column: e.column(),
            })?;
        if j.ty != "public-key" {
            return Err(RegistrationJsonError::WrongCredentialType);
        }
        let decode = |field: &'static str, text: &str| {
            base64url::decode(text).ok_or(RegistrationJsonError::NotBase64Url { field })
        };
        let credential_id = decode("rawId", &j.raw_id)?;
        if decode("id", &j.id)? != credential_id {
            return Err(RegistrationJsonError::IdMismatch);
        }
        Ok(Self {
            credential_id,
            attestation_object: decode(
                "response.attestationObject",
                &j.response.attestation_object,
            )?,
            client_data_json: decode("response.clientDataJSON", &j.response.client_data_json)?,
        })
    }

    /// The credential id the browser reported (`rawId`).
    pub fn credential_id(&self) -> &[u8] {
        &self.credential_id
    }

    /// `response.attestationObject`.
    pub fn attestation_object(&self) -> &[u8] {
        &self.attestation_object
    }

    /// `response.clientDataJSON`.
    pub fn client_data_json(&self) -> &[u8] {
        &self.client_data_json
    }

    /// [`verify_registration`], and the reported `rawId` must be the attested credential id.
    pub fn verify(&self, expected: &RegistrationExpected) -> Result<Enrolment, RegistrationError> {
        let enrolment =
            verify_registration(&self.attestation_object, &self.client_data_json, expected)?;
        if enrolment.credential.id().as_bytes() != self.credential_id.as_slice() {
            return Err(RegistrationError::CredentialIdMismatch);
        }
        Ok(enrolment)
    }
}
