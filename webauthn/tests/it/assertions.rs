//! verify_assertion: genuine ES256 and EdDSA assertions pass; each check refuses with its own
//! variant.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

use signgate_webauthn::{
    Assertion, AssertionError, AuthenticatorDataError, ClientDataError, Flags, SignatureError,
    VerifiedAssertion, verify_assertion,
};

use crate::authenticator::{
    AT, Authenticator, BE, BS, ED, ORIGIN, UP, UV, b64, challenge, client_data, expected,
};

const STATEMENT: &str = "approve proposal 1";

fn refusal(auth: &Authenticator, assertion: &Assertion) -> AssertionError {
    verify_assertion(
        &auth.credential(),
        assertion,
        &expected(&challenge(STATEMENT)),
    )
    .unwrap_err()
}

fn get(auth: &Authenticator, flags: u8, client: Vec<u8>) -> Assertion {
    auth.assertion_with(auth.auth_data(flags), client)
}

fn genuine_client() -> Vec<u8> {
    client_data("webauthn.get", &challenge(STATEMENT), ORIGIN)
}

#[test]
fn a_genuine_es256_assertion_is_accepted_with_its_counter_and_flags() {
    let mut auth = Authenticator::es256(1);
    let a = auth.assert(&challenge(STATEMENT));
    assert_eq!(
        verify_assertion(&auth.credential(), &a, &expected(&challenge(STATEMENT))),
        Ok(VerifiedAssertion {
            counter: 1,
            flags: Flags {
                user_present: true,
                user_verified: true,
                backup_eligible: false,
                backup_state: false,
            },
        })
    );
}

#[test]
fn a_genuine_eddsa_assertion_is_accepted() {
    let mut auth = Authenticator::eddsa(2);
    auth.counter = 41;
    let a = auth.assert(&challenge(STATEMENT));
    let v = verify_assertion(&auth.credential(), &a, &expected(&challenge(STATEMENT))).unwrap();
    assert_eq!(v.counter, 42);
}

#[test]
fn backup_flags_and_extensions_are_reported_and_accepted() {
    let auth = Authenticator::es256(3);
    // a synced passkey with a credProps-like extensions map
    let mut ext = Vec::new();
    ciborium::into_writer(
        &ciborium::Value::Map(vec![(
            ciborium::Value::from("credProtect"),
            ciborium::Value::from(2),
        )]),
        &mut ext,
    )
    .unwrap();
    let a = auth.assertion_with(
        auth.auth_data_for(&auth.rp_id, UP | UV | BE | BS | ED, &ext),
        genuine_client(),
    );
    let v = verify_assertion(&auth.credential(), &a, &expected(&challenge(STATEMENT))).unwrap();
    assert!(v.flags.backup_eligible && v.flags.backup_state);
}

#[test]
fn user_verification_is_not_needed_when_not_required() {
    let auth = Authenticator::es256(1);
    let a = get(&auth, UP, genuine_client());
    let mut e = expected(&challenge(STATEMENT));
    e.require_user_verification = false;
    assert!(
        !verify_assertion(&auth.credential(), &a, &e)
            .unwrap()
            .flags
            .user_verified
    );
}

#[test]
fn an_assertion_by_another_credential_is_refused() {
    let mut other = Authenticator::es256(9);
    let a = other.assert(&challenge(STATEMENT));
    assert_eq!(
        refusal(&Authenticator::es256(1), &a),
        AssertionError::CredentialMismatch
    );
}

#[test]
fn a_challenge_for_another_statement_is_refused() {
    let mut auth = Authenticator::es256(1);
    let a = auth.assert(&challenge("approve proposal 2"));
    assert_eq!(
        refusal(&auth, &a),
        ClientDataError::ChallengeMismatch.into()
    );
    // the same bytes, padded or in standard base64, are not the challenge's text form
    let padded = format!(
        r#"{{"type":"webauthn.get","challenge":"{}=","origin":"{ORIGIN}"}}"#,
        b64(&challenge(STATEMENT))
    );
    let a = get(&auth, UP | UV, padded.into_bytes());
    assert_eq!(
        refusal(&auth, &a),
        ClientDataError::ChallengeEncoding.into()
    );
}

#[test]
fn other_origins_are_refused_by_exact_comparison() {
    let auth = Authenticator::es256(1);
    for origin in [
        "http://console.example:8443",
        "https://console.example",
        "https://console.example:443",
        "https://console.example:8444",
        "https://console.example.evil",
        "https://console.example.evil:8443",
        "https://evil.console.example:8443",
        "https://console.example:8443/",
        "https://CONSOLE.example:8443",
        "null",
    ] {
        let a = get(
            &auth,
            UP | UV,
            client_data("webauthn.get", &challenge(STATEMENT), origin),
        );
        assert_eq!(
            refusal(&auth, &a),
            ClientDataError::OriginNotAllowed {
                origin: origin.to_owned()
            }
            .into(),
            "{origin}"
        );
    }
}

