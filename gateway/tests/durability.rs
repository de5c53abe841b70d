//! Durability proven, not assumed (issue 17): the real `signgate serve` process is SIGKILLed
//! under load, again and again, on one data directory, and nothing it acknowledged may be lost.
//!
//! Every cycle starts the binary on the embedded demo configuration (loopback, a port the OS
//! picks, data in one temporary directory), lets several clients submit distinct signed
//! transfers and approve them over real gRPC, and SIGKILLs the process at a random moment. The
//! clients keep a ledger of every call that was answered OK — the acknowledged set — and of the
//! calls cut off by the kill (in doubt: they may or may not have committed). Then:
//!
//! - **the restart refuses nothing**: the next start re-verifies the whole audit log
//!   (`AuditLog::open` rebuilds the tree), migrates the store, loads the lists and writes its
//!   first checkpoint; it must reach `serving`. Some cycles kill during the start itself
//!   (lists loading, the log re-verifying, the first checkpoint being signed), and the start
//!   after that must come up too;
//! - **the acknowledged set is present**: after every restart each proposal and approval
//!   acknowledged in the cycle before is read back through the restarted gateway; in-doubt
//!   submissions are retried as a client would, and must be answered;
//! - **the log verifies offline and matches the store one to one**, at the end (and every
//!   `verify_every` cycles in the soak): the gateway is stopped, `signgate audit export` and
//!   `signgate audit verify` (the real binary) must pass on the database and its checkpoint
//!   directory, and the exported records must describe exactly the store's history: each stored
//!   proposal one `proposal_submitted` and as many `decision_made` as it has stored decisions,
//!   each stored approval one `approval_received`, and no record of a proposal change the store
//!   does not hold. Every acknowledged call is in both.
//!
//! The suite runs [`Plan::suite`] (≥ 50 cycles); `scripts/kill-soak CYCLES` runs the ignored
//! [`kill_soak`] with as many as asked. A failure prints the seed (`SIGNGATE_KILL_SEED`
//! replays the same kill times) and the tail of the gateway's output.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop loudly"
)]

mod common;

use common::{APPROVERS, BIN, Gateway, approve_request, hash_of, submit_request};
use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    process::Command,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use signgate_audit::{AuditRecord, export::records_from_export};
use signgate_gateway::store::SqliteStore;
use signgate_proto::v1::{self as pb, gateway_client::GatewayClient};
use tonic::transport::Channel;

/// One submission in this many is sent twice at once.
const RACE_EVERY: u64 = 5;
/// Longest one call may take before the test calls the gateway hung.
const CALL_TIMEOUT: Duration = Duration::from_secs(20);

/// How many cycles, how long the load runs, how often the full offline check runs.
#[derive(Debug, Clone, Copy)]
struct Plan {
    cycles: u32,
    clients: usize,
    /// Load before the kill, drawn uniformly from this range (ms).
    load_ms: (u64, u64),
    /// One cycle in this many kills during the start instead of under load.
    kill_at_start_every: u32,
    /// The full offline check (graceful stop, export, verify, one-to-one) every this many
    /// cycles; it always runs after the last.
    verify_every: u32,
    /// A fresh data directory every this many cycles: a restart re-verifies the whole log, so
    /// its time grows with the log (about 0.1 ms per record in a debug build), and a soak on
    /// one directory would spend its time re-hashing rather than being killed.
    cycles_per_dir: u32,
    seed: u64,
}

impl Plan {
    /// The suite's run: 50 kill cycles, measured at well under a minute on two cores.
    fn suite() -> Self {
        Self {
            cycles: 50,
            clients: 4,
            load_ms: (60, 400),
            kill_at_start_every: 7,
            verify_every: u32::MAX,
            cycles_per_dir: u32::MAX,
            seed: seed(),
        }
    }

    /// The soak (`scripts/kill-soak`): `SIGNGATE_KILL_CYCLES` cycles (1,000 by default).
    fn soak() -> Self {
        let env = |k: &str, d: u32| {
            std::env::var(k)
                .ok()
                .map_or(d, |v| v.parse().unwrap_or_else(|_| panic!("{k}={v}")))
        };
        Self {
            cycles: env("SIGNGATE_KILL_CYCLES", 1000),
            clients: 4,
            load_ms: (30, 600),
            kill_at_start_every: 7,
            verify_every: env("SIGNGATE_KILL_VERIFY_EVERY", 100),
            cycles_per_dir: env("SIGNGATE_KILL_CYCLES_PER_DIR", 100),
            seed: seed(),
        }
    }
}

