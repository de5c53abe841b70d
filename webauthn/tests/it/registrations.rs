//! verify_registration: `none` and `packed` self-attestation enrolments pass; device
//! attestation, other formats and every malformed part are refused with their own variant.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

use ciborium::Value;
use coset::{CborSerializable as _, CoseKey, Label, iana};
use signgate_webauthn::{
    AttestationFormat, AuthenticatorDataError, ClientDataError, PublicKeyError, RegistrationError,
    RegistrationResponse, SignatureError, verify_assertion, verify_registration,
};

use crate::authenticator::{
    AT, Authenticator, ORIGIN, UP, UV, attestation_object, challenge, client_data, expected,
    registration_expected,
};

const ENROL: &str = "enrol operator alice";

fn refusal(object: &[u8], client: &[u8]) -> RegistrationError {
    verify_registration(object, client, &registration_expected(&challenge(ENROL))).unwrap_err()
}

#[test]
fn a_none_enrolment_gives_the_credential_that_then_verifies_assertions() {
    for mut auth in [Authenticator::es256(1), Authenticator::eddsa(1)] {
        auth.counter = 3;
        let (object, client) = auth.register_none(&challenge(ENROL));
        let e = verify_registration(&object, &client, &registration_expected(&challenge(ENROL)))
            .unwrap();
        assert_eq!(e.credential, auth.credential());
        assert_eq!(e.counter, 3);
        assert_eq!(e.aaguid, [0xaa; 16]);
        assert_eq!(e.attestation, AttestationFormat::None);
        assert!(e.flags.user_present && e.flags.user_verified);
        let a = auth.assert(&challenge("approve 1"));
        assert_eq!(
            verify_assertion(&e.credential, &a, &expected(&challenge("approve 1")))
                .unwrap()
                .counter,
            4
        );
    }
}

#[test]
fn a_packed_self_attested_enrolment_is_accepted() {
    for auth in [Authenticator::es256(2), Authenticator::eddsa(2)] {
        let (object, client) = auth.register_packed(&challenge(ENROL));
        let e = verify_registration(&object, &client, &registration_expected(&challenge(ENROL)))
            .unwrap();
        assert_eq!(e.attestation, AttestationFormat::PackedSelf);
        assert_eq!(e.credential, auth.credential());
    }
}

#[test]
fn the_json_form_of_a_create_response_is_read_and_its_id_checked() {
    let auth = Authenticator::es256(1);
    let (object, client) = auth.register_none(&challenge(ENROL));
    let json = auth.registration_json(&object, &client);
    let r = RegistrationResponse::from_json(&json).unwrap();
    assert_eq!(r.attestation_object(), object);
    assert_eq!(r.client_data_json(), client);
    let e = r.verify(&registration_expected(&challenge(ENROL))).unwrap();
    assert_eq!(e.credential, auth.credential());
    let mut other = auth.clone();
    other.credential_id = vec![9; 16];
    let r = RegistrationResponse::from_json(&other.registration_json(&object, &client)).unwrap();
    assert_eq!(
        r.verify(&registration_expected(&challenge(ENROL))),
        Err(RegistrationError::CredentialIdMismatch)
    );
}

#[test]
fn an_enrolment_keeps_a_key_in_any_order_and_stores_it_canonically() {
    let auth = Authenticator::es256(1);
    let mut key = CoseKey::from_slice(&auth.cose_key()).unwrap();
    key.params.reverse();
    let reordered = key.to_vec().unwrap();
    let d = auth.auth_data_for(&auth.rp_id, UP | UV | AT, &auth.attested_data(&reordered));
    let object = attestation_object("none", Value::Map(vec![]), d);
    let e = verify_registration(
        &object,
        &client_data("webauthn.create", &challenge(ENROL), ORIGIN),
        &registration_expected(&challenge(ENROL)),
    )
    .unwrap();
    assert_eq!(e.credential.public_key().to_cose(), auth.cose_key());
}

