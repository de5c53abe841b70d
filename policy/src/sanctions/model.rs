//! The vocabulary shared by parsers, snapshots and screening: list identity and configuration,
//! content digests, issue dates, parties and what a parse produced.

use std::{fmt, str::FromStr, time::Duration};

use alloy_primitives::Address;
use serde::{Serialize, Serializer};

use super::{ChecksumStatus, ListSpecError};

/// A configured list's short name (`ofac-sdn`, `fbi-bybit`, `internal-deny`), used in reasons
/// and audit records.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ListId(String);

impl ListId {
    /// Accepts 1–64 characters of `a-z 0-9 - _ .`.
    pub fn new(id: &str) -> Result<Self, ListSpecError> {
        let ok = !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b));
        if ok {
            Ok(Self(id.to_owned()))
        } else {
            Err(ListSpecError::InvalidId(id.to_owned()))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ListId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The legal order a list belongs to (`US-OFAC`, `UN`, `EU`, `UK-OFSI`, `internal` …), shown
/// with every hit and reason so that a reviewer sees whose designation it is when several lists
/// of different publishers are in force.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Jurisdiction(String);

impl Jurisdiction {
    /// Accepts 1–32 characters of `A-Z a-z 0-9 - _ .`.
    pub fn new(text: &str) -> Result<Self, ListSpecError> {
        let ok = !text.is_empty()
            && text.len() <= 32
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(ListSpecError::InvalidJurisdiction(text.to_owned()))
        }
    }

    /// The jurisdiction as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Jurisdiction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who stands behind a list; reasons must not call an FBI advisory or a team's own list "OFAC".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ListCategory {
    /// A legal sanctions list (OFAC SDN, UK, EU, UN).
    Sanctions,
    /// A law-enforcement advisory (for example the FBI's Bybit addresses); not a sanction.
    LawEnforcement,
    /// The custody team's own list.
    Internal,
}

/// What a hit on a list asks policy to do. Ordered by severity: `Flag < Escalate < Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ListAction {
    /// Record the hit; the request may pass on its other merits.
    Flag,
    /// Require the higher approval tier.
    Escalate,
    /// Refuse the request.
    Deny,
}

/// Which parser reads a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ListFormat {
    /// OFAC `SDN_ADVANCED.XML` (the primary source).
    SdnAdvancedXml,
    /// Legacy `sdn.csv` with its `sdn_comments.csv` spill-over.
    SdnCsv,
    /// One address per line, or CSV `address,name`.
    Plain,
}

/// The validated configuration of one list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListSpec {
    /// The list's id, as reasons and audit records name it.
    pub id: ListId,
    /// Where the list comes from, for operators (a URL or a file path; never fetched from here).
    pub source: String,
    /// Who stands behind the list, so reasons do not call an advisory a sanction.
    pub category: ListCategory,
    /// What a hit on this list asks policy to do.
    pub action: ListAction,
    /// Which parser reads it.
    pub format: ListFormat,
    /// How long a verified copy may be used, counted from when it was loaded. Beyond that,
    /// screening answers "cannot screen".
    pub max_age: Duration,
    /// Whose list it is; `None`: not configured (hits then name the list id alone).
    pub jurisdiction: Option<Jurisdiction>,
}

impl ListSpec {
    /// Builds a spec; a zero `max_age` is refused because such a list could never go stale.
    pub fn new(
        id: &str,
        source: impl Into<String>,
        category: ListCategory,
        action: ListAction,
        format: ListFormat,
        max_age: Duration,
    ) -> Result<Self, ListSpecError> {
        let id = ListId::new(id)?;
        if max_age.is_zero() {
            return Err(ListSpecError::ZeroMaxAge(id.0));
        }
        Ok(Self {
            id,
            source: source.into(),
            category,
            action,
            format,
            max_age,
            jurisdiction: None,
        })
    }

    /// The same spec, naming the list's jurisdiction.
    #[must_use]
    pub fn with_jurisdiction(mut self, jurisdiction: Jurisdiction) -> Self {
        self.jurisdiction = Some(jurisdiction);
        self
    }
}

/// A SHA-256 digest: of a list's content, or of a whole snapshot.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Digest(pub [u8; 32]);

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Digest({self})")
    }
}

impl Serialize for Sha256Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl FromStr for Sha256Digest {
    type Err = hex::FromHexError;

    /// 64 hex digits, either case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s.trim(), &mut out)?;
        Ok(Self(out))
    }
}

/// The publisher's issue date (OFAC `DateOfIssue`). Not a version key: OFAC has published two
/// different files on the same day; the content digest identifies a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct IssueDate {
    /// Calendar year.
    pub year: u16,
    /// Month, 1 to 12.
    pub month: u8,
    /// Day of the month, 1 to 31.
    pub day: u8,
}

impl IssueDate {
    /// A Gregorian calendar date, or `None`.
    pub fn new(year: u16, month: u8, day: u8) -> Option<Self> {
        let leap =
            (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        (year >= 1900 && (1..=days).contains(&day)).then_some(Self { year, month, day })
    }
}

impl fmt::Display for IssueDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// The listed party an address belongs to, as far as the format names it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Party {
    /// OFAC's UID (`DistinctParty/@FixedRef`, `ent_num` in `sdn.csv`).
    pub uid: Option<String>,
    /// Primary name.
    pub name: Option<String>,
    /// Sanctions programs (`DPRK3`, `CYBER2`).
    pub programs: Vec<String>,
}

