//! check_counter: WebAuthn's clone detection, strictly increasing unless both are 0.

use signgate_webauthn::{CounterError, check_counter};

use crate::authenticator::{Authenticator, challenge, expected};

#[test]
fn an_authenticator_without_a_counter_is_allowed() {
    assert_eq!(check_counter(Some(0), 0), Ok(()));
    assert_eq!(check_counter(None, 0), Ok(()));
}

#[test]
fn an_increasing_counter_is_allowed() {
    assert_eq!(check_counter(None, 5), Ok(()));
    assert_eq!(check_counter(Some(0), 1), Ok(()));
    assert_eq!(check_counter(Some(5), 6), Ok(()));
    assert_eq!(check_counter(Some(u32::MAX - 1), u32::MAX), Ok(()));
}

#[test]
fn a_decreasing_counter_is_refused_naming_both() {
    assert_eq!(
        check_counter(Some(10), 9),
        Err(CounterError::NotIncreasing {
            previous: 10,
            now: 9
        })
    );
    // a counter that was kept cannot stop being kept
    assert_eq!(
        check_counter(Some(10), 0),
        Err(CounterError::NotIncreasing {
            previous: 10,
            now: 0
        })
    );
    assert!(
        check_counter(Some(10), 9)
            .unwrap_err()
            .to_string()
            .contains("9 is not greater than 10")
    );
}

#[test]
fn an_equal_non_zero_counter_is_refused() {
    assert_eq!(
        check_counter(Some(7), 7),
        Err(CounterError::NotIncreasing {
            previous: 7,
            now: 7
        })
    );
}

/// The same assertion verified twice is valid both times (verification is pure); the
/// counter rule is what refuses the second use.
#[test]
fn a_replayed_assertion_is_refused_by_the_counter() {
    let mut auth = Authenticator::es256(1);
    let c = challenge("approve proposal 1");
    let a = auth.assert(&c);
    let first = signgate_webauthn::verify_assertion(&auth.credential(), &a, &expected(&c)).unwrap();
    assert_eq!(check_counter(Some(0), first.counter), Ok(()));
    let again = signgate_webauthn::verify_assertion(&auth.credential(), &a, &expected(&c)).unwrap();
    assert_eq!(
        check_counter(Some(first.counter), again.counter),
        Err(CounterError::NotIncreasing {
            previous: 1,
            now: 1
        })
    );
}
