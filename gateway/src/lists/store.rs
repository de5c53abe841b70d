//! The current sanctions snapshot and its reloads.
//!
//! The snapshot sits in an [`ArcSwap`]: readers take an `Arc` without locking and keep it for a
//! whole request; a reload builds the next snapshot off to the side and swaps it in with one
//! atomic store. Reloads are serialized by a mutex so two concurrent reloads cannot lose each
//! other's update. A list that fails to load keeps its previous copy (or stays unavailable at
//! start, which makes screening answer "cannot screen").
//!
//! Every load and reload — at start, by the file watcher, by `Admin.ReloadSanctionsLists` —
//! goes through [`ListStore::reload`], which records it in the audit log when the store has
//! one ([`ListStore::recording_to`]): a `loaded` record with the address-level diff is
//! appended **before** the new version is swapped in (a version the log cannot record is not
//! used; the previous one stays), a `refused` record names the reason and the version kept.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, SystemTime},
};

use arc_swap::ArcSwap;
use signgate_audit::{
    AuditEvent,
    record::{ListOutcome, SanctionsListChange},
};
use signgate_policy::sanctions::{
    ListDiff, ListId, ListLoadError, ListSpecError, LoadedList, ParseLimits, SanctionsSnapshot,
    Sha256Digest, UpdateOutcome,
};
use tokio::sync::{mpsc, oneshot, watch};

use super::{ListSource, Oracle, load_source};
use crate::audit::AuditLog;

/// What one load or reload of one list did; each is an audit record.
#[derive(Debug)]
pub enum ListEvent {
    /// A verified copy was swapped in; `diff` lists the address-level changes (empty when the
    /// fetcher re-wrote identical content, which still refreshes the list's age).
    Accepted {
        /// Addresses added to and removed from the list, against the copy it replaced.
        diff: ListDiff,
        /// How many things the parse noticed that must be reported but did not stop the copy
        /// loading (for example an address with a wrong EIP-55 checksum, still screened).
        findings: usize,
    },
    /// The copy was refused; the previous one (if any, by digest) stays in use.
    Rejected {
        /// Why the copy was refused (unreadable, unparsable, or not matching its published
        /// checksum); it names the list.
        error: ListLoadError,
        /// Digest of the copy still in use; `None`: the list has no usable copy, so screening
        /// against it cannot answer.
        kept: Option<Sha256Digest>,
    },
    /// A verified copy the audit log could not record, so it was not used; the previous one
    /// (if any) stays in use.
    Unrecorded {
        /// The list whose new copy was dropped.
        list: ListId,
        /// Digest of the copy still in use; `None`: the list has no usable copy.
        kept: Option<Sha256Digest>,
    },
}

/// What one poll of a fetched list's source did, answered to whoever asked for it
/// ([`ListStore::poll_now`], `Admin.ReloadSanctionsLists`).
#[derive(Debug)]
pub enum Polled {
    /// The source confirmed the copy in force current (a `304`, or the same bytes again): its
    /// age restarts; not a new version.
    Confirmed,
    /// A copy was offered to the store: swapped in, refused or unrecorded, as the event says.
    Offered(ListEvent),
    /// The fetch or its verification failed, or the source served the copy refused before;
    /// the copy in force stays. Why, in words.
    Failed(String),
}

/// A request to a list's fetcher to poll its source now, answered when the poll is done.
pub(crate) type PollRequest = oneshot::Sender<Polled>;

/// What the gateway knows about one list's source besides the copy in force: for health and
/// `signgate admin lists`.
#[derive(Debug, Clone, Default)]
pub struct ListStatus {
    /// When the source was last asked (fetched lists only).
    pub last_check: Option<SystemTime>,
    /// What that check gave: `not modified (304)`, `new version`, `refused: …`, `failed: …`.
    pub last_result: Option<String>,
    /// When a new version was last swapped in.
    pub last_change: Option<SystemTime>,
    /// The address-level diff of that change.
    pub last_diff: Option<ListDiff>,
}

