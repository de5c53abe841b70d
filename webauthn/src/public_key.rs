//! The credential public key: a COSE_Key restricted to ES256 (ECDSA P-256 with SHA-256, COSE
//! alg −7) and EdDSA (Ed25519, COSE alg −8), held in one canonical CBOR encoding, and the
//! signature checks made with it.
//!
//! Why only these two: every FIDO2 security key and platform passkey offers ES256, many offer
//! EdDSA, and both have small, well-reviewed pure-Rust verifiers. RSA (RS256, used by Windows
//! Hello's TPM keys) and everything else is refused when the key is read, so a policy can never
//! hold a key the verifier cannot check.
//!
//! The canonical encoding is the CTAP2 canonical CBOR map with exactly the labels the
//! algorithm needs: `{1: kty, 3: alg, -1: crv, -2: x, -3: y}` for ES256 (kty 2, crv 1) and
//! `{1: 1, 3: -8, -1: 6, -2: x}` for EdDSA. An authenticator's own encoding (any order) is
//! accepted at enrolment and re-encoded; the policy's text form must already be canonical, so a
//! key has exactly one text form and one [`key_id`](CredentialPublicKey::key_id).

use ciborium::Value;
use coset::{
    AsCborValue as _, CborSerializable as _, CoseKey, KeyType, Label, RegisteredLabel,
    RegisteredLabelWithPrivate,
    iana::{self, EnumI64 as _},
};
use p256::ecdsa::signature::Verifier as _;
use sha2::{Digest as _, Sha256};

/// Domain tag of [`CredentialPublicKey::key_id`]: the hash of a WebAuthn key can never equal a
/// hash made for another purpose over the same bytes.
pub const KEY_ID_DOMAIN: &[u8] = b"signgate/webauthn-key/v1\0";

/// Upper bound on an encoded COSE key accepted from text: a canonical P-256 key is 77 bytes;
/// the room above lets an RSA key (272 bytes for RSA-2048) be read and refused by name.
pub const MAX_COSE_KEY_LEN: usize = 1024;

/// The signature algorithms signgate accepts from WebAuthn credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// ECDSA over P-256 with SHA-256, signatures DER-encoded (COSE −7).
    Es256,
    /// Ed25519 (COSE −8), signatures 64 bytes.
    EdDsa,
}

impl Algorithm {
    /// The COSE algorithm identifier.
    pub fn cose_id(self) -> i64 {
        match self {
            Self::Es256 => iana::Algorithm::ES256.to_i64(),
            Self::EdDsa => iana::Algorithm::EdDSA.to_i64(),
        }
    }
}

/// Why bytes are not a credential public key signgate accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublicKeyError {
    /// Longer than [`MAX_COSE_KEY_LEN`].
    #[error("COSE key is {len} bytes; at most {max} are accepted")]
    TooLong {
        /// Its length.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// Not a CBOR-encoded COSE_Key (this includes algorithm identifiers COSE does not register).
    #[error("not a CBOR-encoded COSE key")]
    Malformed,
    /// The key names no algorithm; WebAuthn requires one.
    #[error("COSE key names no algorithm")]
    MissingAlgorithm,
    /// An algorithm other than ES256 (−7) and EdDSA (−8); `None` for a text label.
    #[error("COSE algorithm {alg:?} is not accepted; only ES256 (-7) and EdDSA (-8) are")]
    UnsupportedAlgorithm {
        /// The COSE algorithm identifier.
        alg: Option<i64>,
    },
    /// The key type or curve does not belong to the algorithm (EC2/P-256 for ES256,
    /// OKP/Ed25519 for EdDSA).
    #[error("COSE key type or curve does not match its algorithm")]
    KeyTypeMismatch,
    /// A parameter the algorithm does not use (kid, key_ops, base IV, a private label, …), or
    /// one given twice.
    #[error("COSE key carries an unexpected or repeated parameter")]
    UnexpectedParameter,
    /// A coordinate is missing or not a 32-byte byte string.
    #[error("COSE key coordinates are missing or not 32-byte strings")]
    BadCoordinates,
    /// The coordinates are not a valid point (or an Ed25519 key of small order).
    #[error("COSE key is not a valid point of its curve")]
    InvalidPoint,
    /// Well-formed but not in the canonical encoding (required of text forms).
    #[error("COSE key is not in its canonical encoding")]
    NotCanonical,
}

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// ES256: not a canonical DER `ECDSA-Sig-Value`; EdDSA: not 64 bytes.
    #[error("signature is not encoded as its algorithm requires")]
    Encoding,
    /// The signature does not verify for this key and message.
    #[error("signature does not verify with the credential's key")]
    Invalid,
}

