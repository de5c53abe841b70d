//! Legacy `sdn.csv` + `sdn_comments.csv` parser: never panics. The first byte chooses where the
//! input splits into the two files.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signgate_policy::sanctions::{ParseLimits, parse_sdn_csv};

fuzz_target!(|data: &[u8]| {
    let limits = ParseLimits {
        max_bytes: 1 << 20,
        max_record_bytes: 1 << 14,
        max_addresses: 10_000,
        max_depth: 32,
    };
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let at = (usize::from(split) * rest.len()) / 256;
    let (sdn, comments) = rest.split_at(at);
    let with = parse_sdn_csv(sdn, Some(comments), &limits);
    let without = parse_sdn_csv(sdn, None::<&[u8]>, &limits);
    if let Ok(list) = with {
        assert!(list.evm_records().count() + list.other_records().len() > 0);
    }
    if let Ok(list) = without {
        assert!(list.evm_records().count() + list.other_records().len() > 0);
    }
});
