//! The store suite, run against both backends: the SQLite store on a real file in a temporary
//! directory and the PostgreSQL store on a fresh database of the shared server. Each rule is
//! one generic body; [`on_both_backends!`] makes a `sqlite` and a `postgres` test of it
//! (`store::<rule>::sqlite`, `store::<rule>::postgres`). The few plain `#[tokio::test]`s are
//! about one backend itself and say so: SQLite's pragmas, upgrades of old SQLite files and an
//! unwritable path; PostgreSQL's policy in force shared by replicas.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};

use alloy_primitives::{Address, U256};
use signgate_gateway::store::{
    AddressEntry, ApprovalKind, ApprovalRecord, Inserted, ListFilter, Outcome, ProposalState,
    ProposalStore, Release, ReleaseOutcome, SqliteStore, StoreError, UnixMillis, VelocityCap,
    VelocityOutflow,
};

use signgate_gateway::{
    audit::{AuditError, AuditLog},
    config::PostgresSettings,
    store::{ProposalId, postgres::PgStore},
};
use signgate_testkit::postgres::TestDatabase;

use crate::fixtures::{CHAIN, decision, proposal, safe};

/// Where a test's store keeps its data. Opening a backend again is a restart, or a second
/// replica while the first is still open: SQLite, the same file; PostgreSQL, a new pool on the
/// same database.
trait Backend: Send + Sync + 'static {
    type Store: ProposalStore + Clone;

    /// A store on this backend's data, with no audit log attached.
    async fn open(&self) -> Self::Store;

    /// The audit log of `store`'s own database, opened (and so re-verified) anew with the
    /// audit key `[key; 32]`.
    async fn log(&self, store: &Self::Store, key: u8) -> AuditLog {
        self.try_log(store, key).await.unwrap()
    }

    /// [`Backend::log`], or why the log refused to open.
    async fn try_log(&self, store: &Self::Store, key: u8) -> Result<AuditLog, AuditError>;

    /// Runs `sql` on `store`'s database with the log's append-only triggers out of the way:
    /// what someone with access to the database files can do.
    async fn tamper(&self, store: &Self::Store, sql: &str);

    /// An SQL expression of the `data` column with `from` replaced by `to` in its text: a
    /// record edited so that it is still canonical JSON.
    fn rewritten(from: &str, to: &str) -> String;

    /// A log in another database than the store's, which the store must refuse.
    async fn foreign_log(&self) -> AuditLog;

    /// Makes every change of `store` append its records to `log`.
    fn attach(store: &Self::Store, log: Arc<AuditLog>) -> Result<(), StoreError>;
}

/// A SQLite file in a temporary directory.
struct Sqlite(tempfile::TempDir);

impl Sqlite {
    fn new() -> Self {
        Self(tempfile::tempdir().unwrap())
    }

    fn path(&self) -> PathBuf {
        self.0.path().join("data").join("signgate.sqlite3")
    }
}

impl Backend for Sqlite {
    type Store = SqliteStore;

    async fn open(&self) -> SqliteStore {
        SqliteStore::open(self.path()).await.unwrap()
    }

    async fn try_log(&self, _: &SqliteStore, key: u8) -> Result<AuditLog, AuditError> {
        AuditLog::open(
            &self.path(),
            ed25519_dalek::SigningKey::from_bytes(&[key; 32]),
        )
    }

    fn rewritten(from: &str, to: &str) -> String {
        format!("CAST(replace(CAST(data AS TEXT), '{from}', '{to}') AS BLOB)")
    }

    async fn tamper(&self, _: &SqliteStore, sql: &str) {
        let conn = rusqlite::Connection::open(self.path()).unwrap();
        conn.execute_batch(&format!(
            "DROP TRIGGER IF EXISTS audit_leaves_no_update; \
             DROP TRIGGER IF EXISTS audit_frontiers_no_update; {sql}"
        ))
        .unwrap();
    }

    async fn foreign_log(&self) -> AuditLog {
        let other = self.0.path().join("other.sqlite3");
        AuditLog::open(&other, ed25519_dalek::SigningKey::from_bytes(&[5; 32])).unwrap()
    }

    fn attach(store: &SqliteStore, log: Arc<AuditLog>) -> Result<(), StoreError> {
        store.record_into(log)
    }
}

/// A fresh database on the shared PostgreSQL server, dropped with the backend.
struct Postgres {
    db: TestDatabase,
    /// Databases of [`Backend::foreign_log`], dropped last.
    others: Mutex<Vec<TestDatabase>>,
}

impl Postgres {
    fn new() -> Self {
        Self {
            db: TestDatabase::create("signgate_store"),
            others: Mutex::new(Vec::new()),
        }
    }

    async fn connect(url: String) -> PgStore {
        PgStore::connect(&PostgresSettings {
            url,
            pool_size: 8,
            statement_timeout: Duration::from_secs(5),
            ca: None,
        })
        .await
        .unwrap()
    }
}

impl Backend for Postgres {
    type Store = PgStore;

    async fn open(&self) -> PgStore {
        let store = Self::connect(self.db.url()).await;
        // Opening the log creates its tables, `policy_in_force` among them; every change that
        // carries a decision is refused unless it names the fixtures' policy.
        drop(self.log(&store, 7).await);
        store
            .pool()
            .get()
            .await
            .unwrap()
            .execute(
                "INSERT INTO policy_in_force (id, version, policy_hash, record) \
                 VALUES (1, 1, $1, 0) ON CONFLICT (id) DO NOTHING",
                &[&policy()],
            )
            .await
            .unwrap();
        store
    }

    async fn try_log(&self, store: &PgStore, key: u8) -> Result<AuditLog, AuditError> {
        AuditLog::open_postgres(
            store.pool(),
            store.location().to_owned(),
            ed25519_dalek::SigningKey::from_bytes(&[key; 32]),
            signgate_gateway::clock::system(),
        )
        .await
    }

    fn rewritten(from: &str, to: &str) -> String {
        format!("convert_to(replace(convert_from(data, 'UTF8'), '{from}', '{to}'), 'UTF8')")
    }

    async fn tamper(&self, store: &PgStore, sql: &str) {
        store
            .pool()
            .get()
            .await
            .unwrap()
            .batch_execute(&format!(
                "ALTER TABLE audit_leaves DISABLE TRIGGER USER; \
                 ALTER TABLE audit_frontiers DISABLE TRIGGER USER; {sql}; \
                 ALTER TABLE audit_leaves ENABLE TRIGGER USER; \
                 ALTER TABLE audit_frontiers ENABLE TRIGGER USER;"
            ))
            .await
            .unwrap();
    }

    async fn foreign_log(&self) -> AuditLog {
        let other = TestDatabase::create("signgate_store_other");
        let store = Self::connect(other.url()).await;
        let log = self.log(&store, 5).await;
        self.others.lock().unwrap().push(other);
        log
    }

    fn attach(store: &PgStore, log: Arc<AuditLog>) -> Result<(), StoreError> {
        store.record_into(log)
    }
}

/// Two tests of the generic `$rule`, `$rule::sqlite` and `$rule::postgres`, on the
/// multi-threaded runtime (the PostgreSQL audit log's blocking calls need it). `store` rules
/// take a freshly opened store; `backend` rules take the [`Backend`] and open it themselves
/// (to restart, or to open a second handle).
macro_rules! on_both_backends {
    (store: $rule:ident) => {
        on_both_backends!(@tests $rule, |b| super::Backend::open(&b).await);
    };
    (backend: $rule:ident) => {
        on_both_backends!(@tests $rule, |b| b);
    };
    (@tests $rule:ident, |$b:ident| $arg:expr) => {
        mod $rule {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let $b = super::Sqlite::new();
                super::$rule($arg).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                let $b = super::Postgres::new();
                super::$rule($arg).await;
            }
        }
    };
}

/// The policy the fixtures' decisions are made under.
fn policy() -> String {
    decision(Outcome::Approved, 0).policy_hash
}