#[test]
fn a_create_ceremony_is_not_an_assertion() {
    let auth = Authenticator::es256(1);
    let a = get(
        &auth,
        UP | UV,
        client_data("webauthn.create", &challenge(STATEMENT), ORIGIN),
    );
    assert_eq!(
        refusal(&auth, &a),
        ClientDataError::WrongType {
            expected: "webauthn.get",
            found: "webauthn.create".to_owned()
        }
        .into()
    );
}

#[test]
fn cross_origin_and_top_origin_are_refused() {
    let auth = Authenticator::es256(1);
    let c = b64(&challenge(STATEMENT));
    let cases = [
        (
            format!(
                r#"{{"type":"webauthn.get","challenge":"{c}","origin":"{ORIGIN}","crossOrigin":true}}"#
            ),
            ClientDataError::CrossOrigin,
        ),
        (
            format!(
                r#"{{"type":"webauthn.get","challenge":"{c}","origin":"{ORIGIN}","crossOrigin":"false"}}"#
            ),
            ClientDataError::CrossOriginNotBoolean,
        ),
        (
            format!(
                r#"{{"type":"webauthn.get","challenge":"{c}","origin":"{ORIGIN}","topOrigin":"https://evil.example"}}"#
            ),
            ClientDataError::TopOrigin,
        ),
        (
            format!(
                r#"{{"type":"webauthn.get","challenge":"{c}","origin":"{ORIGIN}","topOrigin":null}}"#
            ),
            ClientDataError::TopOrigin,
        ),
    ];
    for (json, want) in cases {
        let a = get(&auth, UP | UV, json.into_bytes());
        assert_eq!(refusal(&auth, &a), want.into());
    }
    // absent crossOrigin, unknown fields: accepted
    let json = format!(
        r#"{{"type":"webauthn.get","challenge":"{c}","origin":"{ORIGIN}","other_keys_can_be_added_here":"x"}}"#
    );
    let a = get(&auth, UP | UV, json.into_bytes());
    assert!(verify_assertion(&auth.credential(), &a, &expected(&challenge(STATEMENT))).is_ok());
}

