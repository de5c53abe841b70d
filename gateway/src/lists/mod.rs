//! Sanctions lists in the gateway: reading list files, keeping the current snapshot, and
//! reloading it on an admin request or when a file changes.
//!
//! - `source`: one configured list's files and how they are read and verified;
//! - `store`: [`ListStore`], the atomically swapped [`SanctionsSnapshot`](signgate_policy::sanctions::SanctionsSnapshot)
//!   and the reload that produces [`ListEvent`]s for the audit log;
//! - `watch`: [`spawn_watcher`], file-change notification (plus an optional polling safety net);
//! - `fetch`: [`spawn_fetchers`], lists fetched over HTTPS from their publisher, the last good
//!   copy kept in the data directory;
//! - `oracle`: [`Oracle`], an on-chain screen (`isSanctioned(address)`) asked live beside the
//!   lists.
//!
//! Parsing and screening are pure and live in `signgate_policy::sanctions`; this module only
//! does the I/O around them and reads the clock. Requests load the snapshot once
//! ([`ListStore::snapshot`]) and keep that `Arc` for their whole evaluation, so a reload never
//! changes the lists under a request.

mod fetch;
mod oracle;
mod source;
mod store;
mod watch;

pub use fetch::{FetchError, ListFetchers, spawn_fetchers};
pub use oracle::{Oracle, OracleError};
pub use source::{ListSource, load_source};
pub use store::{ListEvent, ListStatus, ListStore, Polled, SwapHold};
pub use watch::{ListWatcher, WatchConfig, spawn_watcher};
