//! Typed errors of list parsing and loading.
//!
//! Every variant is a reason to refuse a list. None of them may be turned into an empty list:
//! the caller keeps the previous snapshot, or screening answers "cannot screen".

use thiserror::Error;

use super::{ListId, Sha256Digest};

/// Why a list file could not be parsed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ListParseError {
    /// The reader failed (a file or pipe error in the caller's reader).
    #[error("reading the list failed: {0}")]
    Read(#[source] std::io::Error),
    /// The input is larger than the configured bound.
    #[error("list exceeds the size limit of {limit} bytes")]
    TooLarge { limit: u64 },
    /// One XML event, text node or CSV record is larger than the configured bound.
    #[error("a single record or element exceeds {limit} bytes near byte {offset}")]
    RecordTooLarge { limit: usize, offset: u64 },
    /// More address records than the configured bound.
    #[error("list holds more than {limit} address records")]
    TooManyRecords { limit: usize },
    /// Elements nest deeper than any real list does.
    #[error("XML nesting deeper than {limit} levels near byte {offset}")]
    TooDeep { limit: usize, offset: u64 },
    /// The XML itself is malformed.
    #[error("malformed XML near byte {offset}: {message}")]
    Xml { offset: u64, message: String },
    /// The document ended before its root element closed: a cut download.
    #[error("XML ends inside {open_elements} open element(s): the file is truncated")]
    Truncated { open_elements: usize },
    /// The root element is not OFAC's advanced `Sanctions` element.
    #[error("root element is <{root}>, not the OFAC advanced <Sanctions>")]
    NotSdnAdvanced { root: String },
    /// The advanced XML has no `DateOfIssue`.
    #[error("the advanced XML has no DateOfIssue")]
    MissingDateOfIssue,
    /// `DateOfIssue` is present but not a calendar date.
    #[error("DateOfIssue {year}-{month}-{day} is not a valid date")]
    InvalidDateOfIssue {
        year: String,
        month: String,
        day: String,
    },
    /// The dictionary declares no `Digital Currency Address - *` feature type, so the parse
    /// could not find any address even if the file held some.
    #[error("no 'Digital Currency Address - *' feature type in FeatureTypeValues")]
    NoDigitalCurrencyFeatureTypes,
    /// Parties appear before the feature-type dictionary, so their features cannot be read.
    #[error("<{found}> appears before <{required}>; the parser needs the dictionary first")]
    UnexpectedOrder {
        found: &'static str,
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
    NotUtf8 { line: u64 },
    /// A quoted CSV field never closes.
    #[error("a quoted field opened on line {line} never closes")]
    UnterminatedQuote { line: u64 },
    /// A CSV record has the wrong shape.
    #[error("line {line}: expected {expected} fields, found {found}")]
    FieldCount {
        line: u64,
        expected: usize,
        found: usize,
    },
    /// A field that must hold a number does not.
    #[error("line {line}: entity number {text:?} is not a number")]
    InvalidEntityNumber { line: u64, text: String },
    /// Data after the 0x1A end-of-file marker of OFAC's delimited files.
    #[error("line {line}: data after the end-of-file marker")]
    DataAfterEndMarker { line: u64 },
    /// A plain list line that is not an EVM address.
    #[error("line {line}: {text:?} is not an EVM address (0x + 40 hex digits)")]
    InvalidAddress { line: u64, text: String },
}

/// Why a list update was refused. The previous snapshot stays in place.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ListLoadError {
    /// The content failed to parse.
    #[error("list {list}: {source}")]
    Parse {
        list: ListId,
        #[source]
        source: ListParseError,
    },
    /// The content does not hash to the checksum its publisher announced.
    #[error("list {list}: content SHA-256 {actual} does not match the published {expected}")]
    ChecksumMismatch {
        list: ListId,
        expected: Sha256Digest,
        actual: Sha256Digest,
    },
    /// A published checksum that is not 64 hex digits.
    #[error("list {list}: published checksum {text:?} is not a SHA-256 hex digest")]
    InvalidPublishedChecksum { list: ListId, text: String },
    /// The source could not be read at all (missing file, permission).
    #[error("list {list}: {message}")]
    Unreadable { list: ListId, message: String },
}

impl ListLoadError {
    /// The list the failed update was meant for.
    pub fn list(&self) -> &ListId {
        match self {
            Self::Parse { list, .. }
            | Self::ChecksumMismatch { list, .. }
            | Self::InvalidPublishedChecksum { list, .. }
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
    /// A list without a maximum age could never be stale, so it would never fail closed.
    #[error("list {0}: max age must be greater than zero")]
    ZeroMaxAge(String),
    /// Two configured lists with the same id.
    #[error("list id {0} is configured twice")]
    DuplicateId(String),
}
