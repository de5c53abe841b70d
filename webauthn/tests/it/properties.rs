//! proptest properties: the binary form is a bijection on what it accepts, and changing any byte
//! of a genuine assertion's signed parts or signature makes it fail.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

use proptest::prelude::*;
use signgate_webauthn::{Assertion, verify_assertion};

use crate::authenticator::{Authenticator, challenge, expected};

fn field(max: usize) -> impl Strategy<Value = Vec<u8>> {
    // mostly short fields, sometimes at the bound
    prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 0..64),
        1 => proptest::collection::vec(any::<u8>(), max - 2..=max),
    ]
}

fn assertion() -> impl Strategy<Value = Assertion> {
    (field(1023), field(1024), field(4096), field(256))
        .prop_map(|(c, a, d, s)| Assertion::new(c, a, d, s).unwrap())
}

proptest! {
    #[test]
    fn binary_form_round_trips(a in assertion()) {
        let bytes = a.to_bytes();
        prop_assert_eq!(Assertion::from_bytes(&bytes), Ok(a.clone()));
        prop_assert_eq!(Assertion::from_json(&a.to_json()), Ok(a));
    }

    /// Whatever bytes are accepted encode back to themselves (one encoding per assertion).
    #[test]
    fn accepted_bytes_encode_back_to_themselves(
        a in assertion(),
        cut in any::<prop::sample::Index>(),
        junk in proptest::collection::vec(any::<u8>(), 0..4),
        flip in any::<(prop::sample::Index, u8)>(),
    ) {
        let mut bytes = a.to_bytes();
        bytes.truncate(cut.index(bytes.len() + 1).max(1));
        bytes.extend_from_slice(&junk);
        let i = flip.0.index(bytes.len());
        bytes[i] ^= flip.1;
        if let Ok(parsed) = Assertion::from_bytes(&bytes) {
            prop_assert_eq!(parsed.to_bytes(), bytes);
        }
    }
}

fn genuine() -> [(Authenticator, Assertion); 2] {
    let c = challenge("approve proposal 1");
    let mut es = Authenticator::es256(1);
    let mut ed = Authenticator::eddsa(1);
    let a = es.assert(&c);
    let b = ed.assert(&c);
    [(es, a), (ed, b)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn flipping_any_byte_of_a_genuine_assertion_makes_it_fail(
        which in 0usize..2,
        part in 0usize..3,
        at in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        let [es, ed] = genuine();
        let (auth, a) = if which == 0 { es } else { ed };
        let c = challenge("approve proposal 1");
        prop_assert!(verify_assertion(&auth.credential(), &a, &expected(&c)).is_ok());
        let mut parts = [
            a.authenticator_data().to_vec(),
            a.client_data_json().to_vec(),
            a.signature().to_vec(),
        ];
        let i = at.index(parts[part].len());
        parts[part][i] ^= mask;
        let [d, j, s] = parts;
        let tampered = Assertion::new(a.credential_id().to_vec(), d, j, s).unwrap();
        prop_assert!(verify_assertion(&auth.credential(), &tampered, &expected(&c)).is_err());
    }
}