fn seed() -> u64 {
    std::env::var("SIGNGATE_KILL_SEED").map_or_else(
        |_| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        },
        |s| s.parse().unwrap(),
    )
}

/// splitmix64: reproducible kill times from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn range(&mut self, (lo, hi): (u64, u64)) -> u64 {
        lo + self.next() % (hi - lo).max(1)
    }
}

#[test]
fn acknowledged_writes_survive_sigkill_under_load() {
    run(Plan::suite());
}

/// A first start killed at any moment — creating its keys, writing the demo assets, opening
/// the store and the log, loading the lists, signing its first checkpoint — leaves a directory
/// the next start serves from.
#[test]
fn a_first_start_killed_at_any_moment_leaves_a_startable_directory() {
    let seed = seed();
    println!("first-start kills (replay with SIGNGATE_KILL_SEED={seed})");
    let mut rng = Rng(seed);
    // How long a first start takes here, to spread the kills over it.
    let probe = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let mut gw = spawn(probe.path());
    gw.wait_ready().unwrap();
    let first_start = u64::try_from(t.elapsed().as_millis()).unwrap();
    gw.terminate();
    for round in 0..12 {
        let dir = tempfile::tempdir().unwrap();
        let mut gw = spawn(dir.path());
        let at = rng.range((0, first_start + 20));
        std::thread::sleep(Duration::from_millis(at));
        gw.sigkill();
        let mut again = spawn(dir.path());
        if let Err(e) = again.wait_ready() {
            panic!(
                "round {round}: killed {at} ms into its first start, the directory no longer \
                 starts: {e}\n{}",
                again.tail()
            );
        }
        again.terminate();
        verify_offline(dir.path(), round);
    }
}

/// `scripts/kill-soak CYCLES`.
#[test]
#[ignore = "soak: run by scripts/kill-soak (SIGNGATE_KILL_CYCLES, default 1000)"]
fn kill_soak() {
    run(Plan::soak());
}

/// The demo gateway on `dir/data`, checkpointing every second: kills land in checkpoints too.
fn spawn(dir: &Path) -> Gateway {
    Gateway::spawn(
        dir,
        &[
            (
                "SIGNGATE_STORE__DATA_DIR",
                data_dir(dir).display().to_string(),
            ),
            ("SIGNGATE_AUDIT__CHECKPOINT_INTERVAL_SECS", "1".to_owned()),
        ],
    )
}

fn data_dir(dir: &Path) -> PathBuf {
    dir.join("data")
}

/// What the clients were told, over the whole run.
#[derive(Debug, Default)]
struct Ledger {
    /// Acknowledged proposals: id → safeTxHash.
    proposals: BTreeMap<String, String>,
    /// Acknowledged approvals: (proposal id, operator).
    approvals: BTreeSet<(String, String)>,
    /// Submissions cut off by a kill (their amounts), retried after the restart.
    doubtful_submissions: Vec<u64>,
    /// Approvals cut off by a kill.
    doubtful_approvals: Vec<(String, String)>,
    /// In-doubt calls found committed after the restart, and found not committed.
    doubtful_landed: u32,
    doubtful_lost: u32,
    /// Starts that reached `serving`, and every start attempted.
    ready_starts: u32,
    spawns: u32,
}

/// What one cycle acknowledged: (proposal id, safeTxHash) and (proposal id, operator).
#[derive(Debug, Default)]
struct Acked {
    proposals: Vec<(String, String)>,
    approvals: Vec<(String, String)>,
}

/// One client's share of a cycle.
#[derive(Debug, Default)]
struct ClientRun {
    proposals: Vec<(String, String)>,
    approvals: Vec<(String, String)>,
    doubtful_submission: Option<u64>,
    doubtful_approval: Option<(String, String)>,
    /// A call refused while the gateway was not being killed: a failure of the test.
    unexpected: Option<String>,
}

