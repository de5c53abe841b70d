//! A sanctions list fetched over HTTPS, as the gateway's fetcher verifies it
//! (`gateway/src/lists/fetch.rs`: the publisher's checksum file parsed with
//! `parse_published_checksum`, then the body through `load_list` against it). The first byte picks
//! the format; the rest is the checksum file, a NUL, then the body (no NUL: no checksum file, as
//! for a list without `checksum_url`). Never a panic; a checksum
//! that parses is a 64-hex-digit word of the text; a list loads only when its digest is the
//! published one; a mismatch reports the digest the parse computed.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use signgate_policy::sanctions::{
    ListAction, ListCategory, ListFormat, ListInput, ListLoadError, ListSpec, ParseLimits,
    load_list, parse_published_checksum,
};

const FORMATS: [ListFormat; 3] = [
    ListFormat::Plain,
    ListFormat::SdnAdvancedXml,
    ListFormat::SdnCsv,
];

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let format = FORMATS[usize::from(control) % FORMATS.len()];
    let (checksum, body) = match rest.iter().position(|&b| b == 0) {
        Some(at) => {
            let (checksum, body) = rest.split_at(at);
            (Some(checksum), body.get(1..).unwrap_or_default())
        }
        None => (None, rest),
    };
    let Ok(spec) = ListSpec::new(
        "fuzz",
        "https://example.invalid/list",
        ListCategory::Sanctions,
        ListAction::Deny,
        format,
        Duration::from_secs(86_400),
    ) else {
        return;
    };
    let limits = ParseLimits {
        max_bytes: 1 << 20,
        max_record_bytes: 1 << 14,
        max_addresses: 10_000,
        max_depth: 32,
    };
    let text = checksum.map(String::from_utf8_lossy);
    let published = match text
        .as_deref()
        .map(|t| (t, parse_published_checksum(&spec, t)))
    {
        None => None,
        Some((text, Ok(digest))) => {
            let hex = digest.to_string();
            assert!(
                text.to_ascii_lowercase().contains(&hex),
                "{hex} is not in the checksum text"
            );
            Some(digest)
        }
        Some((_, Err(ListLoadError::InvalidPublishedChecksum { .. }))) => return,
        Some((_, Err(other))) => panic!("checksum refused with {other}"),
    };
    let unchecked = load_list(&spec, ListInput::Single(body), None, UNIX_EPOCH, &limits);
    let checked = load_list(
        &spec,
        ListInput::Single(body),
        published,
        UNIX_EPOCH,
        &limits,
    );
    match (&unchecked, &checked, published) {
        (Ok(list), Ok(again), Some(p)) => {
            assert_eq!(list.sha256(), p);
            assert_eq!(again.sha256(), p);
        }
        (Ok(list), Ok(again), None) => assert_eq!(list.sha256(), again.sha256()),
        (
            Ok(list),
            Err(ListLoadError::ChecksumMismatch {
                expected, actual, ..
            }),
            Some(p),
        ) => {
            assert_eq!((*expected, *actual), (p, list.sha256()));
        }
        (Err(ListLoadError::Parse { .. }), Err(ListLoadError::Parse { .. }), _) => {}
        (a, b, p) => panic!("inconsistent loads: {a:?} / {b:?} against {p:?}"),
    }
});
