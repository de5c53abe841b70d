//! Fetching a list over HTTPS from its publisher, and keeping the last good copy on disk.
//!
//! One task per list with a `url` polls it every `poll_interval`:
//!
//! - a conditional GET (`If-None-Match` / `If-Modified-Since` from the copy in force), with a
//!   connect timeout, a total timeout, a size limit checked while the body streams to a
//!   temporary file next to the copy, and redirects followed only to `https` (OFAC's endpoints
//!   redirect to signed storage URLs; a redirect to plain HTTP is refused, not downgraded);
//! - `304 Not Modified`, or a `200` whose content is the copy in force: the source confirmed
//!   the copy current, so its age restarts (a confirmation, not a new version: no audit record);
//! - a `200` with other content: parsed and verified (and checked against the publisher's
//!   checksum when `checksum_url` is set) off the runtime, then offered to the [`ListStore`],
//!   which refuses an older publication than the one in force, records the outcome in the audit
//!   log and swaps it in. Only an accepted copy replaces the one on disk, with its metadata
//!   (validators, the moment it was last confirmed, its digest), so that a restart without
//!   network starts from it with its true age;
//! - any failure (timeout, refused redirect, status, size, truncated body): the copy in force
//!   stays and keeps ageing; the refusal is recorded in the audit log (once per distinct reason,
//!   so a publisher down for a day does not write a record every poll) and `max_age` eventually
//!   fails closed.
//!
//! The legacy CSV pair (`sdn.csv` with `sdn_comments.csv`, where Remarks cut at 1,000
//! characters continue) is one list from two URLs: each file is asked conditionally with its
//! own validators, both `304` confirm the copy in force, and either file changing makes a new
//! version, verified from the new file and the kept copy of the other.
//!
//! `Admin.ReloadSanctionsLists` asks a fetcher to poll at once ([`ListStore::poll_now`]) and is
//! answered when that poll is done; the schedule restarts from it.

use std::{
    io::BufReader,
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use reqwest::{StatusCode, Url, header};
use serde::{Deserialize, Serialize};
use signgate_policy::sanctions::{
    ListId, ListInput, ListLoadError, ListSpec, LoadedList, ParseLimits, Sha256Digest, load_list,
    parse_published_checksum,
};
use tokio::{io::AsyncWriteExt, task::JoinHandle};
use tokio_util::sync::CancellationToken;

use super::{ListEvent, ListStore, Polled, store::PollRequest};
use crate::config::RemoteSource;

/// Redirects followed at most, each to `https`.
const MAX_REDIRECTS: usize = 5;
/// Largest published checksum file read.
const MAX_CHECKSUM_BYTES: u64 = 64 * 1024;

/// Why a fetch produced no copy. The copy in force stays.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The HTTP client could not be built (an unreadable or invalid `tls_roots`).
    #[error("HTTP client: {0}")]
    Client(String),
    /// No answer within the connect or total timeout.
    #[error("{url}: no answer within the timeout")]
    Timeout {
        /// The URL, without query.
        url: String,
    },
    /// A redirect to anything but `https`, or too many redirects.
    #[error("{url}: redirect refused: {detail}")]
    Redirect {
        /// The URL, without query.
        url: String,
        /// Where it pointed and why it was refused.
        detail: String,
    },
    /// The connection failed (refused, reset, TLS).
    #[error("{url}: connection failed: {detail}")]
    Connect {
        /// The URL, without query.
        url: String,
        /// What the client reported.
        detail: String,
    },
    /// The server answered with a status other than 200 or 304.
    #[error("{url}: HTTP {status}")]
    Status {
        /// The URL, without query.
        url: String,
        /// The status code.
        status: u16,
    },
    /// The body is larger than `max_bytes` (announced or streamed).
    #[error("{url}: body exceeds the size limit of {limit} bytes")]
    TooLarge {
        /// The URL, without query.
        url: String,
        /// The limit.
        limit: u64,
    },
    /// The body ended early or its transfer failed.
    #[error("{url}: body incomplete: {detail}")]
    Body {
        /// The URL, without query.
        url: String,
        /// What the client reported.
        detail: String,
    },
    /// Writing the download or the copy to the data directory failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What the operating system reported.
        source: std::io::Error,
    },
}