#[derive(Debug, Clone)]
enum Verifier {
    Es256(p256::ecdsa::VerifyingKey),
    EdDsa(ed25519_dalek::VerifyingKey),
}

/// A validated credential public key (ES256 or EdDSA) and its canonical COSE encoding.
#[derive(Debug, Clone)]
pub struct CredentialPublicKey {
    verifier: Verifier,
    cose: Vec<u8>,
}

impl PartialEq for CredentialPublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.cose == other.cose
    }
}

impl Eq for CredentialPublicKey {}

impl std::hash::Hash for CredentialPublicKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.cose.hash(state);
    }
}

impl CredentialPublicKey {
    /// Reads a key in its canonical COSE encoding (the policy's text form): any other encoding
    /// of the same key is refused with [`PublicKeyError::NotCanonical`].
    pub fn from_canonical_cose(bytes: &[u8]) -> Result<Self, PublicKeyError> {
        if bytes.len() > MAX_COSE_KEY_LEN {
            return Err(PublicKeyError::TooLong {
                len: bytes.len(),
                max: MAX_COSE_KEY_LEN,
            });
        }
        let key = CoseKey::from_slice(bytes).map_err(|_| PublicKeyError::Malformed)?;
        let key = Self::from_cose_key(key)?;
        if key.cose != bytes {
            return Err(PublicKeyError::NotCanonical);
        }
        Ok(key)
    }

    /// Reads a key from an already decoded CBOR item (authenticatorData's
    /// credentialPublicKey), in whatever order its labels came.
    pub(crate) fn from_cbor_value(value: Value) -> Result<Self, PublicKeyError> {
        let key = CoseKey::from_cbor_value(value).map_err(|_| PublicKeyError::Malformed)?;
        Self::from_cose_key(key)
    }

    fn from_cose_key(key: CoseKey) -> Result<Self, PublicKeyError> {
        let algorithm = match &key.alg {
            None => return Err(PublicKeyError::MissingAlgorithm),
            Some(RegisteredLabelWithPrivate::Assigned(iana::Algorithm::ES256)) => Algorithm::Es256,
            Some(RegisteredLabelWithPrivate::Assigned(iana::Algorithm::EdDSA)) => Algorithm::EdDsa,
            Some(RegisteredLabelWithPrivate::Assigned(other)) => {
                return Err(PublicKeyError::UnsupportedAlgorithm {
                    alg: Some(other.to_i64()),
                });
            }
            Some(RegisteredLabelWithPrivate::PrivateUse(id)) => {
                return Err(PublicKeyError::UnsupportedAlgorithm { alg: Some(*id) });
            }
            Some(RegisteredLabelWithPrivate::Text(_)) => {
                return Err(PublicKeyError::UnsupportedAlgorithm { alg: None });
            }
        };
        if !key.key_id.is_empty() || !key.key_ops.is_empty() || !key.base_iv.is_empty() {
            return Err(PublicKeyError::UnexpectedParameter);
        }
        let (kty, curve) = match algorithm {
            Algorithm::Es256 => (iana::KeyType::EC2, iana::EllipticCurve::P_256),
            Algorithm::EdDsa => (iana::KeyType::OKP, iana::EllipticCurve::Ed25519),
        };
        if key.kty != KeyType::Assigned(kty) {
            return Err(PublicKeyError::KeyTypeMismatch);
        }
        let params = Params::collect(&key.params)?;
        if params.crv != Some(curve.to_i64()) {
            return Err(PublicKeyError::KeyTypeMismatch);
        }
        let x = params.x.ok_or(PublicKeyError::BadCoordinates)?;
        let verifier = match algorithm {
            Algorithm::Es256 => {
                let y = params.y.ok_or(PublicKeyError::BadCoordinates)?;
                // SEC1 uncompressed point: 0x04 || x || y
                let mut sec1 = Vec::with_capacity(65);
                sec1.push(0x04);
                sec1.extend_from_slice(&x);
                sec1.extend_from_slice(&y);
                Verifier::Es256(
                    p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
                        .map_err(|_| PublicKeyError::InvalidPoint)?,
                )
            }
            Algorithm::EdDsa => {
                if params.y.is_some() {
                    return Err(PublicKeyError::UnexpectedParameter);
                }
                let vk = ed25519_dalek::VerifyingKey::from_bytes(&x)
                    .map_err(|_| PublicKeyError::InvalidPoint)?;
                if vk.is_weak() {
                    return Err(PublicKeyError::InvalidPoint);
                }
                Verifier::EdDsa(vk)
            }
        };
        let cose = canonical(algorithm, kty, curve, x, params.y)?;
        Ok(Self { verifier, cose })
    }

