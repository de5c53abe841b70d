//! Assertion's binary form (bounded, canonical, versioned) and JSON form.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

use signgate_webauthn::{Assertion, AssertionFormatError, assertion::Field};

use crate::authenticator::{Authenticator, b64, challenge};

fn genuine() -> Assertion {
    Authenticator::es256(1).assert(&challenge("approve proposal 1"))
}

#[test]
fn the_binary_form_round_trips_and_is_laid_out_as_documented() {
    let a = genuine();
    let bytes = a.to_bytes();
    assert_eq!(Assertion::from_bytes(&bytes), Ok(a.clone()));
    assert_eq!(bytes[0], 1);
    assert_eq!(
        &bytes[1..3],
        &u16::try_from(a.credential_id().len())
            .unwrap()
            .to_be_bytes()
    );
    assert_eq!(&bytes[3..3 + a.credential_id().len()], a.credential_id());
    let empty = Assertion::new(vec![], vec![], vec![], vec![]).unwrap();
    assert_eq!(empty.to_bytes(), [1, 0, 0, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn trailing_bytes_unknown_tags_and_truncation_are_refused() {
    let bytes = genuine().to_bytes();
    let mut long = bytes.clone();
    long.push(0);
    assert_eq!(
        Assertion::from_bytes(&long),
        Err(AssertionFormatError::TrailingBytes { len: 1 })
    );
    let mut v2 = bytes.clone();
    v2[0] = 2;
    assert_eq!(
        Assertion::from_bytes(&v2),
        Err(AssertionFormatError::UnknownTag { tag: Some(2) })
    );
    assert_eq!(
        Assertion::from_bytes(&[]),
        Err(AssertionFormatError::UnknownTag { tag: None })
    );
    assert_eq!(
        Assertion::from_bytes(&bytes[..bytes.len() - 1]),
        Err(AssertionFormatError::Truncated {
            field: Field::Signature
        })
    );
    assert_eq!(
        Assertion::from_bytes(&[1, 0]),
        Err(AssertionFormatError::Truncated {
            field: Field::CredentialId
        })
    );
}

#[test]
fn over_long_fields_are_refused_in_every_form() {
    let bounds = [
        (Field::CredentialId, 1023),
        (Field::AuthenticatorData, 1024),
        (Field::ClientDataJson, 4096),
        (Field::Signature, 256),
    ];
    for (i, (field, max)) in bounds.into_iter().enumerate() {
        assert_eq!(field.max_len(), max);
        let mut parts = vec![vec![]; 4];
        parts[i] = vec![0x41; max];
        let [c, a, d, s]: [Vec<u8>; 4] = parts.clone().try_into().unwrap();
        let at_bound = Assertion::new(c, a, d, s).unwrap();
        assert_eq!(
            Assertion::from_bytes(&at_bound.to_bytes()).unwrap(),
            at_bound
        );
        parts[i].push(0x41);
        let [c, a, d, s]: [Vec<u8>; 4] = parts.clone().try_into().unwrap();
        let too_long = AssertionFormatError::FieldTooLong {
            field,
            len: max + 1,
            max,
        };
        assert_eq!(Assertion::new(c, a, d, s), Err(too_long.clone()));
        // the same field, over-long in the binary form
        let mut bytes = vec![1];
        for p in &parts {
            bytes.extend_from_slice(&u16::try_from(p.len()).unwrap().to_be_bytes());
            bytes.extend_from_slice(p);
        }
        assert_eq!(Assertion::from_bytes(&bytes), Err(too_long));
    }
    // a length prefix of 65535 with nothing behind it is refused by its bound, not read
    assert!(matches!(
        Assertion::from_bytes(&[1, 0xff, 0xff]),
        Err(AssertionFormatError::FieldTooLong {
            field: Field::CredentialId,
            len: 65535,
            ..
        })
    ));
}

#[test]
fn the_json_form_is_the_browsers_and_round_trips() {
    let a = genuine();
    let json: serde_json::Value = serde_json::from_str(&a.to_json()).unwrap();
    assert_eq!(json["type"], "public-key");
    assert_eq!(json["id"], b64(a.credential_id()));
    assert_eq!(json["rawId"], b64(a.credential_id()));
    assert_eq!(
        json["response"]["authenticatorData"],
        b64(a.authenticator_data())
    );
    assert_eq!(
        json["response"]["clientDataJSON"],
        b64(a.client_data_json())
    );
    assert_eq!(json["response"]["signature"], b64(a.signature()));
    assert_eq!(Assertion::from_json(&a.to_json()), Ok(a.clone()));
    assert_eq!(serde_json::from_value::<Assertion>(json).unwrap(), a);
}

#[test]
fn what_a_browser_adds_is_ignored_and_what_it_must_send_is_checked() {
    let a = genuine();
    let mut json: serde_json::Value = serde_json::from_str(&a.to_json()).unwrap();
    json["authenticatorAttachment"] = "platform".into();
    json["response"]["userHandle"] = "dXNlcg".into();
    json["clientExtensionResults"] = serde_json::json!({"credProps": {"rk": true}});
    assert_eq!(Assertion::from_json(&json.to_string()), Ok(a.clone()));

    let mut bad = json.clone();
    bad["type"] = "password".into();
    assert_eq!(
        Assertion::from_json(&bad.to_string()),
        Err(AssertionFormatError::WrongCredentialType {
            found: "password".into()
        })
    );
    let mut bad = json.clone();
    bad["id"] = "AAAA".into();
    assert_eq!(
        Assertion::from_json(&bad.to_string()),
        Err(AssertionFormatError::IdMismatch)
    );
    let mut bad = json.clone();
    bad["response"]["signature"] = format!("{}=", b64(a.signature())).into();
    assert_eq!(
        Assertion::from_json(&bad.to_string()),
        Err(AssertionFormatError::NotBase64Url {
            field: Field::Signature
        })
    );
    let mut bad = json.clone();
    bad["response"]["signature"] = "A".repeat(400).into();
    assert!(matches!(
        Assertion::from_json(&bad.to_string()),
        Err(AssertionFormatError::FieldTooLong {
            field: Field::Signature,
            ..
        })
    ));
    let mut bad = json.clone();
    bad["response"].as_object_mut().unwrap().remove("signature");
    assert!(matches!(
        Assertion::from_json(&bad.to_string()),
        Err(AssertionFormatError::Json { .. })
    ));
    assert!(matches!(
        Assertion::from_json(&" ".repeat(20_000)),
        Err(AssertionFormatError::JsonTooLong { len: 20_000, .. })
    ));
}
