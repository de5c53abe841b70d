//! The audit record and export-line parsers on arbitrary bytes: never panic, and whatever
//! parses writes back to exactly the bytes it came from (one encoding per record). Any JSON the
//! bytes hold is also written both ways the canonical form is made (the `serde` writer and the
//! walk of a parsed value), which must agree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signgate_audit::{
    AuditRecord,
    canonical::{to_canonical, value_to_canonical},
    export::ExportLine,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = AuditRecord::from_bytes(data) {
        assert_eq!(r.to_bytes().ok().as_deref(), Some(data));
    }
    if let Ok(line) = ExportLine::parse(data) {
        assert_eq!(line.to_line().ok().as_deref(), Some(data));
        let _ = line.record_bytes().map(|b| AuditRecord::from_bytes(&b));
    }
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        assert_eq!(to_canonical(&value), value_to_canonical(&value));
    }
});