/// Holds the current snapshot of every configured list.
#[derive(Debug)]
pub struct ListStore {
    sources: Vec<ListSource>,
    limits: ParseLimits,
    current: ArcSwap<SanctionsSnapshot>,
    reload_lock: Mutex<()>,
    generation: watch::Sender<u64>,
    /// Bumped when a swapped-in version adds addresses: only then can a proposal in flight
    /// become newly listed (a removal cannot create a match).
    designations: watch::Sender<u64>,
    audit: Option<Arc<AuditLog>>,
    status: Mutex<HashMap<ListId, ListStatus>>,
    /// Releases inside their check-the-lists-then-reserve-the-nonce step ([`SwapHold`]).
    releasing: AtomicUsize,
    /// A new version waits to be swapped in; new holds wait for it.
    swapping: AtomicBool,
    /// On-chain screens asked live beside the lists.
    oracles: Vec<Arc<Oracle>>,
    /// The fetcher of each fetched list, taking "poll now" requests.
    pollers: Mutex<HashMap<ListId, mpsc::Sender<PollRequest>>>,
}

/// While held, no list version is swapped in: a release compares the versions it screened
/// against with the ones in force and reserves its nonce under one hold, so no version can
/// arrive between the check and the reservation. A swap waits for the holds in progress (a
/// store transaction each); a hold waits for a swap that has begun.
#[derive(Debug)]
pub struct SwapHold<'a> {
    store: &'a ListStore,
}

impl Drop for SwapHold<'_> {
    fn drop(&mut self) {
        self.store.releasing.fetch_sub(1, Ordering::SeqCst);
    }
}

impl ListStore {
    /// A store whose lists are all unavailable until loaded. Refuses duplicate list ids.
    pub fn new(sources: Vec<ListSource>, limits: ParseLimits) -> Result<Self, ListSpecError> {
        let mut seen = HashSet::new();
        for source in &sources {
            if !seen.insert(source.spec.id.clone()) {
                return Err(ListSpecError::DuplicateId(source.spec.id.to_string()));
            }
        }
        let initial = SanctionsSnapshot::unavailable(
            sources.iter().map(|s| s.spec.clone()),
            "not loaded yet",
        );
        Ok(Self {
            sources,
            limits,
            current: ArcSwap::from_pointee(initial),
            reload_lock: Mutex::new(()),
            generation: watch::channel(0).0,
            designations: watch::channel(0).0,
            audit: None,
            status: Mutex::new(HashMap::new()),
            releasing: AtomicUsize::new(0),
            swapping: AtomicBool::new(false),
            oracles: Vec::new(),
            pollers: Mutex::new(HashMap::new()),
        })
    }

    /// Asks `oracles` beside the lists at every screening.
    #[must_use]
    pub fn with_oracles(mut self, oracles: Vec<Oracle>) -> Self {
        self.oracles = oracles.into_iter().map(Arc::new).collect();
        self
    }

    /// The on-chain screens asked beside the lists.
    pub fn oracles(&self) -> &[Arc<Oracle>] {
        &self.oracles
    }

    /// Records every later load and reload in `audit`.
    #[must_use]
    pub fn recording_to(mut self, audit: Arc<AuditLog>) -> Self {
        self.audit = Some(audit);
        self
    }

    /// Builds the store and loads every list once. Lists that fail stay unavailable (screening
    /// then cannot screen); the events say why.
    pub fn load_at_start(
        sources: Vec<ListSource>,
        limits: ParseLimits,
        now: SystemTime,
    ) -> Result<(Self, Vec<ListEvent>), ListSpecError> {
        Self::load_at_start_recorded(sources, limits, now, None)
    }

