//! A software authenticator and browser, for tests only (feature `testing`): real P-256 and
//! Ed25519 keys, COSE keys written by coset's `CoseKeyBuilder`, attestation objects by
//! ciborium, clientDataJSON as a browser writes it. It produces the bytes a security key and a
//! browser would, for this crate's tests and for the gateway's end-to-end tests of approvals
//! signed with a security key; nothing it checks is mocked.
//!
//! Deterministic: keys come from fixed seeds and both signature schemes are deterministic
//! (RFC 6979 for ECDSA, Ed25519 by construction), so the fixtures under `tests/fixtures/` are
//! exactly what this module makes (see `fixtures.rs`).

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed helper is a failed test"
)]

use crate::{Assertion, AssertionExpected, Credential, RegistrationExpected};
use ciborium::Value;
use coset::{CborSerializable as _, CoseKeyBuilder, iana};
use sha2::{Digest as _, Sha256};

pub const RP_ID: &str = "console.example";
pub const ORIGIN: &str = "https://console.example:8443";

pub const UP: u8 = 1 << 0;
pub const UV: u8 = 1 << 2;
pub const BE: u8 = 1 << 3;
pub const BS: u8 = 1 << 4;
pub const AT: u8 = 1 << 6;
pub const ED: u8 = 1 << 7;

/// The challenge the gateway would pass for a statement: SHA-256 of it.
pub fn challenge(statement: &str) -> Vec<u8> {
    Sha256::digest(statement.as_bytes()).to_vec()
}

pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn expected(challenge: &[u8]) -> AssertionExpected {
    AssertionExpected {
        challenge: challenge.to_vec(),
        origins: vec![ORIGIN.to_owned()],
        require_user_verification: true,
    }
}

pub fn registration_expected(challenge: &[u8]) -> RegistrationExpected {
    RegistrationExpected {
        challenge: challenge.to_vec(),
        origins: vec![ORIGIN.to_owned()],
        rp_id: RP_ID.to_owned(),
        require_user_verification: true,
    }
}

/// clientDataJSON as Chrome writes it.
pub fn client_data(ty: &str, challenge: &[u8], origin: &str) -> Vec<u8> {
    format!(
        r#"{{"type":"{ty}","challenge":"{}","origin":"{origin}","crossOrigin":false}}"#,
        b64(challenge)
    )
    .into_bytes()
}

#[derive(Debug, Clone)]
pub enum Key {
    Es256(p256::ecdsa::SigningKey),
    EdDsa(ed25519_dalek::SigningKey),
}

#[derive(Debug, Clone)]
pub struct Authenticator {
    pub key: Key,
    pub credential_id: Vec<u8>,
    pub rp_id: String,
    pub counter: u32,
    pub aaguid: [u8; 16],
}

impl Authenticator {
    pub fn es256(seed: u8) -> Self {
        let key = p256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap();
        Self::new(Key::Es256(key), seed)
    }

    pub fn eddsa(seed: u8) -> Self {
        Self::new(
            Key::EdDsa(ed25519_dalek::SigningKey::from_bytes(&[seed; 32])),
            seed,
        )
    }

    fn new(key: Key, seed: u8) -> Self {
        Self {
            key,
            credential_id: Sha256::digest([b"credential id ".as_slice(), &[seed]].concat())
                .to_vec(),
            rp_id: RP_ID.to_owned(),
            counter: 0,
            aaguid: [0xaa; 16],
        }
    }

    /// The COSE key as an authenticator writes it (CTAP2 canonical order).
    pub fn cose_key(&self) -> Vec<u8> {
        match &self.key {
            Key::Es256(sk) => {
                let point = sk.verifying_key().to_encoded_point(false);
                CoseKeyBuilder::new_ec2_pub_key(
                    iana::EllipticCurve::P_256,
                    point.x().unwrap().to_vec(),
                    point.y().unwrap().to_vec(),
                )
                .algorithm(iana::Algorithm::ES256)
                .build()
                .to_vec()
                .unwrap()
            }
            Key::EdDsa(sk) => CoseKeyBuilder::new_okp_key()
                .algorithm(iana::Algorithm::EdDSA)
                .param(
                    iana::OkpKeyParameter::Crv as i64,
                    Value::from(iana::EllipticCurve::Ed25519 as i64),
                )
                .param(
                    iana::OkpKeyParameter::X as i64,
                    Value::Bytes(sk.verifying_key().to_bytes().to_vec()),
                )
                .build()
                .to_vec()
                .unwrap(),
        }
    }

