//! Credential: key validation at parse (ES256 and EdDSA only), canonical text forms, key_id.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

use ciborium::Value;
use coset::{CborSerializable as _, CoseKey, CoseKeyBuilder, Label, iana};
use signgate_webauthn::{
    Algorithm, Credential, CredentialError, CredentialId, CredentialPublicKey, PublicKeyError,
};

use crate::authenticator::{Authenticator, RP_ID, b64};

fn parse_key(bytes: &[u8]) -> Result<CredentialPublicKey, PublicKeyError> {
    CredentialPublicKey::from_canonical_cose(bytes)
}

#[test]
fn keys_of_both_algorithms_parse_and_print_back() {
    for (auth, alg) in [
        (Authenticator::es256(1), Algorithm::Es256),
        (Authenticator::eddsa(1), Algorithm::EdDsa),
    ] {
        let key = parse_key(&auth.cose_key()).unwrap();
        assert_eq!(key.algorithm(), alg);
        assert_eq!(key.to_cose(), auth.cose_key());
        assert_eq!(key.to_string(), b64(&auth.cose_key()));
        assert_eq!(key.to_string().parse::<CredentialPublicKey>().unwrap(), key);
    }
}

#[test]
fn key_id_is_stable_and_distinct_for_distinct_keys() {
    let a = Authenticator::es256(1).credential();
    assert_eq!(a.key_id(), Authenticator::es256(1).credential().key_id());
    // the same key under another credential id is the same approver
    let mut same = Authenticator::es256(1);
    same.credential_id = vec![1, 2, 3];
    assert_eq!(same.credential().key_id(), a.key_id());
    let ids = [
        a.key_id(),
        Authenticator::es256(2).credential().key_id(),
        Authenticator::eddsa(1).credential().key_id(),
        Authenticator::eddsa(2).credential().key_id(),
    ];
    for (i, x) in ids.iter().enumerate() {
        for y in &ids[i + 1..] {
            assert_ne!(x, y);
        }
    }
    // pinned: the domain tag and canonical encoding are part of the audit format
    use sha2::{Digest as _, Sha256};
    let mut h = Sha256::new();
    h.update(b"signgate/webauthn-key/v1\0");
    h.update(Authenticator::es256(1).cose_key());
    assert_eq!(a.key_id(), <[u8; 32]>::from(h.finalize()));
}

fn rsa_key() -> Vec<u8> {
    CoseKey {
        kty: coset::KeyType::Assigned(iana::KeyType::RSA),
        alg: Some(coset::Algorithm::Assigned(iana::Algorithm::RS256)),
        params: vec![
            (Label::Int(-1), Value::Bytes(vec![0xc5; 256])),
            (Label::Int(-2), Value::Bytes(vec![1, 0, 1])),
        ],
        ..CoseKey::default()
    }
    .to_vec()
    .unwrap()
}

fn es256_with(alg: coset::Algorithm) -> Vec<u8> {
    let mut key = CoseKey::from_slice(&Authenticator::es256(1).cose_key()).unwrap();
    key.alg = Some(alg);
    key.to_vec().unwrap()
}

#[test]
fn rsa_and_other_algorithms_are_refused_at_parse() {
    assert_eq!(
        parse_key(&rsa_key()),
        Err(PublicKeyError::UnsupportedAlgorithm { alg: Some(-257) })
    );
    assert_eq!(
        parse_key(&es256_with(coset::Algorithm::Assigned(
            iana::Algorithm::ES384
        ))),
        Err(PublicKeyError::UnsupportedAlgorithm { alg: Some(-35) })
    );
    assert_eq!(
        parse_key(&es256_with(coset::Algorithm::PrivateUse(-70_000))),
        Err(PublicKeyError::UnsupportedAlgorithm { alg: Some(-70_000) })
    );
    assert_eq!(
        parse_key(&es256_with(coset::Algorithm::Text("ES256".into()))),
        Err(PublicKeyError::UnsupportedAlgorithm { alg: None })
    );
    // an algorithm number COSE never registered: coset refuses the key
    let mut raw: Value =
        ciborium::from_reader(Authenticator::es256(1).cose_key().as_slice()).unwrap();
    if let Value::Map(m) = &mut raw {
        m[1].1 = Value::from(12_345);
    }
    let mut bytes = Vec::new();
    ciborium::into_writer(&raw, &mut bytes).unwrap();
    assert_eq!(parse_key(&bytes), Err(PublicKeyError::Malformed));
    let mut key = CoseKey::from_slice(&Authenticator::es256(1).cose_key()).unwrap();
    key.alg = None;
    assert_eq!(
        parse_key(&key.to_vec().unwrap()),
        Err(PublicKeyError::MissingAlgorithm)
    );
}

