//! The assertion a browser returns from `navigator.credentials.get()`, in two forms: the
//! canonical binary form the audit log stores, and the JSON form of
//! `PublicKeyCredential.toJSON()` the console posts.
//!
//! Binary form, version 1 (every length a big-endian u16):
//!
//! ```text
//! 0x01 | len | credential id | len | authenticatorData | len | clientDataJSON | len | signature
//! ```
//!
//! Each field has a hard bound ([`MAX_CREDENTIAL_ID_LEN`], [`MAX_AUTHENTICATOR_DATA_LEN`],
//! [`MAX_CLIENT_DATA_JSON_LEN`], [`MAX_SIGNATURE_LEN`]); [`Assertion::from_bytes`] refuses any
//! other tag, any over-long field and trailing bytes, so the encoding is a bijection:
//! `from_bytes(to_bytes(a)) == a` and `to_bytes(from_bytes(b)) == b` for every accepted `b`.
//! The optional `userHandle` is not kept: signgate identifies the operator by the credential,
//! and the handle is not covered by the signature.

use serde::{Deserialize, Serialize};

use crate::{base64url, client_data::MAX_CLIENT_DATA_JSON_LEN, credential::MAX_CREDENTIAL_ID_LEN};

/// The tag byte of the binary form's current version.
pub const ENCODING_V1: u8 = 1;
/// The longest authenticatorData accepted in an assertion.
pub const MAX_AUTHENTICATOR_DATA_LEN: usize = 1024;
/// The longest signature accepted (a DER P-256 signature is at most 72 bytes, Ed25519 64).
pub const MAX_SIGNATURE_LEN: usize = 256;
/// The longest JSON form accepted by [`Assertion::from_json`].
pub const MAX_JSON_LEN: usize = 16 * 1024;

/// A field of an assertion, named in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The credential id (`rawId`).
    CredentialId,
    /// `response.authenticatorData`.
    AuthenticatorData,
    /// `response.clientDataJSON`.
    ClientDataJson,
    /// `response.signature`.
    Signature,
}

impl Field {
    const ALL: [Self; 4] = [
        Self::CredentialId,
        Self::AuthenticatorData,
        Self::ClientDataJson,
        Self::Signature,
    ];

    /// The field's upper bound in bytes.
    pub fn max_len(self) -> usize {
        match self {
            Self::CredentialId => MAX_CREDENTIAL_ID_LEN,
            Self::AuthenticatorData => MAX_AUTHENTICATOR_DATA_LEN,
            Self::ClientDataJson => MAX_CLIENT_DATA_JSON_LEN,
            Self::Signature => MAX_SIGNATURE_LEN,
        }
    }
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::CredentialId => "credential id",
            Self::AuthenticatorData => "authenticatorData",
            Self::ClientDataJson => "clientDataJSON",
            Self::Signature => "signature",
        })
    }
}

