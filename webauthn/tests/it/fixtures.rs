//! Static vectors under `tests/fixtures/` (see its PROVENANCE.md) and the fuzz seeds under
//! `fuzz/corpus/webauthn_assertion/`: each file is checked to verify from the file alone, and
//! to be exactly what `authenticator` makes (both signature schemes are deterministic).
//! `cargo test -p signgate-webauthn -- --ignored write_fixtures` writes them anew.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

use std::path::PathBuf;

use serde_json::{Value, json};
use signgate_webauthn::{
    Assertion, AssertionExpected, Credential, RegistrationExpected, RegistrationResponse,
    check_counter, verify_assertion,
};

use crate::authenticator::{Authenticator, ORIGIN, RP_ID, b64, challenge};

/// The statement whose SHA-256 the assertion vectors sign.
const STATEMENT: &str = "signgate fixture: approve proposal 0x01";
/// The statement whose SHA-256 the enrolment vectors sign.
const ENROLMENT: &str = "signgate fixture: enrol operator alice";

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/webauthn_assertion")
}

fn pretty(v: &Value) -> Vec<u8> {
    let mut s = serde_json::to_vec_pretty(v).unwrap();
    s.push(b'\n');
    s
}

fn assertion_vector(mut auth: Authenticator, counter: u32) -> (Value, Assertion) {
    auth.counter = counter - 1;
    let a = auth.assert(&challenge(STATEMENT));
    let v = json!({
        "statement": STATEMENT,
        "challenge": b64(&challenge(STATEMENT)),
        "origins": [ORIGIN],
        "credential": serde_json::to_value(auth.credential()).unwrap(),
        "counter": counter,
        "assertion": serde_json::to_value(&a).unwrap(),
    });
    (v, a)
}

fn registration_vector(auth: &Authenticator, packed: bool) -> (Value, Vec<u8>) {
    let c = challenge(ENROLMENT);
    let (object, client) = if packed {
        auth.register_packed(&c)
    } else {
        auth.register_none(&c)
    };
    let v = json!({
        "statement": ENROLMENT,
        "challenge": b64(&c),
        "origins": [ORIGIN],
        "rp_id": RP_ID,
        "response": serde_json::from_str::<Value>(&auth.registration_json(&object, &client)).unwrap(),
        "credential": serde_json::to_value(auth.credential()).unwrap(),
    });
    // fuzz seed for verify_registration: 2-byte big-endian length of the attestation object,
    // the object, clientDataJSON
    let mut seed = u16::try_from(object.len()).unwrap().to_be_bytes().to_vec();
    seed.extend_from_slice(&object);
    seed.extend_from_slice(&client);
    (v, seed)
}

/// Every file, by path, with its contents.
fn files() -> Vec<(PathBuf, Vec<u8>)> {
    let (es, es_a) = assertion_vector(Authenticator::es256(0x11), 7);
    let (ed, ed_a) = assertion_vector(Authenticator::eddsa(0x22), 1);
    let (none, none_seed) = registration_vector(&Authenticator::es256(0x11), false);
    let (packed, packed_seed) = registration_vector(&Authenticator::eddsa(0x22), true);
    vec![
        (dir().join("es256_assertion.json"), pretty(&es)),
        (dir().join("eddsa_assertion.json"), pretty(&ed)),
        (dir().join("none_registration.json"), pretty(&none)),
        (dir().join("packed_registration.json"), pretty(&packed)),
        (corpus().join("es256_assertion.bin"), es_a.to_bytes()),
        (corpus().join("eddsa_assertion.bin"), ed_a.to_bytes()),
        (
            corpus().join("es256_assertion.json"),
            es_a.to_json().into_bytes(),
        ),
        (corpus().join("none_registration.bin"), none_seed),
        (corpus().join("packed_registration.bin"), packed_seed),
    ]
}

#[test]
#[ignore = "writes the fixture files; run by hand after changing the authenticator"]
fn write_fixtures() {
    for (path, contents) in files() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
    }
}

#[test]
fn fixture_files_are_what_the_authenticator_makes() {
    for (path, contents) in files() {
        let on_disk = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run the ignored write_fixtures test",
                path.display()
            )
        });
        // JSON compared as values: key order is serde_json's business, not the vector's
        let same = if path.extension().is_some_and(|e| e == "json") {
            serde_json::from_slice::<Value>(&on_disk).unwrap()
                == serde_json::from_slice::<Value>(&contents).unwrap()
        } else {
            on_disk == contents
        };
        assert!(
            same,
            "{} is stale; run the ignored write_fixtures test",
            path.display()
        );
    }
}

fn read(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(dir().join(name)).unwrap()).unwrap()
}

fn decode(v: &Value) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(v.as_str().unwrap())
        .unwrap()
}

fn origins(v: &Value) -> Vec<String> {
    serde_json::from_value(v["origins"].clone()).unwrap()
}

#[test]
fn assertion_fixtures_verify_from_the_files_alone() {
    for name in ["es256_assertion.json", "eddsa_assertion.json"] {
        let v = read(name);
        let credential: Credential = serde_json::from_value(v["credential"].clone()).unwrap();
        let assertion = Assertion::from_json(&v["assertion"].to_string()).unwrap();
        let expected = AssertionExpected {
            challenge: decode(&v["challenge"]),
            origins: origins(&v),
            require_user_verification: true,
        };
        let ok = verify_assertion(&credential, &assertion, &expected).unwrap();
        assert_eq!(
            u64::from(ok.counter),
            v["counter"].as_u64().unwrap(),
            "{name}"
        );
        assert!(check_counter(Some(ok.counter - 1), ok.counter).is_ok());
        let mut other = expected.clone();
        other.challenge[0] ^= 1;
        assert!(
            verify_assertion(&credential, &assertion, &other).is_err(),
            "{name}"
        );
    }
}

#[test]
fn registration_fixtures_verify_from_the_files_alone() {
    for name in ["none_registration.json", "packed_registration.json"] {
        let v = read(name);
        let response = RegistrationResponse::from_json(&v["response"].to_string()).unwrap();
        let expected = RegistrationExpected {
            challenge: decode(&v["challenge"]),
            origins: origins(&v),
            rp_id: v["rp_id"].as_str().unwrap().to_owned(),
            require_user_verification: true,
        };
        let e = response.verify(&expected).unwrap();
        let credential: Credential = serde_json::from_value(v["credential"].clone()).unwrap();
        assert_eq!(e.credential, credential, "{name}");
    }
}