/// Submits and approves distinct transfers until a call fails. A failure after `killed` was
/// set leaves that call in doubt; before it, it is a failure of the gateway.
async fn client(
    mut c: GatewayClient<Channel>,
    amounts: Arc<AtomicU64>,
    killed: Arc<AtomicBool>,
) -> ClientRun {
    let mut run = ClientRun::default();
    let fail = |run: &mut ClientRun, what: String| {
        if !killed.load(Ordering::SeqCst) {
            run.unexpected = Some(what);
        }
    };
    loop {
        let amount = amounts.fetch_add(1, Ordering::SeqCst);
        let answer = if amount.is_multiple_of(RACE_EVERY) {
            // The same submission twice at once, as a client that retries too early would
            // send it: one proposal, and one submission on record.
            let mut twin = c.clone();
            let (a, b) = tokio::join!(
                tokio::time::timeout(CALL_TIMEOUT, c.submit_proposal(submit_request(amount, 0))),
                tokio::time::timeout(
                    CALL_TIMEOUT,
                    twin.submit_proposal(submit_request(amount, 0))
                ),
            );
            if let (Ok(Ok(a)), Ok(Ok(b))) = (&a, &b)
                && a.get_ref().id != b.get_ref().id
            {
                run.unexpected = Some(format!(
                    "submit {amount} twice: two proposals {} and {}",
                    a.get_ref().id,
                    b.get_ref().id
                ));
                return run;
            }
            match (a, b) {
                (Ok(Ok(a)), Ok(Ok(_))) => Ok(Ok(a)),
                (Ok(Err(e)), _) | (_, Ok(Err(e))) => Ok(Err(e)),
                (Err(e), _) | (_, Err(e)) => Err(e),
            }
        } else {
            tokio::time::timeout(CALL_TIMEOUT, c.submit_proposal(submit_request(amount, 0))).await
        };
        let p = match answer {
            Ok(Ok(p)) => p.into_inner(),
            Ok(Err(status)) => {
                run.doubtful_submission = Some(amount);
                fail(&mut run, format!("submit {amount}: {status}"));
                return run;
            }
            Err(_) => {
                run.unexpected = Some(format!("submit {amount}: no answer in {CALL_TIMEOUT:?}"));
                return run;
            }
        };
        if p.state != i32::from(pb::ProposalState::NeedsApprovals) {
            run.unexpected = Some(format!(
                "submit {amount}: state {} {:?}",
                p.state, p.decision
            ));
            return run;
        }
        let hash = hash_of(&p);
        run.proposals.push((p.id.clone(), hash.clone()));
        for (name, seed) in APPROVERS {
            let answer =
                tokio::time::timeout(CALL_TIMEOUT, c.approve(approve_request(&p.id, &hash, seed)))
                    .await;
            match answer {
                Ok(Ok(_)) => run.approvals.push((p.id.clone(), name.to_owned())),
                Ok(Err(status)) => {
                    run.doubtful_approval = Some((p.id.clone(), name.to_owned()));
                    fail(&mut run, format!("approve {} as {name}: {status}", p.id));
                    return run;
                }
                Err(_) => {
                    run.unexpected = Some(format!("approve {}: no answer", p.id));
                    return run;
                }
            }
        }
    }
}

/// Runs `plan.cycles` kill cycles, in a fresh data directory every `plan.cycles_per_dir`.
fn run(plan: Plan) {
    let mut left = plan.cycles;
    let mut segment = 0u64;
    while left > 0 {
        let cycles = left.min(plan.cycles_per_dir);
        run_in_one_directory(Plan {
            cycles,
            seed: plan.seed.wrapping_add(segment),
            ..plan
        });
        left -= cycles;
        segment += 1;
    }
}

