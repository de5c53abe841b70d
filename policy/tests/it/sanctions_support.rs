//! Fixture access for the sanctions tests. Fixtures live in `tests/fixtures/sanctions/` with
//! their PROVENANCE.md; nothing outside the repository is read.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed fixture read is a failed test"
)]

use std::{
    collections::BTreeSet,
    fs::File,
    io::{BufReader, Read},
    path::PathBuf,
    time::{Duration, SystemTime},
};

use alloy_primitives::Address;
use signgate_policy::sanctions::{
    ListAction, ListCategory, ListFormat, ListInput, ListSpec, LoadedList, ParseLimits, load_list,
    parse_evm_address,
};

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/sanctions")
        .join(name)
}

pub fn read(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).unwrap()
}

pub const EXCERPT_2025_11_19: &str =
    "sdn_advanced_2025-11-19_excerpt_uids_27307_42498_43377_56360.xml";
pub const TORNADO_2025_03_04: &str = "sdn_advanced_2025-03-04_excerpt_uid_39796_tornado_cash.xml";
pub const FULL_2025_11_19_BZ2: &str = "sdn_advanced_2025-11-19.xml.bz2";

/// A streaming reader over the decompressed full 2025-11-19 advanced XML (121 MB).
pub fn full_sdn_reader() -> impl Read {
    bzip2::read::BzDecoder::new(BufReader::new(
        File::open(fixture(FULL_2025_11_19_BZ2)).unwrap(),
    ))
}

/// Addresses of a text fixture, one per line.
pub fn address_lines(name: &str) -> BTreeSet<Address> {
    String::from_utf8(read(name))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| parse_evm_address(l.trim()).unwrap().0)
        .collect()
}

pub fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_763_600_000)
}

pub fn ofac_spec() -> ListSpec {
    ListSpec::new(
        "ofac-sdn",
        "SDN_ADVANCED.XML (test fixture)",
        ListCategory::Sanctions,
        ListAction::Deny,
        ListFormat::SdnAdvancedXml,
        Duration::from_secs(36 * 3600),
    )
    .unwrap()
}

pub fn load_ofac(bytes: &[u8], loaded_at: SystemTime) -> LoadedList {
    load_list(
        &ofac_spec(),
        ListInput::Single(bytes),
        None,
        loaded_at,
        &ParseLimits::default(),
    )
    .unwrap()
}
