//! Getting the live log and its checkpoints out of the operator's hands.
//!
//! **Records** leave through `signgate audit export`, which reads the log database
//! ([`AuditReader`](super::AuditReader)) and writes the export file format defined in
//! [`signgate_audit::export`]. **Checkpoints** go to a file drop directory (one
//! [`note_file_name`] per checkpoint, written to a temporary name, fsynced and renamed, so a
//! reader never sees half a note) and/or to a command hook that receives the note on stdin (to
//! mail it, post it to a witness or another account's bucket). Where the drop lives decides
//! what it proves: a directory the operator can also rewrite proves nothing.
//!
//! Checkpoints leave on a timer ([`run_checkpoints`]) and, through [`Witness`], once for every
//! release before its signatures are returned, so no released signature rests on a record
//! that could still be cut off the log unnoticed.
//!
//! This stays in the gateway because it needs the live log and the async runtime; the formats
//! it writes are the audit crate's, so an auditor reads them without the gateway.

use std::{
    fs::{self, File},
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::Arc,
    time::Duration,
};

use signgate_audit::export::note_file_name;

use super::{
    AuditError,
    log::{AuditLog, SignedCheckpoint},
};

/// Where checkpoints go.
#[derive(Debug, Clone, Default)]
pub struct CheckpointSink {
    /// A directory to drop notes in.
    pub drop_dir: Option<PathBuf>,
    /// A program (and arguments) that receives each note on stdin; non-zero exit is a failure.
    pub hook: Option<Vec<String>>,
}

impl CheckpointSink {
    /// Delivers one checkpoint to every configured destination.
    pub fn deliver(&self, cp: &SignedCheckpoint) -> Result<(), AuditError> {
        if let Some(dir) = &self.drop_dir {
            write_atomically(dir, &note_file_name(cp.checkpoint.size), cp.note.as_bytes())?;
        }
        if let Some(hook) = &self.hook {
            run_hook(hook, &cp.note)?;
        }
        Ok(())
    }
}

/// The one place a checkpoint is signed *now* and delivered before an answer depends on it.
///
/// Records written after the last delivered checkpoint can be cut off the log without anyone
/// noticing, so the pipeline does not hand out signatures until a checkpoint covering their
/// `signatures_returned` record has left the gateway: [`Witness::confirm`] signs a checkpoint
/// of the whole log as it stands (so it covers every record appended before the call) and
/// delivers it through the configured [`CheckpointSink`]. Only a delivery that succeeded
/// counts; a failing hook or an unwritable directory is an error, and the caller refuses.
#[derive(Debug, Clone)]
pub struct Witness {
    log: Arc<AuditLog>,
    sink: CheckpointSink,
}

impl Witness {
    /// A witness over `log` delivering to `sink`. A sink with no destination confirms nothing,
    /// so it is refused here rather than turned into a witness that always agrees.
    pub fn new(log: Arc<AuditLog>, sink: CheckpointSink) -> Result<Self, AuditError> {
        if sink.drop_dir.is_none() && sink.hook.as_ref().is_none_or(Vec::is_empty) {
            return Err(AuditError::Export {
                target: "checkpoint sink".to_owned(),
                source: std::io::Error::other(
                    "no checkpoint directory and no hook: nothing outside the gateway could \
                     confirm a release",
                ),
            });
        }
        Ok(Self { log, sink })
    }

    /// Signs a checkpoint of the log now and delivers it; returns its size (the number of
    /// records it commits to). Signing and delivery are blocking (SQLite, fsync, the hook's
    /// process), so they run on a blocking thread.
    pub async fn confirm(&self) -> Result<u64, AuditError> {
        let log = self.log.clone();
        let sink = self.sink.clone();
        tokio::task::spawn_blocking(move || {
            let cp = log.checkpoint()?;
            sink.deliver(&cp)?;
            Ok(cp.checkpoint.size)
        })
        .await
        .map_err(|e| AuditError::Export {
            target: "checkpoint task".to_owned(),
            source: std::io::Error::other(e.to_string()),
        })?
    }
}

fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), AuditError> {
    let err = |e: std::io::Error| AuditError::Export {
        target: dir.display().to_string(),
        source: e,
    };
    fs::create_dir_all(dir).map_err(err)?;
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = File::create(&tmp).map_err(err)?;
    f.write_all(bytes).map_err(err)?;
    f.sync_all().map_err(err)?;
    drop(f);
    fs::rename(&tmp, dir.join(name)).map_err(err)?;
    File::open(dir).and_then(|d| d.sync_all()).map_err(err)
}

/// How long a checkpoint hook may take. A release waits for its checkpoint's delivery, so a hook
/// that hangs would hold the release (and a blocking thread) forever; past this it is killed and
/// the delivery fails, which refuses the release rather than leaving it pending.
const HOOK_DEADLINE: Duration = Duration::from_secs(30);

/// How often a running hook is checked for exit.
const HOOK_POLL: Duration = Duration::from_millis(10);

fn run_hook(hook: &[String], note: &str) -> Result<(), AuditError> {
    run_hook_within(hook, note, HOOK_DEADLINE)
}

