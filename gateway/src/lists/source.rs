//! One configured list's files, read and verified into a [`LoadedList`].

use std::{
    fs::File,
    io::BufReader,
    path::{Path, PathBuf},
    time::{SystemTime, UNIX_EPOCH},
};

use super::fetch::CopyMeta;
use crate::config::RemoteSource;
use signgate_policy::sanctions::{
    ListInput, ListLoadError, ListSpec, LoadedList, ParseLimits, load_list,
    parse_published_checksum,
};

/// Where a list's bytes are on disk, and where they come from.
///
/// A list with a [`RemoteSource`] is fetched by the gateway itself ([`super::spawn_fetchers`]);
/// `path` is then its last good copy, written only by the fetcher after a copy was verified
/// and accepted. Without one, something else (cron job, sidecar) writes the file — ideally by
/// writing a temporary file and renaming it over the old one, so the gateway never reads half a
/// file; a half-written file fails to parse or to match its checksum and is refused anyway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListSource {
    /// The configured list: id, category, action, format and maximum age.
    pub spec: ListSpec,
    /// The list file (`SDN_ADVANCED.XML`, `sdn.csv`, a plain list).
    pub path: PathBuf,
    /// `sdn_comments.csv`, for the legacy CSV format only.
    pub comments_path: Option<PathBuf>,
    /// A file holding the publisher's SHA-256 of `path` (bare hex, `sha256sum` or OpenSSL
    /// output). When set, a list whose digest differs is refused.
    pub checksum_path: Option<PathBuf>,
    /// The publisher's URL, for a list the gateway fetches itself.
    pub remote: Option<RemoteSource>,
}

impl ListSource {
    /// Every file this source reads, for the watcher: none for a fetched list (its copy
    /// changes only through the fetcher, which offers it to the store itself).
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        std::iter::once(self.path.as_path())
            .chain(self.comments_path.as_deref())
            .chain(self.checksum_path.as_deref())
            .filter(|_| self.remote.is_none())
    }
}

fn unreadable(spec: &ListSpec, path: &Path, error: &std::io::Error) -> ListLoadError {
    ListLoadError::Unreadable {
        list: spec.id.clone(),
        message: format!("{}: {error}", path.display()),
    }
}

fn open(spec: &ListSpec, path: &Path) -> Result<BufReader<File>, ListLoadError> {
    File::open(path)
        .map(BufReader::new)
        .map_err(|e| unreadable(spec, path, &e))
}

/// Reads, parses and verifies a source.
///
/// For a file list, `loaded_at` is the list file's modification time, capped at `now`: the
/// moment the external fetcher wrote this verified copy. Re-reading an old file therefore does
/// not make it fresh again; only a fetcher that writes the file anew (even with identical
/// content) does, and an older publication than the one in force is refused by the store.
///
/// For a fetched list (the last good copy), `loaded_at` is the moment its source last
/// confirmed it current, as the fetcher recorded it next to the copy — never the file's
/// modification time; a copy without matching metadata has an unknown age and counts as
/// stale until the source confirms it.
pub fn load_source(
    source: &ListSource,
    now: SystemTime,
    limits: &ParseLimits,
) -> Result<LoadedList, ListLoadError> {
    let spec = &source.spec;
    let published = match &source.checksum_path {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| unreadable(spec, path, &e))?;
            Some(parse_published_checksum(spec, &text)?)
        }
        None => None,
    };
    let loaded_at = if source.remote.is_some() {
        UNIX_EPOCH
    } else {
        // The pair is as fresh as the older of its two files.
        let mut written = now;
        for path in std::iter::once(&source.path).chain(&source.comments_path) {
            let modified = std::fs::metadata(path)
                .and_then(|m| m.modified())
                .map_err(|e| unreadable(spec, path, &e))?;
            written = written.min(modified);
        }
        written
    };
    if source.remote.is_some() && !source.path.exists() {
        return Err(ListLoadError::Unreadable {
            list: spec.id.clone(),
            message: format!(
                "no copy fetched yet from {} (kept in {}); waiting for the first fetch",
                spec.source,
                source.path.display()
            ),
        });
    }
    let primary = open(spec, &source.path)?;
    let input = match &source.comments_path {
        Some(comments) => ListInput::SdnCsv {
            sdn: primary,
            comments: Some(open(spec, comments)?),
        },
        None => ListInput::Single(primary),
    };
    let list = load_list(spec, input, published, loaded_at, limits)?;
    if source.remote.is_some()
        && let Some(meta) = CopyMeta::read(&source.path)
        && meta.sha256 == list.sha256().to_string()
    {
        return Ok(list.confirmed_at(meta.confirmed_at().min(now)));
    }
    Ok(list)
}