fn approval(key: u8, at: i64) -> ApprovalRecord {
    ApprovalRecord {
        operator: format!("op{key}"),
        public_key: [key; 32],
        kind: ApprovalKind::Approve,
        payload: vec![1, 2, 3],
        signature: vec![key; 64],
        comment: "ok".into(),
        received_at: UnixMillis(at),
        alerts: Vec::new(),
    }
}

fn eth(n: u64) -> VelocityOutflow {
    VelocityOutflow {
        safe: safe(),
        asset: "native".into(),
        amount: U256::from(n),
    }
}

/// SQLite only: pragmas.
#[tokio::test]
async fn durability_pragmas_are_set() {
    let store = Sqlite::new().open().await;
    assert_eq!(store.pragma("journal_mode").await.unwrap(), "wal");
    // 2 = FULL: the WAL is synced on every commit.
    assert_eq!(store.pragma("synchronous").await.unwrap(), "2");
    assert_eq!(store.pragma("foreign_keys").await.unwrap(), "1");
}

/// SQLite only: a body is stored compressed (its row fits one page instead of spilling onto
/// overflow pages), and one stored as JSON text before compression reads back the same.
#[tokio::test]
async fn bodies_are_stored_compressed_and_text_bodies_still_read() {
    let backend = Sqlite::new();
    let store = backend.open().await;
    let p = proposal(7, 0xaa, 1_000, ProposalState::NeedsApprovals);
    store
        .insert_proposal(vec![], p.clone(), decision(Outcome::NeedsApprovals, 1_000))
        .await
        .unwrap();
    let json = serde_json::to_string(&p.body).unwrap();
    let (kind, stored_len): (String, i64) = rusqlite::Connection::open(backend.path())
        .unwrap()
        .query_row(
            "SELECT typeof(body), length(body) FROM proposals WHERE id = ?1",
            [p.id.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(kind, "blob");
    assert!(
        usize::try_from(stored_len).unwrap() < json.len(),
        "{stored_len} bytes stored for {} of JSON",
        json.len()
    );
    drop(store);
    // As a store written before compression left it.
    rusqlite::Connection::open(backend.path())
        .unwrap()
        .execute(
            "UPDATE proposals SET body = ?1 WHERE id = ?2",
            [json.as_str(), p.id.as_str()],
        )
        .unwrap();
    let store = backend.open().await;
    let stored = store.get(p.id.clone()).await.unwrap().unwrap();
    assert_eq!(stored.record.body, p.body);
    // A blob that is not a body it wrote is corrupt, never a default.
    drop(store);
    rusqlite::Connection::open(backend.path())
        .unwrap()
        .execute(
            "UPDATE proposals SET body = x'01ffffffff00' WHERE id = ?1",
            [p.id.as_str()],
        )
        .unwrap();
    let store = backend.open().await;
    assert!(matches!(
        store.get(p.id.clone()).await,
        Err(StoreError::Corrupt(_))
    ));
}

on_both_backends!(store: round_trip_and_resubmission_is_idempotent);
async fn round_trip_and_resubmission_is_idempotent<S: ProposalStore>(store: S) {
    let p = proposal(7, 0xaa, 1_000, ProposalState::NeedsApprovals);
    let created = store
        .insert_proposal(vec![], p.clone(), decision(Outcome::NeedsApprovals, 1_000))
        .await
        .unwrap();
    let Inserted::Created(rec) = created else {
        panic!("expected a new proposal")
    };
    assert_eq!(rec.revision, 1);
    assert_eq!(rec.nonce, U256::from(7));
    assert_eq!(rec.body, p.body);

    let again = store
        .insert_proposal(vec![], p.clone(), decision(Outcome::Denied, 2_000))
        .await
        .unwrap();
    assert_eq!(again, Inserted::Existing(rec.clone()));

    let stored = store.get(p.id.clone()).await.unwrap().unwrap();
    assert_eq!(stored.record, rec);
    let d = stored.decision.unwrap();
    assert_eq!(
        (d.seq, d.outcome),
        (1, Outcome::NeedsApprovals),
        "resubmission wrote nothing"
    );
    assert!(stored.approvals.is_empty());
}

on_both_backends!(backend: a_security_key_counter_must_rise_even_when_two_replicas_race);
/// A security key's approvals on two proposals at once, through two stores on the same data
/// (two replicas), both carrying counter 5 (a clone used at the same moment as the original):
/// the store checks the counter in the transaction that stores, so exactly one is stored and
/// the other is refused, whichever order they land in. A later, higher counter is stored; a
/// lower one (or zero after non-zero) is not.
async fn a_security_key_counter_must_rise_even_when_two_replicas_race<B: Backend>(backend: B) {
    use signgate_webauthn::testing::Authenticator;
    let key_id = [0x77; 32];
    let mut key = Authenticator::es256(5);
    let mut signed = |counter: u32| {
        key.counter = counter - 1;
        ApprovalRecord {
            public_key: key_id,
            signature: key.assert(b"statement").to_bytes(),
            ..approval(0x77, 1_100)
        }
    };
    let (one, two) = (backend.open().await, backend.open().await);
    let p1 = proposal(1, 0x21, 1_000, ProposalState::NeedsApprovals);
    let p2 = proposal(2, 0x22, 1_000, ProposalState::NeedsApprovals);
    let p3 = proposal(3, 0x23, 1_000, ProposalState::NeedsApprovals);
    for p in [&p1, &p2, &p3] {
        one.insert_proposal(vec![], p.clone(), decision(Outcome::NeedsApprovals, 1_000))
            .await
            .unwrap();
    }
    let approve = |store: B::Store, id: ProposalId, record: ApprovalRecord, counter: u32| async move {
        store
            .add_approval_observed(
                vec![],
                (id, 1),
                record,
                Some(counter),
                (
                    decision(Outcome::NeedsApprovals, 1_100),
                    ProposalState::NeedsApprovals,
                ),
                None,
            )
            .await
    };
    let (a, b) = tokio::join!(
        approve(one.clone(), p1.id.clone(), signed(5), 5),
        approve(two.clone(), p2.id.clone(), signed(5), 5),
    );
    let refused: Vec<StoreError> = [a, b].into_iter().filter_map(Result::err).collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        matches!(
            refused[0],
            StoreError::CounterNotAbove(signgate_webauthn::CounterError::NotIncreasing {
                previous: 5,
                now: 5
            })
        ),
        "{}",
        refused[0]
    );
    let left = if one
        .get(p1.id.clone())
        .await
        .unwrap()
        .unwrap()
        .approvals
        .is_empty()
    {
        p1.id.clone()
    } else {
        p2.id.clone()
    };
    for counter in [4, 5] {
        let err = approve(two.clone(), p3.id.clone(), signed(counter), counter)
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::CounterNotAbove(_)),
            "{counter}: {err}"
        );
    }
    approve(two.clone(), left, signed(6), 6).await.unwrap();
    assert_eq!(
        highest_counter_of(&one, key_id).await,
        Some(6),
        "both replicas read what either stored"
    );
    // A stored assertion made unreadable (the database edited behind the gateway's back) is
    // not skipped, which would drop its counter: the next approval with the key is refused.
    backend
        .tamper(
            &one,
            &format!(
                "UPDATE approvals SET signature = payload WHERE public_key = '{}'",
                hex::encode(key_id)
            ),
        )
        .await;
    let err = approve(one.clone(), p3.id.clone(), signed(100), 100)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
}

/// The highest counter among the stored assertions of `key`, as the pipeline's early check
/// reads it.
async fn highest_counter_of<S: ProposalStore>(store: &S, key: [u8; 32]) -> Option<u32> {
    let stored = store.signatures_by_key(key).await.unwrap();
    signgate_gateway::store::highest_counter(stored.iter().map(Vec::as_slice)).unwrap()
}

