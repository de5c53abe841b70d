//! [`ProfileStore`] on PostgreSQL, shared by every replica: a write names the revision it read
//! and commits with its audit records, so two replicas folding calls of one subject at once
//! never lose an update — the second finds the row moved on and folds again.
//!
//! The row is written before the records are staged, the order of every other transaction of
//! this store (rows, then the log's head), so a profile write and a proposal change never wait
//! on each other in a cycle.

use signgate_audit::AuditEvent;
use signgate_policy::anomaly::{Profile, Subject};

use super::{PgStore, audit_error, pg_error, pool_error};
use crate::store::{
    StoreError, UnixMillis,
    profiles::{
        self, ProfileRow, ProfileStore, ProfileWrite, StoreFuture, StoredProfile, subject_key,
    },
};

/// Writes a profile's row in the transaction `tx` if it is still at the revision read; whether
/// it was. Rows before the log's head, as in every transaction of this store.
pub(super) async fn write_row(
    tx: &impl deadpool_postgres::GenericClient,
    row: &ProfileRow,
    now: UnixMillis,
) -> Result<bool, StoreError> {
    let changed = match row.expected {
        None => {
            super::cached::execute(
                tx,
                "INSERT INTO anomaly_profiles (subject, revision, body, updated_at) \
                 VALUES ($1, $4, $2, $3) ON CONFLICT (subject) DO NOTHING",
                &[&row.key, &row.body, &now.0, &row.revision],
            )
            .await
        }
        Some(rev) => {
            super::cached::execute(
                tx,
                "UPDATE anomaly_profiles SET revision = $5, body = $2, \
                 updated_at = $3 WHERE subject = $1 AND revision = $4",
                &[&row.key, &row.body, &now.0, &rev, &row.revision],
            )
            .await
        }
    }
    .map_err(pg_error)?;
    Ok(changed == 1)
}

/// [`write_row`] for a profile that must land with a state change: a row that moved on fails
/// the change.
pub(super) async fn write_observed(
    tx: &impl deadpool_postgres::GenericClient,
    row: Option<&ProfileRow>,
    now: UnixMillis,
) -> Result<(), StoreError> {
    match row {
        Some(row) if !write_row(tx, row, now).await? => Err(StoreError::ProfileChanged {
            subject: row.key.clone(),
        }),
        _ => Ok(()),
    }
}

impl ProfileStore for PgStore {
    fn profile<'a>(&'a self, subject: &'a Subject) -> StoreFuture<'a, Option<StoredProfile>> {
        Box::pin(async move {
            let client = self.client().await?;
            let row = client
                .query_opt(
                    "SELECT body, revision FROM anomaly_profiles WHERE subject = $1",
                    &[&subject_key(subject)],
                )
                .await
                .map_err(pg_error)?;
            row.map(|r| {
                Ok(StoredProfile {
                    profile: profiles::decode(&r.try_get::<_, String>(0).map_err(pg_error)?)?,
                    revision: profiles::revision(r.try_get(1).map_err(pg_error)?)?,
                })
            })
            .transpose()
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
            let encoded = crate::audit::log::encode(&audit).map_err(audit_error)?;
            let log = self.log_for(&audit)?;
            let mut client = self.inner.pool.get().await.map_err(pool_error)?;
            let tx = client.transaction().await.map_err(pg_error)?;
            if !write_row(&tx, &row, now).await? {
                tx.rollback().await.map_err(pg_error)?;
                return Ok(false);
            }
            super::stage(&tx, log, &audit, &encoded).await?;
            tx.commit().await.map_err(pg_error)?;
            Ok(true)
        })
    }

    fn profiles(&self) -> StoreFuture<'_, Vec<Profile>> {
        Box::pin(async move {
            let client = self.client().await?;
            let rows = client
                .query("SELECT body FROM anomaly_profiles", &[])
                .await
                .map_err(pg_error)?;
            rows.iter()
                .map(|r| profiles::decode(&r.try_get::<_, String>(0).map_err(pg_error)?))
                .collect::<Result<_, _>>()
                .map(profiles::sorted)
        })
    }
}