    /// [`Self::load_at_start`], recording the start loads (and every later reload) in `audit`.
    pub fn load_at_start_recorded(
        sources: Vec<ListSource>,
        limits: ParseLimits,
        now: SystemTime,
        audit: Option<Arc<AuditLog>>,
    ) -> Result<(Self, Vec<ListEvent>), ListSpecError> {
        let mut store = Self::new(sources, limits)?;
        store.audit = audit;
        let events = store.reload_all(now);
        Ok((store, events))
    }

    /// The snapshot to screen a request against. Keep the `Arc` for the whole request.
    pub fn snapshot(&self) -> Arc<SanctionsSnapshot> {
        self.current.load_full()
    }

    /// The configured sources.
    pub fn sources(&self) -> &[ListSource] {
        &self.sources
    }

    /// A receiver that changes whenever a new snapshot is swapped in.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// A receiver that changes whenever a swapped-in version adds addresses to a list (a
    /// designation, or a list's first load): what the re-screen of proposals in flight follows.
    pub fn subscribe_designations(&self) -> watch::Receiver<u64> {
        self.designations.subscribe()
    }

    /// Reloads every list (an admin request, or start-up). Blocking: file reads and parsing;
    /// call from a blocking thread in async code.
    pub fn reload_all(&self, now: SystemTime) -> Vec<ListEvent> {
        let ids: Vec<ListId> = self.sources.iter().map(|s| s.spec.id.clone()).collect();
        ids.iter().filter_map(|id| self.reload(id, now)).collect()
    }

    /// Reloads one list from its file (a fetched list: its last good copy); `None` if no list
    /// has this id. Blocking.
    pub fn reload(&self, id: &ListId, now: SystemTime) -> Option<ListEvent> {
        let source = self.sources.iter().find(|s| &s.spec.id == id)?;
        // Held across the parse too, so an older parse can never overwrite a newer one.
        let _guard = self.lock();
        let loaded = load_source(source, now, &self.limits);
        Some(self.offer_locked(id, loaded, now))
    }

    /// Offers a verified (or refused) copy of list `id`, obtained elsewhere (the fetcher):
    /// recorded in the audit log and swapped in, or refused, exactly as a reload. Blocking.
    pub fn offer(&self, id: &ListId, loaded: Result<LoadedList, ListLoadError>) -> ListEvent {
        let _guard = self.lock();
        self.offer_locked(id, loaded, SystemTime::now())
    }

    /// Records a failed attempt to obtain list `id` (a fetch that timed out, a redirect to
    /// plain HTTP …): the copy in force stays and the refusal is in the audit log. Blocking.
    pub fn refuse(&self, id: &ListId, error: ListLoadError) -> ListEvent {
        self.offer(id, Err(error))
    }

    /// The source confirmed the version of list `id` in force current at `at` (an HTTP 304,
    /// or the same content again): its age restarts there. Not a new version: nothing is
    /// recorded and the generation does not change. `false` when the list has no copy in
    /// force (a confirmation cannot make an unavailable list usable).
    pub fn confirm(&self, id: &ListId, at: SystemTime) -> bool {
        let _guard = self.lock();
        match self.current.load().with_confirmed(id, at) {
            Some(next) => {
                self.current.store(Arc::new(next));
                true
            }
            None => false,
        }
    }

