//! What the process-level tests share: a real `signgate serve` child with its output kept,
//! and the demo's signed submissions and approvals over gRPC.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test support: each test binary uses part of it, and a failure should stop loudly"
)]

pub mod history;
pub mod replicas;

use std::{
    collections::VecDeque,
    io::{BufRead as _, BufReader, Read},
    path::Path,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex, mpsc},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use alloy_primitives::{Address, Bytes, U256, address};
use ed25519_dalek::SigningKey;
use prost::Message as _;
use signgate_gateway::domain::wire::safe_tx_to_proto;
use signgate_proto::{
    envelope::{self, APPROVAL_CONTEXT, SUBMISSION_CONTEXT},
    prost_types::Timestamp,
    v1 as pb,
};
use signgate_simulator::SafeTx;

pub const BIN: &str = env!("CARGO_BIN_EXE_signgate");
/// The demo Safe and token, and an address-book payee of the demo policy: a small DEMO transfer
/// to it needs two treasury approvals.
pub const DEMO_SAFE: Address = address!("0x5afe5afe5afe5afe5afe5afe5afe5afe5afe5afe");
pub const DEMO_TOKEN: Address = address!("0x7070707070707070707070707070707070707070");
pub const PAYEE: Address = address!("0xC0FFEE254729296a45a3885639AC7E10F9d54979");
/// The two treasury operators who approve (DEMO ONLY seeds, gateway/config/demo/keys/).
pub const APPROVERS: [(&str, u8); 2] = [("bob", 0xb0), ("carol", 0xc0)];
/// The initiator.
pub const ALICE: u8 = 0xa1;
/// Longest a start may take before the test calls it refused.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A `signgate serve` child and the tail of what it printed.
pub struct Gateway {
    child: Child,
    tail: Arc<Mutex<VecDeque<String>>>,
    ready: mpsc::Receiver<String>,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Gateway {
    /// Starts `signgate serve` on the demo configuration in `dir` (loopback, a port the OS
    /// picks, no metrics), with `env` layered over it (`SIGNGATE_*` variables).
    pub fn spawn(dir: &Path, env: &[(&str, String)]) -> Self {
        let mut cmd = Command::new(BIN);
        for (k, _) in std::env::vars() {
            if k.starts_with("SIGNGATE_") {
                cmd.env_remove(k);
            }
        }
        let mut child = cmd
            .args(["--log-level", "warn,signgate_gateway::serve=info", "serve"])
            .current_dir(dir)
            .env("SIGNGATE_SERVER__LISTEN", "127.0.0.1:0")
            .env("SIGNGATE_METRICS__LISTEN", "")
            .env("SIGNGATE_CONSOLE__LISTEN", "")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let (tx, ready) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        drain(out, tail.clone(), Some(tx));
        drain(err, tail.clone(), None);
        Self { child, tail, ready }
    }

    /// Waits for `serving`; the address it listens on, or why it never got there.
    pub fn wait_ready(&mut self) -> Result<String, String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match self.ready.recv_timeout(Duration::from_millis(50)) {
                Ok(addr) => return Ok(addr),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().unwrap();
                    // The output threads may still be copying the last lines.
                    std::thread::sleep(Duration::from_millis(100));
                    return Err(format!("exited with {status} before serving"));
                }
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100));
                if let Ok(addr) = self.ready.try_recv() {
                    return Ok(addr);
                }
                return Err(format!("exited with {status} before serving"));
            }
            if Instant::now() > deadline {
                return Err(format!("not serving after {START_TIMEOUT:?}"));
            }
        }
    }

    /// SIGKILL: no drain, no stop record, no last checkpoint.
    pub fn sigkill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM and a clean exit (calls drained, stop recorded, last checkpoint written).
    pub fn terminate(&mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "graceful stop: {status}\n{}", self.tail());
    }

    pub fn tail(&self) -> String {
        let lines = self.tail.lock().unwrap();
        lines.iter().cloned().collect::<Vec<_>>().join("\n")
    }
}

