//! Plain list parser: never panics, and a successful parse holds at least one address, each of
//! which the text spells somewhere (case-insensitively).
#![no_main]

use libfuzzer_sys::fuzz_target;
use signgate_policy::sanctions::{ParseLimits, parse_plain_list};

fuzz_target!(|data: &[u8]| {
    let limits = ParseLimits {
        max_bytes: 1 << 20,
        max_record_bytes: 1 << 14,
        max_addresses: 10_000,
        max_depth: 32,
    };
    if let Ok(list) = parse_plain_list(data, &limits) {
        assert!(list.evm_records().count() > 0);
        let text = String::from_utf8_lossy(data).to_ascii_lowercase();
        for record in list.evm_records() {
            assert!(text.contains(&format!("{:#x}", record.address)));
        }
    }
});
