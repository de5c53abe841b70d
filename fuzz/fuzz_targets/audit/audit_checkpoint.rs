//! The checkpoint (signed note) parser and verifier on arbitrary text: never panic, and a
//! parsed checkpoint re-renders to the body it was parsed from.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signgate_audit::checkpoint::{parse_note, verify_note};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok((cp, _)) = parse_note(text) {
        assert!(text.starts_with(&cp.body()));
    }
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key();
    let _ = verify_note(text, &key);
});
