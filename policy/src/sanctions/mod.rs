//! Sanctions lists: parsing, immutable snapshots and screening.
//!
//! Pure: parsers take any `Read`, time is an input, nothing here opens a file or a socket (the
//! gateway's `lists` module does that and swaps snapshots).
//!
//! - [`address`]: EVM address text → 20 bytes, with its EIP-55 checksum status;
//! - `sdn_advanced`, `sdn_csv`, `plain`: streaming, bounded parsers for OFAC's advanced XML,
//!   legacy `sdn.csv` + `sdn_comments.csv`, and plain address lists;
//! - `input`, `csv`: the byte-counting, hashing reader and a small CSV record reader;
//! - `model`: list identity and configuration, digests, parties, parse results;
//! - `index`: the compact sorted address index of one list;
//! - `snapshot`: [`LoadedList`], [`SanctionsSnapshot`], freshness and diffs;
//! - `update`: verifying an update (parse, checksum) and applying it;
//! - `screen`: screening a transaction's addresses into a [`ScreeningOutcome`].
//!
//! Failing closed is structural: parsers return errors instead of empty lists, a list that
//! never loaded is an [`ListSlot::Unavailable`] slot, and any stale or unavailable slot makes
//! screening answer [`ScreeningOutcome::CannotScreen`].

pub mod address;
mod csv;
mod error;
mod index;
mod input;
mod model;
mod plain;
mod screen;
mod sdn_advanced;
mod sdn_csv;
mod snapshot;
mod update;

pub use address::{ChecksumStatus, parse_evm_address};
pub use error::{ListLoadError, ListParseError, ListSpecError};
pub use input::ParseLimits;
pub use model::{
    EvmRecordView, IssueDate, Jurisdiction, ListAction, ListCategory, ListFormat, ListId, ListSpec,
    OtherRecord, ParseFinding, ParsedList, Party, Sha256Digest,
};
pub use plain::parse_plain_list;
pub use screen::{
    Description, SanctionsHit, ScreeningOutcome, ScreeningSubject, SubjectLocation, screen,
    screen_subjects, simulation_subjects,
};
pub use sdn_advanced::parse_sdn_advanced;
pub use sdn_csv::parse_sdn_csv;
pub use snapshot::{
    ListDiff, ListSlot, LoadedList, SanctionsMatch, SanctionsSnapshot, ScreeningProblem,
};
pub use update::{ListInput, UpdateOutcome, load_list, parse_published_checksum};
