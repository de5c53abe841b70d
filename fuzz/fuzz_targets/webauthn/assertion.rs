//! WebAuthn assertions and enrolments on arbitrary bytes (`signgate-webauthn`): never a panic.
//! The binary form round-trips both ways (what parses encodes back to exactly its bytes), so
//! does the JSON form; `verify_assertion` against the fixed ES256 and EdDSA credentials of the
//! crate's fixtures returns an error value unless the input is the genuine signature, and is
//! always refused when the expected challenge differs; the bytes, split at a two-byte length,
//! are also an attestation object and clientDataJSON for `verify_registration`. Seeds in
//! `fuzz/corpus/webauthn_assertion/` are the crate's test vectors.
#![no_main]

use std::sync::OnceLock;

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use signgate_webauthn::{
    Assertion, AssertionExpected, Credential, RegistrationExpected, verify_assertion,
    verify_registration,
};

struct Fixed {
    credentials: Vec<Credential>,
    expected: AssertionExpected,
    other: AssertionExpected,
    registration: RegistrationExpected,
}

fn fixed() -> &'static Fixed {
    static FIXED: OnceLock<Fixed> = OnceLock::new();
    FIXED.get_or_init(|| {
        let read =
            |json: &str| -> serde_json::Value { serde_json::from_str(json).expect("fixture JSON") };
        let es = read(include_str!(
            "../../../webauthn/tests/fixtures/es256_assertion.json"
        ));
        let ed = read(include_str!(
            "../../../webauthn/tests/fixtures/eddsa_assertion.json"
        ));
        let reg = read(include_str!(
            "../../../webauthn/tests/fixtures/none_registration.json"
        ));
        let b64 = |v: &serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(v.as_str().expect("base64url string"))
                .expect("base64url")
        };
        let challenge = b64(&es["challenge"]);
        assert_eq!(
            challenge,
            b64(&ed["challenge"]),
            "both fixtures sign one statement"
        );
        let origins: Vec<String> = serde_json::from_value(es["origins"].clone()).expect("origins");
        let mut other_challenge = challenge.clone();
        other_challenge[0] ^= 1;
        Fixed {
            credentials: [&es, &ed]
                .iter()
                .map(|v| serde_json::from_value(v["credential"].clone()).expect("credential"))
                .collect(),
            expected: AssertionExpected {
                challenge,
                origins: origins.clone(),
                require_user_verification: true,
            },
            other: AssertionExpected {
                challenge: other_challenge,
                origins: origins.clone(),
                require_user_verification: true,
            },
            registration: RegistrationExpected {
                challenge: b64(&reg["challenge"]),
                origins,
                rp_id: reg["rp_id"].as_str().expect("rp_id").to_owned(),
                require_user_verification: true,
            },
        }
    })
}

fn check(a: &Assertion) {
    let f = fixed();
    assert_eq!(Assertion::from_json(&a.to_json()).as_ref(), Ok(a));
    for credential in &f.credentials {
        // Genuine vectors (and ES256's high-S twins) verify; nothing the fuzzer writes can,
        // short of a forgery. The same assertion never passes for another statement.
        let _ = verify_assertion(credential, a, &f.expected);
        assert!(verify_assertion(credential, a, &f.other).is_err());
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = Assertion::from_bytes(data) {
        assert_eq!(a.to_bytes(), data);
        check(&a);
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(a) = Assertion::from_json(text)
    {
        assert_eq!(Assertion::from_bytes(&a.to_bytes()).as_ref(), Ok(&a));
        check(&a);
    }
    if let Some((len, rest)) = data.split_first_chunk::<2>() {
        let split = usize::from(u16::from_be_bytes(*len)).min(rest.len());
        let (object, client_data) = rest.split_at(split);
        if let Ok(e) = verify_registration(object, client_data, &fixed().registration) {
            // only the seed's genuine enrolment can pass; its credential is a valid policy value
            let text = serde_json::to_string(&e.credential).expect("credential serialises");
            assert_eq!(
                serde_json::from_str::<Credential>(&text).ok(),
                Some(e.credential)
            );
        }
    }
});
