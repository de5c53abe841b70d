//! Typed errors of list parsing and loading.
//!
//! Every variant is a reason to refuse a list. None of them may be turned into an empty list:
//! the caller keeps the previous snapshot, or screening answers "cannot screen".

use thiserror::Error;

use super::{IssueDate, ListId, Sha256Digest};

/// Why a list file could not be parsed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ListParseError {
    /// The reader failed (a file or pipe error in the caller's reader).
    #[error("reading the list failed: {0}")]
    Read(#[source] std::io::Error),
    /// The input is larger than the configured bound.
    #[error("list exceeds the size limit of {limit} bytes")]
    TooLarge {
        /// The bound, in bytes.
        limit: u64,
    },
    /// One XML event, text node or CSV record is larger than the configured bound.
    #[error("a single record or element exceeds {limit} bytes near byte {offset}")]
    RecordTooLarge {
        /// The bound, in bytes.
        limit: usize,
        /// Byte offset in the input where the oversized record starts or was being read.
        offset: u64,
    },
    /// More address records than the configured bound.
    #[error("list holds more than {limit} address records")]
    TooManyRecords {
        /// The bound on address records.
        limit: usize,
    },
    /// Elements nest deeper than any real list does.
    #[error("XML nesting deeper than {limit} levels near byte {offset}")]
    TooDeep {
        /// The bound on nesting depth, in elements.
        limit: usize,
        /// Byte offset in the input where the bound was crossed.
        offset: u64,
    },
    /// The XML itself is malformed.
    #[error("malformed XML near byte {offset}: {message}")]
    Xml {
        /// Byte offset in the input where the parser gave up.
        offset: u64,
        /// The XML parser's message.
        message: String,
    },
    /// The document ended before its root element closed: a cut download.
    #[error("XML ends inside {open_elements} open element(s): the file is truncated")]
    Truncated {
        /// How many elements were still open at the end of the input.
        open_elements: usize,
    },
    /// The root element is not OFAC's advanced `Sanctions` element.
    #[error("root element is <{root}>, not the OFAC advanced <Sanctions>")]
    NotSdnAdvanced {
        /// The root element's name as found.
        root: String,
    },
    /// The advanced XML has no `DateOfIssue`.
    #[error("the advanced XML has no DateOfIssue")]
    MissingDateOfIssue,
    /// `DateOfIssue` is present but not a calendar date.
    #[error("DateOfIssue {year}-{month}-{day} is not a valid date")]
    InvalidDateOfIssue {
        /// The year as written.
        year: String,
        /// The month as written.
        month: String,
        /// The day as written.
        day: String,
    },
    /// The dictionary declares no `Digital Currency Address - *` feature type, so the parse
    /// could not find any address even if the file held some.
    #[error("no 'Digital Currency Address - *' feature type in FeatureTypeValues")]
    NoDigitalCurrencyFeatureTypes,
    /// Parties appear before the feature-type dictionary, so their features cannot be read.
    #[error("<{found}> appears before <{required}>; the parser needs the dictionary first")]
    UnexpectedOrder {
        /// The element found too early.
        found: &'static str,
        /// The dictionary element that must come before it.
        required: &'static str,
    },
    /// The list parsed but holds no digital currency address at all.
    #[error("the list holds no digital currency address")]
    NoDigitalCurrencyAddresses,
    /// The input holds no records at all.
    #[error("the list is empty")]
    Empty,
    /// The bytes are not UTF-8.
    #[error("line {line} is not valid UTF-8")]
    NotUtf8 {
        /// 1-based line number.
        line: u64,
    },
    /// A quoted CSV field never closes.
    #[error("a quoted field opened on line {line} never closes")]
    UnterminatedQuote {
        /// 1-based line on which the quoted field opens.
        line: u64,
    },
    /// A CSV record has the wrong shape.
    #[error("line {line}: expected {expected} fields, found {found}")]
    FieldCount {
        /// 1-based line number of the record.
        line: u64,
        /// Number of fields the format has.
        expected: usize,
        /// Number of fields the record has.
        found: usize,
    },
    /// A field that must hold a number does not.
    #[error("line {line}: entity number {text:?} is not a number")]
    InvalidEntityNumber {
        /// 1-based line number.
        line: u64,
        /// The field as written.
        text: String,
    },
    /// Data after the 0x1A end-of-file marker of OFAC's delimited files.
    #[error("line {line}: data after the end-of-file marker")]
    DataAfterEndMarker {
        /// 1-based line number of the first data after the marker.
        line: u64,
    },
    /// A plain list's `# published:` comment that is not a `YYYY-MM-DD` date.
    #[error("line {line}: published date {text:?} is not YYYY-MM-DD")]
    InvalidPublishedDate {
        /// 1-based line number.
        line: u64,
        /// The date as written.
        text: String,
    },
    /// A plain list line that is not an EVM address.
    #[error("line {line}: {text:?} is not an EVM address (0x + 40 hex digits)")]
    InvalidAddress {
        /// 1-based line number.
        line: u64,
        /// The line as written (trimmed).
        text: String,
    },
}