/// A redirect the policy refused (kept as the error's source).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct RedirectRefused(String);

/// The validators a copy was served with, sent back in the next conditional request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Validators {
    /// The `ETag`.
    pub etag: Option<String>,
    /// The `Last-Modified` date.
    pub last_modified: Option<String>,
}

/// What is kept next to the last good copy, `<copy>.meta.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CopyMeta {
    /// The `ETag` the copy was served with.
    pub etag: Option<String>,
    /// The `Last-Modified` it was served with.
    pub last_modified: Option<String>,
    /// For the legacy CSV pair: the validators of `sdn_comments.csv`, kept beside its copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comments: Option<Validators>,
    /// When the source last confirmed it current (a 200 with it, or a 304), Unix milliseconds.
    pub confirmed_at_ms: u64,
    /// SHA-256 of the copy, so metadata never vouches for another file.
    pub sha256: String,
}

impl CopyMeta {
    pub(crate) fn path_for(copy: &Path) -> PathBuf {
        let mut name = copy.as_os_str().to_owned();
        name.push(".meta.json");
        PathBuf::from(name)
    }

    /// The metadata of `copy`, if any was written (a missing or damaged file is none: the
    /// copy's age is then unknown and it counts as stale until the source confirms it).
    pub(crate) fn read(copy: &Path) -> Option<Self> {
        let text = std::fs::read(Self::path_for(copy)).ok()?;
        serde_json::from_slice(&text).ok()
    }

    fn write(&self, copy: &Path) -> Result<(), FetchError> {
        let path = Self::path_for(copy);
        let tmp = path.with_extension("json.tmp");
        let io = |source| FetchError::Io {
            path: tmp.display().to_string(),
            source,
        };
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| io(std::io::Error::other(e)))?;
        std::fs::write(&tmp, bytes).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)
    }

    pub(crate) fn confirmed_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.confirmed_at_ms)
    }

    fn validators(&self) -> Validators {
        Validators {
            etag: self.etag.clone(),
            last_modified: self.last_modified.clone(),
        }
    }
}

/// `<copy>.download`: where a body streams before it is verified.
fn download_path(copy: &Path) -> PathBuf {
    let mut name = copy.as_os_str().to_owned();
    name.push(".download");
    PathBuf::from(name)
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A URL as errors and logs show it: no query or fragment (signed storage URLs carry
/// credentials there).
fn shown(url: &Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

/// The HTTP client of one remote list.
fn client(remote: &RemoteSource) -> Result<reqwest::Client, FetchError> {
    signgate_simulator::evm::install_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .https_only(true)
        .connect_timeout(remote.connect_timeout)
        .timeout(remote.timeout)
        .redirect(reqwest::redirect::Policy::custom(|attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                attempt.error(RedirectRefused(format!(
                    "more than {MAX_REDIRECTS} redirects"
                )))
            } else if attempt.url().scheme() != "https" {
                let to = shown(attempt.url());
                attempt.error(RedirectRefused(format!("to {to}: not https")))
            } else {
                attempt.follow()
            }
        }));
    if let Some(path) = &remote.tls_roots {
        let pem = std::fs::read(path)
            .map_err(|e| FetchError::Client(format!("tls_roots {}: {e}", path.display())))?;
        let roots = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| FetchError::Client(format!("tls_roots {}: {e}", path.display())))?;
        builder = builder.tls_certs_only(roots);
    }
    builder
        .build()
        .map_err(|e| FetchError::Client(e.to_string()))
}

fn classify(url: &Url, e: &reqwest::Error) -> FetchError {
    let url = shown(url);
    if e.is_redirect() || std::error::Error::source(e).is_some_and(|s| s.is::<RedirectRefused>()) {
        let mut detail = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            if let Some(r) = s.downcast_ref::<RedirectRefused>() {
                detail = r.0.clone();
            }
            source = s.source();
        }
        return FetchError::Redirect { url, detail };
    }
    if e.is_timeout() {
        return FetchError::Timeout { url };
    }
    if e.is_body() || e.is_decode() {
        return FetchError::Body {
            url,
            detail: chain(e),
        };
    }
    FetchError::Connect {
        url,
        detail: chain(e),
    }
}

