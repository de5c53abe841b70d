//! Parser for OFAC's legacy `sdn.csv` with its `sdn_comments.csv` spill-over.
//!
//! In the delimited files digital currency addresses exist only as free text inside Remarks
//! (`Digital Currency Address - ETH 0x…; alt. Digital Currency Address - ETH 0x…;`), and Remarks
//! is cut at 1,000 characters. The rest continues in `sdn_comments.csv`, exactly where the cut
//! fell, even mid-address. So the comments are joined to the Remarks by entity number and
//! concatenated without a separator *before* any address is extracted. A Remarks field at the cap
//! with no continuation is reported, because its tail addresses are missing.
//!
//! This is the fallback format; [`parse_sdn_advanced`](super::parse_sdn_advanced) is the primary
//! source.

use std::{collections::HashMap, io::Read};

use sha2::{Digest, Sha256};

use super::{
    ListFormat, ListParseError, ParseLimits, ParsedList, Party, Sha256Digest,
    address::{is_malformed_hex_address, parse_evm_address},
    csv::CsvReader,
    input::Input,
    model::{Catalog, EvmRecord, OtherRecord, ParseFinding},
};

const DCA_PREFIX: &str = "Digital Currency Address - ";
/// OFAC's Remarks column limit.
const REMARKS_CAP: usize = 1000;
/// `sdn.csv` has twelve columns.
const SDN_FIELDS: usize = 12;
const NULL: &str = "-0-";

struct SdnRow {
    uid: String,
    name: Option<String>,
    programs: Vec<String>,
    remarks: String,
}

/// Parses `sdn.csv` and, when given, `sdn_comments.csv`.
///
/// The digest is the SHA-256 of `sdn.csv` alone when no comments are given, and otherwise the
/// SHA-256 of the two files' digests concatenated (sdn first), so that a change in either file
/// changes the list's identity.
pub fn parse_sdn_csv<S: Read, C: Read>(
    sdn: S,
    comments: Option<C>,
    limits: &ParseLimits,
) -> Result<ParsedList, ListParseError> {
    let (rows, sdn_digest) = read_sdn(sdn, limits)?;
    let (spill, digest) = match comments {
        Some(comments) => {
            let (spill, comments_digest) = read_comments(comments, limits)?;
            let mut hasher = Sha256::new();
            hasher.update(sdn_digest.0);
            hasher.update(comments_digest.0);
            (spill, Sha256Digest(hasher.finalize().into()))
        }
        None => (HashMap::new(), sdn_digest),
    };
    extract(rows, &spill, digest, limits)
}