/// Why a list update was refused. The previous snapshot stays in place.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ListLoadError {
    /// The content failed to parse.
    #[error("list {list}: {source}")]
    Parse {
        /// The list the update was for.
        list: ListId,
        /// Why parsing failed.
        #[source]
        source: ListParseError,
    },
    /// The content does not hash to the checksum its publisher announced.
    #[error("list {list}: content SHA-256 {actual} does not match the published {expected}")]
    ChecksumMismatch {
        /// The list the update was for.
        list: ListId,
        /// The checksum the publisher announced.
        expected: Sha256Digest,
        /// The SHA-256 of the content received.
        actual: Sha256Digest,
    },
    /// A published checksum that is not 64 hex digits.
    #[error("list {list}: published checksum {text:?} is not a SHA-256 hex digest")]
    InvalidPublishedChecksum {
        /// The list the update was for.
        list: ListId,
        /// The checksum as published.
        text: String,
    },
    /// The publisher's issue date of the offered copy is earlier than that of the copy in
    /// force: an old file replayed or a stale mirror. Refused; the newer copy stays.
    #[error(
        "list {list}: the offered copy is dated {offered}, older than the {in_force} copy in \
         force; refused (no rollback)"
    )]
    Rollback {
        /// The list the update was for.
        list: ListId,
        /// The issue date of the copy in force.
        in_force: IssueDate,
        /// The issue date of the refused copy.
        offered: IssueDate,
    },
    /// The source could not be read at all (missing file, permission).
    #[error("list {list}: {message}")]
    Unreadable {
        /// The list the update was for.
        list: ListId,
        /// What the read failed with, from the caller.
        message: String,
    },
}

impl ListLoadError {
    /// The list the failed update was meant for.
    pub fn list(&self) -> &ListId {
        match self {
            Self::Parse { list, .. }
            | Self::ChecksumMismatch { list, .. }
            | Self::InvalidPublishedChecksum { list, .. }
            | Self::Rollback { list, .. }
            | Self::Unreadable { list, .. } => list,
        }
    }
}

/// A configuration value of a list that cannot be accepted.
#[derive(Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListSpecError {
    /// List ids appear in reasons and audit records; they are short and plain.
    #[error("list id {0:?} must be 1-64 characters of a-z, 0-9, '-', '_' or '.'")]
    InvalidId(String),
    /// Jurisdictions appear in reasons; they are short and plain.
    #[error("jurisdiction {0:?} must be 1-32 characters of A-Z, a-z, 0-9, '-', '_' or '.'")]
    InvalidJurisdiction(String),
    /// A list without a maximum age could never be stale, so it would never fail closed.
    #[error("list {0}: max age must be greater than zero")]
    ZeroMaxAge(String),
    /// Two configured lists with the same id.
    #[error("list id {0} is configured twice")]
    DuplicateId(String),
}
