//! Gateway replicas on one PostgreSQL database, as real `signgate serve` processes, and the
//! calls the replica tests share.

use std::{process::Command, time::Duration};

use signgate_audit::export::records_from_export;
use signgate_proto::v1::{self as pb, admin_client::AdminClient, gateway_client::GatewayClient};
use signgate_testkit::postgres::TestDatabase;
use tonic::{Code, transport::Channel};

use super::{APPROVERS, BIN, Gateway, approve_request, hash_of, submit_request};

/// Replicas of one database, each with a data directory of its own (its audit key) and one
/// release key they share (signer backends trust one gateway key).
pub struct Replicas {
    _db: Option<TestDatabase>,
    pub url: String,
    pub dir: tempfile::TempDir,
    pub gateways: Vec<Gateway>,
    pub addrs: Vec<String>,
}

impl Replicas {
    pub fn start(n: usize) -> Self {
        let db = TestDatabase::create("signgate_replicas");
        let url = db.url();
        Self::start_on(n, Some(db), url)
    }

    /// `n` replicas on the database at `url` (kept alive by `db` when the test created it).
    pub fn start_on(n: usize, db: Option<TestDatabase>, url: String) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut out = Self {
            _db: db,
            url,
            dir,
            gateways: Vec::new(),
            addrs: Vec::new(),
        };
        // The first start creates the schema and the shared release key; the others then
        // start together.
        out.spawn(0);
        out.ready(0);
        for i in 1..n {
            out.spawn(i);
        }
        for i in 1..n {
            out.ready(i);
        }
        out
    }

    pub fn data_dir(&self, i: usize) -> std::path::PathBuf {
        self.dir.path().join(format!("replica-{i}"))
    }

    pub fn spawn(&mut self, i: usize) {
        self.spawn_with(i, &[]);
    }

    /// [`spawn`](Self::spawn) with `extra` variables.
    pub fn spawn_with(&mut self, i: usize, extra: &[(&str, String)]) {
        let mut env = vec![
            (
                "SIGNGATE_STORE__DATA_DIR",
                self.data_dir(i).display().to_string(),
            ),
            ("SIGNGATE_STORE__BACKEND", "postgres".to_owned()),
            ("SIGNGATE_STORE__POSTGRES__URL", self.url.clone()),
            ("SIGNGATE_STORE__POSTGRES__POOL_SIZE", "8".to_owned()),
            // A database that stops answering is noticed within a second.
            (
                "SIGNGATE_STORE__POSTGRES__STATEMENT_TIMEOUT_MS",
                "1000".to_owned(),
            ),
            (
                "SIGNGATE_KEYS__RELEASE_KEY",
                self.dir.path().join("release.key").display().to_string(),
            ),
        ];
        env.extend(extra.iter().cloned());
        let gw = Gateway::spawn(self.dir.path(), &env);
        if i < self.gateways.len() {
            self.gateways[i] = gw;
        } else {
            self.gateways.push(gw);
            self.addrs.push(String::new());
        }
    }

    pub fn ready(&mut self, i: usize) {
        let addr = self.gateways[i]
            .wait_ready()
            .unwrap_or_else(|e| panic!("replica {i}: {e}\n{}", self.gateways[i].tail()));
        self.addrs[i] = addr;
    }

    pub async fn admin(&self, i: usize) -> AdminClient<Channel> {
        AdminClient::connect(format!("http://{}", self.addrs[i]))
            .await
            .unwrap()
    }

    pub async fn client(&self, i: usize) -> GatewayClient<Channel> {
        GatewayClient::connect(format!("http://{}", self.addrs[i]))
            .await
            .unwrap()
    }

    /// Stops every replica gracefully, exports the shared log and verifies it offline with
    /// every replica's audit key; the exported records.
    pub fn stop_and_verify(&mut self) -> Vec<signgate_audit::AuditRecord> {
        for g in &mut self.gateways {
            g.terminate();
        }
        let out = self.dir.path().join("export");
        std::fs::create_dir_all(&out).unwrap();
        let export = Command::new(BIN)
            .args(["audit", "export", "--postgres", &self.url, "--out"])
            .arg(out.join("log.jsonl"))
            .arg("--checkpoints-dir")
            .arg(out.join("checkpoints"))
            .output()
            .unwrap();
        assert!(
            export.status.success(),
            "{}",
            String::from_utf8_lossy(&export.stderr)
        );
        let mut verify = Command::new(BIN);
        verify
            .args(["audit", "verify", "--log"])
            .arg(out.join("log.jsonl"))
            .arg("--checkpoints")
            .arg(out.join("checkpoints"));
        for i in 0..self.gateways.len() {
            verify
                .arg("--public-key")
                .arg(self.data_dir(i).join("audit.key.pub"));
        }
        let verified = verify.output().unwrap();
        assert!(
            verified.status.success(),
            "audit verify failed:\n{}{}",
            String::from_utf8_lossy(&verified.stdout),
            String::from_utf8_lossy(&verified.stderr)
        );
        let bytes = std::fs::read(out.join("log.jsonl")).unwrap();
        records_from_export(&bytes).unwrap()
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

pub async fn get(c: &mut GatewayClient<Channel>, id: &str) -> pb::Proposal {
    c.get_proposal(pb::GetProposalRequest { id: id.to_owned() })
        .await
        .unwrap()
        .into_inner()
}

pub fn state(p: &pb::Proposal) -> pb::ProposalState {
    pb::ProposalState::try_from(p.state).unwrap()
}

/// Submits `amount` at `nonce` through `c` and has both treasury approvers approve it through
/// `approvers` (one client each).
pub async fn approved(
    c: &mut GatewayClient<Channel>,
    approvers: [&mut GatewayClient<Channel>; 2],
    amount: u64,
    nonce: u64,
) -> pb::Proposal {
    let p = c
        .submit_proposal(submit_request(amount, nonce))
        .await
        .unwrap()
        .into_inner();
    let hash = hash_of(&p);
    let mut last = p;
    for (client, (_, seed)) in approvers.into_iter().zip(APPROVERS) {
        last = client
            .approve(approve_request(&last.id, &hash, seed))
            .await
            .unwrap()
            .into_inner();
    }
    assert_eq!(state(&last), pb::ProposalState::Approved, "{last:?}");
    last
}

/// A release answer that may have reserved the nonce: the nonce is reserved and the proposal
/// RELEASED before the signer backends are asked; the demo has none, so the caller hears
/// `UNAVAILABLE` (the gateway logs "no signer backend returned a valid signature") after the
/// reservation. Whether it did is read back from the store.
pub fn may_have_reserved(
    result: &Result<tonic::Response<pb::RequestSignaturesResponse>, tonic::Status>,
) -> bool {
    match result {
        Ok(_) => true,
        Err(s) => s.code() == Code::Unavailable,
    }
}

/// Runs `call` again while it answers `UNAVAILABLE` (a replica that has not adopted the policy
/// just applied elsewhere refuses to decide under the old one), for at most five seconds.
pub async fn until_available<T, F, Fut>(mut call: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match call().await {
            Ok(r) => return r.into_inner(),
            Err(s) if s.code() == Code::Unavailable && std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(s) => panic!("{s:?}"),
        }
    }
}