fn read_sdn<S: Read>(
    sdn: S,
    limits: &ParseLimits,
) -> Result<(Vec<SdnRow>, Sha256Digest), ListParseError> {
    let mut reader = CsvReader::new(Input::new(sdn, limits), limits.max_record_bytes);
    let mut rows = Vec::new();
    while let Some(record) = reader.next_record()? {
        if record.fields.len() != SDN_FIELDS {
            return Err(ListParseError::FieldCount {
                line: record.line,
                expected: SDN_FIELDS,
                found: record.fields.len(),
            });
        }
        let mut fields = record.fields.into_iter();
        let mut next = || fields.next().unwrap_or_default();
        let uid = entity_number(next(), record.line)?;
        let name = non_null(next());
        let _sdn_type = next();
        let programs = non_null(next())
            .map(|p| {
                p.split("] [")
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        for _ in 4..11 {
            next();
        }
        let remarks = non_null(next()).unwrap_or_default();
        rows.push(SdnRow {
            uid,
            name,
            programs,
            remarks,
        });
    }
    if rows.is_empty() {
        return Err(ListParseError::Empty);
    }
    let digest = reader.into_input().finish()?;
    Ok((rows, digest))
}

fn read_comments<C: Read>(
    comments: C,
    limits: &ParseLimits,
) -> Result<(HashMap<String, String>, Sha256Digest), ListParseError> {
    let mut reader = CsvReader::new(Input::new(comments, limits), limits.max_record_bytes);
    let mut spill: HashMap<String, String> = HashMap::new();
    while let Some(record) = reader.next_record()? {
        let line = record.line;
        let [uid, text] = <[String; 2]>::try_from(record.fields).map_err(|fields| {
            ListParseError::FieldCount {
                line,
                expected: 2,
                found: fields.len(),
            }
        })?;
        let uid = entity_number(uid, line)?;
        spill.entry(uid).or_default().push_str(&text);
    }
    let digest = reader.into_input().finish()?;
    Ok((spill, digest))
}

fn entity_number(text: String, line: u64) -> Result<String, ListParseError> {
    let trimmed = text.trim();
    if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        Ok(trimmed.to_owned())
    } else {
        Err(ListParseError::InvalidEntityNumber { line, text })
    }
}

fn non_null(text: String) -> Option<String> {
    let trimmed = text.trim();
    (!trimmed.is_empty() && trimmed != NULL).then(|| trimmed.to_owned())
}

fn extract(
    rows: Vec<SdnRow>,
    spill: &HashMap<String, String>,
    sha256: Sha256Digest,
    limits: &ParseLimits,
) -> Result<ParsedList, ListParseError> {
    let mut catalog = Catalog::default();
    let mut evm = Vec::new();
    let mut other = Vec::new();
    let mut findings = Vec::new();
    for row in rows {
        let continuation = spill.get(&row.uid);
        if row.remarks.chars().count() >= REMARKS_CAP && continuation.is_none() {
            findings.push(ParseFinding::RemarksCutWithoutContinuation {
                uid: row.uid.clone(),
            });
        }
        let mut remarks = row.remarks;
        if let Some(rest) = continuation {
            remarks.push_str(rest);
        }
        let values = addresses_in_remarks(&remarks);
        if values.is_empty() {
            continue;
        }
        let uid = Some(row.uid);
        let party = catalog.push_party(Party {
            uid: uid.clone(),
            name: row.name,
            programs: row.programs,
        });
        for (ticker, value) in values {
            let label_text = format!("{DCA_PREFIX}{ticker}");
            let label = catalog.intern_label(&label_text);
            if evm.len() + other.len() >= limits.max_addresses {
                return Err(ListParseError::TooManyRecords {
                    limit: limits.max_addresses,
                });
            }
            if let Some((address, checksum)) = parse_evm_address(value) {
                if checksum.is_invalid() {
                    findings.push(ParseFinding::InvalidChecksum {
                        published: value.to_owned(),
                        label: Some(label_text),
                        uid: uid.clone(),
                    });
                }
                evm.push(EvmRecord {
                    address,
                    checksum,
                    label,
                    party,
                });
            } else if is_malformed_hex_address(value) {
                findings.push(ParseFinding::MalformedHexAddress {
                    published: value.to_owned(),
                    label: label_text,
                    uid: uid.clone(),
                });
            } else if value.is_empty() {
                findings.push(ParseFinding::EmptyValue {
                    label: label_text,
                    uid: uid.clone(),
                });
            } else {
                other.push(OtherRecord {
                    label: label_text,
                    value: value.to_owned(),
                    uid: uid.clone(),
                });
            }
        }
    }
    if evm.is_empty() && other.is_empty() {
        return Err(ListParseError::NoDigitalCurrencyAddresses);
    }
    Ok(ParsedList {
        format: ListFormat::SdnCsv,
        sha256,
        issue_date: None,
        catalog,
        evm,
        other,
        findings,
    })
}

/// Every `Digital Currency Address - <TICKER> <value>` in a Remarks text, as (ticker, value).
/// The value runs to the next `;` (or the end) and loses a trailing `.`.
fn addresses_in_remarks(remarks: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut rest = remarks;
    while let Some(pos) = rest.find(DCA_PREFIX) {
        let after = rest.get(pos + DCA_PREFIX.len()..).unwrap_or_default();
        let end = after.find(';').unwrap_or(after.len());
        let item = after.get(..end).unwrap_or_default();
        rest = after.get(end..).unwrap_or_default();
        let mut parts = item.trim().splitn(2, ' ');
        let ticker = parts.next().unwrap_or_default();
        let value = parts
            .next()
            .unwrap_or_default()
            .trim()
            .trim_end_matches('.');
        if !ticker.is_empty() {
            out.push((ticker, value));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remarks_extraction() {
        let got = addresses_in_remarks(
            "Website x; Digital Currency Address - ETH 0xabc; alt. Digital Currency Address - XBT 1A1z.",
        );
        assert_eq!(got, vec![("ETH", "0xabc"), ("XBT", "1A1z")]);
    }

    #[test]
    fn a_cut_address_is_not_indexed_and_the_cut_is_reported() {
        let remarks = format!(
            "Digital Currency Address - ETH 0x098B716B8Aaf21512996dC57EB0615e2383E2f96; alt. {}",
            "x".repeat(1000)
        );
        let remarks: String = remarks.chars().take(REMARKS_CAP).collect();
        let row = format!(
            "27307,\"LAZARUS GROUP\",-0- ,\"DPRK3\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,\"{remarks}\"\r\n\x1a"
        );
        let parsed = parse_sdn_csv(row.as_bytes(), None::<&[u8]>, &ParseLimits::default()).unwrap();
        assert_eq!(parsed.evm_records().count(), 1);
        assert_eq!(
            parsed.findings(),
            &[ParseFinding::RemarksCutWithoutContinuation {
                uid: "27307".into()
            }]
        );
    }

    #[test]
    fn no_rows_is_an_error() {
        assert!(matches!(
            parse_sdn_csv(&b"\x1a"[..], None::<&[u8]>, &ParseLimits::default()),
            Err(ListParseError::Empty)
        ));
    }
}