/// One EVM address record as parsed: one per (address, label), so an address listed under ETH,
/// ARB and BSC yields three.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EvmRecord {
    pub address: Address,
    pub checksum: ChecksumStatus,
    /// Index into the catalog's labels, or `u16::MAX` for none.
    pub label: u16,
    /// Index into the catalog's parties.
    pub party: u32,
}

pub(crate) const NO_LABEL: u16 = u16::MAX;

/// A digital currency value that is not an EVM address (Bitcoin, TRON, `bnb1…`). Kept for
/// reporting; Safe screening uses only the EVM index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OtherRecord {
    /// The list's label for the value (`Digital Currency Address - XBT`).
    pub label: String,
    /// The value as published.
    pub value: String,
    /// The listing party's UID, when the format has one.
    pub uid: Option<String>,
}

/// Something a parse noticed that does not stop the list from loading but must be reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ParseFinding {
    /// A mixed-case address whose EIP-55 checksum is wrong. It is still indexed and screened.
    InvalidChecksum {
        /// The address as published.
        published: String,
        /// The list's label for it, when the format has labels.
        label: Option<String>,
        /// The listing party's UID, when the format has one.
        uid: Option<String>,
    },
    /// A `0x…` value that is not 40 hex digits; not screenable, so an operator must look.
    MalformedHexAddress {
        /// The value as published.
        published: String,
        /// The list's label for it.
        label: String,
        /// The listing party's UID, when the format has one.
        uid: Option<String>,
    },
    /// An `sdn.csv` Remarks field at the 1,000-character cap with no continuation in
    /// `sdn_comments.csv`: addresses after the cut are missing.
    RemarksCutWithoutContinuation {
        /// The `ent_num` of the entry whose Remarks were cut.
        uid: String,
    },
    /// A digital currency feature with no value.
    EmptyValue {
        /// The feature's label.
        label: String,
        /// The listing party's UID, when the format has one.
        uid: Option<String>,
    },
}

/// Parties and labels, interned so that a million index rows stay small.
#[derive(Debug, Clone, Default)]
pub(crate) struct Catalog {
    pub parties: Vec<Party>,
    pub labels: Vec<String>,
}

impl Catalog {
    pub(crate) fn label(&self, index: u16) -> Option<&str> {
        self.labels.get(usize::from(index)).map(String::as_str)
    }

    pub(crate) fn party(&self, index: u32) -> Option<&Party> {
        self.parties.get(usize::try_from(index).ok()?)
    }

    /// Interns a label; more than 65,534 distinct labels is not a real list and maps to none.
    pub(crate) fn intern_label(&mut self, label: &str) -> u16 {
        if let Some(pos) = self.labels.iter().position(|l| l == label) {
            return u16::try_from(pos).unwrap_or(NO_LABEL);
        }
        match u16::try_from(self.labels.len()) {
            Ok(index) if index != NO_LABEL => {
                self.labels.push(label.to_owned());
                index
            }
            _ => NO_LABEL,
        }
    }

    /// Adds a party and returns its index.
    pub(crate) fn push_party(&mut self, party: Party) -> u32 {
        let index = u32::try_from(self.parties.len()).unwrap_or(u32::MAX);
        self.parties.push(party);
        index
    }
}

/// Everything a parser produced, with the SHA-256 of the exact bytes it read.
#[derive(Debug, Clone)]
pub struct ParsedList {
    pub(crate) format: ListFormat,
    pub(crate) sha256: Sha256Digest,
    pub(crate) issue_date: Option<IssueDate>,
    pub(crate) catalog: Catalog,
    pub(crate) evm: Vec<EvmRecord>,
    pub(crate) other: Vec<OtherRecord>,
    pub(crate) findings: Vec<ParseFinding>,
}

/// A borrowed view of one EVM record with its party and label resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvmRecordView<'a> {
    /// The address.
    pub address: Address,
    /// Whether the list's spelling carries a valid, invalid or no EIP-55 checksum.
    pub checksum: ChecksumStatus,
    /// The list's label for it (`Digital Currency Address - ETH`), when the format has labels.
    pub label: Option<&'a str>,
    /// The listing party, when the format has one.
    pub party: Option<&'a Party>,
}

impl ParsedList {
    /// The format that was parsed.
    pub fn format(&self) -> ListFormat {
        self.format
    }

    /// SHA-256 of the bytes read (for `sdn.csv` with comments: of both digests, see
    /// [`parse_sdn_csv`](super::parse_sdn_csv)).
    pub fn sha256(&self) -> Sha256Digest {
        self.sha256
    }

    /// The publisher's issue date, when the format carries one.
    pub fn issue_date(&self) -> Option<IssueDate> {
        self.issue_date
    }

    /// Every EVM record in file order.
    pub fn evm_records(&self) -> impl Iterator<Item = EvmRecordView<'_>> {
        self.evm.iter().map(|r| EvmRecordView {
            address: r.address,
            checksum: r.checksum,
            label: self.catalog.label(r.label),
            party: self.catalog.party(r.party),
        })
    }

    /// Non-EVM digital currency values.
    pub fn other_records(&self) -> &[OtherRecord] {
        &self.other
    }

    /// What the parse reported without refusing the list.
    pub fn findings(&self) -> &[ParseFinding] {
        &self.findings
    }
}