#[test]
fn client_data_of_another_ceremony_challenge_or_origin_is_refused() {
    let auth = Authenticator::es256(1);
    let (object, _) = auth.register_none(&challenge(ENROL));
    assert_eq!(
        refusal(
            &object,
            &client_data("webauthn.get", &challenge(ENROL), ORIGIN)
        ),
        ClientDataError::WrongType {
            expected: "webauthn.create",
            found: "webauthn.get".into()
        }
        .into()
    );
    assert_eq!(
        refusal(
            &object,
            &client_data("webauthn.create", &challenge("enrol mallory"), ORIGIN)
        ),
        ClientDataError::ChallengeMismatch.into()
    );
    assert_eq!(
        refusal(
            &object,
            &client_data(
                "webauthn.create",
                &challenge(ENROL),
                "https://console.example.evil"
            )
        ),
        ClientDataError::OriginNotAllowed {
            origin: "https://console.example.evil".into()
        }
        .into()
    );
}

#[test]
fn device_attestation_and_other_formats_are_refused_by_name() {
    let auth = Authenticator::es256(1);
    let d = auth.registration_auth_data(UP | UV);
    let client = client_data("webauthn.create", &challenge(ENROL), ORIGIN);
    for fmt in [
        "tpm",
        "android-key",
        "android-safetynet",
        "fido-u2f",
        "apple",
        "",
    ] {
        assert_eq!(
            refusal(
                &attestation_object(fmt, Value::Map(vec![]), d.clone()),
                &client
            ),
            RegistrationError::UnsupportedFormat { fmt: fmt.into() }
        );
    }
    let Value::Map(mut stmt) = auth.packed_statement(&d, &client) else {
        unreachable!()
    };
    stmt.push((
        Value::from("x5c"),
        Value::Array(vec![Value::Bytes(vec![0x30; 300])]),
    ));
    assert_eq!(
        refusal(
            &attestation_object("packed", Value::Map(stmt), d.clone()),
            &client
        ),
        RegistrationError::PackedWithCertificate
    );
}

#[test]
fn malformed_attestation_statements_are_refused() {
    let auth = Authenticator::es256(1);
    let d = auth.registration_auth_data(UP | UV);
    let client = client_data("webauthn.create", &challenge(ENROL), ORIGIN);
    // none with a statement
    let stmt = Value::Map(vec![(Value::from("sig"), Value::Bytes(vec![1]))]);
    assert_eq!(
        refusal(&attestation_object("none", stmt, d.clone()), &client),
        RegistrationError::AttestationStatementMalformed
    );
    // packed without sig
    let stmt = Value::Map(vec![(Value::from("alg"), Value::from(-7))]);
    assert_eq!(
        refusal(&attestation_object("packed", stmt, d.clone()), &client),
        RegistrationError::AttestationStatementMalformed
    );
    // packed naming EdDSA for a P-256 key
    let Value::Map(mut stmt) = auth.packed_statement(&d, &client) else {
        unreachable!()
    };
    stmt[0].1 = Value::from(-8);
    assert_eq!(
        refusal(
            &attestation_object("packed", Value::Map(stmt), d.clone()),
            &client
        ),
        RegistrationError::AttestationAlgorithmMismatch {
            statement: -8,
            key: -7
        }
    );
    // packed signed over other client data
    let other_client = client_data("webauthn.create", &challenge("something else"), ORIGIN);
    let stmt = auth.packed_statement(&d, &other_client);
    assert_eq!(
        refusal(&attestation_object("packed", stmt, d.clone()), &client),
        SignatureError::Invalid.into()
    );
    // packed signed by another key
    let stmt = Authenticator::es256(2).packed_statement(&d, &client);
    assert_eq!(
        refusal(&attestation_object("packed", stmt, d), &client),
        SignatureError::Invalid.into()
    );
}

