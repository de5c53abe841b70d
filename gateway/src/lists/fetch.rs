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

use super::{ListEvent, ListStore};
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

/// What is kept next to the last good copy, `<copy>.meta.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CopyMeta {
    /// The `ETag` the copy was served with.
    pub etag: Option<String>,
    /// The `Last-Modified` it was served with.
    pub last_modified: Option<String>,
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

/// What one poll brought.
#[derive(Debug)]
enum Fetched {
    /// 304: the copy in force is current.
    NotModified,
    /// A body, written to the temporary file, with the validators it came with.
    Body {
        etag: Option<String>,
        last_modified: Option<String>,
        published: Option<String>,
    },
}

fn header_text(headers: &header::HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// One conditional GET of `remote.url`, the body streamed to `tmp` within `max_bytes`.
async fn get(
    client: &reqwest::Client,
    remote: &RemoteSource,
    validators: Option<&CopyMeta>,
    tmp: &Path,
) -> Result<Fetched, FetchError> {
    let url = &remote.url;
    let mut request = client.get(url.clone());
    if let Some(meta) = validators {
        if let Some(etag) = &meta.etag {
            request = request.header(header::IF_NONE_MATCH, etag);
        }
        if let Some(date) = &meta.last_modified {
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
        limit: remote.max_bytes,
    };
    if response
        .content_length()
        .is_some_and(|n| n > remote.max_bytes)
    {
        return Err(too_large());
    }
    let etag = header_text(response.headers(), header::ETAG);
    let last_modified = header_text(response.headers(), header::LAST_MODIFIED);
    let io = |source| FetchError::Io {
        path: tmp.display().to_string(),
        source,
    };
    let mut file = tokio::fs::File::create(tmp).await.map_err(io)?;
    let mut written: u64 = 0;
    while let Some(chunk) = response.chunk().await.map_err(|e| classify(url, &e))? {
        written = written.saturating_add(chunk.len() as u64);
        if written > remote.max_bytes {
            return Err(too_large());
        }
        file.write_all(&chunk).await.map_err(io)?;
    }
    file.sync_all().await.map_err(io)?;
    let published = match &remote.checksum_url {
        Some(sums) => Some(checksum(client, sums).await?),
        None => None,
    };
    Ok(Fetched::Body {
        etag,
        last_modified,
        published,
    })
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
    /// audit log unless it is the same as the last one recorded.
    async fn poll(&mut self, client: &reqwest::Client) {
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
        self.store.note_check(&id, now, result);
        match outcome {
            PollOutcome::Failed(error) => {
                let reason = error.to_string();
                tracing::warn!(list = %id, error = %reason, "sanctions list fetch failed; the copy in force stays");
                if self.last_recorded_failure.as_deref() != Some(reason.as_str()) {
                    let _ = blocking(&self.store, move |s| s.refuse(&id, error)).await;
                    self.last_recorded_failure = Some(reason);
                }
            }
            PollOutcome::Offered(ListEvent::Rejected { error, .. }) => {
                self.last_recorded_failure = Some(error.to_string());
            }
            PollOutcome::RefusedAgain => {
                tracing::warn!(list = %id, "the source serves the copy refused before; the copy in force stays");
            }
            PollOutcome::Confirmed | PollOutcome::Offered(_) => {
                self.last_recorded_failure = None;
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
        let mut tmp_name = self.copy.as_os_str().to_owned();
        tmp_name.push(".download");
        let tmp = PathBuf::from(tmp_name);
        let fetched = match get(client, &self.remote, meta.as_ref(), &tmp).await {
            Ok(fetched) => fetched,
            Err(error) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                return PollOutcome::Failed(self.unreadable(error.to_string()));
            }
        };
        let now = SystemTime::now();
        let (etag, last_modified, published) = match fetched {
            Fetched::NotModified => {
                let confirm_id = id.clone();
                if blocking(&self.store, move |s| s.confirm(&confirm_id, now)).await == Some(true)
                    && let Some(mut meta) = meta
                {
                    meta.confirmed_at_ms = millis(now);
                    self.keep_meta(&meta);
                }
                return PollOutcome::Confirmed;
            }
            Fetched::Body {
                etag,
                last_modified,
                published,
            } => (etag, last_modified, published),
        };
        // Parse and verify off the runtime (the full SDN_ADVANCED.XML is 120 MB).
        let verified = {
            let spec = self.spec.clone();
            let tmp = tmp.clone();
            let limits = *self.store.limits();
            tokio::task::spawn_blocking(move || {
                verify_download(&spec, &tmp, published.as_deref(), now, &limits)
            })
            .await
            .unwrap_or_else(|e| Err(self.unreadable(format!("verification task: {e}"))))
        };
        let list = match verified {
            Ok(list) => list,
            Err(error) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                return PollOutcome::Failed(error);
            }
        };
        let sha = list.sha256();
        let meta = CopyMeta {
            etag,
            last_modified,
            confirmed_at_ms: millis(now),
            sha256: sha.to_string(),
        };
        if in_force == Some(sha) {
            // The same content again (a server without validators): a confirmation.
            let _ = tokio::fs::remove_file(&tmp).await;
            let confirm_id = id.clone();
            let _ = blocking(&self.store, move |s| s.confirm(&confirm_id, now)).await;
            self.keep_meta(&meta);
            return PollOutcome::Confirmed;
        }
        if self.last_refused == Some(sha) {
            let _ = tokio::fs::remove_file(&tmp).await;
            return PollOutcome::RefusedAgain;
        }
        let offer_id = id.clone();
        let Some(event) = blocking(&self.store, move |s| s.offer(&offer_id, Ok(list))).await else {
            let _ = tokio::fs::remove_file(&tmp).await;
            return PollOutcome::Failed(self.unreadable("the store task failed".to_owned()));
        };
        match &event {
            ListEvent::Accepted { .. } => {
                self.last_refused = None;
                // Only an accepted copy replaces the one on disk, then its metadata.
                if let Err(e) = tokio::fs::rename(&tmp, &self.copy).await {
                    tracing::error!(list = %id, error = %e, "accepted list copy not kept on disk; a restart without network would start without it");
                } else {
                    self.keep_meta(&meta);
                }
            }
            ListEvent::Rejected { .. } => {
                self.last_refused = Some(sha);
                let _ = tokio::fs::remove_file(&tmp).await;
            }
            ListEvent::Unrecorded { .. } => {
                let _ = tokio::fs::remove_file(&tmp).await;
            }
        }
        PollOutcome::Offered(event)
    }
}

/// Parses and verifies a downloaded copy (checksum first parsed, then the content). Blocking.
fn verify_download(
    spec: &ListSpec,
    tmp: &Path,
    published: Option<&str>,
    now: SystemTime,
    limits: &ParseLimits,
) -> Result<LoadedList, ListLoadError> {
    let published = published
        .map(|text| parse_published_checksum(spec, text))
        .transpose()?;
    let file = std::fs::File::open(tmp).map_err(|e| ListLoadError::Unreadable {
        list: spec.id.clone(),
        message: format!("{}: {e}", tmp.display()),
    })?;
    load_list(
        spec,
        ListInput::Single(BufReader::new(file)),
        published,
        now,
        limits,
    )
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
            remote: remote.clone(),
            last_recorded_failure: None,
            last_refused: None,
        };
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut interval = tokio::time::interval(remote.poll_interval);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = stop.cancelled() => break,
                    _ = interval.tick() => {}
                }
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = poller.poll(&client) => {}
                }
            }
        }));
    }
    ListFetchers { stop, tasks }
}
