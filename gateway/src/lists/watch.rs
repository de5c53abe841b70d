//! Reloading lists when their files change.
//!
//! `notify` reports changes in the directories holding the list files (directories, not files:
//! a fetcher that replaces a file by rename would otherwise leave the watch on the old inode).
//! Events are debounced, mapped to the lists whose files they name, and those lists are reloaded
//! on a blocking thread. An optional polling interval compares file modification times and sizes
//! as a safety net for file systems where notification is unreliable (network mounts).

use std::{
    collections::{BTreeSet, HashMap},
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, SystemTime},
};

use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use signgate_policy::sanctions::ListId;
use tokio::{sync::mpsc, task::JoinHandle};

use super::{ListEvent, ListStore};

/// How the watcher behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchConfig {
    /// Quiet time after the last file event before reloading (a fetcher may write in pieces).
    pub debounce: Duration,
    /// Also check files' modification time and size at this interval.
    pub poll_interval: Option<Duration>,
}

impl Default for WatchConfig {
    fn default() -> Self {
        Self {
            debounce: Duration::from_millis(250),
            poll_interval: Some(Duration::from_secs(60)),
        }
    }
}

/// A running watcher; dropping it stops the notifications, [`ListWatcher::shutdown`] also
/// waits for the task.
#[derive(Debug)]
pub struct ListWatcher {
    _watcher: RecommendedWatcher,
    task: JoinHandle<()>,
}

impl ListWatcher {
    /// Stops watching and waits for an in-flight reload to finish.
    pub async fn shutdown(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

fn file_index(store: &ListStore) -> HashMap<PathBuf, Vec<ListId>> {
    let mut index: HashMap<PathBuf, Vec<ListId>> = HashMap::new();
    for source in store.sources() {
        for file in source.files() {
            index
                .entry(file.to_path_buf())
                .or_default()
                .push(source.spec.id.clone());
        }
    }
    index
}

fn fingerprint(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// Starts watching the store's list files. Must be called inside a Tokio runtime.
pub fn spawn_watcher(
    store: Arc<ListStore>,
    config: WatchConfig,
) -> Result<ListWatcher, notify::Error> {
    let files = file_index(&store);
    let (tx, mut rx) = mpsc::channel::<PathBuf>(256);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event {
            for path in event.paths {
                // A full channel already holds a pending reload; dropping the event is harmless.
                let _ = tx.try_send(path);
            }
        }
    })?;
    let dirs: BTreeSet<PathBuf> = files
        .keys()
        .filter_map(|f| f.parent().map(Path::to_path_buf))
        .collect();
    for dir in &dirs {
        watcher.watch(dir, RecursiveMode::NonRecursive)?;
    }
    let task = tokio::spawn(async move {
        let mut seen: HashMap<PathBuf, Option<(SystemTime, u64)>> =
            files.keys().map(|f| (f.clone(), fingerprint(f))).collect();
        let mut poll = config.poll_interval.map(tokio::time::interval);
        loop {
            let mut due: BTreeSet<ListId> = BTreeSet::new();
            tokio::select! {
                path = rx.recv() => {
                    let Some(path) = path else { break };
                    let mut paths = vec![path];
                    // Debounce: collect everything that arrives during the quiet period.
                    while let Ok(Some(p)) = tokio::time::timeout(config.debounce, rx.recv()).await {
                        paths.push(p);
                    }
                    for p in paths {
                        if let Some(ids) = files.get(&p) {
                            due.extend(ids.iter().cloned());
                        }
                    }
                }
                _ = async { match poll.as_mut() { Some(p) => { p.tick().await; } None => std::future::pending().await } } => {
                    for (file, ids) in &files {
                        let now = fingerprint(file);
                        if seen.get(file) != Some(&now) {
                            due.extend(ids.iter().cloned());
                        }
                    }
                }
            }
            for file in files.keys() {
                seen.insert(file.clone(), fingerprint(file));
            }
            if due.is_empty() {
                continue;
            }
            let store = Arc::clone(&store);
            let reload = tokio::task::spawn_blocking(move || {
                due.iter()
                    .filter_map(|id| store.reload(id, SystemTime::now()))
                    .collect::<Vec<ListEvent>>()
            });
            if let Err(error) = reload.await {
                tracing::error!(%error, "sanctions list reload task failed");
            }
        }
    });
    Ok(ListWatcher {
        _watcher: watcher,
        task,
    })
}

#[cfg(test)]
mod tests {
    use signgate_policy::sanctions::{ListAction, ListCategory, ListFormat, ListSpec, ParseLimits};

    use super::*;
    use crate::lists::ListSource;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_changed_file_is_reloaded_without_a_request_and_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("internal.txt");
        std::fs::write(&path, "0x098B716B8Aaf21512996dC57EB0615e2383E2f96\n").unwrap();
        let source = ListSource {
            spec: ListSpec::new(
                "internal",
                "test",
                ListCategory::Internal,
                ListAction::Deny,
                ListFormat::Plain,
                Duration::from_secs(3600),
            )
            .unwrap(),
            path: path.clone(),
            comments_path: None,
            checksum_path: None,
            remote: None,
        };
        let audit = Arc::new(
            crate::audit::AuditLog::open(
                &dir.path().join("audit.sqlite3"),
                ed25519_dalek::SigningKey::from_bytes(&[7; 32]),
            )
            .unwrap(),
        );
        let (store, _) = ListStore::load_at_start_recorded(
            vec![source],
            ParseLimits::default(),
            SystemTime::now(),
            Some(audit.clone()),
        )
        .unwrap();
        let store = Arc::new(store);
        let mut generation = store.subscribe();
        generation.borrow_and_update();
        let watcher = spawn_watcher(
            Arc::clone(&store),
            WatchConfig {
                debounce: Duration::from_millis(50),
                poll_interval: None,
            },
        )
        .unwrap();

        // Replace the file the way a fetcher should: write a temporary file, rename it over.
        let tmp = dir.path().join("internal.txt.tmp");
        std::fs::write(&tmp, "0x4f47bc496083c727c5fbe3ce9cdf2b0f6496270c\n").unwrap();
        std::fs::rename(&tmp, &path).unwrap();

        tokio::time::timeout(Duration::from_secs(20), generation.changed())
            .await
            .unwrap()
            .unwrap();
        let new: alloy_primitives::Address = "0x4f47bc496083c727c5fbe3ce9cdf2b0f6496270c"
            .parse()
            .unwrap();
        assert!(store.snapshot().is_listed(&new));
        watcher.shutdown().await;

        // The start's load and the watcher's reload are both in the audit log, with the diff.
        let reader = audit.reader().unwrap();
        let changes: Vec<_> = reader
            .leaves()
            .unwrap()
            .iter()
            .filter_map(
                |l| match signgate_audit::AuditRecord::from_bytes(l).unwrap().event {
                    signgate_audit::AuditEvent::SanctionsList(c) => Some(c),
                    _ => None,
                },
            )
            .collect();
        let old: alloy_primitives::Address = "0x098B716B8Aaf21512996dC57EB0615e2383E2f96"
            .parse()
            .unwrap();
        assert_eq!(changes.len(), 2, "{changes:?}");
        assert_eq!(changes[0].added, [old]);
        assert_eq!(
            (&changes[1].added, &changes[1].removed),
            (&vec![new], &vec![old])
        );
    }
}