    /// The credential as the policy would hold it, through its text form.
    pub fn credential(&self) -> Credential {
        let text = format!(
            "id = \"{}\"\npublic_key = \"{}\"\nrp_id = \"{}\"\n",
            b64(&self.credential_id),
            b64(&self.cose_key()),
            self.rp_id
        );
        toml::from_str(&text).unwrap()
    }

    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match &self.key {
            Key::Es256(sk) => {
                use p256::ecdsa::signature::Signer as _;
                let sig: p256::ecdsa::Signature = sk.sign(message);
                sig.to_der().as_bytes().to_vec()
            }
            Key::EdDsa(sk) => {
                use ed25519_dalek::Signer as _;
                sk.sign(message).to_bytes().to_vec()
            }
        }
    }

    /// authenticatorData: SHA-256 of `rp_id`, `flags`, the counter, then `tail`.
    pub fn auth_data_for(&self, rp_id: &str, flags: u8, tail: &[u8]) -> Vec<u8> {
        let mut d = Sha256::digest(rp_id.as_bytes()).to_vec();
        d.push(flags);
        d.extend_from_slice(&self.counter.to_be_bytes());
        d.extend_from_slice(tail);
        d
    }

    pub fn auth_data(&self, flags: u8) -> Vec<u8> {
        self.auth_data_for(&self.rp_id, flags, &[])
    }

    /// Signs `auth_data || SHA-256(client_data)` and wraps it as the browser returns it.
    pub fn assertion_with(&self, auth_data: Vec<u8>, client_data: Vec<u8>) -> Assertion {
        let mut message = auth_data.clone();
        message.extend_from_slice(&Sha256::digest(&client_data));
        let signature = self.sign(&message);
        Assertion::new(
            self.credential_id.clone(),
            auth_data,
            client_data,
            signature,
        )
        .unwrap()
    }

    /// A genuine assertion of `challenge` from [`ORIGIN`], user present and verified; the
    /// counter goes up by one first.
    pub fn assert(&mut self, challenge: &[u8]) -> Assertion {
        self.assert_as(challenge, ORIGIN, UP | UV)
    }

    /// The same authenticator scoped to another relying party.
    pub fn for_rp(mut self, rp_id: &str) -> Self {
        rp_id.clone_into(&mut self.rp_id);
        self
    }

    /// An assertion of `challenge` from `origin` with `flags`; the counter goes up by one
    /// first.
    pub fn assert_as(&mut self, challenge: &[u8], origin: &str, flags: u8) -> Assertion {
        self.counter += 1;
        self.assertion_with(
            self.auth_data(flags),
            client_data("webauthn.get", challenge, origin),
        )
    }

    /// Attested credential data: AAGUID, credential id length and id, COSE key.
    pub fn attested_data(&self, cose_key: &[u8]) -> Vec<u8> {
        let mut d = self.aaguid.to_vec();
        d.extend_from_slice(
            &u16::try_from(self.credential_id.len())
                .unwrap()
                .to_be_bytes(),
        );
        d.extend_from_slice(&self.credential_id);
        d.extend_from_slice(cose_key);
        d
    }

    /// authenticatorData of an enrolment with `flags` (AT is added).
    pub fn registration_auth_data(&self, flags: u8) -> Vec<u8> {
        self.auth_data_for(
            &self.rp_id,
            flags | AT,
            &self.attested_data(&self.cose_key()),
        )
    }

    /// A `none` enrolment: (attestationObject, clientDataJSON).
    pub fn register_none(&self, challenge: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let auth_data = self.registration_auth_data(UP | UV);
        (
            attestation_object("none", Value::Map(vec![]), auth_data),
            client_data("webauthn.create", challenge, ORIGIN),
        )
    }

    /// A `packed` self-attested enrolment: (attestationObject, clientDataJSON).
    pub fn register_packed(&self, challenge: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let auth_data = self.registration_auth_data(UP | UV);
        let client_data = client_data("webauthn.create", challenge, ORIGIN);
        let stmt = self.packed_statement(&auth_data, &client_data);
        (attestation_object("packed", stmt, auth_data), client_data)
    }

    /// `{alg, sig}` with `sig` over `auth_data || SHA-256(client_data)`.
    pub fn packed_statement(&self, auth_data: &[u8], client_data: &[u8]) -> Value {
        let mut message = auth_data.to_vec();
        message.extend_from_slice(&Sha256::digest(client_data));
        let alg = match self.key {
            Key::Es256(_) => -7,
            Key::EdDsa(_) => -8,
        };
        Value::Map(vec![
            (Value::from("alg"), Value::from(alg)),
            (Value::from("sig"), Value::Bytes(self.sign(&message))),
        ])
    }

    /// `PublicKeyCredential.toJSON()` of a create() response.
    pub fn registration_json(&self, attestation_object: &[u8], client_data: &[u8]) -> String {
        serde_json::json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "cross-platform",
            "clientExtensionResults": {},
            "response": {
                "attestationObject": b64(attestation_object),
                "clientDataJSON": b64(client_data),
                "transports": ["usb"],
            },
        })
        .to_string()
    }
}

/// `{fmt, attStmt, authData}` in CBOR.
pub fn attestation_object(fmt: &str, att_stmt: Value, auth_data: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(
        &Value::Map(vec![
            (Value::from("fmt"), Value::from(fmt)),
            (Value::from("attStmt"), att_stmt),
            (Value::from("authData"), Value::Bytes(auth_data)),
        ]),
        &mut out,
    )
    .unwrap();
    out
}