fn run_in_one_directory(plan: Plan) {
    println!(
        "kill test: {plan:?} (replay with SIGNGATE_KILL_SEED={})",
        plan.seed
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(plan.seed);
    let mut ledger = Ledger::default();
    let amounts = Arc::new(AtomicU64::new(1));
    let started = Instant::now();
    let mut start_times = Vec::new();
    // What the last cycle acknowledged, checked through the next start.
    let mut last = Acked::default();
    for cycle in 1..=plan.cycles {
        let (mut gw, addr) = start(dir.path(), &mut ledger, &mut start_times, cycle);
        let mut c = rt
            .block_on(GatewayClient::connect(format!("http://{addr}")))
            .unwrap();
        rt.block_on(check_present(&mut c, &last, &mut ledger))
            .unwrap_or_else(|e| panic!("cycle {cycle}, after the restart: {e}\n{}", gw.tail()));
        if cycle % plan.kill_at_start_every == 0 {
            // This cycle's kill comes during the next start instead: the lists loading, the log
            // re-verifying and the first checkpoint. The start after it must come up.
            gw.sigkill();
            let mut early = spawn(dir.path());
            ledger.spawns += 1;
            let t = start_times.iter().max().copied().unwrap_or(300);
            std::thread::sleep(Duration::from_millis(rng.range((0, t.max(1)))));
            early.sigkill();
            last = Acked::default();
        } else {
            let killed = Arc::new(AtomicBool::new(false));
            let load = Duration::from_millis(rng.range(plan.load_ms));
            let runs = rt.block_on(async {
                let mut tasks = Vec::new();
                for _ in 0..plan.clients {
                    let c = GatewayClient::connect(format!("http://{addr}"))
                        .await
                        .unwrap();
                    tasks.push(tokio::spawn(client(c, amounts.clone(), killed.clone())));
                }
                tokio::time::sleep(load).await;
                killed.store(true, Ordering::SeqCst);
                gw.sigkill();
                let mut runs = Vec::new();
                for t in tasks {
                    runs.push(t.await.unwrap());
                }
                runs
            });
            last = Acked::default();
            for r in runs {
                if let Some(e) = r.unexpected {
                    panic!(
                        "cycle {cycle}: a call failed before the kill: {e}\n{}",
                        gw.tail()
                    );
                }
                ledger.proposals.extend(r.proposals.iter().cloned());
                ledger.approvals.extend(r.approvals.iter().cloned());
                last.proposals.extend(r.proposals);
                last.approvals.extend(r.approvals);
                ledger.doubtful_submissions.extend(r.doubtful_submission);
                ledger.doubtful_approvals.extend(r.doubtful_approval);
            }
        }
        if cycle % plan.verify_every == 0 || cycle == plan.cycles {
            let recent = &start_times[start_times.len().saturating_sub(5)..];
            println!(
                "cycle {cycle} after {:.0}s: {} proposals and {} approvals acknowledged; \
                 the last starts took {recent:?} ms",
                started.elapsed().as_secs_f64(),
                ledger.proposals.len(),
                ledger.approvals.len()
            );
            full_check(&rt, dir.path(), &last, &mut ledger, &mut start_times, cycle);
            last = Acked::default();
        }
    }
    start_times.sort_unstable();
    println!(
        "kill test: {} cycles in {:.1}s; {} proposals and {} approvals acknowledged; \
         {} in-doubt calls had committed, {} had not; {} starts ({} killed before serving); \
         start to serving median {} ms, max {} ms",
        plan.cycles,
        started.elapsed().as_secs_f64(),
        ledger.proposals.len(),
        ledger.approvals.len(),
        ledger.doubtful_landed,
        ledger.doubtful_lost,
        ledger.spawns,
        ledger.spawns - ledger.ready_starts,
        start_times[start_times.len() / 2],
        start_times.last().unwrap(),
    );
}

/// Starts the gateway and waits for it to serve; a start that fails fails the test.
fn start(
    dir: &Path,
    ledger: &mut Ledger,
    start_times: &mut Vec<u64>,
    cycle: u32,
) -> (Gateway, String) {
    let t = Instant::now();
    let mut gw = spawn(dir);
    ledger.spawns += 1;
    let addr = gw.wait_ready().unwrap_or_else(|e| {
        panic!(
            "cycle {cycle}: the restart was refused: {e}\n--- gateway output ---\n{}",
            gw.tail()
        )
    });
    ledger.ready_starts += 1;
    start_times.push(u64::try_from(t.elapsed().as_millis()).unwrap());
    (gw, addr)
}

/// Every proposal and approval acknowledged in the cycle before is served by the restarted
/// gateway; the calls cut off by the kill are sorted into committed or not, and the cut-off
/// submissions retried as a client would.
async fn check_present(
    c: &mut GatewayClient<Channel>,
    Acked {
        proposals,
        approvals,
    }: &Acked,
    ledger: &mut Ledger,
) -> Result<(), String> {
    let mut seen: BTreeMap<String, pb::Proposal> = BTreeMap::new();
    let ids = proposals
        .iter()
        .map(|(id, _)| id.clone())
        .chain(approvals.iter().map(|(id, _)| id.clone()))
        .chain(ledger.doubtful_approvals.iter().map(|(id, _)| id.clone()));
    for id in ids.collect::<BTreeSet<_>>() {
        let p = c
            .get_proposal(pb::GetProposalRequest { id: id.clone() })
            .await
            .map_err(|s| format!("acknowledged proposal {id} is not served: {s}"))?
            .into_inner();
        seen.insert(id, p);
    }
    for (id, hash) in proposals {
        if hash_of(&seen[id]) != *hash {
            return Err(format!("proposal {id} came back with another safeTxHash"));
        }
    }
    let has = |id: &str, op: &str| seen[id].approvals.iter().any(|a| a.operator == op);
    for (id, op) in approvals {
        if !has(id, op) {
            return Err(format!(
                "acknowledged approval of {id} by {op} is missing: {:?}",
                seen[id].approvals
            ));
        }
    }
    for (id, op) in std::mem::take(&mut ledger.doubtful_approvals) {
        if has(&id, &op) {
            ledger.doubtful_landed += 1;
        } else {
            ledger.doubtful_lost += 1;
        }
    }
    let restarted = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for amount in std::mem::take(&mut ledger.doubtful_submissions) {
        let p = c
            .submit_proposal(submit_request(amount, 0))
            .await
            .map_err(|s| format!("the retry of in-doubt submission {amount} was refused: {s}"))?
            .into_inner();
        let created = p.created_at.as_ref().map_or(0, |t| t.seconds);
        // Created before this start (second resolution: a retry in the same second as the
        // start counts as lost, which only makes the statistic conservative).
        if u64::try_from(created).unwrap_or(0) < restarted.saturating_sub(1) {
            ledger.doubtful_landed += 1;
        } else {
            ledger.doubtful_lost += 1;
        }
        ledger.proposals.insert(p.id.clone(), hash_of(&p));
    }
    Ok(())
}

/// A kill, then a start that must come up, a graceful stop, and the offline checks on what is
/// on disk: the export verifies, and the log and the store tell one history.
fn full_check(
    rt: &tokio::runtime::Runtime,
    dir: &Path,
    last: &Acked,
    ledger: &mut Ledger,
    start_times: &mut Vec<u64>,
    cycle: u32,
) {
    let (mut gw, addr) = start(dir, ledger, start_times, cycle);
    let mut c = rt
        .block_on(GatewayClient::connect(format!("http://{addr}")))
        .unwrap();
    rt.block_on(check_present(&mut c, last, ledger))
        .unwrap_or_else(|e| panic!("cycle {cycle}, final read-back: {e}\n{}", gw.tail()));
    drop(c);
    gw.terminate();
    verify_offline(dir, cycle);
    let records = exported_records(dir);
    let store = rt.block_on(async {
        SqliteStore::open(data_dir(dir).join("signgate.sqlite3"))
            .await
            .unwrap()
    });
    common::history::one_to_one(
        rt,
        &store,
        &records,
        &common::history::Acknowledged {
            proposals: &ledger.proposals,
            approvals: &ledger.approvals,
            starts: (ledger.ready_starts, ledger.spawns),
        },
        &format!("cycle {cycle}"),
    );
}

/// `signgate audit export` and `signgate audit verify`, as an auditor would run them.
fn verify_offline(dir: &Path, cycle: u32) {
    let data = data_dir(dir);
    let out = Command::new(BIN)
        .args(["audit", "export", "--db"])
        .arg(data.join("signgate.sqlite3"))
        .arg("--out")
        .arg(dir.join("export.jsonl"))
        .arg("--checkpoints-dir")
        .arg(dir.join("exported-notes"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cycle {cycle}: audit export failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(BIN)
        .args(["audit", "verify", "--log"])
        .arg(dir.join("export.jsonl"))
        .arg("--checkpoints")
        .arg(dir.join("exported-notes"))
        .arg("--checkpoints")
        .arg(data.join("checkpoints"))
        .arg("--public-key")
        .arg(data.join("audit.key.pub"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cycle {cycle}: audit verify failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn exported_records(dir: &Path) -> Vec<AuditRecord> {
    let bytes = std::fs::read(dir.join("export.jsonl")).unwrap();
    records_from_export(&bytes).unwrap()
}