/// Why bytes or JSON are not an assertion.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssertionFormatError {
    /// The binary form starts with an unknown version tag (or is empty).
    #[error("unknown assertion encoding tag {tag:?}")]
    UnknownTag {
        /// The first byte, if any.
        tag: Option<u8>,
    },
    /// The binary form ends inside a field.
    #[error("assertion encoding ends inside the {field}")]
    Truncated {
        /// The field.
        field: Field,
    },
    /// A field is longer than its bound.
    #[error("{field} is {len} bytes; at most {max} are allowed")]
    FieldTooLong {
        /// The field.
        field: Field,
        /// Its length.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// Bytes follow the last field.
    #[error("{len} bytes follow the assertion encoding")]
    TrailingBytes {
        /// How many.
        len: usize,
    },
    /// The JSON form is longer than [`MAX_JSON_LEN`].
    #[error("assertion JSON is {len} bytes; at most {max} are accepted")]
    JsonTooLong {
        /// Its length.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// The JSON form does not have the shape of `PublicKeyCredential.toJSON()`.
    #[error("assertion JSON is malformed (line {line}, column {column})")]
    Json {
        /// Where the parser stopped.
        line: usize,
        /// Where the parser stopped.
        column: usize,
    },
    /// A JSON field is not base64url without padding.
    #[error("{field} is not base64url without padding")]
    NotBase64Url {
        /// The field.
        field: Field,
    },
    /// `type` is not `public-key`.
    #[error("credential type is {found:?}, not \"public-key\"")]
    WrongCredentialType {
        /// The type found.
        found: String,
    },
    /// `id` and `rawId` name different credentials.
    #[error("id and rawId differ")]
    IdMismatch,
}

/// An assertion from `navigator.credentials.get()`: the raw bytes, each within its bound.
/// Nothing here is verified; see [`crate::verify_assertion`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "AssertionJson", into = "AssertionJson")]
pub struct Assertion {
    credential_id: Vec<u8>,
    authenticator_data: Vec<u8>,
    client_data_json: Vec<u8>,
    signature: Vec<u8>,
}

impl Assertion {
    /// Checks every field's bound.
    pub fn new(
        credential_id: Vec<u8>,
        authenticator_data: Vec<u8>,
        client_data_json: Vec<u8>,
        signature: Vec<u8>,
    ) -> Result<Self, AssertionFormatError> {
        let a = Self {
            credential_id,
            authenticator_data,
            client_data_json,
            signature,
        };
        for (field, bytes) in Field::ALL.into_iter().zip(a.fields()) {
            if bytes.len() > field.max_len() {
                return Err(AssertionFormatError::FieldTooLong {
                    field,
                    len: bytes.len(),
                    max: field.max_len(),
                });
            }
        }
        Ok(a)
    }

    fn fields(&self) -> [&[u8]; 4] {
        [
            &self.credential_id,
            &self.authenticator_data,
            &self.client_data_json,
            &self.signature,
        ]
    }

    /// The credential id (`rawId`).
    pub fn credential_id(&self) -> &[u8] {
        &self.credential_id
    }

    /// `response.authenticatorData`.
    pub fn authenticator_data(&self) -> &[u8] {
        &self.authenticator_data
    }

    /// `response.clientDataJSON`.
    pub fn client_data_json(&self) -> &[u8] {
        &self.client_data_json
    }

    /// `response.signature`.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The canonical binary form (see the module doc).
    pub fn to_bytes(&self) -> Vec<u8> {
        let fields = self.fields();
        let mut out = Vec::with_capacity(1 + fields.iter().map(|f| 2 + f.len()).sum::<usize>());
        out.push(ENCODING_V1);
        for bytes in fields {
            // Every bound is below 2^16, and `new` enforced them.
            let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(bytes);
        }
        out
    }

    /// Reads the binary form, refusing unknown tags, over-long fields and trailing bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, AssertionFormatError> {
        let (&tag, mut rest) = bytes
            .split_first()
            .ok_or(AssertionFormatError::UnknownTag { tag: None })?;
        if tag != ENCODING_V1 {
            return Err(AssertionFormatError::UnknownTag { tag: Some(tag) });
        }
        let mut fields: [Vec<u8>; 4] = Default::default();
        for (field, slot) in Field::ALL.into_iter().zip(fields.iter_mut()) {
            let (len, after) = rest
                .split_first_chunk::<2>()
                .ok_or(AssertionFormatError::Truncated { field })?;
            let len = usize::from(u16::from_be_bytes(*len));
            if len > field.max_len() {
                return Err(AssertionFormatError::FieldTooLong {
                    field,
                    len,
                    max: field.max_len(),
                });
            }
            let (value, after) = after
                .split_at_checked(len)
                .ok_or(AssertionFormatError::Truncated { field })?;
            *slot = value.to_vec();
            rest = after;
        }
        if !rest.is_empty() {
            return Err(AssertionFormatError::TrailingBytes { len: rest.len() });
        }
        let [
            credential_id,
            authenticator_data,
            client_data_json,
            signature,
        ] = fields;
        Ok(Self {
            credential_id,
            authenticator_data,
            client_data_json,
            signature,
        })
    }

    /// Reads the JSON of `PublicKeyCredential.toJSON()` for a `get()` response (at most
    /// [`MAX_JSON_LEN`] bytes). Fields signgate does not use (`userHandle`,
    /// `authenticatorAttachment`, `clientExtensionResults`, future ones) are ignored.
    pub fn from_json(json: &str) -> Result<Self, AssertionFormatError> {
        if json.len() > MAX_JSON_LEN {
            return Err(AssertionFormatError::JsonTooLong {
                len: json.len(),
                max: MAX_JSON_LEN,
            });
        }
        serde_json::from_str::<AssertionJson>(json)
            .map_err(|e| AssertionFormatError::Json {
                line: e.line(),
                column: e.column(),
            })?
            .try_into()
    }

    /// The JSON form, as `PublicKeyCredential.toJSON()` writes it.
    pub fn to_json(&self) -> String {
        let json = AssertionJson::from(self.clone());
        #[expect(clippy::expect_used, reason = "a struct of strings always serialises")]
        serde_json::to_string(&json).expect("a struct of strings serialises")
    }
}

/// `PublicKeyCredential.toJSON()` of a `get()` response.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssertionJson {
    id: String,
    raw_id: String,
    #[serde(rename = "type")]
    ty: String,
    response: AssertionResponseJson,
    #[serde(default)]
    client_extension_results: serde_json::Map<String, serde_json::Value>,
}

#[derive(Serialize, Deserialize)]
struct AssertionResponseJson {
    #[serde(rename = "authenticatorData")]
    authenticator_data: String,
    #[serde(rename = "clientDataJSON")]
    client_data_json: String,
    signature: String,
}

impl TryFrom<AssertionJson> for Assertion {
    type Error = AssertionFormatError;

    fn try_from(j: AssertionJson) -> Result<Self, Self::Error> {
        if j.ty != "public-key" {
            return Err(AssertionFormatError::WrongCredentialType { found: j.ty });
        }
        let decode = |field: Field, text: &str| {
            // 4 characters per 3 bytes: refuse before decoding anything far over the bound.
            if text.len() > field.max_len().div_ceil(3) * 4 {
                return Err(AssertionFormatError::FieldTooLong {
                    field,
                    len: text.len() / 4 * 3,
                    max: field.max_len(),
                });
            }
            base64url::decode(text).ok_or(AssertionFormatError::NotBase64Url { field })
        };
        let raw_id = decode(Field::CredentialId, &j.raw_id)?;
        if decode(Field::CredentialId, &j.id)? != raw_id {
            return Err(AssertionFormatError::IdMismatch);
        }
        Self::new(
            raw_id,
            decode(Field::AuthenticatorData, &j.response.authenticator_data)?,
            decode(Field::ClientDataJson, &j.response.client_data_json)?,
            decode(Field::Signature, &j.response.signature)?,
        )
    }
}

impl From<Assertion> for AssertionJson {
    fn from(a: Assertion) -> Self {
        let id = base64url::encode(&a.credential_id);
        Self {
            raw_id: id.clone(),
            id,
            ty: "public-key".to_owned(),
            response: AssertionResponseJson {
                authenticator_data: base64url::encode(&a.authenticator_data),
                client_data_json: base64url::encode(&a.client_data_json),
                signature: base64url::encode(&a.signature),
            },
            client_extension_results: serde_json::Map::new(),
        }
    }
}