/// Copies `from` line by line into `tail` (the last 40 lines), and sends the listen address
/// of the `serving` line to `ready`. Never blocks the gateway on a full pipe.
pub fn drain(
    from: impl Read + Send + 'static,
    tail: Arc<Mutex<VecDeque<String>>>,
    ready: Option<mpsc::Sender<String>>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines() {
            let Ok(line) = line else { break };
            if let Some(tx) = &ready
                && line.contains("serving")
                && let Some(rest) = line.split("local=").nth(1)
            {
                let addr = rest.split_whitespace().next().unwrap_or_default();
                let _ = tx.send(addr.to_owned());
            }
            let mut t = tail.lock().unwrap();
            if t.len() == 40 {
                t.pop_front();
            }
            t.push_back(line);
        }
    });
}

/// Now, for `issued_at`.
pub fn now_ts() -> Option<Timestamp> {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    Some(Timestamp {
        seconds: i64::try_from(d.as_secs()).unwrap(),
        nanos: 0,
    })
}

/// A DEMO transfer of `amount` base units to the payee at Safe nonce `nonce`: distinct
/// amounts, distinct proposals.
pub fn transfer(amount: u64, nonce: u64) -> SafeTx {
    transfer_units(U256::from(amount), nonce)
}

/// [`transfer`] of an amount that may exceed `u64` (whole DEMO have 18 decimals).
pub fn transfer_units(amount: U256, nonce: u64) -> SafeTx {
    let mut data = vec![0xa9, 0x05, 0x9c, 0xbb];
    data.extend_from_slice(&[0u8; 12]);
    data.extend_from_slice(PAYEE.as_slice());
    data.extend_from_slice(&amount.to_be_bytes::<32>());
    SafeTx::call(DEMO_TOKEN, U256::ZERO, Bytes::from(data), U256::from(nonce))
}

/// Alice's signed submission of [`transfer`].
pub fn submit_request(amount: u64, nonce: u64) -> pb::SubmitProposalRequest {
    submit_units(U256::from(amount), nonce)
}

/// [`submit_request`] of [`transfer_units`].
pub fn submit_units(amount: U256, nonce: u64) -> pb::SubmitProposalRequest {
    let payload = pb::ProposalSubmission {
        chain_id: 1,
        safe: DEMO_SAFE.to_checksum(None),
        tx: Some(pb::proposal_submission::Tx::Transaction(safe_tx_to_proto(
            &transfer_units(amount, nonce),
        ))),
        issued_at: now_ts(),
        request_id: format!("test-{amount}-{nonce}"),
        ..Default::default()
    };
    pb::SubmitProposalRequest {
        submission: Some(envelope::seal(
            &SigningKey::from_bytes(&[ALICE; 32]),
            SUBMISSION_CONTEXT,
            payload.encode_to_vec(),
        )),
    }
}

/// The operator with ed25519 seed `[seed; 32]` approves `id`.
pub fn approve_request(id: &str, safe_tx_hash: &str, seed: u8) -> pb::ApproveRequest {
    let statement = pb::ApprovalStatement {
        proposal_id: id.to_owned(),
        chain_id: 1,
        safe: DEMO_SAFE.to_checksum(None),
        safe_tx_hash: safe_tx_hash.to_owned(),
        kind: pb::ApprovalKind::Approve.into(),
        issued_at: now_ts(),
        comment: "test".into(),
    };
    pb::ApproveRequest {
        approval: Some(envelope::seal(
            &SigningKey::from_bytes(&[seed; 32]),
            APPROVAL_CONTEXT,
            statement.encode_to_vec(),
        )),
    }
}

/// A proposal's safeTxHash as the gateway shows it.
pub fn hash_of(p: &pb::Proposal) -> String {
    p.hashes
        .as_ref()
        .map(|h| h.safe_tx_hash.clone())
        .unwrap_or_default()
}
