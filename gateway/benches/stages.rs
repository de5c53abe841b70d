//! What one `SubmitProposal` costs, stage by stage (issue 17), on the embedded demo: the same
//! request `signgate-load` sends (a distinct demo-token transfer signed by the demo initiator),
//! through each stage the pipeline runs, so that the stages can be added up and set beside the
//! whole call in process (`submit_in_process`: every stage, the store reads and the durable
//! commit, no gRPC) and beside `signgate-load`'s end-to-end figure.
//!
//! Stages, in the pipeline's order: `envelope_verify` (ed25519 over the payload, protobuf
//! decode, field checks), `decode` (calldata into actions, safeTxHash), `simulate` (revm on the
//! demo snapshot, called directly) beside `simulate_on_blocking_pool` (the same through the
//! pipeline's blocking-pool trip and deadline), `screen` (the sanctions lists), `evaluate`
//! (evidence and the policy's assessment), `audit_records` (the submission's two records
//! built and canonically encoded), `store_commit_sqlite` (the proposal, its decision and its
//! two records in one durable SQLite transaction: one `fsync`), `store_commit_postgres` (the
//! same on PostgreSQL at 127.0.0.1:5432 when a server answers), `audit_append` (the two
//! records alone, durably), `store_read` (the stored proposal read back) and `render` (the API
//! view).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "bench setup: fail loudly"
)]

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use alloy_primitives::{Address, U256, address};
use alloy_sol_types::SolCall as _;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use ed25519_dalek::SigningKey;
use prost::Message as _;
use signgate_audit::{
    AuditEvent,
    record::{AuditRecord, DecisionTrigger, RECORD_VERSION},
};
use signgate_chain::{SnapshotProvider, StateProvider};
use signgate_gateway::{
    api::{requests, view},
    audit::AuditLog,
    clock,
    config::{GatewayConfig, PostgresSettings},
    domain::{
        Caller, ProposalAnalysis, ProposalBody, Submission, TxSource, wire::safe_tx_to_proto,
    },
    pipeline::{
        self, DecisionPipeline,
        analysis::{self, Analysis},
        evidence::{self, ProposalFacts},
        records,
        setup::{self, Configured},
    },
    store::{NewProposal, ProposalId, ProposalStore, SqliteStore, postgres::PgStore},
};
use signgate_policy::{Policy, operators::OperatorId};
use signgate_proto::{
    envelope::{self, SUBMISSION_CONTEXT},
    prost_types::Timestamp,
    v1 as pb,
};
use signgate_simulator::{
    SafeContext, SafeTx,
    abi::IERC20,
    evm::{SimulationOptions, Snapshot, simulate_with},
    render::Descriptors,
};

const DEMO_SAFE: Address = address!("0x5afe5afe5afe5afe5afe5afe5afe5afe5afe5afe");
const DEMO_TOKEN: Address = address!("0x7070707070707070707070707070707070707070");
const PAYEE: Address = address!("0xC0FFEE254729296a45a3885639AC7E10F9d54979");
const DEMO_OPERATORS: &str = include_str!("../config/demo/keys/operators.toml");

fn initiator_key() -> SigningKey {
    let table: toml::Table = toml::from_str(DEMO_OPERATORS).unwrap();
    let seed = hex::decode(table["alice"].as_str().unwrap()).unwrap();
    SigningKey::from_bytes(&seed.try_into().unwrap())
}

/// `signgate-load`'s request number `seq`: a distinct demo-token transfer, signed now.
fn request(key: &SigningKey, seq: u64) -> pb::SubmitProposalRequest {
    let amount = U256::from(seq) + U256::from(1u8);
    let data = IERC20::transferCall { to: PAYEE, amount }.abi_encode();
    let tx = SafeTx::call(DEMO_TOKEN, U256::ZERO, data.into(), U256::ZERO);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let submission = pb::ProposalSubmission {
        chain_id: 1,
        safe: DEMO_SAFE.to_checksum(None),
        tx: Some(pb::proposal_submission::Tx::Transaction(safe_tx_to_proto(
            &tx,
        ))),
        issued_at: Some(Timestamp {
            seconds: i64::try_from(now.as_secs()).unwrap(),
            nanos: 0,
        }),
        request_id: format!("bench-{seq}"),
        ..Default::default()
    };
    let payload = submission.encode_to_vec();
    let signature = envelope::sign(key, SUBMISSION_CONTEXT, &payload).to_vec();
    pb::SubmitProposalRequest {
        submission: Some(pb::SignedEnvelope {
            payload,
            public_key: key.verifying_key().to_bytes().to_vec(),
            signature,
            webauthn: None,
        }),
    }
}

