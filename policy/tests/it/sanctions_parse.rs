//! The parsers against real OFAC data: excerpts, the full 2025-11-19 file, the legacy CSV pair,
//! plain lists, and the inputs that must be refused.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed fixture read is a failed test"
)]

use std::collections::{BTreeMap, BTreeSet};

use alloy_primitives::Address;
use signgate_policy::sanctions::{
    ChecksumStatus, ListParseError, ParseFinding, ParseLimits, ParsedList, parse_evm_address,
    parse_plain_list, parse_sdn_advanced, parse_sdn_csv,
};

use crate::sanctions_support::*;

/// (label, value lower-cased when EVM, uid) of every digital currency record.
type Record = (String, String, String);

fn records_of(parsed: &ParsedList) -> Vec<Record> {
    let mut out: Vec<Record> = parsed
        .evm_records()
        .map(|r| {
            let uid = r.party.and_then(|p| p.uid.clone()).unwrap();
            (
                r.label.unwrap().to_owned(),
                format!("{:#x}", r.address),
                uid,
            )
        })
        .chain(
            parsed
                .other_records()
                .iter()
                .map(|o| (o.label.clone(), o.value.clone(), o.uid.clone().unwrap())),
        )
        .collect();
    out.sort();
    out
}

fn expected_records(uids: Option<&[&str]>) -> Vec<Record> {
    let json: serde_json::Value = serde_json::from_slice(&read("dca_all_2025-11-19.json")).unwrap();
    let mut out: Vec<Record> = json["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| uids.is_none_or(|u| u.contains(&r["sdn_uid"].as_str().unwrap())))
        .map(|r| {
            let address = r["address"].as_str().unwrap();
            let value = match parse_evm_address(address) {
                Some((a, _)) => format!("{a:#x}"),
                None => address.to_owned(),
            };
            (
                r["asset_label"].as_str().unwrap().to_owned(),
                value,
                r["sdn_uid"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn excerpt_2025_11_19_parses_to_the_derived_records() {
    let parsed =
        parse_sdn_advanced(&read(EXCERPT_2025_11_19)[..], &ParseLimits::default()).unwrap();
    assert_eq!(parsed.issue_date().unwrap().to_string(), "2025-11-19");
    let expected = expected_records(Some(&["27307", "42498", "43377", "56360"]));
    assert_eq!(expected.len(), 26);
    assert_eq!(records_of(&parsed), expected);
    assert!(parsed.findings().is_empty());

    // Names and programs of the parties.
    let lazarus: Vec<_> = parsed
        .evm_records()
        .filter(|r| r.party.unwrap().uid.as_deref() == Some("27307"))
        .collect();
    assert_eq!(lazarus.len(), 8);
    assert_eq!(
        lazarus[0].party.unwrap().name.as_deref(),
        Some("Lazarus Group")
    );
    assert_eq!(lazarus[0].party.unwrap().programs, vec!["DPRK3"]);
    // Sim Hyon Sop: one address under three labels.
    let sim: BTreeSet<_> = parsed
        .evm_records()
        .filter(|r| r.party.unwrap().uid.as_deref() == Some("42498"))
        .map(|r| (r.address, r.label.unwrap()))
        .collect();
    assert_eq!(sim.len(), 3);
    assert_eq!(sim.iter().map(|(a, _)| a).collect::<BTreeSet<_>>().len(), 1);
    assert_eq!(
        sim.iter().next().unwrap().0,
        parse_evm_address("0x4f47bc496083c727c5fbe3ce9cdf2b0f6496270c")
            .unwrap()
            .0
    );
}

#[test]
fn full_2025_11_19_file_parses_to_the_81_unique_evm_addresses() {
    let parsed = parse_sdn_advanced(full_sdn_reader(), &ParseLimits::default()).unwrap();
    let published = String::from_utf8(read("sdn_advanced_2025-11-19.sha256.txt")).unwrap();
    assert!(
        published.contains(&parsed.sha256().to_string()),
        "{published} vs {}",
        parsed.sha256()
    );
    assert_eq!(parsed.issue_date().unwrap().to_string(), "2025-11-19");

    // Every one of the 761 records, exactly.
    assert_eq!(records_of(&parsed), expected_records(None));

    // The 81 unique EVM addresses, with their labels and UIDs.
    let csv = String::from_utf8(read("evm_addresses_2025-11-19.csv")).unwrap();
    let mut expected: BTreeMap<Address, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
    for line in csv.lines().skip(1) {
        let cols: Vec<&str> = line.splitn(5, ',').collect();
        let labels = cols[2]
            .split(';')
            .map(|t| format!("Digital Currency Address - {t}"))
            .collect();
        let uids = cols[3].split(';').map(str::to_owned).collect();
        expected.insert(parse_evm_address(cols[0]).unwrap().0, (labels, uids));
    }
    assert_eq!(expected.len(), 81);
    let mut got: BTreeMap<Address, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
    for r in parsed.evm_records() {
        let entry = got.entry(r.address).or_default();
        entry.0.insert(r.label.unwrap().to_owned());
        entry.1.insert(r.party.unwrap().uid.clone().unwrap());
    }
    assert_eq!(got, expected);
    // No published checksum is wrong in this file; half are lower case.
    assert!(
        parsed
            .evm_records()
            .all(|r| r.checksum != ChecksumStatus::Invalid)
    );
    assert!(parsed.findings().is_empty());
}

#[test]
fn tornado_cash_2025_03_04_lists_uid_39796_with_90_addresses() {
    let parsed =
        parse_sdn_advanced(&read(TORNADO_2025_03_04)[..], &ParseLimits::default()).unwrap();
    let tornado: BTreeSet<Address> = parsed
        .evm_records()
        .filter(|r| r.party.unwrap().uid.as_deref() == Some("39796"))
        .map(|r| r.address)
        .collect();
    assert_eq!(tornado.len(), 90);
    assert_eq!(
        tornado,
        address_lines("uid39796_eth_addresses_as_listed_2025-03-04_delisted_2025-03-21.txt")
    );
    let party = parsed.evm_records().next().unwrap().party.unwrap();
    assert_eq!(party.name.as_deref(), Some("TORNADO CASH"));
}

#[test]
fn sdn_csv_with_comments_recovers_addresses_cut_by_the_remarks_limit() {
    let sdn = read("sdn_csv_2024-05-03_rows_with_digital_currency.csv");
    let comments = read("sdn_comments_csv_watchman_testdata_a8dfe52.csv");
    let limits = ParseLimits::default();
    let alone = parse_sdn_csv(&sdn[..], None::<&[u8]>, &limits).unwrap();
    let joined = parse_sdn_csv(&sdn[..], Some(&comments[..]), &limits).unwrap();

    let tornado_of = |p: &ParsedList| -> BTreeSet<Address> {
        p.evm_records()
            .filter(|r| r.party.unwrap().uid.as_deref() == Some("39796"))
            .map(|r| r.address)
            .collect()
    };
    let listed =
        address_lines("uid39796_eth_addresses_as_listed_2025-03-04_delisted_2025-03-21.txt");
    let cut = tornado_of(&alone);
    let recovered = tornado_of(&joined);
    assert!(cut.is_subset(&listed) && recovered.is_subset(&listed));
    assert!(
        recovered.len() > cut.len(),
        "{} vs {}",
        recovered.len(),
        cut.len()
    );
    // The address that straddles the cut (`alt. Digital Currency A` + `ddress - ETH 0x4736dCf1…`).
    let straddling = parse_evm_address("0x4736dCf1b7A3d580672CcE6E7c65cd5cc9cFBa9D")
        .unwrap()
        .0;
    assert!(!cut.contains(&straddling) && recovered.contains(&straddling));

    let cut_report = |p: &ParsedList| {
        p.findings().iter().any(
            |f| matches!(f, ParseFinding::RemarksCutWithoutContinuation { uid } if uid == "39796"),
        )
    };
    assert!(cut_report(&alone));
    assert!(!cut_report(&joined));

    // Lazarus: 8 ETH addresses, programs split, name kept.
    let lazarus: Vec<_> = joined
        .evm_records()
        .filter(|r| r.party.unwrap().uid.as_deref() == Some("27307"))
        .collect();
    assert_eq!(lazarus.len(), 8);
    assert_eq!(
        lazarus[0].party.unwrap().name.as_deref(),
        Some("LAZARUS GROUP")
    );
    assert_eq!(lazarus[0].label, Some("Digital Currency Address - ETH"));
    // The trailing 0x1A of the comments file is accepted; the pair digest differs from sdn alone.
    assert_ne!(alone.sha256(), joined.sha256());
}

#[test]
fn plain_lists_fbi_and_address_name_csv() {
    let fbi = parse_plain_list(
        &read("fbi_ic3_psa250226_tradertraitor_bybit_eth_addresses_51.txt")[..],
        &ParseLimits::default(),
    )
    .unwrap();
    assert_eq!(fbi.evm_records().count(), 51);
    assert!(
        fbi.evm_records()
            .all(|r| r.checksum == ChecksumStatus::Valid)
    );

    let usm = parse_plain_list(
        &read("ultrasoundmoney_ac23451_data.csv")[..],
        &ParseLimits::default(),
    )
    .unwrap();
    assert_eq!(usm.evm_records().count(), 97);
    let first = usm.evm_records().next().unwrap();
    assert_eq!(first.party.unwrap().name.as_deref(), Some("LAZARUS GROUP"));
}

fn excerpt_text() -> String {
    String::from_utf8(read(EXCERPT_2025_11_19)).unwrap()
}

fn parse_text(text: &str) -> Result<ParsedList, ListParseError> {
    parse_sdn_advanced(text.as_bytes(), &ParseLimits::default())
}

#[test]
fn refused_inputs_are_typed_errors_never_empty_lists() {
    let text = excerpt_text();
    assert!(matches!(
        parse_text(""),
        Err(ListParseError::Truncated { .. } | ListParseError::Xml { .. })
    ));
    // Cut anywhere: the document never closes.
    for cut in [100, text.len() / 3, text.len() / 2, text.len() - 20] {
        let err = parse_text(&text[..cut]).unwrap_err();
        assert!(
            matches!(
                err,
                ListParseError::Truncated { .. } | ListParseError::Xml { .. }
            ),
            "cut {cut}: {err}"
        );
    }
    // No DateOfIssue.
    let start = text.find("<DateOfIssue").unwrap();
    let end = text.find("</DateOfIssue>").unwrap() + "</DateOfIssue>".len();
    let undated = format!("{}{}", &text[..start], &text[end..]);
    assert!(matches!(
        parse_text(&undated),
        Err(ListParseError::MissingDateOfIssue)
    ));
    // No digital currency feature types (the namespace-change failure of other extractors).
    let renamed = text.replace(">Digital Currency Address - ", ">Digital Currency Addr - ");
    assert!(matches!(
        parse_text(&renamed),
        Err(ListParseError::NoDigitalCurrencyFeatureTypes)
    ));
    // Not the advanced format at all.
    let legacy =
        String::from_utf8(b"<?xml version=\"1.0\"?><sdnList><x/></sdnList>".to_vec()).unwrap();
    assert!(matches!(
        parse_text(&legacy),
        Err(ListParseError::NotSdnAdvanced { .. })
    ));
    // Size limits are enforced.
    let tiny = ParseLimits {
        max_bytes: 1000,
        ..ParseLimits::default()
    };
    assert!(matches!(
        parse_sdn_advanced(text.as_bytes(), &tiny),
        Err(ListParseError::TooLarge { .. })
    ));
    // Empty CSV and plain files.
    assert!(matches!(
        parse_sdn_csv(&b""[..], None::<&[u8]>, &ParseLimits::default()),
        Err(ListParseError::Empty)
    ));
    assert!(matches!(
        parse_plain_list(&b""[..], &ParseLimits::default()),
        Err(ListParseError::Empty)
    ));
}

#[test]
fn the_old_un_namespace_parses_the_same() {
    let text = excerpt_text().replace(
        "https://sanctionslistservice.ofac.treas.gov/api/PublicationPreview/exports/ADVANCED_XML",
        "http://www.un.org/sanctions/1.0",
    );
    assert_eq!(records_of(&parse_text(&text).unwrap()).len(), 26);
}

#[test]
fn a_wrong_checksum_is_indexed_and_reported() {
    let text = excerpt_text().replace(
        "0x098B716B8Aaf21512996dC57EB0615e2383E2f96",
        "0x098b716B8Aaf21512996dC57EB0615e2383E2f96",
    );
    let parsed = parse_text(&text).unwrap();
    assert_eq!(records_of(&parsed).len(), 26);
    assert_eq!(
        parsed.findings(),
        &[ParseFinding::InvalidChecksum {
            published: "0x098b716B8Aaf21512996dC57EB0615e2383E2f96".into(),
            label: Some("Digital Currency Address - ETH".into()),
            uid: Some("27307".into()),
        }]
    );
}
