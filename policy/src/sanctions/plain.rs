//! Parser for plain address lists: internal deny lists, the FBI's Bybit addresses, vendor
//! exports.
//!
//! Accepted shapes, one record per line: `0x…` alone, or CSV `0x…,name` (the name may be
//! quoted). Blank lines and lines starting with `#` are skipped, as is a first record whose
//! first field is `address` (a header). Every other line must hold an EVM address: a vendor
//! export with a garbled line is refused as a whole rather than loaded with a silent gap.
//! A list with no address is refused too — an empty file is indistinguishable from a failed
//! download.
//!
//! A comment line `# published: YYYY-MM-DD` is the publisher's issue date (the list's
//! version, compared to refuse rollbacks); a list without one has no version of its own.

use std::{collections::HashMap, io::Read};

use super::{
    IssueDate, ListFormat, ListParseError, ParseLimits, ParsedList, Party,
    address::parse_evm_address,
    csv::CsvReader,
    input::Input,
    model::{Catalog, EvmRecord, NO_LABEL, ParseFinding},
};

/// The date of a `published: YYYY-MM-DD` comment; other comments are `None`. A `published:`
/// comment that is not a calendar date is refused: a version that cannot be read cannot be
/// compared.
fn published_date(comment: &str, line: u64) -> Result<Option<IssueDate>, ListParseError> {
    let comment = comment.trim();
    let Some((key, value)) = comment.split_once(':') else {
        return Ok(None);
    };
    if !key.trim().eq_ignore_ascii_case("published") {
        return Ok(None);
    }
    let value = value.trim();
    let mut parts = value.splitn(3, '-');
    let date = match (parts.next(), parts.next(), parts.next()) {
        (Some(y), Some(m), Some(d)) if y.len() == 4 && m.len() == 2 && d.len() == 2 => {
            match (y.parse(), m.parse(), d.parse()) {
                (Ok(y), Ok(m), Ok(d)) => IssueDate::new(y, m, d),
                _ => None,
            }
        }
        _ => None,
    };
    date.map(Some)
        .ok_or_else(|| ListParseError::InvalidPublishedDate {
            line,
            text: value.chars().take(40).collect(),
        })
}

/// Parses a plain list from `reader` within `limits`.
pub fn parse_plain_list<R: Read>(
    reader: R,
    limits: &ParseLimits,
) -> Result<ParsedList, ListParseError> {
    let mut csv = CsvReader::new(Input::new(reader, limits), limits.max_record_bytes);
    let mut catalog = Catalog::default();
    // Parties are interned by name so a million unnamed or same-named rows share one.
    let mut parties: HashMap<Option<String>, u32> = HashMap::new();
    let mut evm = Vec::new();
    let mut findings = Vec::new();
    let mut first = true;
    let mut issue_date = None;
    while let Some(record) = csv.next_record()? {
        let mut fields = record.fields.into_iter();
        let raw = fields.next().unwrap_or_default();
        let address_text = raw.trim().trim_start_matches('\u{feff}').trim();
        let is_first = std::mem::replace(&mut first, false);
        if let Some(comment) = address_text.strip_prefix('#') {
            if let Some(date) = published_date(comment, record.line)? {
                issue_date = Some(date);
            }
            continue;
        }
        if address_text.is_empty() {
            continue;
        }
        if is_first && address_text.eq_ignore_ascii_case("address") {
            continue;
        }
        let name = fields
            .next()
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty());
        if fields.next().is_some_and(|extra| !extra.trim().is_empty()) {
            return Err(ListParseError::FieldCount {
                line: record.line,
                expected: 2,
                found: 3,
            });
        }
        let Some((address, checksum)) = parse_evm_address(address_text) else {
            return Err(ListParseError::InvalidAddress {
                line: record.line,
                text: address_text.to_owned(),
            });
        };
        if evm.len() >= limits.max_addresses {
            return Err(ListParseError::TooManyRecords {
                limit: limits.max_addresses,
            });
        }
        if checksum.is_invalid() {
            findings.push(ParseFinding::InvalidChecksum {
                published: address_text.to_owned(),
                label: None,
                uid: None,
            });
        }
        let party = match parties.get(&name) {
            Some(index) => *index,
            None => {
                let index = catalog.push_party(Party {
                    uid: None,
                    name: name.clone(),
                    programs: Vec::new(),
                });
                parties.insert(name, index);
                index
            }
        };
        evm.push(EvmRecord {
            address,
            checksum,
            label: NO_LABEL,
            party,
        });
    }
    if evm.is_empty() {
        return Err(ListParseError::Empty);
    }
    let sha256 = csv.into_input().finish()?;
    Ok(ParsedList {
        format: ListFormat::Plain,
        sha256,
        issue_date,
        catalog,
        evm,
        other: Vec::new(),
        findings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ParsedList, ListParseError> {
        parse_plain_list(text.as_bytes(), &ParseLimits::default())
    }

    #[test]
    fn one_per_line_with_comments_and_header() {
        let list = parse(
            "address,name\n# internal\n0x098B716B8Aaf21512996dC57EB0615e2383E2f96,\"LAZARUS GROUP\"\n\n0x4f47bc496083c727c5fbe3ce9cdf2b0f6496270c\n",
        )
        .unwrap();
        let records: Vec<_> = list.evm_records().collect();
        assert_eq!(records.len(), 2);
        assert_eq!(
            records[0].party.unwrap().name.as_deref(),
            Some("LAZARUS GROUP")
        );
        assert_eq!(records[1].party.unwrap().name, None);
    }

    #[test]
    fn a_published_comment_is_the_issue_date() {
        let list =
            parse("# published: 2025-11-19\n0x4f47bc496083c727c5fbe3ce9cdf2b0f6496270c\n").unwrap();
        assert_eq!(list.issue_date(), IssueDate::new(2025, 11, 19));
        assert_eq!(
            parse("0x4f47bc496083c727c5fbe3ce9cdf2b0f6496270c\n")
                .unwrap()
                .issue_date(),
            None
        );
        assert!(matches!(
            parse("# published: yesterday\n0x4f47bc496083c727c5fbe3ce9cdf2b0f6496270c\n"),
            Err(ListParseError::InvalidPublishedDate { line: 1, .. })
        ));
    }

    #[test]
    fn refusals() {
        assert!(matches!(parse(""), Err(ListParseError::Empty)));
        assert!(matches!(parse("# nothing\n\n"), Err(ListParseError::Empty)));
        assert!(matches!(
            parse("0x1234\n"),
            Err(ListParseError::InvalidAddress { line: 1, .. })
        ));
        assert!(matches!(
            parse("0x4f47bc496083c727c5fbe3ce9cdf2b0f6496270c\nnot an address\n"),
            Err(ListParseError::InvalidAddress { line: 2, .. })
        ));
    }

    #[test]
    fn bad_checksum_is_kept_and_reported() {
        let list = parse("0x098b716B8Aaf21512996dC57EB0615e2383E2f96\n").unwrap();
        assert_eq!(list.evm_records().count(), 1);
        assert_eq!(list.findings().len(), 1);
    }
}
