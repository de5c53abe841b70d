//! An operator's key may be a WebAuthn credential (a security key or passkey enrolled through
//! the console): named by its key id wherever an ed25519 key is named, probationary from its
//! enrolment like any new key, and never ambiguous.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed helper is a failed test"
)]

use alloy_primitives::FixedBytes;
use signgate_policy::{CompileError, Policy, operators::Probation, time::Timestamp};
use signgate_webauthn::testing::Authenticator;

const STANDARD: &str = include_str!("../fixtures/policies/standard.toml");
const CAROL: &str = r#"keys = [{ public_key = "0x898b24d108beadaafd723ad891cda213dc4e62c85570b95f1160510b8ecac1a1", enrolled_at = "2019-09-01" }]"#;

/// The inline table of `key`'s credential, as the console's enrolment writes it.
fn credential(key: &Authenticator) -> String {
    let c = key.credential();
    format!(
        "{{ id = \"{}\", public_key = \"{}\", rp_id = \"{}\" }}",
        c.id(),
        c.public_key(),
        c.rp_id()
    )
}

/// The standard policy with carol's keys replaced by `keys`.
fn carol_with(keys: &str) -> String {
    let text = STANDARD.replacen(CAROL, &format!("keys = [{keys}]"), 1);
    assert_ne!(text, STANDARD);
    text
}

#[test]
fn a_security_key_names_its_holder_by_key_id_and_starts_a_probation() {
    let key = Authenticator::es256(7).for_rp("localhost");
    let policy = Policy::compile(&carol_with(&format!(
        "{{ webauthn = {}, enrolled_at = \"2026-12-01\" }}",
        credential(&key)
    )))
    .unwrap();
    let id = FixedBytes(key.credential().key_id());
    let (holder, enrolled) = policy.key_holder(&id).expect("the key id names carol");
    assert_eq!(holder.id.0, "carol");
    assert_eq!(enrolled.webauthn.as_ref(), Some(&key.credential()));
    let (by_credential, _, c) = policy
        .webauthn_credential(&key.credential_id)
        .expect("found by credential id");
    assert_eq!(by_credential.id.0, "carol");
    assert_eq!(c, &key.credential());
    // Enrolled on 1 December: with new keys probationary, carol is probationary with it for the
    // policy's 90 days, as with any new key; not with her old ed25519 key.
    let now: Timestamp = "2026-12-07".parse().unwrap();
    assert!(matches!(
        holder.probation(now, 90, Some(enrolled), true),
        Some(Probation::NewKey { .. })
    ));
    assert_eq!(holder.probation(now, 90, Some(enrolled), false), None);
}

#[test]
fn a_key_is_exactly_one_kind_and_a_credential_is_enrolled_once() {
    let key = Authenticator::es256(7).for_rp("localhost");
    let both = format!(
        "{{ public_key = \"0x898b24d108beadaafd723ad891cda213dc4e62c85570b95f1160510b8ecac1a1\", webauthn = {}, enrolled_at = \"2026-12-01\" }}",
        credential(&key)
    );
    assert!(matches!(
        Policy::compile(&carol_with(&both)),
        Err(CompileError::KeyKind { .. })
    ));
    assert!(matches!(
        Policy::compile(&carol_with("{ enrolled_at = \"2026-12-01\" }")),
        Err(CompileError::KeyKind { .. })
    ));
    // The same credential id with another key: an assertion could not say which is meant.
    let mut other = Authenticator::es256(8).for_rp("localhost");
    other.credential_id.clone_from(&key.credential_id);
    let twice = format!(
        "{{ webauthn = {}, enrolled_at = \"2026-12-01\" }}, {{ webauthn = {}, enrolled_at = \"2026-12-02\" }}",
        credential(&key),
        credential(&other)
    );
    assert!(matches!(
        Policy::compile(&carol_with(&twice)),
        Err(CompileError::DuplicateCredential { .. })
    ));
    // The same key twice is the same key id.
    let same = format!(
        "{{ webauthn = {}, enrolled_at = \"2026-12-01\" }}, {{ webauthn = {}, enrolled_at = \"2026-12-02\" }}",
        credential(&key),
        credential(&key)
    );
    assert!(matches!(
        Policy::compile(&carol_with(&same)),
        Err(CompileError::DuplicateKey { .. })
    ));
}