/// An error with its sources, for operators (reqwest's own message alone says little).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// What one conditional GET brought.
#[derive(Debug)]
enum Fetched {
    /// 304: the copy in force is current.
    NotModified,
    /// A body, written to the temporary file, with the validators it came with.
    Body(Validators),
}

fn header_text(headers: &header::HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// One conditional GET of `url`, the body streamed to `tmp` within `max_bytes`. `validators`
/// are those of the copy in force; without them the whole body is asked for.
async fn get(
    client: &reqwest::Client,
    url: &Url,
    max_bytes: u64,
    validators: Option<&Validators>,
    tmp: &Path,
) -> Result<Fetched, FetchError> {
    let mut request = client.get(url.clone());
    if let Some(v) = validators {
        if let Some(etag) = &v.etag {
            request = request.header(header::IF_NONE_MATCH, etag);
        }
        if let Some(date) = &v.last_modified {
            request = request.header(header::IF_MODIFIED_SINCE, date);
        }
    }
    let mut response = request.send().await.map_err(|e| classify(url, &e))?;
    match response.status() {
        StatusCode::NOT_MODIFIED if validators.is_some() => return Ok(Fetched::NotModified),
        StatusCode::OK => {}
        other => {
            return Err(FetchError::Status {
                url: shown(url),
                status: other.as_u16(),
            });
        }
    }
    let too_large = || FetchError::TooLarge {
        url: shown(url),
        limit: max_bytes,
    };
    if response.content_length().is_some_and(|n| n > max_bytes) {
        return Err(too_large());
    }
    let served = Validators {
        etag: header_text(response.headers(), header::ETAG),
        last_modified: header_text(response.headers(), header::LAST_MODIFIED),
    };
    let io = |source| FetchError::Io {
        path: tmp.display().to_string(),
        source,
    };
    let mut file = tokio::fs::File::create(tmp).await.map_err(io)?;
    let mut written: u64 = 0;
    while let Some(chunk) = response.chunk().await.map_err(|e| classify(url, &e))? {
        written = written.saturating_add(chunk.len() as u64);
        if written > max_bytes {
            return Err(too_large());
        }
        file.write_all(&chunk).await.map_err(io)?;
    }
    file.sync_all().await.map_err(io)?;
    Ok(Fetched::Body(served))
}

/// The publisher's checksum file, as text (parsed with the list's spec by the caller).
async fn checksum(client: &reqwest::Client, url: &Url) -> Result<String, FetchError> {
    let mut response = client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| classify(url, &e))?;
    if response.status() != StatusCode::OK {
        return Err(FetchError::Status {
            url: shown(url),
            status: response.status().as_u16(),
        });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| classify(url, &e))? {
        body.extend_from_slice(&chunk);
        if body.len() as u64 > MAX_CHECKSUM_BYTES {
            return Err(FetchError::TooLarge {
                url: shown(url),
                limit: MAX_CHECKSUM_BYTES,
            });
        }
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// What one poll did.
#[derive(Debug)]
enum PollOutcome {
    /// The source confirmed the copy in force (304, or the same content again).
    Confirmed,
    /// A copy was offered to the store: accepted, refused or unrecorded, as the event says.
    Offered(ListEvent),
    /// The same copy as the last one refused was served again: refused without a new record.
    RefusedAgain,
    /// The fetch or the verification failed; the copy in force stays.
    Failed(ListLoadError),
}

/// The polling task of one list.
#[derive(Debug)]
struct Poller {
    store: Arc<ListStore>,
    spec: ListSpec,
    copy: PathBuf,
    /// For the legacy CSV pair fetched from two URLs: where the last good `sdn_comments.csv`
    /// is kept.
    comments_copy: Option<PathBuf>,
    remote: RemoteSource,
    /// The last failure recorded in the audit log, so a repeated one is only logged (a
    /// publisher down for a day, a mirror serving the same stale copy every poll).
    last_recorded_failure: Option<String>,
    /// Digest of the last verified copy the store refused (an older publication).
    last_refused: Option<Sha256Digest>,
}

/// Runs a blocking store operation off the runtime (audit appends are synchronous writes).
async fn blocking<R: Send + 'static>(
    store: &Arc<ListStore>,
    f: impl FnOnce(&ListStore) -> R + Send + 'static,
) -> Option<R> {
    let store = Arc::clone(store);
    tokio::task::spawn_blocking(move || f(&store)).await.ok()
}

impl Poller {
    fn unreadable(&self, message: String) -> ListLoadError {
        ListLoadError::Unreadable {
            list: self.spec.id.clone(),
            message,
        }
    }

    /// Writes the copy's metadata; a failure only costs age after a restart, so it is logged.
    fn keep_meta(&self, meta: &CopyMeta) {
        if let Err(e) = meta.write(&self.copy) {
            tracing::warn!(list = %self.spec.id, error = %e, "list metadata not written; a restart will count the copy older than it is");
        }
    }

    /// One poll: fetch, verify, offer; the result noted for health, a failure recorded in the
    /// audit log unless it is the same as the last one recorded. Returns what it did, for an
    /// operator who asked for it.
    async fn poll(&mut self, client: &reqwest::Client) -> Polled {
        let outcome = self.fetch_and_offer(client).await;
        let id = self.spec.id.clone();
        let now = SystemTime::now();
        let result = match &outcome {
            PollOutcome::Confirmed => "confirmed current".to_owned(),
            PollOutcome::Offered(ListEvent::Accepted { .. }) => "new version".to_owned(),
            PollOutcome::Offered(ListEvent::Rejected { error, .. }) => format!("refused: {error}"),
            PollOutcome::Offered(ListEvent::Unrecorded { .. }) => {
                "not used: the audit log could not record it".to_owned()
            }
            PollOutcome::RefusedAgain => {
                "refused again: the same copy as the last refused one".to_owned()
            }
            PollOutcome::Failed(error) => format!("failed: {error}"),
        };
        self.store.note_check(&id, now, result.clone());
        match outcome {
            PollOutcome::Failed(error) => {
                let reason = error.to_string();
                tracing::warn!(list = %id, error = %reason, "sanctions list fetch failed; the copy in force stays");
                if self.last_recorded_failure.as_deref() != Some(reason.as_str()) {
                    let _ = blocking(&self.store, move |s| s.refuse(&id, error)).await;
                    self.last_recorded_failure = Some(reason.clone());
                }
                Polled::Failed(reason)
            }
            PollOutcome::Offered(event) => {
                self.last_recorded_failure = match &event {
                    ListEvent::Rejected { error, .. } => Some(error.to_string()),
                    _ => None,
                };
                Polled::Offered(event)
            }
            PollOutcome::RefusedAgain => {
                tracing::warn!(list = %id, "the source serves the copy refused before; the copy in force stays");
                Polled::Failed(result)
            }
            PollOutcome::Confirmed => {
                self.last_recorded_failure = None;
                Polled::Confirmed
            }
        }
    }

    async fn fetch_and_offer(&mut self, client: &reqwest::Client) -> PollOutcome {
        let id = self.spec.id.clone();
        let in_force = self.store.snapshot().list(&id).map(|l| l.sha256());
        // Validators only vouch for the copy they came with: if the copy in force is not the
        // one on disk (or there is none), ask for the whole list.
        let meta = CopyMeta::read(&self.copy)
            .filter(|m| in_force.is_some_and(|sha| m.sha256 == sha.to_string()));
        // The list, then (the CSV pair) its comments file: each asked conditionally, each a
        // 304 or a body in its own `.download` file.
        let mut parts = vec![Part {
            url: self.remote.url.clone(),
            copy: self.copy.clone(),
            validators: meta.as_ref().map(CopyMeta::validators),
            fetched: Fetched::NotModified,
        }];
        if let (Some(url), Some(copy)) = (&self.remote.comments_url, &self.comments_copy) {
            parts.push(Part {
                url: url.clone(),
                copy: copy.clone(),
                validators: meta.as_ref().and_then(|m| m.comments.clone()),
                fetched: Fetched::NotModified,
            });
        }
        for i in 0..parts.len() {
            let Some(part) = parts.get(i) else { break };
            let fetched = get(
                client,
                &part.url,
                self.remote.max_bytes,
                part.validators.as_ref(),
                &download_path(&part.copy),
            )
            .await;
            match fetched {
                Ok(fetched) => {
                    if let Some(part) = parts.get_mut(i) {
                        part.fetched = fetched;
                    }
                }
                Err(error) => {
                    discard(&parts).await;
                    return PollOutcome::Failed(self.unreadable(error.to_string()));
                }
            }
        }
        let now = SystemTime::now();
        if parts
            .iter()
            .all(|p| matches!(p.fetched, Fetched::NotModified))
        {
            let confirm_id = id.clone();
            if blocking(&self.store, move |s| s.confirm(&confirm_id, now)).await == Some(true)
                && let Some(mut meta) = meta
            {
                meta.confirmed_at_ms = millis(now);
                self.keep_meta(&meta);
            }
            return PollOutcome::Confirmed;
        }
        let published = match &self.remote.checksum_url {
            Some(url) => match checksum(client, url).await {
                Ok(text) => Some(text),
                Err(error) => {
                    discard(&parts).await;
                    return PollOutcome::Failed(self.unreadable(error.to_string()));
                }
            },
            None => None,
        };
        // A part the source did not change is read from the copy in force.
        let files: Vec<PathBuf> = parts
            .iter()
            .map(|p| match p.fetched {
                Fetched::NotModified => p.copy.clone(),
                Fetched::Body(_) => download_path(&p.copy),
            })
            .collect();
        // Parse and verify off the runtime (the full SDN_ADVANCED.XML is 120 MB).
        let verified = {
            let spec = self.spec.clone();
            let limits = *self.store.limits();
            tokio::task::spawn_blocking(move || {
                verify_download(&spec, &files, published.as_deref(), now, &limits)
            })
            .await
            .unwrap_or_else(|e| Err(self.unreadable(format!("verification task: {e}"))))
        };
        let list = match verified {
            Ok(list) => list,
            Err(error) => {
                discard(&parts).await;
                return PollOutcome::Failed(error);
            }
        };
        let sha = list.sha256();
        let served = |part: Option<&Part>, kept: Option<Validators>| match part.map(|p| &p.fetched)
        {
            Some(Fetched::Body(v)) => Some(v.clone()),
            _ => kept,
        };
        let main =
            served(parts.first(), meta.as_ref().map(CopyMeta::validators)).unwrap_or_default();
        let next_meta = CopyMeta {
            etag: main.etag,
            last_modified: main.last_modified,
            comments: served(parts.get(1), meta.as_ref().and_then(|m| m.comments.clone())),
            confirmed_at_ms: millis(now),
            sha256: sha.to_string(),
        };
        if in_force == Some(sha) {
            // The same content again (a server without validators): a confirmation.
            discard(&parts).await;
            let confirm_id = id.clone();
            let _ = blocking(&self.store, move |s| s.confirm(&confirm_id, now)).await;
            self.keep_meta(&next_meta);
            return PollOutcome::Confirmed;
        }
        if self.last_refused == Some(sha) {
            discard(&parts).await;
            return PollOutcome::RefusedAgain;
        }
        let offer_id = id.clone();
        let Some(event) = blocking(&self.store, move |s| s.offer(&offer_id, Ok(list))).await else {
            discard(&parts).await;
            return PollOutcome::Failed(self.unreadable("the store task failed".to_owned()));
        };
        match &event {
            ListEvent::Accepted { .. } => {
                self.last_refused = None;
                // Only an accepted copy replaces the one on disk, then its metadata.
                let mut kept = true;
                for part in &parts {
                    if matches!(part.fetched, Fetched::Body(_))
                        && let Err(e) =
                            tokio::fs::rename(download_path(&part.copy), &part.copy).await
                    {
                        kept = false;
                        tracing::error!(list = %id, error = %e, copy = %part.copy.display(), "accepted list copy not kept on disk; a restart without network would start without it");
                    }
                }
                if kept {
                    self.keep_meta(&next_meta);
                }
            }
            ListEvent::Rejected { .. } => {
                self.last_refused = Some(sha);
                discard(&parts).await;
            }
            ListEvent::Unrecorded { .. } => discard(&parts).await,
        }
        PollOutcome::Offered(event)
    }
}

/// One file of a fetched list: the list itself, or the CSV pair's comments file.
#[derive(Debug)]
struct Part {
    url: Url,
    copy: PathBuf,
    /// Those of the copy in force, sent with the conditional request.
    validators: Option<Validators>,
    fetched: Fetched,
}

/// Removes the downloads of a poll whose copy is not kept.
async fn discard(parts: &[Part]) {
    for part in parts {
        let _ = tokio::fs::remove_file(download_path(&part.copy)).await;
    }
}

/// Parses and verifies a downloaded copy: the list file, and for the CSV pair its comments
/// file (the published checksum first parsed, then the content). Blocking.
fn verify_download(
    spec: &ListSpec,
    files: &[PathBuf],
    published: Option<&str>,
    now: SystemTime,
    limits: &ParseLimits,
) -> Result<LoadedList, ListLoadError> {
    let published = published
        .map(|text| parse_published_checksum(spec, text))
        .transpose()?;
    let open = |path: &PathBuf| {
        std::fs::File::open(path)
            .map(BufReader::new)
            .map_err(|e| ListLoadError::Unreadable {
                list: spec.id.clone(),
                message: format!("{}: {e}", path.display()),
            })
    };
    let input = match files {
        [list] => ListInput::Single(open(list)?),
        [sdn, comments] => ListInput::SdnCsv {
            sdn: open(sdn)?,
            comments: Some(open(comments)?),
        },
        _ => {
            return Err(ListLoadError::Unreadable {
                list: spec.id.clone(),
                message: format!("{} files for one list", files.len()),
            });
        }
    };
    load_list(spec, input, published, now, limits)
}

/// The running fetchers; [`ListFetchers::shutdown`] stops them.
#[derive(Debug)]
pub struct ListFetchers {
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl ListFetchers {
    /// Stops every fetcher and waits for them (an in-flight parse finishes first).
    pub async fn shutdown(self) {
        self.stop.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Starts one polling task per list with a `url`, the first poll at once. Must be called
/// inside a Tokio runtime. A list whose client cannot be built (unreadable `tls_roots`) gets no
/// task: its refusal is recorded and it ages into "cannot screen".
pub fn spawn_fetchers(store: Arc<ListStore>) -> ListFetchers {
    let stop = CancellationToken::new();
    let mut tasks = Vec::new();
    for source in store.sources() {
        let Some(remote) = source.remote.clone() else {
            continue;
        };
        let id: ListId = source.spec.id.clone();
        let client = match client(&remote) {
            Ok(c) => c,
            Err(error) => {
                tracing::error!(list = %id, %error, "sanctions list fetcher not started");
                store.refuse(
                    &id,
                    ListLoadError::Unreadable {
                        list: id.clone(),
                        message: error.to_string(),
                    },
                );
                continue;
            }
        };
        if let Some(dir) = source.path.parent()
            && let Err(e) = std::fs::create_dir_all(dir)
        {
            tracing::error!(list = %id, error = %e, dir = %dir.display(), "sanctions list directory not created");
        }
        let mut poller = Poller {
            store: Arc::clone(&store),
            spec: source.spec.clone(),
            copy: source.path.clone(),
            comments_copy: source.comments_path.clone(),
            remote: remote.clone(),
            last_recorded_failure: None,
            last_refused: None,
        };
        let (requests, mut asked) = tokio::sync::mpsc::channel::<PollRequest>(16);
        store.register_poller(id, requests);
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut interval = tokio::time::interval(remote.poll_interval);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                // A poll on schedule, or one an operator asked for (answered when done; the
                // schedule restarts from it).
                let answer = tokio::select! {
                    () = stop.cancelled() => break,
                    _ = interval.tick() => None,
                    Some(answer) = asked.recv() => Some(answer),
                };
                let polled = tokio::select! {
                    () = stop.cancelled() => break,
                    polled = poller.poll(&client) => polled,
                };
                if let Some(answer) = answer {
                    interval.reset();
                    let _ = answer.send(polled);
                }
            }
        }));
    }
    ListFetchers { stop, tasks }
}