on_both_backends!(backend: restart_keeps_proposals_approvals_and_reservations);
async fn restart_keeps_proposals_approvals_and_reservations<B: Backend>(backend: B) {
    let p = proposal(1, 0x11, 1_000, ProposalState::NeedsApprovals);
    {
        let store = backend.open().await;
        store
            .insert_proposal(vec![], p.clone(), decision(Outcome::NeedsApprovals, 1_000))
            .await
            .unwrap();
        store
            .add_approval(
                vec![],
                p.id.clone(),
                1,
                approval(1, 1_100),
                decision(Outcome::Approved, 1_100),
                ProposalState::Approved,
            )
            .await
            .unwrap();
        store
            .release(
                vec![],
                Release {
                    id: p.id.clone(),
                    expected_revision: 2,
                    released_at: UnixMillis(1_200),
                    outflows: vec![eth(5)],
                    caps: vec![],
                    policy_hash: policy(),
                },
            )
            .await
            .unwrap();
        store
            .upsert_address(AddressEntry {
                chain_id: CHAIN,
                address: Address::repeat_byte(3),
                label: "payroll".into(),
                category: "internal".into(),
                added_by: "admin".into(),
                added_at: UnixMillis(1),
            })
            .await
            .unwrap();
    }
    let store = backend.open().await;
    let stored = store.get(p.id.clone()).await.unwrap().unwrap();
    assert_eq!(stored.record.state, ProposalState::Released);
    assert_eq!(stored.record.revision, 3);
    assert_eq!(stored.approvals, vec![approval(1, 1_100)]);
    assert_eq!(stored.decision.unwrap().seq, 2);
    let res = store
        .reservation(CHAIN, safe(), U256::from(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(res.proposal_id, p.id);
    let total = store
        .velocity_spent(CHAIN, safe(), "native".into(), UnixMillis(0))
        .await
        .unwrap();
    assert_eq!(total, U256::from(5));
    assert_eq!(store.address_book(CHAIN).await.unwrap().len(), 1);
}

on_both_backends!(backend: concurrent_releases_of_one_nonce_have_exactly_one_winner);
/// N different transactions for one (chain, Safe, nonce) released at once: exactly one wins,
/// the others see `NonceTaken` naming the winner and end up EXPIRED.
async fn concurrent_releases_of_one_nonce_have_exactly_one_winner<B: Backend>(backend: B) {
    const N: u8 = 16;
    let store = Arc::new(backend.open().await);
    let mut ids = Vec::new();
    for tag in 1..=N {
        let p = proposal(42, tag, 1_000 + i64::from(tag), ProposalState::Approved);
        store
            .insert_proposal(vec![], p.clone(), decision(Outcome::Approved, 1_000))
            .await
            .unwrap();
        ids.push(p.id);
    }
    // A second store handle on the same data (a second replica) races through the database's
    // own locking as well.
    let other = Arc::new(backend.open().await);
    let tasks: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let s = if i % 2 == 0 {
                store.clone()
            } else {
                other.clone()
            };
            let id = id.clone();
            tokio::spawn(async move {
                let release = Release {
                    id,
                    expected_revision: 1,
                    released_at: UnixMillis(2_000),
                    outflows: vec![],
                    caps: vec![],
                    policy_hash: policy(),
                };
                s.release(vec![], release).await
            })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(ReleaseOutcome::Released(res)) => winners.push(res),
            Ok(ReleaseOutcome::OverLimit(o)) => panic!("no caps, yet refused: {o:?}"),
            Err(StoreError::NonceTaken { .. }) => {}
            // A loser that read the proposal after the winner expired it.
            Err(StoreError::InvalidTransition {
                from: ProposalState::Expired,
                ..
            }) => {}
            Err(other) => panic!("unexpected error {other}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one release per nonce");
    let winner = &winners[0];
    let res = store
        .reservation(CHAIN, safe(), U256::from(42))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&res, winner);
    let released = store
        .list(
            ListFilter {
                states: vec![ProposalState::Released],
                ..Default::default()
            },
            100,
            None,
        )
        .await
        .unwrap();
    assert_eq!(released.proposals.len(), 1);
    let expired = store
        .list(
            ListFilter {
                states: vec![ProposalState::Expired],
                ..Default::default()
            },
            100,
            None,
        )
        .await
        .unwrap();
    assert_eq!(expired.proposals.len(), usize::from(N) - 1);
}

on_both_backends!(store: failed_release_rolls_back_its_velocity_update);
/// A release whose nonce insert fails after its velocity update leaves neither behind.
async fn failed_release_rolls_back_its_velocity_update<S: ProposalStore>(store: S) {
    let a = proposal(9, 0xa1, 1_000, ProposalState::Approved);
    let b = proposal(9, 0xb2, 1_001, ProposalState::Approved);
    for p in [&a, &b] {
        store
            .insert_proposal(vec![], p.clone(), decision(Outcome::Approved, 1_000))
            .await
            .unwrap();
    }
    store
        .release(
            vec![],
            Release {
                id: a.id.clone(),
                expected_revision: 1,
                released_at: UnixMillis(2_000),
                outflows: vec![eth(10)],
                caps: vec![],
                policy_hash: policy(),
            },
        )
        .await
        .unwrap();
    // b was expired by a's release; force the race where b's check passed first by releasing a
    // third proposal created after the reservation existed.
    let c = proposal(9, 0xc3, 3_000, ProposalState::Approved);
    store
        .insert_proposal(vec![], c.clone(), decision(Outcome::Approved, 3_000))
        .await
        .unwrap();
    let err = store
        .release(
            vec![],
            Release {
                id: c.id.clone(),
                expected_revision: 1,
                released_at: UnixMillis(3_100),
                outflows: vec![eth(1_000)],
                caps: vec![],
                policy_hash: policy(),
            },
        )
        .await
        .unwrap_err();
    match err {
        StoreError::NonceTaken {
            existing_proposal, ..
        } => assert_eq!(existing_proposal, a.id),
        other => panic!("unexpected {other}"),
    }
    let total = store
        .velocity_spent(CHAIN, safe(), "native".into(), UnixMillis(0))
        .await
        .unwrap();
    assert_eq!(
        total,
        U256::from(10),
        "the failed release's velocity update was rolled back"
    );
    let c_now = store.get(c.id.clone()).await.unwrap().unwrap().record;
    assert_eq!((c_now.state, c_now.revision), (ProposalState::Approved, 1));
    let b_now = store.get(b.id.clone()).await.unwrap().unwrap().record;
    assert_eq!(b_now.state, ProposalState::Expired);
    // Releasing the winner again is idempotent.
    let again = store
        .release(
            vec![],
            Release {
                id: a.id.clone(),
                expected_revision: 2,
                released_at: UnixMillis(9_000),
                outflows: vec![eth(10)],
                caps: vec![],
                policy_hash: policy(),
            },
        )
        .await
        .unwrap();
    let ReleaseOutcome::Released(again) = again else {
        panic!("a second release of a released proposal is idempotent: {again:?}")
    };
    assert_eq!(again.reserved_at, UnixMillis(2_000));
    let total = store
        .velocity_spent(CHAIN, safe(), "native".into(), UnixMillis(0))
        .await
        .unwrap();
    assert_eq!(total, U256::from(10));
}

fn cap(window_ms: i64, max: u64) -> VelocityCap {
    VelocityCap {
        safe: safe(),
        asset: "native".into(),
        window_ms,
        max: U256::from(max),
    }
}

async fn approved<S: ProposalStore>(store: &S, nonce: u64, tag: u8) -> ProposalId {
    let p = proposal(nonce, tag, 1_000 + i64::from(tag), ProposalState::Approved);
    store
        .insert_proposal(vec![], p.clone(), decision(Outcome::Approved, 1_000))
        .await
        .unwrap();
    p.id
}

on_both_backends!(store: rolling_windows_count_events_strictly_inside_them);
/// Windows roll: an event counts while it is younger than the window and stops counting the
/// moment it is exactly one window old; a release that would cross the cap writes nothing.
async fn rolling_windows_count_events_strictly_inside_them<S: ProposalStore>(store: S) {
    const T: i64 = 1_700_000_000_000;
    const DAY: i64 = 86_400_000;
    let a = approved(&store, 1, 0xa1).await;
    let b = approved(&store, 2, 0xb2).await;
    let c = approved(&store, 3, 0xc3).await;
    let release = |id: &signgate_gateway::store::ProposalId, at: i64, amount: u64| Release {
        id: id.clone(),
        expected_revision: 1,
        released_at: UnixMillis(at),
        outflows: vec![eth(amount)],
        caps: vec![cap(DAY, 100)],
        policy_hash: policy(),
    };
    let out = store.release(vec![], release(&a, T, 60)).await.unwrap();
    assert!(matches!(out, ReleaseOutcome::Released(_)), "{out:?}");

    let spent =
        |since: i64| store.velocity_spent(CHAIN, safe(), "native".into(), UnixMillis(since));
    assert_eq!(spent(T - 1).await.unwrap(), U256::from(60));
    assert_eq!(
        spent(T).await.unwrap(),
        U256::ZERO,
        "the lower bound is exclusive"
    );
    assert_eq!(
        store
            .velocity_spent(
                CHAIN,
                safe(),
                "0x0000000000000000000000000000000000000001".into(),
                UnixMillis(0)
            )
            .await
            .unwrap(),
        U256::ZERO,
        "assets are summed separately"
    );

    // 1 ms before a's event leaves the window: 60 + 50 > 100.
    let out = store
        .release(vec![], release(&b, T + DAY - 1, 50))
        .await
        .unwrap();
    let ReleaseOutcome::OverLimit(over) = out else {
        panic!("60 + 50 crosses 100 inside the window: {out:?}")
    };
    assert_eq!((over.spent, over.crossed), (vec![U256::from(60)], 0));
    let b_now = store.get(b.clone()).await.unwrap().unwrap().record;
    assert_eq!((b_now.state, b_now.revision), (ProposalState::Approved, 1));
    assert_eq!(
        store
            .reservation(CHAIN, safe(), U256::from(2))
            .await
            .unwrap(),
        None,
        "a refused release reserves nothing"
    );
    assert_eq!(
        spent(0).await.unwrap(),
        U256::from(60),
        "and records nothing"
    );

    // Exactly one window later a's event no longer counts.
    let out = store
        .release(vec![], release(&b, T + DAY, 50))
        .await
        .unwrap();
    assert!(matches!(out, ReleaseOutcome::Released(_)), "{out:?}");
    // Reaching the cap exactly is allowed: 50 + 50 = 100.
    let out = store
        .release(vec![], release(&c, T + DAY, 50))
        .await
        .unwrap();
    assert!(matches!(out, ReleaseOutcome::Released(_)), "{out:?}");
    assert_eq!(spent(T).await.unwrap(), U256::from(100));
}

on_both_backends!(backend: concurrent_releases_of_different_nonces_never_cross_a_cap);
/// N releases of different nonces race; each amount fits the cap alone, together they exceed
/// it. Exactly the releases that fit go through, and the window never holds more than the cap.
async fn concurrent_releases_of_different_nonces_never_cross_a_cap<B: Backend>(backend: B) {
    const N: u8 = 12;
    let store = Arc::new(backend.open().await);
    let mut ids = Vec::new();
    for tag in 1..=N {
        ids.push(approved(&*store, u64::from(tag), tag).await);
    }
    // A second handle on the same data (a second replica) races through the database's own
    // locking as well.
    let other = Arc::new(backend.open().await);
    let tasks: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let s = if i % 2 == 0 {
                store.clone()
            } else {
                other.clone()
            };
            let release = Release {
                id: id.clone(),
                expected_revision: 1,
                released_at: UnixMillis(5_000),
                outflows: vec![eth(10)],
                caps: vec![cap(3_600_000, 45)],
                policy_hash: policy(),
            };
            tokio::spawn(async move { s.release(vec![], release).await })
        })
        .collect();
    let (mut released, mut refused) = (0, 0);
    for t in tasks {
        match t.await.unwrap().unwrap() {
            ReleaseOutcome::Released(_) => released += 1,
            ReleaseOutcome::OverLimit(over) => {
                assert!(over.spent[0] + U256::from(10) > U256::from(45), "{over:?}");
                refused += 1;
            }
        }
    }
    assert_eq!((released, refused), (4, usize::from(N) - 4));
    let spent = store
        .velocity_spent(CHAIN, safe(), "native".into(), UnixMillis(0))
        .await
        .unwrap();
    assert_eq!(spent, U256::from(40));
    let page = store
        .list(
            ListFilter {
                states: vec![ProposalState::Released],
                ..Default::default()
            },
            100,
            None,
        )
        .await
        .unwrap();
    assert_eq!(page.proposals.len(), 4);
}

