//! A compressed proposal body as the embedded store reads it back (a value anyone with write
//! access to the data directory could have put there): never a panic, never an allocation
//! larger than the bound, and whatever decompresses is exactly as long as its header claims.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signgate_gateway::store::sqlite::body::{MAX_BODY_BYTES, decompress};

fuzz_target!(|data: &[u8]| {
    if let Ok(json) = decompress(data) {
        assert!(json.len() <= MAX_BODY_BYTES);
        let claimed = data
            .get(1..5)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_le_bytes);
        assert_eq!(claimed, u32::try_from(json.len()).ok());
    }
});
