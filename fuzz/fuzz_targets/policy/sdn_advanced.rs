//! `SDN_ADVANCED.XML` parser: never panics, stays within its limits, and a successful parse
//! always has an issue date and at least one digital currency record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signgate_policy::sanctions::{ParseLimits, parse_sdn_advanced};

fuzz_target!(|data: &[u8]| {
    let limits = ParseLimits {
        max_bytes: 1 << 20,
        max_record_bytes: 1 << 14,
        max_addresses: 10_000,
        max_depth: 32,
    };
    if let Ok(list) = parse_sdn_advanced(data, &limits) {
        assert!(list.issue_date().is_some());
        assert!(list.evm_records().count() + list.other_records().len() > 0);
    }
});