on_both_backends!(store: failed_approval_rolls_back_its_decision);
/// A duplicate approval fails after its decision row was written; the decision must vanish.
async fn failed_approval_rolls_back_its_decision<S: ProposalStore>(store: S) {
    let p = proposal(3, 0x33, 1_000, ProposalState::NeedsApprovals);
    store
        .insert_proposal(vec![], p.clone(), decision(Outcome::NeedsApprovals, 1_000))
        .await
        .unwrap();
    let rec = store
        .add_approval(
            vec![],
            p.id.clone(),
            1,
            approval(7, 1_100),
            decision(Outcome::NeedsApprovals, 1_100),
            ProposalState::NeedsApprovals,
        )
        .await
        .unwrap();
    let err = store
        .add_approval(
            vec![],
            p.id.clone(),
            rec.revision,
            approval(7, 1_200),
            decision(Outcome::Approved, 1_200),
            ProposalState::Approved,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::DuplicateApproval { .. }), "{err}");
    let stored = store.get(p.id.clone()).await.unwrap().unwrap();
    assert_eq!(
        stored.decision.unwrap().seq,
        2,
        "the failed call's decision is not visible"
    );
    assert_eq!(stored.record.state, ProposalState::NeedsApprovals);
    assert_eq!(stored.record.revision, rec.revision);
    assert_eq!(stored.approvals.len(), 1);
}

on_both_backends!(store: stale_revisions_and_terminal_states_are_refused);
async fn stale_revisions_and_terminal_states_are_refused<S: ProposalStore>(store: S) {
    let p = proposal(4, 0x44, 1_000, ProposalState::NeedsApprovals);
    store
        .insert_proposal(vec![], p.clone(), decision(Outcome::NeedsApprovals, 1_000))
        .await
        .unwrap();
    let err = store
        .add_approval(
            vec![],
            p.id.clone(),
            5,
            approval(1, 1_100),
            decision(Outcome::Approved, 1_100),
            ProposalState::Approved,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::StaleRevision {
                expected: 5,
                actual: 1,
                ..
            }
        ),
        "{err}"
    );
    let err = store
        .release(
            vec![],
            Release {
                id: p.id.clone(),
                expected_revision: 1,
                released_at: UnixMillis(1),
                outflows: vec![],
                caps: vec![],
                policy_hash: policy(),
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        StoreError::InvalidTransition {
            from: ProposalState::NeedsApprovals,
            ..
        }
    ));
    let cancelled = store
        .cancel(
            vec![],
            p.id.clone(),
            "wrong amount".into(),
            UnixMillis(1_500),
            policy(),
        )
        .await
        .unwrap();
    assert_eq!(cancelled.state, ProposalState::Cancelled);
    assert_eq!(cancelled.cancel_reason.as_deref(), Some("wrong amount"));
    let err = store
        .cancel(
            vec![],
            p.id.clone(),
            "again".into(),
            UnixMillis(1_600),
            policy(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidTransition { .. }));
    let missing = ProposalId::new("p-missing");
    assert!(matches!(
        store
            .cancel(vec![], missing, String::new(), UnixMillis(0), policy())
            .await,
        Err(StoreError::NotFound { .. })
    ));
}