#[test]
fn keys_whose_type_curve_or_point_do_not_fit_are_refused() {
    let es = Authenticator::es256(1);
    let point = match &es.key {
        crate::authenticator::Key::Es256(sk) => sk.verifying_key().to_encoded_point(false),
        _ => unreachable!(),
    };
    let (x, y) = (point.x().unwrap().to_vec(), point.y().unwrap().to_vec());
    let cases = [
        // P-256 coordinates labelled EdDSA
        (
            CoseKeyBuilder::new_ec2_pub_key(iana::EllipticCurve::P_256, x.clone(), y.clone())
                .algorithm(iana::Algorithm::EdDSA)
                .build(),
            PublicKeyError::KeyTypeMismatch,
        ),
        (
            CoseKeyBuilder::new_ec2_pub_key(iana::EllipticCurve::P_384, x.clone(), y.clone())
                .algorithm(iana::Algorithm::ES256)
                .build(),
            PublicKeyError::KeyTypeMismatch,
        ),
        (
            CoseKeyBuilder::new_ec2_pub_key(iana::EllipticCurve::P_256, x.clone(), vec![7; 32])
                .algorithm(iana::Algorithm::ES256)
                .build(),
            PublicKeyError::InvalidPoint,
        ),
        (
            CoseKeyBuilder::new_ec2_pub_key(
                iana::EllipticCurve::P_256,
                x[..31].to_vec(),
                y.clone(),
            )
            .algorithm(iana::Algorithm::ES256)
            .build(),
            PublicKeyError::BadCoordinates,
        ),
        (
            CoseKeyBuilder::new_ec2_pub_key_y_sign(iana::EllipticCurve::P_256, x.clone(), true)
                .algorithm(iana::Algorithm::ES256)
                .build(),
            PublicKeyError::BadCoordinates,
        ),
        (
            CoseKeyBuilder::new_ec2_pub_key(iana::EllipticCurve::P_256, x.clone(), y.clone())
                .algorithm(iana::Algorithm::ES256)
                .key_id(b"kid".to_vec())
                .build(),
            PublicKeyError::UnexpectedParameter,
        ),
        // Ed25519's identity point: small order
        (
            CoseKeyBuilder::new_okp_key()
                .algorithm(iana::Algorithm::EdDSA)
                .param(-1, Value::from(6))
                .param(
                    -2,
                    Value::Bytes({
                        let mut p = vec![0u8; 32];
                        p[0] = 1;
                        p
                    }),
                )
                .build(),
            PublicKeyError::InvalidPoint,
        ),
    ];
    for (key, want) in cases {
        assert_eq!(parse_key(&key.to_vec().unwrap()), Err(want));
    }
    assert_eq!(parse_key(b""), Err(PublicKeyError::Malformed));
    assert!(parse_key(&[0xa0]).is_err()); // {}: no kty
    assert_eq!(
        parse_key(&[0u8; 1100]),
        Err(PublicKeyError::TooLong {
            len: 1100,
            max: 1024
        })
    );
}

#[test]
fn the_text_form_must_be_canonical() {
    // the same key with y before x: readable at enrolment, not as policy text
    let bytes = Authenticator::es256(1).cose_key();
    let mut key = CoseKey::from_slice(&bytes).unwrap();
    key.params.reverse();
    let reordered = key.to_vec().unwrap();
    assert_ne!(reordered, bytes);
    assert_eq!(parse_key(&reordered), Err(PublicKeyError::NotCanonical));
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert_eq!(parse_key(&trailing), Err(PublicKeyError::Malformed));
}

#[test]
fn a_credential_reads_and_writes_its_toml_form() {
    let auth = Authenticator::eddsa(4);
    let c = auth.credential();
    assert_eq!(c.rp_id(), RP_ID);
    assert_eq!(c.id().as_bytes(), auth.credential_id);
    let text = toml::to_string(&c).unwrap();
    assert_eq!(
        text,
        format!(
            "id = \"{}\"\npublic_key = \"{}\"\nrp_id = \"{RP_ID}\"\n",
            b64(&auth.credential_id),
            b64(&auth.cose_key())
        )
    );
    assert_eq!(toml::from_str::<Credential>(&text).unwrap(), c);
    // unknown fields refused
    assert!(toml::from_str::<Credential>(&format!("{text}alg = -7\n")).is_err());
}

#[test]
fn credential_parts_are_checked() {
    assert_eq!(CredentialId::new(vec![]), Err(CredentialError::IdEmpty));
    assert_eq!(
        CredentialId::new(vec![0; 1024]),
        Err(CredentialError::IdTooLong {
            len: 1024,
            max: 1023
        })
    );
    assert!(CredentialId::new(vec![0; 1023]).is_ok());
    assert_eq!(
        "AA==".parse::<CredentialId>(),
        Err(CredentialError::IdEncoding)
    );
    assert_eq!(
        "a+b/".parse::<CredentialId>(),
        Err(CredentialError::IdEncoding)
    );
    assert_eq!(
        "AB".parse::<CredentialId>(),
        Err(CredentialError::IdEncoding)
    ); // non-zero trailing bits
    assert!(matches!(
        "A".repeat(5000).parse::<CredentialId>(),
        Err(CredentialError::IdTooLong { .. })
    ));
    let key = Authenticator::es256(1).credential().public_key().clone();
    let id = CredentialId::new(vec![1]).unwrap();
    for bad in [
        "",
        "Console.example",
        "console.example.",
        "https://console.example",
        "a b",
    ] {
        assert!(
            matches!(
                Credential::new(id.clone(), key.clone(), bad),
                Err(CredentialError::RpId { .. })
            ),
            "{bad}"
        );
    }
    assert!(Credential::new(id, key, "localhost").is_ok());
}
