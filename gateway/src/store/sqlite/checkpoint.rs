//! WAL checkpoints off the commit path. SQLite's automatic checkpoint runs inside the commit
//! that crosses its threshold: every few dozen changes, one caller waited while a thousand
//! pages were copied into the database file and that file was flushed (about a tenth of the
//! writer thread's time in a profile of the commit bench). Here the writer's connection only
//! notices that the WAL has grown; a thread of its own, on a connection of its own, copies the
//! pages back (`PASSIVE`: it never blocks the writer or a reader) while commits go on.
//!
//! A commit's durability does not depend on checkpoints: it is durable once its WAL frames are
//! flushed (`synchronous=FULL`). A checkpoint only lets the WAL be rewound. Should the
//! checkpointer fall behind or fail, the writer checkpoints itself once the WAL holds
//! [`INLINE_PAGES`], as SQLite would, so the WAL stays bounded whatever happens to the thread.

use std::{
    path::Path,
    sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel},
};

use rusqlite::Connection;

use super::{BUSY_TIMEOUT, tune};
use crate::store::StoreError;

/// WAL pages after which the checkpointer is asked to run: SQLite's own default threshold.
pub(super) const BACKGROUND_PAGES: i32 = 1000;

/// WAL pages after which the writer checkpoints inline (about 16 MiB of 4 KiB pages). The WAL
/// is rewound only when a write begins with every page copied back, which under steady load
/// the checkpointer, running beside the writer, seldom achieves: this bounds the file then, and
/// the inline checkpoint finds most pages already copied.
pub(super) const INLINE_PAGES: i32 = 4_000;

/// Starts the checkpointer thread for the database at `path` and has the writer's connection
/// `writer` wake it when its WAL has grown past [`BACKGROUND_PAGES`]. The thread ends when the
/// writer's connection is closed (its hook, holding the only sender, is dropped with it).
pub(super) fn attach(writer: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    tune(&conn)?;
    let (wake, woken) = sync_channel::<()>(1);
    std::thread::Builder::new()
        .name("signgate-store-checkpoint".to_owned())
        .spawn(move || run(&conn, &woken))
        .map_err(|e| StoreError::Unavailable(format!("starting the checkpoint thread: {e}")))?;
    // The WAL's size when the checkpointer was last woken: it is woken again once that many
    // more pages were committed, not after every commit (each checkpoint flushes the WAL and
    // the database file, so one per commit would double the flushes).
    let mut woken_at = 0;
    writer.wal_hook(Some(move |wal: &mut rusqlite::hooks::Wal, pages| {
        if pages >= INLINE_PAGES {
            woken_at = 0;
            return wal.checkpoint();
        }
        if pages < woken_at {
            // The WAL was rewound after a complete checkpoint.
            woken_at = 0;
        }
        if pages - woken_at >= BACKGROUND_PAGES {
            woken_at = pages;
            note(&wake);
        }
        Ok(())
    }))?;
    Ok(())
}

/// Wakes the checkpointer unless a wake-up is already pending (one is enough: it checkpoints
/// everything committed by the time it runs).
fn note(wake: &SyncSender<()>) {
    match wake.try_send(()) {
        Ok(()) | Err(TrySendError::Full(())) => {}
        Err(TrySendError::Disconnected(())) => {
            tracing::warn!("the store's checkpoint thread stopped; the writer checkpoints inline");
        }
    }
}

fn run(conn: &Connection, woken: &Receiver<()>) {
    while woken.recv().is_ok() {
        let outcome = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        });
        match outcome {
            Ok((_busy, log, done)) => {
                tracing::trace!(wal_pages = log, checkpointed = done, "WAL checkpoint");
            }
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed; retried at the next wake"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    /// Pages copied back land in the database file while nothing else writes: the checkpoint
    /// ran on its own thread (the hook replaced SQLite's inline checkpoint, so without the
    /// thread the file would stay as small as it started).
    #[test]
    fn the_checkpointer_copies_the_wal_back_on_its_own_thread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite3");
        let mut conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.pragma_update(None, "synchronous", "FULL").unwrap();
        conn.execute_batch("CREATE TABLE t (b BLOB NOT NULL)")
            .unwrap();
        attach(&mut conn, &path).unwrap();
        let page = 4096_u64;
        let before = std::fs::metadata(&path).unwrap().len();
        assert!(before < 10 * page, "the file starts small: {before} bytes");
        let rows = usize::try_from(BACKGROUND_PAGES).unwrap() + 200;
        for _ in 0..rows {
            conn.execute("INSERT INTO t (b) VALUES (zeroblob(3000))", [])
                .unwrap();
        }
        let wanted = u64::try_from(BACKGROUND_PAGES).unwrap() * page / 2;
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let now = std::fs::metadata(&path).unwrap().len();
            if now >= wanted {
                break;
            }
            assert!(
                Instant::now() < until,
                "no checkpoint copied the WAL back: the file holds {now} bytes"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