on_both_backends!(store: a_cancelled_transaction_can_be_proposed_again_under_a_new_id);
/// One transaction, several proposals: a cancelled one does not hold its transaction, the
/// next proposal of it gets its own id; while one is open, another id for the same
/// transaction finds it instead of storing a second.
async fn a_cancelled_transaction_can_be_proposed_again_under_a_new_id<S: ProposalStore>(store: S) {
    let first = proposal(3, 0x33, 1_000, ProposalState::NeedsApprovals);
    let mut second = first.clone();
    second.id = ProposalId::derive_nth(first.chain_id, first.safe, first.safe_tx_hash, 1);
    assert_ne!(second.id, first.id);
    store
        .insert_proposal(
            vec![],
            first.clone(),
            decision(Outcome::NeedsApprovals, 1_000),
        )
        .await
        .unwrap();
    // Open: the second id finds the first.
    let Inserted::Existing(found) = store
        .insert_proposal(
            vec![],
            second.clone(),
            decision(Outcome::NeedsApprovals, 1_100),
        )
        .await
        .unwrap()
    else {
        panic!("a second open proposal of one transaction was stored");
    };
    assert_eq!(found.id, first.id);
    store
        .cancel(
            vec![],
            first.id.clone(),
            "typo".into(),
            UnixMillis(1_200),
            policy(),
        )
        .await
        .unwrap();
    let Inserted::Created(created) = store
        .insert_proposal(
            vec![],
            second.clone(),
            decision(Outcome::NeedsApprovals, 1_300),
        )
        .await
        .unwrap()
    else {
        panic!("the cancelled proposal kept its transaction");
    };
    assert_eq!(created.id, second.id);
    assert_eq!(
        store
            .get(first.id.clone())
            .await
            .unwrap()
            .unwrap()
            .record
            .state,
        ProposalState::Cancelled
    );
}

on_both_backends!(store: listing_filters_and_pages_newest_first);
async fn listing_filters_and_pages_newest_first<S: ProposalStore>(store: S) {
    for tag in 1..=5u8 {
        let state = if tag % 2 == 0 {
            ProposalState::Denied
        } else {
            ProposalState::NeedsApprovals
        };
        let p = proposal(u64::from(tag), tag, 1_000 * i64::from(tag), state);
        store
            .insert_proposal(vec![], p, decision(Outcome::NeedsApprovals, 0))
            .await
            .unwrap();
    }
    let page1 = store.list(ListFilter::default(), 2, None).await.unwrap();
    let nonces: Vec<_> = page1
        .proposals
        .iter()
        .map(|p| p.nonce.to::<u64>())
        .collect();
    assert_eq!(nonces, vec![5, 4]);
    let page2 = store
        .list(ListFilter::default(), 2, page1.next.clone())
        .await
        .unwrap();
    let page3 = store
        .list(ListFilter::default(), 2, page2.next.clone())
        .await
        .unwrap();
    assert_eq!(page3.proposals.len(), 1);
    assert!(page3.next.is_none());
    let open_only = ListFilter {
        states: vec![ProposalState::NeedsApprovals],
        created_at_or_after: Some(UnixMillis(2_000)),
        safe: Some(safe()),
        chain_id: Some(CHAIN),
        ..Default::default()
    };
    let listed = store.list(open_only, 10, None).await.unwrap();
    let nonces: Vec<_> = listed
        .proposals
        .iter()
        .map(|p| p.nonce.to::<u64>())
        .collect();
    assert_eq!(nonces, vec![5, 3]);
    let other_safe = ListFilter {
        safe: Some(Address::repeat_byte(1)),
        ..Default::default()
    };
    assert!(
        store
            .list(other_safe, 10, None)
            .await
            .unwrap()
            .proposals
            .is_empty()
    );
    let bad = signgate_gateway::store::PageToken("nonsense".into());
    assert!(matches!(
        store.list(ListFilter::default(), 2, Some(bad)).await,
        Err(StoreError::BadPageToken)
    ));
}

on_both_backends!(store: changes_are_announced_after_commit);
async fn changes_are_announced_after_commit<S: ProposalStore>(store: S) {
    let mut rx = store.subscribe();
    let p = proposal(8, 0x88, 1_000, ProposalState::NeedsApprovals);
    store
        .insert_proposal(vec![], p.clone(), decision(Outcome::NeedsApprovals, 1_000))
        .await
        .unwrap();
    store
        .cancel(
            vec![],
            p.id.clone(),
            "x".into(),
            UnixMillis(2_000),
            policy(),
        )
        .await
        .unwrap();
    let first = rx.recv().await.unwrap();
    let second = rx.recv().await.unwrap();
    assert_eq!(
        (first.revision, first.state),
        (1, ProposalState::NeedsApprovals)
    );
    assert_eq!(
        (second.revision, second.state),
        (2, ProposalState::Cancelled)
    );
}

/// SQLite only: a file path.
#[tokio::test]
async fn an_unwritable_location_fails_to_open() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"x").unwrap();
    let err = SqliteStore::open(blocker.join("db.sqlite3"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
}

/// SQLite only (an upgrade of a SQLite file): a version-1 database's grid totals are carried into events dated no earlier than any
/// release they hold could have happened (the Safe's latest reservation in their window), so
/// the upgrade never forgets an amount that still counts.
#[tokio::test]
async fn upgrade_carries_grid_totals_forward_as_events() {
    use signgate_gateway::store::schema::{BOOTSTRAP, Dialect, MIGRATIONS};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.sqlite3");
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(BOOTSTRAP).unwrap();
        c.execute_batch(&MIGRATIONS[0].render(Dialect::Sqlite))
            .unwrap();
        c.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (1, 0)",
            [],
        )
        .unwrap();
        let safe = format!("{:#x}", safe());
        c.execute(
            "INSERT INTO proposals (id, chain_id, safe, nonce, safe_tx_hash, initiator, state, \
             revision, created_at, updated_at, view) \
             VALUES ('p-1', 1, ?1, '0', '0x00', 'alice', 'released', 2, 0, 0, ?2)",
            rusqlite::params![&safe, legacy_view(0)],
        )
        .unwrap();
        c.execute(
            "INSERT INTO nonce_reservations VALUES (1, ?1, '0', '0x00', 'p-1', 90000000)",
            [&safe],
        )
        .unwrap();
        c.execute(
            "INSERT INTO velocity_totals VALUES (1, ?1, 'native', 86400000, '7')",
            [&safe],
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path).await.unwrap();
    let spent =
        |since: i64| store.velocity_spent(CHAIN, safe(), "native".into(), UnixMillis(since));
    assert_eq!(spent(90_000_000 - 1).await.unwrap(), U256::from(7));
    assert_eq!(spent(90_000_000).await.unwrap(), U256::ZERO);
}

/// A database at schema version 2, as a gateway before typed records left it.
fn schema_2(path: &std::path::Path) -> rusqlite::Connection {
    use signgate_gateway::store::schema::{BOOTSTRAP, Dialect, MIGRATIONS};
    let c = rusqlite::Connection::open(path).unwrap();
    c.execute_batch(BOOTSTRAP).unwrap();
    for m in MIGRATIONS.iter().filter(|m| m.version <= 2) {
        c.execute_batch(&m.render(Dialect::Sqlite)).unwrap();
        c.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, 0)",
            [m.version],
        )
        .unwrap();
    }
    c
}

/// A `signgate.v1.Proposal` as schema 2 stored it.
fn legacy_view(nonce: u64) -> Vec<u8> {
    use prost::Message as _;
    use signgate_proto::v1 as pb;
    pb::Proposal {
        safe_version: "1.3.0".into(),
        transaction: Some(pb::SafeTransaction {
            to: format!("{:#x}", Address::repeat_byte(0x77)),
            value: "5".into(),
            nonce: nonce.to_string(),
            ..Default::default()
        }),
        intent: Some(pb::DeclaredIntent {
            description: "pay".into(),
            recipient: format!("{:#x}", Address::repeat_byte(0x77)),
            asset: "USDC".into(),
            amount: "5".into(),
        }),
        supplied_signatures: vec![pb::SuppliedSignature {
            index: 0,
            signer: format!("{:#x}", Address::repeat_byte(0x01)),
            kind: "ecdsa".into(),
            valid: true,
            problem: String::new(),
            signature: vec![9; 65],
        }],
        actions: vec![pb::DecodedAction {
            description: "transfer 5 wei".into(),
            ..Default::default()
        }],
        ..Default::default()
    }
    .encode_to_vec()
}

