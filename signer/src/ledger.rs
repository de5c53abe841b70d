//! Double-sign protection kept on disk: for each (chain, Safe, nonce) the one safeTxHash this
//! signer ever signed. Recording happens in one `IMMEDIATE` SQLite transaction (WAL,
//! `synchronous=FULL`) *before* the signature is computed and returned, so a crash can lose a
//! signature but never forget one. Signing the same hash again is allowed (an idempotent retry);
//! a different hash for a recorded nonce is refused. The primary key makes the rule hold even
//! if two processes share the file.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

use alloy_primitives::{Address, B256, U256};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::clock::unix_millis;

/// Why a signature may not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// This signer already signed another transaction with this nonce.
    #[error(
        "already signed {existing} for nonce {nonce} of Safe {safe} on chain {chain_id}; \
         refusing to sign {requested}"
    )]
    DoubleSign {
        /// The chain.
        chain_id: u64,
        /// The Safe.
        safe: Address,
        /// The nonce already signed for.
        nonce: U256,
        /// The safeTxHash signed for it.
        existing: B256,
        /// The different safeTxHash now asked for.
        requested: B256,
    },
    /// The ledger could not be read or written; nothing is signed.
    #[error("signing ledger unavailable: {0}")]
    Unavailable(String),
}

impl From<rusqlite::Error> for LedgerError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Unavailable(e.to_string())
    }
}

/// The on-disk record of what was signed.
#[derive(Debug, Clone)]
pub struct Ledger {
    path: PathBuf,
    conn: Arc<Mutex<Connection>>,
}

impl Ledger {
    /// Opens or creates the ledger file.
    pub fn open(path: &Path) -> Result<Self, LedgerError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| LedgerError::Unavailable(e.to_string()))?;
        }
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(LedgerError::Unavailable(format!("journal_mode {mode}")));
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS signed (
                chain_id BIGINT NOT NULL,
                safe TEXT NOT NULL,
                nonce TEXT NOT NULL,
                safe_tx_hash TEXT NOT NULL,
                signed_at BIGINT NOT NULL,
                PRIMARY KEY (chain_id, safe, nonce)
            )",
        )?;
        Ok(Self {
            path: path.to_path_buf(),
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// The ledger file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records that `hash` is signed for (chain, Safe, nonce) at `signed_at`, or confirms it
    /// was before. Blocking; call from a blocking thread.
    pub fn record(
        &self,
        chain_id: u64,
        safe: Address,
        nonce: U256,
        hash: B256,
        signed_at: SystemTime,
    ) -> Result<(), LedgerError> {
        let chain = i64::try_from(chain_id)
            .map_err(|_| LedgerError::Unavailable("chain id above 2^63".into()))?;
        let safe_col = format!("{safe:#x}");
        let nonce_col = nonce.to_string();
        let hash_col = format!("{hash:#x}");
        let mut conn = self
            .conn
            .lock()
            .map_err(|_| LedgerError::Unavailable("lock poisoned".into()))?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let existing: Option<String> = tx
            .query_row(
                "SELECT safe_tx_hash FROM signed WHERE chain_id = ?1 AND safe = ?2 AND nonce = ?3",
                params![chain, safe_col, nonce_col],
                |r| r.get(0),
            )
            .optional()?;
        match existing {
            Some(h) if h == hash_col => Ok(()),
            Some(h) => Err(LedgerError::DoubleSign {
                chain_id,
                safe,
                nonce,
                existing: h
                    .parse()
                    .map_err(|_| LedgerError::Unavailable(format!("corrupt hash {h:?}")))?,
                requested: hash,
            }),
            None => {
                tx.execute(
                    "INSERT INTO signed (chain_id, safe, nonce, safe_tx_hash, signed_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![chain, safe_col, nonce_col, hash_col, unix_millis(signed_at)],
                )?;
                tx.commit()?;
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    #[test]
    fn one_hash_per_nonce_retries_allowed_and_kept_across_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join("signed.sqlite3");
        let ledger = Ledger::open(&path).unwrap();
        assert_eq!(ledger.path(), path);
        let (safe, at) = (Address::repeat_byte(5), UNIX_EPOCH);
        let (a, b) = (B256::repeat_byte(0xa), B256::repeat_byte(0xb));
        ledger.record(1, safe, U256::from(7), a, at).unwrap();
        ledger.record(1, safe, U256::from(7), a, at).unwrap();
        // Another chain, Safe or nonce is another slot.
        ledger.record(2, safe, U256::from(7), b, at).unwrap();
        ledger
            .record(1, Address::repeat_byte(6), U256::from(7), b, at)
            .unwrap();
        ledger.record(1, safe, U256::from(8), b, at).unwrap();
        drop(ledger);
        let ledger = Ledger::open(&path).unwrap();
        match ledger.record(1, safe, U256::from(7), b, at) {
            Err(LedgerError::DoubleSign {
                existing,
                requested,
                ..
            }) => assert_eq!((existing, requested), (a, b)),
            other => panic!("expected a refused double sign, got {other:?}"),
        }
    }

    #[test]
    fn chain_ids_beyond_sqlite_are_refused_not_wrapped() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("l.sqlite3")).unwrap();
        assert!(matches!(
            ledger.record(
                u64::MAX,
                Address::ZERO,
                U256::ZERO,
                B256::ZERO,
                SystemTime::now()
            ),
            Err(LedgerError::Unavailable(_))
        ));
    }
}