#[test]
fn malformed_or_duplicated_client_data_is_refused() {
    let auth = Authenticator::es256(1);
    let c = b64(&challenge(STATEMENT));
    for json in [
        "".to_owned(),
        "[]".to_owned(),
        format!(r#"{{"type":"webauthn.get","challenge":"{c}"}}"#),
        format!(
            r#"{{"type":"webauthn.get","challenge":"{c}","origin":"{ORIGIN}","origin":"https://evil.example"}}"#
        ),
    ] {
        let a = get(&auth, UP | UV, json.into_bytes());
        assert!(matches!(
            refusal(&auth, &a),
            AssertionError::ClientData(ClientDataError::Malformed { .. })
        ),);
    }
}

#[test]
fn authenticator_data_for_another_relying_party_is_refused() {
    let auth = Authenticator::es256(1);
    let a = auth.assertion_with(
        auth.auth_data_for("evil.example", UP | UV, &[]),
        genuine_client(),
    );
    assert_eq!(
        refusal(&auth, &a),
        AuthenticatorDataError::RpIdMismatch.into()
    );
}

#[test]
fn each_flag_rule_has_its_refusal() {
    let auth = Authenticator::es256(1);
    let cases = [
        (UV, AuthenticatorDataError::UserNotPresent),
        (UP, AuthenticatorDataError::UserNotVerified),
        (
            UP | UV | AT,
            AuthenticatorDataError::AttestedDataInAssertion,
        ),
        (
            UP | UV | BS,
            AuthenticatorDataError::BackupStateWithoutEligibility,
        ),
        (UP | UV | ED, AuthenticatorDataError::ExtensionsMissing),
    ];
    for (flags, want) in cases {
        let a = get(&auth, flags, genuine_client());
        assert_eq!(refusal(&auth, &a), want.into(), "flags {flags:#04x}");
    }
}

#[test]
fn attested_credential_data_in_an_assertion_is_refused() {
    let auth = Authenticator::es256(1);
    let tail = auth.attested_data(&auth.cose_key());
    let a = auth.assertion_with(
        auth.auth_data_for(&auth.rp_id, UP | UV | AT, &tail),
        genuine_client(),
    );
    assert_eq!(
        refusal(&auth, &a),
        AuthenticatorDataError::AttestedDataInAssertion.into()
    );
}

#[test]
fn extension_bytes_must_match_the_ed_flag() {
    let auth = Authenticator::es256(1);
    let map = [0xa0]; // {}
    let a = auth.assertion_with(
        auth.auth_data_for(&auth.rp_id, UP | UV, &map),
        genuine_client(),
    );
    assert_eq!(
        refusal(&auth, &a),
        AuthenticatorDataError::TrailingBytes { len: 1 }.into()
    );
    let a = auth.assertion_with(
        auth.auth_data_for(&auth.rp_id, UP | UV | ED, &[0xa0, 0x00]),
        genuine_client(),
    );
    assert_eq!(
        refusal(&auth, &a),
        AuthenticatorDataError::TrailingBytes { len: 1 }.into()
    );
    let a = auth.assertion_with(
        auth.auth_data_for(&auth.rp_id, UP | UV | ED, &[0x80]),
        genuine_client(),
    );
    assert_eq!(
        refusal(&auth, &a),
        AuthenticatorDataError::ExtensionsMalformed.into()
    );
}

#[test]
fn truncated_authenticator_data_is_refused() {
    let auth = Authenticator::es256(1);
    let mut d = auth.auth_data(UP | UV);
    d.truncate(36);
    let a = auth.assertion_with(d, genuine_client());
    assert_eq!(
        refusal(&auth, &a),
        AuthenticatorDataError::TooShort { len: 36 }.into()
    );
}

#[test]
fn a_signature_over_other_data_is_refused() {
    let auth = Authenticator::es256(1);
    let genuine = get(&auth, UP | UV, genuine_client());
    // signed with the counter at 0, presented with the counter at 7
    let mut forged_data = genuine.authenticator_data().to_vec();
    forged_data[36] = 7;
    let a = Assertion::new(
        genuine.credential_id().to_vec(),
        forged_data,
        genuine.client_data_json().to_vec(),
        genuine.signature().to_vec(),
    )
    .unwrap();
    assert_eq!(refusal(&auth, &a), SignatureError::Invalid.into());
    // the signature of another message, well formed
    let a = Assertion::new(
        genuine.credential_id().to_vec(),
        genuine.authenticator_data().to_vec(),
        genuine.client_data_json().to_vec(),
        auth.sign(b"something else"),
    )
    .unwrap();
    assert_eq!(refusal(&auth, &a), SignatureError::Invalid.into());
}

#[test]
fn a_signature_by_another_key_is_refused() {
    for (auth, thief) in [
        (Authenticator::es256(1), Authenticator::es256(2)),
        (Authenticator::eddsa(1), Authenticator::eddsa(2)),
    ] {
        let mut thief = thief;
        thief.credential_id = auth.credential_id.clone();
        let a = thief.assertion_with(thief.auth_data(UP | UV), genuine_client());
        assert_eq!(refusal(&auth, &a), SignatureError::Invalid.into());
    }
}

#[test]
fn signatures_not_encoded_as_their_algorithm_requires_are_refused() {
    let auth = Authenticator::es256(1);
    let genuine = get(&auth, UP | UV, genuine_client());
    let with_sig = |sig: Vec<u8>| {
        Assertion::new(
            genuine.credential_id().to_vec(),
            genuine.authenticator_data().to_vec(),
            genuine.client_data_json().to_vec(),
            sig,
        )
        .unwrap()
    };
    // raw r||s instead of DER
    let raw = p256::ecdsa::Signature::from_der(genuine.signature())
        .unwrap()
        .to_bytes()
        .to_vec();
    assert_eq!(
        refusal(&auth, &with_sig(raw)),
        SignatureError::Encoding.into()
    );
    // DER with a trailing byte
    let mut long = genuine.signature().to_vec();
    long.push(0);
    assert_eq!(
        refusal(&auth, &with_sig(long)),
        SignatureError::Encoding.into()
    );
    assert_eq!(
        refusal(&auth, &with_sig(vec![])),
        SignatureError::Encoding.into()
    );
    // EdDSA: 63 bytes
    let ed = Authenticator::eddsa(1);
    let g = ed.assertion_with(ed.auth_data(UP | UV), genuine_client());
    let a = Assertion::new(
        g.credential_id().to_vec(),
        g.authenticator_data().to_vec(),
        g.client_data_json().to_vec(),
        g.signature()[..63].to_vec(),
    )
    .unwrap();
    assert_eq!(refusal(&ed, &a), SignatureError::Encoding.into());
}

/// Authenticators do not normalise S; the high-S twin of a genuine signature verifies too
/// (documented on `CredentialPublicKey::verify`).
#[test]
fn es256_high_s_signatures_are_accepted() {
    let auth = Authenticator::es256(1);
    let genuine = get(&auth, UP | UV, genuine_client());
    let sig = p256::ecdsa::Signature::from_der(genuine.signature()).unwrap();
    let twin = p256::ecdsa::Signature::from_scalars(sig.r(), -*sig.s()).unwrap();
    assert_ne!(twin, sig);
    let a = Assertion::new(
        genuine.credential_id().to_vec(),
        genuine.authenticator_data().to_vec(),
        genuine.client_data_json().to_vec(),
        twin.to_der().as_bytes().to_vec(),
    )
    .unwrap();
    assert!(verify_assertion(&auth.credential(), &a, &expected(&challenge(STATEMENT))).is_ok());
}

#[test]
fn refusals_come_in_the_documented_order() {
    // wrong credential and wrong challenge and no UP: the credential is named first
    let auth = Authenticator::es256(1);
    let mut a_bad = get(&auth, UV, client_data("webauthn.get", b"other", ORIGIN));
    assert_eq!(
        refusal(&auth, &a_bad),
        ClientDataError::ChallengeMismatch.into()
    );
    let mut other = auth.clone();
    other.credential_id = vec![1];
    a_bad = get(&other, UV, client_data("webauthn.get", b"other", ORIGIN));
    assert_eq!(refusal(&auth, &a_bad), AssertionError::CredentialMismatch);
}