/// SQLite only: an upgrade of a SQLite file.
#[tokio::test]
async fn schema_3_turns_stored_views_into_typed_records() {
    use signgate_gateway::domain::{DecisionDetail, IntentAsset, ProposalAnalysis};
    use signgate_simulator::{SafeVersion, signature::SignatureKind};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v2.sqlite3");
    let view = legacy_view(4);
    {
        let c = schema_2(&path);
        c.execute(
            "INSERT INTO proposals (id, chain_id, safe, nonce, safe_tx_hash, initiator, state, \
             revision, created_at, updated_at, view) \
             VALUES ('p-7', 1, ?1, '4', ?2, 'alice', 'needs_approvals', 1, 5, 5, ?3)",
            rusqlite::params![
                format!("{:#x}", safe()),
                format!("{:#x}", alloy_primitives::B256::repeat_byte(7)),
                view
            ],
        )
        .unwrap();
        c.execute(
            "INSERT INTO decisions (proposal_id, seq, outcome, policy_hash, decided_at, detail) \
             VALUES ('p-7', 1, 'needs_approvals', '0xpolicy', 5, x'0a00')",
            [],
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path).await.unwrap();
    let stored = store.get(ProposalId::new("p-7")).await.unwrap().unwrap();
    let body = &stored.record.body;
    assert_eq!(body.version, SafeVersion::V1_3_0);
    assert_eq!(body.tx.to, Address::repeat_byte(0x77));
    assert_eq!(body.tx.value, U256::from(5));
    assert_eq!(body.tx.nonce, U256::from(4));
    // The asset was never checked at submission: as before, an unreadable one declares no
    // transfer; the description is kept.
    let intent = body.intent.as_ref().unwrap();
    assert_eq!(intent.description, "pay");
    assert_eq!(intent.recipient, None);
    assert_ne!(intent.asset, Some(IntentAsset::Native));
    assert_eq!(body.supplied.len(), 1);
    assert_eq!(body.supplied[0].kind, Some(SignatureKind::Ecdsa));
    assert_eq!(body.supplied[0].signer, Some(Address::repeat_byte(0x01)));
    assert_eq!(body.analysis, ProposalAnalysis::Legacy(view.clone()));
    assert_eq!(
        stored.decision.unwrap().detail,
        DecisionDetail::Legacy(vec![0x0a, 0x00])
    );
    drop(store);
    // Opening again finds nothing left to convert and the same record.
    let again = SqliteStore::open(&path).await.unwrap();
    let reread = again.get(ProposalId::new("p-7")).await.unwrap().unwrap();
    assert_eq!(&reread.record.body, body);
}

/// SQLite only: an upgrade of a SQLite file.
#[tokio::test]
async fn schema_3_refuses_to_start_on_a_view_it_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.sqlite3");
    {
        let c = schema_2(&path);
        c.execute(
            "INSERT INTO proposals (id, chain_id, safe, nonce, safe_tx_hash, initiator, state, \
             revision, created_at, updated_at, view) \
             VALUES ('p-8', 1, '0x00', '0', '0x00', 'alice', 'denied', 1, 0, 0, x'ff')",
            [],
        )
        .unwrap();
    }
    let err = SqliteStore::open(&path).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt(m) if m.contains("p-8")),
        "{err}"
    );
}

on_both_backends!(store: a_legacy_safe_has_one_release_per_nonce_across_chains);
/// Issue 13 item 8: a Safe before 1.3.0 hashes without the chain id, so its signature for one
/// nonce is valid on every chain where its address exists. Two different transactions for one
/// nonce of such a Safe on two chains cannot both be released; a 1.3.0+ Safe at one address on
/// two chains keeps a nonce per chain.
async fn a_legacy_safe_has_one_release_per_nonce_across_chains<S: ProposalStore>(store: S) {
    let on = |chain: u64, tag: u8, version: signgate_simulator::SafeVersion| {
        let mut p = proposal(9, tag, 1_000, ProposalState::Approved);
        p.chain_id = chain;
        p.id = ProposalId::derive(chain, safe(), p.safe_tx_hash);
        p.body.version = version;
        p
    };
    let release = |id| Release {
        id,
        expected_revision: 1,
        released_at: UnixMillis(2_000),
        outflows: vec![],
        caps: vec![],
        policy_hash: policy(),
    };
    let legacy = signgate_simulator::SafeVersion::V1_1_1;
    let (mainnet, polygon) = (on(1, 0x31, legacy), on(137, 0x32, legacy));
    for p in [&mainnet, &polygon] {
        store
            .insert_proposal(vec![], p.clone(), decision(Outcome::Approved, 1_000))
            .await
            .unwrap();
    }
    let first = store
        .release(vec![], release(mainnet.id.clone()))
        .await
        .unwrap();
    assert!(matches!(first, ReleaseOutcome::Released(_)), "{first:?}");
    let second = store.release(vec![], release(polygon.id.clone())).await;
    assert!(
        matches!(
            second,
            Err(StoreError::NonceTaken { .. })
                | Err(StoreError::InvalidTransition {
                    from: ProposalState::Expired,
                    ..
                })
        ),
        "{second:?}"
    );
    let polygon_now = store.get(polygon.id.clone()).await.unwrap().unwrap();
    assert_eq!(polygon_now.record.state, ProposalState::Expired);

    // A 1.4.1 Safe at the same address on two chains: one nonce per chain.
    let modern = signgate_simulator::SafeVersion::V1_4_1;
    let (a, b) = (on(10, 0x41, modern), on(8453, 0x42, modern));
    for p in [&a, &b] {
        let mut p = p.clone();
        p.nonce = U256::from(11);
        p.body.tx.nonce = U256::from(11);
        store
            .insert_proposal(vec![], p, decision(Outcome::Approved, 1_000))
            .await
            .unwrap();
    }
    for p in [&a, &b] {
        let r = store.release(vec![], release(p.id.clone())).await.unwrap();
        assert!(matches!(r, ReleaseOutcome::Released(_)), "{r:?}");
    }
}

