//! [`ProfileStore`] on SQLite: reads on a reader connection, writes through the group-commit
//! writer with their audit records, each checked against the revision read.

use rusqlite::{Connection, OptionalExtension as _, params};
use signgate_audit::AuditEvent;
use signgate_policy::anomaly::{Profile, Subject};

use super::SqliteStore;
use crate::store::{
    StoreError, UnixMillis,
    profiles::{
        self, ProfileRow, ProfileStore, ProfileWrite, StoreFuture, StoredProfile, subject_key,
    },
};

/// Writes a profile's row in the transaction `tx` if it is still at the revision read; whether
/// it was.
pub(super) fn write_row(
    tx: &Connection,
    row: &ProfileRow,
    now: UnixMillis,
) -> Result<bool, StoreError> {
    let changed = match row.expected {
        None => tx
            .prepare_cached(
                "INSERT INTO anomaly_profiles (subject, revision, body, updated_at) \
                 VALUES (?1, ?4, ?2, ?3) ON CONFLICT (subject) DO NOTHING",
            )?
            .execute(params![row.key, row.body, now.0, row.revision])?,
        Some(rev) => tx
            .prepare_cached(
                "UPDATE anomaly_profiles SET revision = ?5, body = ?2, \
                 updated_at = ?3 WHERE subject = ?1 AND revision = ?4",
            )?
            .execute(params![row.key, row.body, now.0, rev, row.revision])?,
    };
    Ok(changed == 1)
}

/// [`write_row`] for a profile that must land with a state change: a row that moved on fails
/// the change.
pub(super) fn write_observed(
    tx: &Connection,
    row: Option<&ProfileRow>,
    now: UnixMillis,
) -> Result<(), StoreError> {
    match row {
        Some(row) if !write_row(tx, row, now)? => Err(StoreError::ProfileChanged {
            subject: row.key.clone(),
        }),
        _ => Ok(()),
    }
}

impl ProfileStore for SqliteStore {
    fn profile<'a>(&'a self, subject: &'a Subject) -> StoreFuture<'a, Option<StoredProfile>> {
        Box::pin(async move {
            let key = subject_key(subject);
            // A point read by key, like `get`: on the caller's task, not the blocking pool.
            self.inner.read(move |c| {
                let row = c
                    .prepare_cached(
                        "SELECT body, revision FROM anomaly_profiles WHERE subject = ?1",
                    )?
                    .query_row(params![key], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                    })
                    .optional()?;
                row.map(|(body, rev)| {
                    Ok(StoredProfile {
                        profile: profiles::decode(&body)?,
                        revision: profiles::revision(rev)?,
                    })
                })
                .transpose()
            })
        })
    }

    fn save_profile<'a>(
        &'a self,
        audit: Vec<AuditEvent>,
        profile: &'a Profile,
        expected: Option<u64>,
        now: UnixMillis,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let row = ProfileWrite::new(profile.clone(), expected)?.row()?;
            self.write_if(
                audit,
                move |tx| Ok((write_row(tx, &row, now)?, Vec::new())),
                |saved| *saved,
            )
            .await
        })
    }

    fn profiles(&self) -> StoreFuture<'_, Vec<Profile>> {
        Box::pin(async move {
            self.read(|c| {
                let mut stmt = c.prepare("SELECT body FROM anomaly_profiles")?;
                let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
                rows.map(|r| profiles::decode(&r?)).collect()
            })
            .await
            .map(profiles::sorted)
        })
    }
}