/// [`run_hook`] with `deadline` for the hook to exit.
fn run_hook_within(hook: &[String], note: &str, deadline: Duration) -> Result<(), AuditError> {
    let Some((program, args)) = hook.split_first() else {
        return Ok(());
    };
    let err = |e: std::io::Error| AuditError::Export {
        target: program.clone(),
        source: e,
    };
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .map_err(err)?;
    // The child is waited for even when the note cannot be written (a hook that exits before
    // reading it closes the pipe), so no failed delivery leaves a zombie behind.
    let written = child
        .stdin
        .take()
        .map_or(Ok(()), |mut stdin| stdin.write_all(note.as_bytes()));
    let status = wait_within(&mut child, deadline).map_err(err)?;
    written.map_err(err)?;
    if !status.success() {
        return Err(AuditError::Export {
            target: program.clone(),
            source: std::io::Error::other(format!("hook exited with {status}")),
        });
    }
    Ok(())
}

/// Waits for `child` to exit for at most `deadline`; past it the child is killed (and reaped)
/// and the wait is a timeout error.
fn wait_within(
    child: &mut std::process::Child,
    deadline: Duration,
) -> std::io::Result<std::process::ExitStatus> {
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if started.elapsed() >= deadline {
            // Killing a child that exited meanwhile fails harmlessly; the wait reaps it either way.
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "hook did not finish within {} ms and was killed",
                    deadline.as_millis()
                ),
            ));
        }
        std::thread::sleep(HOOK_POLL);
    }
}

/// Signs and delivers a checkpoint every `every` until `shutdown` resolves, then once more
/// (so the stop record is covered). Failures are logged and retried at the next tick; they
/// do not stop the gateway, because the records themselves are already durable.
pub async fn run_checkpoints(
    log: Arc<AuditLog>,
    sink: CheckpointSink,
    every: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let tick = |log: Arc<AuditLog>, sink: CheckpointSink| async move {
        let done = tokio::task::spawn_blocking(move || {
            let cp = log.checkpoint()?;
            sink.deliver(&cp).map(|()| cp.checkpoint.size)
        })
        .await;
        match done {
            Ok(Ok(size)) => tracing::debug!(size, "audit checkpoint exported"),
            Ok(Err(e)) => tracing::error!(error = %e, "audit checkpoint export failed"),
            Err(e) => tracing::error!(error = %e, "audit checkpoint task failed"),
        }
    };
    let mut interval = tokio::time::interval(every);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = interval.tick() => tick(log.clone(), sink.clone()).await,
            () = &mut shutdown => break,
        }
    }
    tick(log, sink).await;
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;
    use signgate_audit::{AuditEvent, checkpoint::parse_note, record::ServerStopped};

    use super::*;

    #[test]
    fn a_hook_that_hangs_is_killed_and_the_delivery_fails() {
        let hook = ["sh", "-c", "sleep 30"].map(str::to_owned);
        let started = std::time::Instant::now();
        let err = run_hook_within(&hook, "note\n", Duration::from_millis(200)).unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "waited for the hook"
        );
        assert!(err.to_string().contains("did not finish"), "{err}");
        // A hook that finishes in time still delivers.
        let hook = ["sh", "-c", "cat >/dev/null"].map(str::to_owned);
        run_hook_within(&hook, "note\n", Duration::from_secs(10)).unwrap();
    }

    fn log(dir: &Path) -> Arc<AuditLog> {
        Arc::new(
            AuditLog::open(&dir.join("audit.sqlite3"), SigningKey::from_bytes(&[4; 32])).unwrap(),
        )
    }

    #[test]
    fn a_sink_with_no_destination_is_no_witness() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Witness::new(log(dir.path()), CheckpointSink::default()).is_err());
    }

    #[tokio::test]
    async fn a_checkpoint_is_confirmed_only_once_delivered() {
        let dir = tempfile::tempdir().unwrap();
        let log = log(dir.path());
        log.append(AuditEvent::ServerStopped(ServerStopped {
            reason: "test".to_owned(),
        }))
        .unwrap();

        let drop_dir = dir.path().join("notes");
        let ok = Witness::new(
            log.clone(),
            CheckpointSink {
                drop_dir: Some(drop_dir.clone()),
                hook: None,
            },
        )
        .unwrap();
        assert_eq!(ok.confirm().await.unwrap(), 1);
        let note = fs::read_to_string(drop_dir.join(note_file_name(1))).unwrap();
        assert_eq!(parse_note(&note).unwrap().0.size, 1);

        // A drop directory that cannot be created (its parent is a file) refuses.
        let blocker = dir.path().join("a-file");
        fs::write(&blocker, b"").unwrap();
        let unwritable = Witness::new(
            log.clone(),
            CheckpointSink {
                drop_dir: Some(blocker.join("notes")),
                hook: None,
            },
        )
        .unwrap();
        assert!(unwritable.confirm().await.is_err());

        // A hook that exits non-zero refuses, even with a writable directory beside it.
        let failing = Witness::new(
            log,
            CheckpointSink {
                drop_dir: Some(drop_dir),
                hook: Some(vec!["/bin/false".to_owned()]),
            },
        )
        .unwrap();
        assert!(failing.confirm().await.is_err());
    }
}