on_both_backends!(backend: a_change_and_its_records_commit_together_or_not_at_all);
/// A change and its audit records commit in one transaction: both or neither. A change the
/// store refuses leaves no record; a store with no log attached stores nothing that comes with
/// records; only the log of the store's own database can be attached.
async fn a_change_and_its_records_commit_together_or_not_at_all<B: Backend>(backend: B) {
    use signgate_audit::{AuditEvent, record::ServerStopped};
    let event = |why: &str| {
        vec![AuditEvent::ServerStopped(ServerStopped {
            reason: why.to_owned(),
        })]
    };
    let store = backend.open().await;

    // No log attached: refused, nothing stored.
    let p = proposal(4, 0x44, 1_000, ProposalState::NeedsApprovals);
    let err = store
        .insert_proposal(
            event("unattached"),
            p.clone(),
            decision(Outcome::NeedsApprovals, 1_000),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unrecorded(_)), "{err}");
    assert!(store.get(p.id.clone()).await.unwrap().is_none());

    let elsewhere = backend.foreign_log().await;
    assert!(B::attach(&store, Arc::new(elsewhere)).is_err());
    let log = Arc::new(backend.log(&store, 5).await);
    B::attach(&store, log.clone()).unwrap();

    store
        .insert_proposal(
            event("submitted"),
            p.clone(),
            decision(Outcome::NeedsApprovals, 1_000),
        )
        .await
        .unwrap();
    assert_eq!(log.head().unwrap().0, 1);
    // The same submission again (a client's retry racing its first try): answered with the
    // stored proposal, and nothing recorded, so the log keeps one submission per proposal.
    let again = store
        .insert_proposal(
            event("submitted again"),
            p.clone(),
            decision(Outcome::Denied, 1_050),
        )
        .await
        .unwrap();
    assert!(matches!(again, Inserted::Existing(_)), "{again:?}");
    assert_eq!(
        log.head().unwrap().0,
        1,
        "an identical submission stored nothing but left a record"
    );
    // A stale revision: the change is refused and its records with it.
    let err = store
        .add_approval(
            event("approval"),
            p.id.clone(),
            7,
            approval(1, 1_100),
            decision(Outcome::NeedsApprovals, 1_100),
            ProposalState::NeedsApprovals,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::StaleRevision { .. }), "{err}");
    assert_eq!(log.head().unwrap().0, 1, "a refused change left a record");
    store
        .add_approval(
            event("approval"),
            p.id.clone(),
            1,
            approval(1, 1_100),
            decision(Outcome::NeedsApprovals, 1_100),
            ProposalState::NeedsApprovals,
        )
        .await
        .unwrap();
    assert_eq!(log.head().unwrap().0, 2);
    // The log's own appends and the store's interleave on one tree.
    log.append(event("between").remove(0)).unwrap();
    store
        .cancel(
            event("cancelled"),
            p.id.clone(),
            "x".into(),
            UnixMillis(1_200),
            policy(),
        )
        .await
        .unwrap();
    assert_eq!(log.head().unwrap().0, 4);
    drop(log);
    let reopened = backend.log(&store, 5).await;
    assert_eq!(reopened.head().unwrap().0, 4, "every record re-verifies");
}

on_both_backends!(backend: concurrent_changes_commit_together_and_a_refused_one_alone_rolls_back);
/// Many changes at once (SQLite: group commit, transactions shared, each change in a savepoint
/// of its own; PostgreSQL: a transaction each, serialised on the log's head): the refused ones
/// (a stale revision) leave nothing, records included, and every accepted one is stored with
/// exactly its records, in a log that re-verifies.
async fn concurrent_changes_commit_together_and_a_refused_one_alone_rolls_back<B: Backend>(
    backend: B,
) {
    use signgate_audit::{AuditEvent, record::ServerStopped};
    let event = |why: String| vec![AuditEvent::ServerStopped(ServerStopped { reason: why })];
    let store = backend.open().await;
    let log = Arc::new(backend.log(&store, 6).await);
    B::attach(&store, log.clone()).unwrap();
    let mut tasks = Vec::new();
    for i in 0..64u8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let p = proposal(u64::from(i), i, 1_000, ProposalState::NeedsApprovals);
            store
                .insert_proposal(
                    event(format!("submitted {i}")),
                    p.clone(),
                    decision(Outcome::NeedsApprovals, 1_000),
                )
                .await
                .unwrap();
            // Every other one approves at a stale revision: refused, no record.
            let revision = if i % 2 == 0 { 1 } else { 9 };
            store
                .add_approval(
                    event(format!("approval {i}")),
                    p.id.clone(),
                    revision,
                    approval(1, 1_100),
                    decision(Outcome::NeedsApprovals, 1_100),
                    ProposalState::NeedsApprovals,
                )
                .await
                .is_ok()
        }));
    }
    let mut accepted = 0u64;
    for t in tasks {
        if t.await.unwrap() {
            accepted += 1;
        }
    }
    assert_eq!(accepted, 32);
    assert_eq!(log.head().unwrap().0, 64 + accepted);
    drop(log);
    let reopened = backend.log(&store, 6).await;
    assert_eq!(
        reopened.head().unwrap().0,
        96,
        "every record re-verifies in order"
    );
    let reasons: Vec<String> = reopened
        .reader()
        .unwrap()
        .leaves()
        .unwrap()
        .iter()
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect();
    for i in 0..64u8 {
        let approvals = reasons
            .iter()
            .filter(|r| r.contains(&format!("\"approval {i}\"")))
            .count();
        if i % 2 == 0 {
            assert_eq!(approvals, 1, "accepted approval {i} has one record");
        } else {
            assert_eq!(approvals, 0, "refused approval {i} left its record");
        }
    }
}