#[test]
fn malformed_attestation_objects_are_refused() {
    let auth = Authenticator::es256(1);
    let (object, client) = auth.register_none(&challenge(ENROL));
    let mut trailing = object.clone();
    trailing.push(0);
    let cbor = |v: Value| {
        let mut out = Vec::new();
        ciborium::into_writer(&v, &mut out).unwrap();
        out
    };
    let d = Value::Bytes(auth.registration_auth_data(UP | UV));
    let cases = [
        trailing,
        vec![],
        object[..object.len() - 1].to_vec(),
        cbor(Value::Array(vec![])),
        // missing authData
        cbor(Value::Map(vec![
            (Value::from("fmt"), Value::from("none")),
            (Value::from("attStmt"), Value::Map(vec![])),
        ])),
        // duplicate fmt
        cbor(Value::Map(vec![
            (Value::from("fmt"), Value::from("none")),
            (Value::from("fmt"), Value::from("none")),
            (Value::from("attStmt"), Value::Map(vec![])),
            (Value::from("authData"), d.clone()),
        ])),
        // an unknown member
        cbor(Value::Map(vec![
            (Value::from("fmt"), Value::from("none")),
            (Value::from("attStmt"), Value::Map(vec![])),
            (Value::from("authData"), d.clone()),
            (Value::from("extra"), Value::from(1)),
        ])),
        // authData as text
        cbor(Value::Map(vec![
            (Value::from("fmt"), Value::from("none")),
            (Value::from("attStmt"), Value::Map(vec![])),
            (Value::from("authData"), Value::from("x")),
        ])),
    ];
    for (i, bytes) in cases.iter().enumerate() {
        assert_eq!(
            refusal(bytes, &client),
            RegistrationError::AttestationObjectMalformed,
            "case {i}"
        );
    }
    assert_eq!(
        refusal(&vec![0; 20_000], &client),
        RegistrationError::AttestationObjectTooLong {
            len: 20_000,
            max: 16 * 1024
        }
    );
}

#[test]
fn authenticator_data_of_an_enrolment_is_checked() {
    let auth = Authenticator::es256(1);
    let client = client_data("webauthn.create", &challenge(ENROL), ORIGIN);
    let none = |d: Vec<u8>| attestation_object("none", Value::Map(vec![]), d);
    let attested = auth.attested_data(&auth.cose_key());
    let cases = [
        (
            auth.auth_data(UP | UV),
            AuthenticatorDataError::AttestedDataMissing,
        ),
        (
            auth.registration_auth_data(UV),
            AuthenticatorDataError::UserNotPresent,
        ),
        (
            auth.registration_auth_data(UP),
            AuthenticatorDataError::UserNotVerified,
        ),
        (
            auth.auth_data_for("evil.example", UP | UV | AT, &attested),
            AuthenticatorDataError::RpIdMismatch,
        ),
        (
            auth.auth_data_for(&auth.rp_id, UP | UV | AT, &attested[..40]),
            AuthenticatorDataError::AttestedDataTruncated,
        ),
        (
            auth.auth_data_for(
                &auth.rp_id,
                UP | UV | AT,
                &[attested.as_slice(), &[0xa0]].concat(),
            ),
            AuthenticatorDataError::TrailingBytes { len: 1 },
        ),
        (
            auth.auth_data_for(
                &auth.rp_id,
                UP | UV | AT,
                &[[0; 16].as_slice(), &[0x04, 0x00]].concat(),
            ),
            AuthenticatorDataError::CredentialIdTooLong {
                len: 1024,
                max: 1023,
            },
        ),
        (
            auth.auth_data(UP | UV)[..20].to_vec(),
            AuthenticatorDataError::TooShort { len: 20 },
        ),
    ];
    for (d, want) in cases {
        assert_eq!(refusal(&none(d), &client), want.clone().into(), "{want:?}");
    }
}

#[test]
fn an_rsa_credential_key_is_refused_at_enrolment() {
    let auth = Authenticator::es256(1);
    let rsa = CoseKey {
        kty: coset::KeyType::Assigned(iana::KeyType::RSA),
        alg: Some(coset::Algorithm::Assigned(iana::Algorithm::RS256)),
        params: vec![
            (Label::Int(-1), Value::Bytes(vec![0xc5; 256])),
            (Label::Int(-2), Value::Bytes(vec![1, 0, 1])),
        ],
        ..CoseKey::default()
    }
    .to_vec()
    .unwrap();
    let d = auth.auth_data_for(&auth.rp_id, UP | UV | AT, &auth.attested_data(&rsa));
    assert_eq!(
        refusal(
            &attestation_object("none", Value::Map(vec![]), d),
            &client_data("webauthn.create", &challenge(ENROL), ORIGIN)
        ),
        AuthenticatorDataError::CredentialPublicKey(PublicKeyError::UnsupportedAlgorithm {
            alg: Some(-257)
        })
        .into()
    );
}