    /// The signature algorithm.
    pub fn algorithm(&self) -> Algorithm {
        match self.verifier {
            Verifier::Es256(_) => Algorithm::Es256,
            Verifier::EdDsa(_) => Algorithm::EdDsa,
        }
    }

    /// The canonical COSE encoding (what the text form carries and the key id hashes).
    pub fn to_cose(&self) -> &[u8] {
        &self.cose
    }

    /// SHA-256 over [`KEY_ID_DOMAIN`] and the canonical COSE encoding: the 32-byte identifier
    /// the gateway uses for this key where it uses an ed25519 public key for other operators.
    pub fn key_id(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(KEY_ID_DOMAIN);
        h.update(&self.cose);
        h.finalize().into()
    }

    /// Verifies `signature` over `message`.
    ///
    /// ES256: the signature must be canonical DER (re-encoding it gives the same bytes), and
    /// both low-S and high-S forms are accepted: authenticators do not normalise S (about half
    /// of real signatures are high-S), and the malleability this allows cannot turn one approval
    /// into another, because the signed challenge names the statement; an approval is
    /// identified by its statement and key, never by the signature's bytes.
    /// EdDSA: 64 bytes, `verify_strict` (no small-order components, canonical S).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        match &self.verifier {
            Verifier::Es256(vk) => {
                let sig = p256::ecdsa::Signature::from_der(signature)
                    .map_err(|_| SignatureError::Encoding)?;
                if sig.to_der().as_bytes() != signature {
                    return Err(SignatureError::Encoding);
                }
                vk.verify(message, &sig)
                    .map_err(|_| SignatureError::Invalid)
            }
            Verifier::EdDsa(vk) => {
                let bytes: [u8; 64] = signature.try_into().map_err(|_| SignatureError::Encoding)?;
                vk.verify_strict(message, &ed25519_dalek::Signature::from_bytes(&bytes))
                    .map_err(|_| SignatureError::Invalid)
            }
        }
    }
}

/// The curve and coordinates of a COSE key, each at most once.
struct Params {
    crv: Option<i64>,
    x: Option<[u8; 32]>,
    y: Option<[u8; 32]>,
}

impl Params {
    fn collect(params: &[(Label, Value)]) -> Result<Self, PublicKeyError> {
        let mut out = Self {
            crv: None,
            x: None,
            y: None,
        };
        for (label, value) in params {
            match label {
                Label::Int(-1) => {
                    let crv = match value {
                        Value::Integer(i) => i64::try_from(*i).ok(),
                        _ => None,
                    }
                    .ok_or(PublicKeyError::KeyTypeMismatch)?;
                    set_once(&mut out.crv, crv)?;
                }
                Label::Int(-2) => set_once(&mut out.x, coordinate(value)?)?,
                Label::Int(-3) => set_once(&mut out.y, coordinate(value)?)?,
                _ => return Err(PublicKeyError::UnexpectedParameter),
            }
        }
        Ok(out)
    }
}

fn set_once<T>(slot: &mut Option<T>, value: T) -> Result<(), PublicKeyError> {
    if slot.replace(value).is_some() {
        return Err(PublicKeyError::UnexpectedParameter);
    }
    Ok(())
}

fn coordinate(value: &Value) -> Result<[u8; 32], PublicKeyError> {
    match value {
        Value::Bytes(b) => b
            .as_slice()
            .try_into()
            .map_err(|_| PublicKeyError::BadCoordinates),
        _ => Err(PublicKeyError::BadCoordinates),
    }
}

fn canonical(
    algorithm: Algorithm,
    kty: iana::KeyType,
    curve: iana::EllipticCurve,
    x: [u8; 32],
    y: Option<[u8; 32]>,
) -> Result<Vec<u8>, PublicKeyError> {
    let mut params = vec![
        (Label::Int(-1), Value::from(curve.to_i64())),
        (Label::Int(-2), Value::Bytes(x.to_vec())),
    ];
    if let Some(y) = y {
        params.push((Label::Int(-3), Value::Bytes(y.to_vec())));
    }
    let alg = match algorithm {
        Algorithm::Es256 => iana::Algorithm::ES256,
        Algorithm::EdDsa => iana::Algorithm::EdDSA,
    };
    CoseKey {
        kty: RegisteredLabel::Assigned(kty),
        alg: Some(RegisteredLabelWithPrivate::Assigned(alg)),
        params,
        ..CoseKey::default()
    }
    .to_vec()
    // Cannot fail for a map of distinct integer labels; mapped rather than unwrapped.
    .map_err(|_| PublicKeyError::Malformed)
}