on_both_backends!(backend: a_policy_applied_while_changes_commit_neither_fails);
/// A policy put in force through the log while changes with records commit under it: none of
/// them fails. On PostgreSQL an application holds the log's head, then writes the policy in
/// force; a change that checked the policy in force before taking the head waited on it in a
/// cycle, and the deadlock failed one side (the change as `Unavailable`, or the application).
async fn a_policy_applied_while_changes_commit_neither_fails<B: Backend>(backend: B) {
    use signgate_audit::{
        AuditEvent,
        record::{Caller, PolicyApplied, ServerStopped},
    };
    use signgate_policy::PolicyHash;
    const ROUNDS: u64 = 24;
    let hash = PolicyHash(alloy_primitives::B256::repeat_byte(0x99));
    // Each application replaces the policy in force: the first one the fixtures' policy
    // (named by no hash: unchecked), every later one the one before it.
    let applied = move |version: u64| {
        AuditEvent::PolicyApplied(PolicyApplied {
            policy_hash: hash,
            name: "test".into(),
            previous: (version > 2).then_some(hash),
            admin_signatures: vec![],
            caller: Caller {
                identity: "test".into(),
                token: None,
            },
            version,
            source: None,
            migrated: false,
        })
    };
    let store = backend.open().await;
    let log = Arc::new(backend.log(&store, 5).await);
    B::attach(&store, log.clone()).unwrap();
    log.append(applied(2)).unwrap();
    let under = |at: i64| {
        let mut d = decision(Outcome::NeedsApprovals, at);
        d.policy_hash = hash.to_string();
        d
    };
    let applying = {
        let log = log.clone();
        tokio::task::spawn_blocking(move || {
            for v in 0..ROUNDS {
                log.append(applied(3 + v)).unwrap();
            }
        })
    };
    let mut tasks = Vec::new();
    for i in 0..ROUNDS {
        let store = store.clone();
        let d = under(1_000);
        tasks.push(tokio::spawn(async move {
            let tag = u8::try_from(i + 1).unwrap();
            let p = proposal(i, tag, 1_000, ProposalState::NeedsApprovals);
            let record = vec![AuditEvent::ServerStopped(ServerStopped {
                reason: format!("submitted {i}"),
            })];
            store.insert_proposal(record, p, d).await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    applying.await.unwrap();
    assert_eq!(log.head().unwrap().0, 1 + 2 * ROUNDS);
}

on_both_backends!(backend: concurrent_submissions_of_one_transaction_store_one_proposal);
/// The same submission through two handles at once (a client's retries reaching two replicas),
/// and another id for the same transaction among them: one proposal is stored, every other call
/// is answered with it.
async fn concurrent_submissions_of_one_transaction_store_one_proposal<B: Backend>(backend: B) {
    let (store, other) = (backend.open().await, backend.open().await);
    let p = proposal(5, 0x55, 1_000, ProposalState::NeedsApprovals);
    let mut tasks = Vec::new();
    for i in 0..16u32 {
        let mut p = p.clone();
        if i % 4 == 3 {
            p.id = ProposalId::derive_nth(p.chain_id, p.safe, p.safe_tx_hash, 1);
        }
        let d = decision(Outcome::NeedsApprovals, 1_000);
        if i % 2 == 0 {
            let s = store.clone();
            tasks.push(tokio::spawn(async move {
                s.insert_proposal(vec![], p, d).await
            }));
        } else {
            let s = other.clone();
            tasks.push(tokio::spawn(async move {
                s.insert_proposal(vec![], p, d).await
            }));
        }
    }
    let mut created = Vec::new();
    let mut found = Vec::new();
    for t in tasks {
        match t.await.unwrap().unwrap() {
            Inserted::Created(r) => created.push(r),
            Inserted::Existing(r) => found.push(r),
        }
    }
    assert_eq!(created.len(), 1, "one proposal per transaction");
    assert!(found.iter().all(|r| *r == created[0]), "{found:?}");
    let all = store.list(ListFilter::default(), 100, None).await.unwrap();
    assert_eq!(all.proposals, created);
}

on_both_backends!(store: a_re_evaluation_needs_the_current_revision);
/// A re-evaluation is stored with its decision at the revision it was made against, and refused
/// at a stale one or on a terminal proposal.
async fn a_re_evaluation_needs_the_current_revision<S: ProposalStore>(store: S) {
    let p = proposal(6, 0x66, 1_000, ProposalState::NeedsApprovals);
    store
        .insert_proposal(vec![], p.clone(), decision(Outcome::NeedsApprovals, 1_000))
        .await
        .unwrap();
    let rec = store
        .record_decision(
            vec![],
            p.id.clone(),
            1,
            decision(Outcome::Approved, 1_500),
            ProposalState::Approved,
        )
        .await
        .unwrap();
    assert_eq!(
        (rec.state, rec.revision, rec.updated_at),
        (ProposalState::Approved, 2, UnixMillis(1_500))
    );
    let stored = store.get(p.id.clone()).await.unwrap().unwrap();
    assert_eq!(stored.record, rec);
    let d = stored.decision.unwrap();
    assert_eq!((d.seq, d.outcome), (2, Outcome::Approved));
    let err = store
        .record_decision(
            vec![],
            p.id.clone(),
            1,
            decision(Outcome::Denied, 1_600),
            ProposalState::Denied,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::StaleRevision {
                expected: 1,
                actual: 2,
                ..
            }
        ),
        "{err}"
    );
    store
        .cancel(
            vec![],
            p.id.clone(),
            "x".into(),
            UnixMillis(1_700),
            policy(),
        )
        .await
        .unwrap();
    let err = store
        .record_decision(
            vec![],
            p.id.clone(),
            3,
            decision(Outcome::Approved, 1_800),
            ProposalState::Approved,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidTransition { .. }), "{err}");
    let d = store.get(p.id.clone()).await.unwrap().unwrap().decision;
    assert_eq!(
        d.unwrap().seq,
        2,
        "refused re-evaluations stored no decision"
    );
}

/// PostgreSQL only (replicas share one policy in force; the embedded store has one process and
/// no such row): a change decided under another policy than the one in force is refused and
/// writes nothing, a release included.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_refuses_a_change_decided_under_a_superseded_policy() {
    let backend = Postgres::new();
    let store = backend.open().await;
    let stale = |outcome, at| {
        let mut d = decision(outcome, at);
        d.policy_hash = "0xsuperseded".into();
        d
    };
    let p = proposal(8, 0x88, 1_000, ProposalState::Approved);
    let err = store
        .insert_proposal(vec![], p.clone(), stale(Outcome::Approved, 1_000))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::PolicySuperseded { in_force, .. } if *in_force == policy()),
        "{err}"
    );
    assert!(store.get(p.id.clone()).await.unwrap().is_none());
    store
        .insert_proposal(vec![], p.clone(), decision(Outcome::Approved, 1_000))
        .await
        .unwrap();
    let release = Release {
        id: p.id.clone(),
        expected_revision: 1,
        released_at: UnixMillis(2_000),
        outflows: vec![eth(3)],
        caps: vec![],
        policy_hash: "0xsuperseded".into(),
    };
    let err = store.release(vec![], release).await.unwrap_err();
    assert!(matches!(err, StoreError::PolicySuperseded { .. }), "{err}");
    assert_eq!(
        store
            .reservation(CHAIN, safe(), U256::from(8))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .velocity_spent(CHAIN, safe(), "native".into(), UnixMillis(0))
            .await
            .unwrap(),
        U256::ZERO
    );
    let err = store
        .record_decision(
            vec![],
            p.id.clone(),
            1,
            stale(Outcome::Denied, 2_100),
            ProposalState::Denied,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::PolicySuperseded { .. }), "{err}");
    // A cancellation allowed by a lagging replica's older `[cancellation]` rule: refused too.
    let err = store
        .cancel(
            vec![],
            p.id.clone(),
            "by a role the policy in force took away".into(),
            UnixMillis(2_200),
            "0xsuperseded".into(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::PolicySuperseded { .. }), "{err}");
    let now = store.get(p.id.clone()).await.unwrap().unwrap();
    assert_eq!(
        (now.record.state, now.record.revision),
        (ProposalState::Approved, 1)
    );
    assert_eq!(now.decision.unwrap().seq, 1);
}

on_both_backends!(backend: a_start_verifies_the_tail_after_the_newest_checkpoint_and_offline_verification_every_record);
/// Issue 17: a start verifies the log from its newest signed checkpoint (its signature, the
/// tree stored with it, the records after it), not by re-hashing every record. A record edited
/// after that checkpoint is refused at start; one edited before it is what the offline verifier
/// (`signgate audit verify`: every record against every checkpoint) catches; a tree stored with
/// the checkpoint that does not match it is refused at start.
async fn a_start_verifies_the_tail_after_the_newest_checkpoint_and_offline_verification_every_record<
    B: Backend,
>(
    backend: B,
) {
    use signgate_audit::{
        AuditEvent, export::export_jsonl, record::ServerStopped, verify::verify_export,
    };
    let event = |i: u64| {
        AuditEvent::ServerStopped(ServerStopped {
            reason: format!("record {i}"),
        })
    };
    let offline = |log: &AuditLog| {
        let reader = log.reader().unwrap();
        let (leaves, notes) = (reader.leaves().unwrap(), reader.checkpoints().unwrap());
        let mut export = Vec::new();
        export_jsonl(&leaves, &notes, false, &mut export).unwrap();
        let named: Vec<(String, String)> = notes
            .into_iter()
            .enumerate()
            .map(|(i, n)| (format!("checkpoint-{i}"), n))
            .collect();
        verify_export(&export, &named, &log.public_key())
    };
    let store = backend.open().await;
    let log = backend.log(&store, 5).await;
    let base = log.head().unwrap().0;
    for i in 0..6 {
        log.append(event(i)).unwrap();
    }
    let checkpoint = log.checkpoint().unwrap();
    assert_eq!(checkpoint.checkpoint.size, base + 6);
    for i in 6..9 {
        log.append(event(i)).unwrap();
    }
    let head = log.head().unwrap();
    assert!(offline(&log).passed());
    drop(log);

    // Before the checkpoint: the start trusts the signed checkpoint; the offline verifier,
    // re-hashing every record, does not.
    let before = base + 2;
    backend
        .tamper(
            &store,
            &format!(
                "UPDATE audit_leaves SET data = {} WHERE idx = {before}",
                B::rewritten("record ", "recorD ")
            ),
        )
        .await;
    let reopened = backend.log(&store, 5).await;
    assert_eq!(reopened.head().unwrap(), head);
    let verdict = offline(&reopened);
    assert!(
        !verdict.passed(),
        "an edited record before the checkpoint went unnoticed offline"
    );
    drop(reopened);

    // After it: refused at start, at that record.
    let after = base + 7;
    backend
        .tamper(
            &store,
            &format!("UPDATE audit_leaves SET data = substr(data, 2) WHERE idx = {after}"),
        )
        .await;
    let err = backend.try_log(&store, 5).await.unwrap_err();
    assert!(
        matches!(err, AuditError::Corrupt { index, .. } if index == after),
        "{err}"
    );

    // The tree stored with the checkpoint, cut short: refused at start.
    let size = checkpoint.checkpoint.size;
    backend
        .tamper(
            &store,
            &format!(
                "UPDATE audit_frontiers SET frontier = substr(frontier, 1, length(frontier) - 1) \
                 WHERE size = {size}"
            ),
        )
        .await;
    let err = backend.try_log(&store, 5).await.unwrap_err();
    assert!(
        matches!(err, AuditError::Corrupt { index, .. } if index == size),
        "{err}"
    );
}
