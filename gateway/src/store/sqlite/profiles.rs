//! [`ProfileStore`] on SQLite: reads on a reader connection, writes through the group-commit
//! writer with their audit records, each checked against the revision read.

use rusqlite::{OptionalExtension as _, params};
use signgate_audit::AuditEvent;
use signgate_policy::anomaly::{Profile, Subject};

use super::SqliteStore;
use crate::store::{
    UnixMillis,
    profiles::{self, ProfileStore, StoreFuture, StoredProfile, subject_key},
};

impl ProfileStore for SqliteStore {
    fn profile<'a>(&'a self, subject: &'a Subject) -> StoreFuture<'a, Option<StoredProfile>> {
        Box::pin(async move {
            let key = subject_key(subject);
            self.read(move |c| {
                let row = c
                    .query_row(
                        "SELECT body, revision FROM anomaly_profiles WHERE subject = ?1",
                        params![key],
                        |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
                    )
                    .optional()?;
                row.map(|(body, rev)| {
                    Ok(StoredProfile {
                        profile: profiles::decode(&body)?,
                        revision: profiles::revision(rev)?,
                    })
                })
                .transpose()
            })
            .await
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
            let key = subject_key(profile.subject());
            let body = profiles::encode(profile)?;
            let expected = expected.map(profiles::revision_col).transpose()?;
            self.write_if(
                audit,
                move |tx| {
                    let changed = match expected {
                        None => tx.execute(
                            "INSERT INTO anomaly_profiles (subject, revision, body, updated_at) \
                         VALUES (?1, 1, ?2, ?3) ON CONFLICT (subject) DO NOTHING",
                            params![key, body, now.0],
                        )?,
                        Some(rev) => tx.execute(
                            "UPDATE anomaly_profiles SET revision = revision + 1, body = ?2, \
                         updated_at = ?3 WHERE subject = ?1 AND revision = ?4",
                            params![key, body, now.0, rev],
                        )?,
                    };
                    Ok((changed == 1, Vec::new()))
                },
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