    /// Registers the fetcher of list `id`, which polls its source when [`Self::poll_now`] asks.
    pub(crate) fn register_poller(&self, id: ListId, requests: mpsc::Sender<PollRequest>) {
        self.pollers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id, requests);
    }

    /// Asks the fetcher of list `id` to poll its publisher now (`Admin.ReloadSanctionsLists`):
    /// the answer comes when that poll is done. `None` when the list is not fetched (a file
    /// list is reloaded with [`Self::reload`]) or its fetcher is not running.
    pub async fn poll_now(&self, id: &ListId) -> Option<oneshot::Receiver<Polled>> {
        let requests = self
            .pollers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(id)?
            .clone();
        let (answer, answered) = oneshot::channel();
        requests.send(answer).await.ok()?;
        Some(answered)
    }

    /// Notes the result of a check of list `id`'s source, for health and `admin lists`.
    pub fn note_check(&self, id: &ListId, at: SystemTime, result: String) {
        let mut status = self.status_lock();
        let entry = status.entry(id.clone()).or_default();
        entry.last_check = Some(at);
        entry.last_result = Some(result);
    }

    /// What is known about each configured list's source, in configuration order.
    pub fn status(&self) -> Vec<(ListId, ListStatus)> {
        let status = self.status_lock();
        self.sources
            .iter()
            .map(|s| {
                let id = s.spec.id.clone();
                let st = status.get(&id).cloned().unwrap_or_default();
                (id, st)
            })
            .collect()
    }

    /// Holds off list swaps until the returned hold is dropped (see [`SwapHold`]).
    pub async fn hold_swaps(&self) -> SwapHold<'_> {
        loop {
            if !self.swapping.load(Ordering::SeqCst) {
                self.releasing.fetch_add(1, Ordering::SeqCst);
                // Either this sees the swapper's flag, or the swapper sees this hold.
                if !self.swapping.load(Ordering::SeqCst) {
                    return SwapHold { store: self };
                }
                self.releasing.fetch_sub(1, Ordering::SeqCst);
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Swaps `next` in once no release holds swaps off. Blocking (called with the reload lock
    /// held, from blocking threads or at start).
    fn swap_in(&self, next: SanctionsSnapshot) {
        self.swapping.store(true, Ordering::SeqCst);
        while self.releasing.load(Ordering::SeqCst) > 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        self.current.store(Arc::new(next));
        self.swapping.store(false, Ordering::SeqCst);
    }

    /// The parse limits every copy is read within.
    pub fn limits(&self) -> &ParseLimits {
        &self.limits
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.reload_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn status_lock(&self) -> std::sync::MutexGuard<'_, HashMap<ListId, ListStatus>> {
        self.status
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The one path of every copy, loaded or refused, with the reload lock held.
    fn offer_locked(
        &self,
        id: &ListId,
        loaded: Result<LoadedList, ListLoadError>,
        now: SystemTime,
    ) -> ListEvent {
        let current = self.current.load_full();
        let kept = current.list(id).map(|l| l.sha256());
        match current.apply_update(loaded) {
            UpdateOutcome::Accepted { snapshot, diff } => {
                let findings = snapshot.list(id).map_or(0, |l| l.findings().len());
                if !self.record(AuditEvent::SanctionsList(SanctionsListChange::loaded(
                    &diff,
                ))) {
                    tracing::error!(list = %id, sha256 = %diff.new_sha256, "sanctions list version not used: the audit log could not record it");
                    return ListEvent::Unrecorded {
                        list: id.clone(),
                        kept,
                    };
                }
                self.swap_in(snapshot);
                self.generation.send_modify(|g| *g = g.wrapping_add(1));
                if !diff.added.is_empty() {
                    self.designations.send_modify(|g| *g = g.wrapping_add(1));
                }
                tracing::info!(
                    list = %id,
                    sha256 = %diff.new_sha256,
                    added = diff.added.len(),
                    removed = diff.removed.len(),
                    findings,
                    "sanctions list loaded"
                );
                {
                    let mut status = self.status_lock();
                    let entry = status.entry(id.clone()).or_default();
                    entry.last_change = Some(now);
                    entry.last_diff = Some(diff.clone());
                }
                ListEvent::Accepted { diff, findings }
            }
            UpdateOutcome::Rejected { error } => {
                if kept.is_none() {
                    // Still unavailable: let "cannot screen" say why.
                    self.current.store(Arc::new(
                        current.with_unavailable_reason(id, &error.to_string()),
                    ));
                }
                tracing::warn!(list = %id, %error, kept = ?kept.map(|k| k.to_string()), "sanctions list update refused");
                let kept_sha = kept.as_ref().map(|k| alloy_primitives::B256::from(k.0));
                self.record(AuditEvent::SanctionsList(SanctionsListChange {
                    list: id.to_string(),
                    outcome: ListOutcome::Refused {
                        reason: error.to_string(),
                    },
                    previous_sha256: kept_sha,
                    current_sha256: kept_sha,
                    added: Vec::new(),
                    removed: Vec::new(),
                }));
                ListEvent::Rejected { error, kept }
            }
        }
    }

    /// Appends `event` to the audit log, if the store has one; `false` if it could not.
    fn record(&self, event: AuditEvent) -> bool {
        let Some(audit) = &self.audit else {
            return true;
        };
        match audit.append(event) {
            Ok(_) => true,
            Err(error) => {
                tracing::error!(%error, "audit append of a sanctions list event failed");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use alloy_primitives::Address;
    use signgate_policy::sanctions::{
        ListAction, ListCategory, ListFormat, ListSpec, ScreeningOutcome, ScreeningSubject,
        screen_subjects,
    };

    use super::*;

    pub(crate) const A: &str = "0x098B716B8Aaf21512996dC57EB0615e2383E2f96";
    pub(crate) const B: &str = "0x4f47bc496083c727c5fbe3ce9cdf2b0f6496270c";

    pub(crate) fn source(dir: &std::path::Path, id: &str) -> ListSource {
        ListSource {
            spec: ListSpec::new(
                id,
                "test",
                ListCategory::Internal,
                ListAction::Deny,
                ListFormat::Plain,
                Duration::from_secs(3600),
            )
            .unwrap(),
            path: dir.join(format!("{id}.txt")),
            comments_path: None,
            checksum_path: None,
            remote: None,
        }
    }

    fn address(text: &str) -> Address {
        text.parse().unwrap()
    }

    #[test]
    fn a_missing_list_at_start_means_cannot_screen() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("internal.txt"), format!("{A}\n")).unwrap();
        let sources = vec![
            source(dir.path(), "internal"),
            source(dir.path(), "missing"),
        ];
        let (store, events) =
            ListStore::load_at_start(sources, ParseLimits::default(), SystemTime::now()).unwrap();
        assert!(matches!(events[0], ListEvent::Accepted { .. }));
        assert!(matches!(
            &events[1],
            ListEvent::Rejected {
                error: ListLoadError::Unreadable { .. },
                kept: None
            }
        ));
        let subject = [ScreeningSubject::simulation(address(B), "call target")];
        assert!(matches!(
            screen_subjects(&store.snapshot(), &subject, SystemTime::now()),
            ScreeningOutcome::CannotScreen { .. }
        ));
    }

    #[test]
    fn reload_swaps_atomically_and_bad_updates_keep_the_previous_copy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("internal.txt");
        std::fs::write(&path, format!("{A}\n")).unwrap();
        let (store, _) = ListStore::load_at_start(
            vec![source(dir.path(), "internal")],
            ParseLimits::default(),
            SystemTime::now(),
        )
        .unwrap();
        let id = ListId::new("internal").unwrap();
        let held = store.snapshot();

        std::fs::write(&path, format!("{B}\n")).unwrap();
        let Some(ListEvent::Accepted { diff, .. }) = store.reload(&id, SystemTime::now()) else {
            panic!()
        };
        assert_eq!(
            (diff.added, diff.removed),
            (vec![address(B)], vec![address(A)])
        );
        // A request that took the snapshot before the reload still sees its lists.
        assert!(held.is_listed(&address(A)) && !held.is_listed(&address(B)));
        assert!(store.snapshot().is_listed(&address(B)));

        // Empty, garbage and mis-checksummed files are refused; B stays listed.
        for content in ["", "0xnot-an-address\n"] {
            std::fs::write(&path, content).unwrap();
            assert!(matches!(
                store.reload(&id, SystemTime::now()),
                Some(ListEvent::Rejected { kept: Some(_), .. })
            ));
            assert!(store.snapshot().is_listed(&address(B)));
        }
        std::fs::write(&path, format!("{A}\n")).unwrap();
        let mut with_checksum = source(dir.path(), "internal");
        let sums = dir.path().join("internal.sha256");
        std::fs::write(&sums, format!("{}  internal.txt\n", "00".repeat(32))).unwrap();
        with_checksum.checksum_path = Some(sums);
        let (checked, events) = ListStore::load_at_start(
            vec![with_checksum],
            ParseLimits::default(),
            SystemTime::now(),
        )
        .unwrap();
        assert!(matches!(
            &events[0],
            ListEvent::Rejected {
                error: ListLoadError::ChecksumMismatch { .. },
                ..
            }
        ));
        assert!(!checked.snapshot().problems(SystemTime::now()).is_empty());
    }

    #[test]
    fn an_old_file_is_stale_even_when_just_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("internal.txt"), format!("{A}\n")).unwrap();
        let (store, _) = ListStore::load_at_start(
            vec![source(dir.path(), "internal")],
            ParseLimits::default(),
            SystemTime::now(),
        )
        .unwrap();
        let later = SystemTime::now() + Duration::from_secs(7200);
        store.reload_all(later);
        assert!(!store.snapshot().problems(later).is_empty());
    }

    #[test]
    fn a_version_the_audit_log_cannot_record_is_not_used() {
        use signgate_audit::record::ServerStopped;

        use crate::audit::{AuditLog, AuditOptions};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("internal.txt");
        std::fs::write(&path, format!("{A}\n")).unwrap();
        let audit = Arc::new(
            AuditLog::open_with(
                &dir.path().join("audit.sqlite3"),
                ed25519_dalek::SigningKey::from_bytes(&[7; 32]),
                AuditOptions {
                    max_bytes: Some(64 * 1024),
                },
            )
            .unwrap(),
        );
        let (store, events) = ListStore::load_at_start_recorded(
            vec![source(dir.path(), "internal")],
            ParseLimits::default(),
            SystemTime::now(),
            Some(audit.clone()),
        )
        .unwrap();
        assert!(matches!(events[0], ListEvent::Accepted { .. }));
        // Fill the audit volume: the next append fails.
        while audit
            .append(AuditEvent::ServerStopped(ServerStopped {
                reason: "x".repeat(512),
            }))
            .is_ok()
        {}
        std::fs::write(&path, format!("{B}\n")).unwrap();
        let id = ListId::new("internal").unwrap();
        assert!(matches!(
            store.reload(&id, SystemTime::now()),
            Some(ListEvent::Unrecorded { kept: Some(_), .. })
        ));
        assert!(store.snapshot().is_listed(&address(A)));
        assert!(!store.snapshot().is_listed(&address(B)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_version_is_swapped_in_while_a_release_holds_swaps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("internal.txt");
        std::fs::write(&path, format!("{A}\n")).unwrap();
        let (store, _) = ListStore::load_at_start(
            vec![source(dir.path(), "internal")],
            ParseLimits::default(),
            SystemTime::now(),
        )
        .unwrap();
        let store = Arc::new(store);
        std::fs::write(&path, format!("{B}\n")).unwrap();
        let hold = store.hold_swaps().await;
        let reloading = {
            let store = Arc::clone(&store);
            tokio::task::spawn_blocking(move || {
                store.reload(&ListId::new("internal").unwrap(), SystemTime::now())
            })
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!reloading.is_finished());
        assert!(store.snapshot().is_listed(&address(A)));
        drop(hold);
        assert!(matches!(
            reloading.await.unwrap(),
            Some(ListEvent::Accepted { .. })
        ));
        assert!(store.snapshot().is_listed(&address(B)));
        // And a hold taken after the swap goes through at once.
        drop(store.hold_swaps().await);
    }

    #[test]
    fn duplicate_ids_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let sources = vec![source(dir.path(), "x"), source(dir.path(), "x")];
        assert!(matches!(
            ListStore::new(sources, ParseLimits::default()),
            Err(ListSpecError::DuplicateId(_))
        ));
    }
}
