//! The deterministic test keys the fixture policies enrol.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers fail loudly on broken fixtures"
)]

use signgate_policy::cases::test_signing_key;

/// Prints the public key of every label the fixtures use; run with `--ignored --nocapture`
/// after adding an operator to a fixture policy.
#[test]
#[ignore = "prints fixture keys"]
fn print_test_keys() {
    for label in [
        "alice#0",
        "bob#0",
        "bob#1",
        "carol#0",
        "dave#0",
        "erin#0",
        "mallory#0",
        "frank#0",
        "grace#0",
        "grace#1",
        "oscar#0",
        "henry#0",
    ] {
        println!(
            "{label} = \"0x{}\"",
            hex_of(&test_signing_key(label).verifying_key().to_bytes())
        );
    }
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