/// The demo's parts, as `signgate serve` loads them, in a temporary data directory.
struct Demo {
    _dir: tempfile::TempDir,
    cfg: GatewayConfig,
    key: SigningKey,
    policy: Arc<Policy>,
    state: Arc<Snapshot>,
    lists: Arc<signgate_gateway::lists::ListStore>,
    seq: AtomicU64,
    /// A distinct salt per run, so repeated runs on one PostgreSQL never collide.
    salt: u64,
}

impl Demo {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let cfg = GatewayConfig::load(
            None,
            [(
                "SIGNGATE_STORE__DATA_DIR".to_owned(),
                dir.path().join("data").to_string_lossy().into_owned(),
            )],
        )
        .unwrap();
        let files = setup::write_demo(&cfg.data_dir).unwrap();
        let signgate_gateway::config::StateConfig::Snapshot(state) = &files.state else {
            panic!("the demo decides on a snapshot");
        };
        let state = Arc::new(setup::load_state(state).unwrap());
        let policy = Arc::new(setup::load_policy(&files.policy).unwrap());
        let lists = Arc::new(setup::load_lists(&files.lists, None, SystemTime::now()).unwrap());
        let salt = u64::from(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .subsec_nanos(),
        ) * 1_000_000_000;
        Self {
            _dir: dir,
            cfg,
            key: initiator_key(),
            policy,
            state,
            lists,
            seq: AtomicU64::new(0),
            salt,
        }
    }

    fn next_request(&self) -> pb::SubmitProposalRequest {
        request(
            &self.key,
            self.salt + self.seq.fetch_add(1, Ordering::Relaxed),
        )
    }

    fn submission(&self) -> Submission {
        requests::submission(
            &self.next_request(),
            &self.cfg.limits,
            clock::system().now(),
        )
        .unwrap()
    }

    fn ctx(&self) -> SafeContext {
        SafeContext {
            chain_id: 1,
            safe: DEMO_SAFE,
            version: signgate_simulator::SafeVersion::V1_4_1,
        }
    }

    /// Every stage up to the decision, for the stages after it.
    fn analysed(&self, s: &Submission) -> (SafeTx, Analysis) {
        let TxSource::Fields(tx) = &s.tx else {
            panic!("the bench submits fields");
        };
        let tx = (**tx).clone();
        let decoded = analysis::decode(&self.ctx(), &tx, "tx").unwrap();
        let report = simulate_with(
            self.state.as_ref(),
            1,
            DEMO_SAFE,
            self.ctx().version,
            &tx,
            None,
            &SimulationOptions::default(),
        )
        .unwrap();
        let snapshot = self.lists.snapshot();
        let screening = analysis::screen_at(&snapshot, &decoded, Some(&report), SystemTime::now());
        let lists = analysis::list_versions(&snapshot);
        (
            tx,
            Analysis {
                decoded,
                simulation: Ok(report),
                screening,
                lists,
            },
        )
    }

    /// The store change and records of one submission, as `submit` makes them.
    fn change(
        &self,
    ) -> (
        NewProposal,
        signgate_gateway::store::NewDecision,
        Vec<AuditEvent>,
    ) {
        let s = self.submission();
        let (tx, analysis) = self.analysed(&s);
        let hash = analysis.decoded.hashes.safe_tx_hash;
        let id = ProposalId::derive(1, DEMO_SAFE, hash);
        let now = clock::system().now();
        let facts = ProposalFacts {
            id: &id,
            initiator: OperatorId("alice".into()),
            declared: None,
            approvals: &[],
            velocity: Vec::new(),
            alerts: Vec::new(),
            webauthn: None,
            now,
        };
        let (ev, checks) = evidence::build(&analysis, &facts);
        let evaluation = signgate_policy::assess(&self.policy, &ev, &checks);
        let (decision, state) = pipeline::stored_decision(&evaluation, &analysis.lists, now);
        let proposal = NewProposal {
            id,
            chain_id: 1,
            safe: DEMO_SAFE,
            nonce: tx.nonce,
            safe_tx_hash: hash,
            initiator: "alice".to_owned(),
            state,
            created_at: now,
            body: ProposalBody {
                version: self.ctx().version,
                tx,
                intent: None,
                supplied: Vec::new(),
                analysis: ProposalAnalysis::Recorded(Box::new(analysis.recorded())),
                alerts: Vec::new(),
            },
        };
        let events = vec![
            records::submitted(
                &proposal,
                &s.signed,
                &analysis,
                &evaluation,
                &ev,
                &Caller::Loopback,
                &self.policy,
            ),
            records::decision(DecisionTrigger::Submitted, &evaluation, &ev),
        ];
        (proposal, decision, events)
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn cpu_stages(c: &mut Criterion) {
    let demo = Demo::new();
    let rt = runtime();
    let mut g = c.benchmark_group("submission_stage");
    g.measurement_time(Duration::from_secs(4));
    g.warm_up_time(Duration::from_secs(1));

    g.bench_function("envelope_verify", |b| {
        b.iter_batched(
            || demo.next_request(),
            |req| requests::submission(&req, &demo.cfg.limits, clock::system().now()).unwrap(),
            BatchSize::SmallInput,
        )
    });
    let s = demo.submission();
    let TxSource::Fields(tx) = &s.tx else {
        panic!("fields")
    };
    let tx = (**tx).clone();
    g.bench_function("decode", |b| {
        b.iter(|| analysis::decode(&demo.ctx(), &tx, "tx").unwrap())
    });
    let opts = SimulationOptions::default();
    g.bench_function("simulate", |b| {
        b.iter(|| {
            simulate_with(
                demo.state.as_ref(),
                1,
                DEMO_SAFE,
                demo.ctx().version,
                &tx,
                None,
                &opts,
            )
            .unwrap()
        })
    });
    let provider = SnapshotProvider::new(demo.state.as_ref().clone());
    let pinned = rt.block_on(provider.pin(1, false)).unwrap();
    g.bench_function("simulate_on_blocking_pool", |b| {
        b.iter(|| {
            rt.block_on(analysis::simulate(
                &pinned,
                demo.ctx(),
                tx.clone(),
                None,
                Duration::from_secs(2),
            ))
            .unwrap()
        })
    });
    let (_, analysed) = demo.analysed(&s);
    let report = analysed.simulation.as_ref().unwrap();
    let snapshot = demo.lists.snapshot();
    g.bench_function("screen", |b| {
        b.iter(|| {
            analysis::screen_at(
                &snapshot,
                &analysed.decoded,
                Some(report),
                SystemTime::now(),
            )
        })
    });
    let id = ProposalId::derive(1, DEMO_SAFE, analysed.decoded.hashes.safe_tx_hash);
    let facts = ProposalFacts {
        id: &id,
        initiator: OperatorId("alice".into()),
        declared: None,
        approvals: &[],
        velocity: Vec::new(),
        alerts: Vec::new(),
        webauthn: None,
        now: clock::system().now(),
    };
    g.bench_function("evaluate", |b| {
        b.iter(|| {
            let (ev, checks) = evidence::build(&analysed, &facts);
            signgate_policy::assess(&demo.policy, &ev, &checks)
        })
    });
    let (_, _, events) = demo.change();
    g.bench_function("audit_records_encode", |b| {
        b.iter(|| {
            events
                .iter()
                .map(|e| {
                    AuditRecord {
                        v: RECORD_VERSION,
                        index: 7,
                        at_ms: 1,
                        event: e.clone(),
                    }
                    .to_bytes()
                    .unwrap()
                })
                .collect::<Vec<_>>()
        })
    });
    g.finish();
}

fn store_stages(c: &mut Criterion) {
    let demo = Demo::new();
    let rt = runtime();
    let audit_key = SigningKey::from_bytes(&[3; 32]);
    let path = demo.cfg.store_path();
    let store = rt.block_on(SqliteStore::open(path.clone())).unwrap();
    let log = Arc::new(AuditLog::open(&path, audit_key.clone()).unwrap());
    store.record_into(log.clone()).unwrap();
    let mut g = c.benchmark_group("submission_stage");
    g.measurement_time(Duration::from_secs(6));
    g.warm_up_time(Duration::from_secs(1));

    let mut ids = Vec::new();
    g.bench_function("store_commit_sqlite", |b| {
        b.iter_batched(
            || demo.change(),
            |(p, d, events)| {
                let id = p.id.clone();
                rt.block_on(store.insert_proposal(events, p, d)).unwrap();
                id
            },
            BatchSize::SmallInput,
        )
    });
    let (p, d, events) = demo.change();
    ids.push(p.id.clone());
    rt.block_on(store.insert_proposal(events, p, d)).unwrap();
    g.bench_function("audit_append", |b| {
        b.iter_batched(
            || demo.change().2,
            |events| log.append_all(events).unwrap(),
            BatchSize::SmallInput,
        )
    });
    let id = ids[0].clone();
    g.bench_function("store_read", |b| {
        b.iter(|| rt.block_on(store.get(id.clone())).unwrap().unwrap())
    });
    let stored = rt.block_on(store.get(id.clone())).unwrap().unwrap();
    let descriptors = Arc::new(Descriptors::bundled().unwrap());
    g.bench_function("render", |b| {
        b.iter(|| view::proposal(&stored, Some(demo.policy.as_ref()), &descriptors).unwrap())
    });
    g.finish();

    let url = "postgres://postgres@127.0.0.1:5432/postgres";
    if !signgate_testkit::postgres::is_ready(url) {
        eprintln!("no PostgreSQL at 127.0.0.1:5432: store_commit_postgres skipped");
        return;
    }
    let db = signgate_testkit::postgres::TestDatabase::create("signgate_bench");
    let pg = rt
        .block_on(PgStore::connect(&PostgresSettings {
            url: db.url(),
            pool_size: 4,
            statement_timeout: Duration::from_secs(5),
            ca: None,
        }))
        .unwrap();
    let pg_log = rt
        .block_on(async {
            AuditLog::open_postgres(
                pg.pool(),
                pg.location().to_owned(),
                audit_key.clone(),
                clock::system(),
            )
            .await
        })
        .unwrap();
    let policy_hash = demo.change().1.policy_hash;
    rt.block_on(async {
        pg.pool()
            .get()
            .await
            .unwrap()
            .execute(
                "INSERT INTO policy_in_force (id, version, policy_hash, record) \
                 VALUES (1, 1, $1, 0) ON CONFLICT (id) DO NOTHING",
                &[&policy_hash],
            )
            .await
            .unwrap()
    });
    pg.record_into(Arc::new(pg_log)).unwrap();
    let mut g = c.benchmark_group("submission_stage");
    g.measurement_time(Duration::from_secs(6));
    g.bench_function("store_commit_postgres", |b| {
        b.iter_batched(
            || demo.change(),
            |(p, d, events)| rt.block_on(pg.insert_proposal(events, p, d)).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.finish();
    drop(pg);
    drop(db);
}

/// The whole call in process: the pipeline `signgate serve` builds on the demo, one
/// submission at a time (verify, admission, decode, store reads, simulation, screening,
/// evaluation, the durable commit, the stored proposal read back), without gRPC.
fn submit_in_process(c: &mut Criterion) {
    let demo = Demo::new();
    let rt = runtime();
    let release = SigningKey::from_bytes(&[4; 32]);
    let path = demo.cfg.store_path();
    let store = Arc::new(rt.block_on(SqliteStore::open(path.clone())).unwrap());
    let log = Arc::new(
        AuditLog::open(
            &setup::audit_path(&demo.cfg),
            SigningKey::from_bytes(&[3; 32]),
        )
        .unwrap(),
    );
    store.record_into(log.clone()).unwrap();
    let Configured::Snapshot(p) =
        setup::from_config(&demo.cfg, store, release, log, clock::system()).unwrap()
    else {
        panic!("the demo decides on a snapshot");
    };
    let descriptors = Arc::new(Descriptors::bundled().unwrap());
    let mut g = c.benchmark_group("submission");
    g.measurement_time(Duration::from_secs(8));
    g.bench_function("submit_in_process", |b| {
        b.iter_batched(
            || demo.next_request(),
            |req| {
                rt.block_on(async {
                    let s = requests::submission(&req, &demo.cfg.limits, clock::system().now())
                        .unwrap();
                    let stored = p.submit(Caller::Loopback, s).await.unwrap();
                    view::proposal(&stored, p.policy().as_deref(), &descriptors).unwrap()
                })
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, cpu_stages, store_stages, submit_in_process);
criterion_main!(benches);
