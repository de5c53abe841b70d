//! Issue 6, logs: every line a proposal call emits carries the proposal's id and safeTxHash —
//! in the `--log-json` format (captured through the binary's own JSON layer) and in text —
//! including the lines of the simulation's blocking thread and of the signer calls.

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

use alloy_primitives::U256;
use signgate_proto::v1 as pb;
use tracing_subscriber::{EnvFilter, layer::SubscriberExt as _};

use crate::{
    demo,
    support::{approve, start_with_signers, state, submit, token_transfer},
};

/// A log sink the test reads back.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

const PROPOSAL_METHODS: [&str; 7] = [
    "SubmitProposal",
    "Approve",
    "Reject",
    "Cancel",
    "GetProposal",
    "RequestSignatures",
    "WatchProposal",
];

/// Drives submit → approve → approve → get → release against a gateway with two signer
/// backends; returns the proposal's id and hash.
async fn drive() -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let (gw, [s1, s2]) = start_with_signers(dir.path(), [0, 2]).await;
    let mut c = gw.client().await;
    let tx = token_transfer(demo::PAYEE, U256::from(5_000u64), 0);
    let p = submit(&mut c, demo::DEMO_SAFE, &tx, "alice").await;
    let p = approve(&mut c, &p, "bob").await;
    let p = approve(&mut c, &p, "carol").await;
    assert_eq!(state(&p), pb::ProposalState::Approved, "{:?}", p.decision);
    c.get_proposal(pb::GetProposalRequest { id: p.id.clone() })
        .await
        .unwrap();
    let released = c
        .request_signatures(pb::RequestSignaturesRequest { id: p.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert!(!released.signatures.is_empty());
    drop(c);
    gw.stop().await;
    s1.stop().await;
    s2.stop().await;
    (p.id.clone(), p.hashes.unwrap().safe_tx_hash)
}

#[test]
fn every_line_of_a_proposal_call_carries_its_id_and_safe_tx_hash() {
    let (json, text) = (Capture::default(), Capture::default());
    let (j, t) = (json.clone(), text.clone());
    let subscriber = tracing_subscriber::registry()
        .with(signgate_gateway::cli::json_log_layer(move || j.clone()))
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(move || t.clone()),
        )
        .with(EnvFilter::new("info,signgate_gateway=trace"));
    let dispatch = tracing::Dispatch::new(subscriber);
    // tracing-core caches each callsite's interest when it is first hit. With exactly one
    // dispatcher registered it asks only the hitting thread's default — for a callsite first hit
    // by a parallel test's thread that is the no-op, and the call span would stay disabled here
    // too. A second live dispatcher makes it ask every registered one, this test's included.
    let _second = tracing::Dispatch::new(tracing_subscriber::registry());
    // Worker and blocking threads do not inherit a thread-local default: give each thread of
    // this test's own runtime the capturing dispatcher (other tests' threads keep theirs).
    let for_threads = dispatch.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(move || {
            std::mem::forget(tracing::dispatcher::set_default(&for_threads));
        })
        .build()
        .unwrap();
    let (id, hash) = {
        let _main = tracing::dispatcher::set_default(&dispatch);
        runtime.block_on(drive())
    };
    drop(runtime);

    let lines: Vec<serde_json::Value> = json
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!lines.is_empty(), "nothing captured:\n{}", text.text());
    let in_call: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| {
            l["spans"].as_array().is_some_and(|spans| {
                spans.iter().any(|s| {
                    s["name"] == "call"
                        && PROPOSAL_METHODS.contains(&s["method"].as_str().unwrap_or_default())
                })
            })
        })
        .collect();
    // Each call tags its span before its first line: every line inside carries both (on the
    // call's span, which may enclose others, such as a signer client's).
    for line in &in_call {
        let spans = line["spans"].as_array().unwrap();
        let call = spans.iter().find(|s| s["name"] == "call").unwrap();
        assert_eq!(call["proposal_id"], id.as_str(), "{line}");
        assert_eq!(call["safe_tx_hash"], hash.as_str(), "{line}");
    }
    let message = |m: &str| {
        in_call
            .iter()
            .filter(|l| l["fields"]["message"] == m)
            .count()
    };
    // One simulation per submit, approval and release, each on a blocking thread.
    assert!(
        message("simulation finished") >= 4,
        "{in_call:#?}\n{} lines in all:\n{}",
        lines.len(),
        json.text()
    );
    assert_eq!(message("proposal evaluated"), 1, "{in_call:#?}");
    assert_eq!(message("approval recorded"), 2, "{in_call:#?}");
    assert_eq!(
        message("nonce reserved; asking signer backends"),
        1,
        "{in_call:#?}"
    );
    assert!(in_call.len() >= 8, "{} lines: {in_call:#?}", in_call.len());
    // Threads: the simulation lines come from blocking threads, not the worker that served the
    // call, so the span reached them explicitly.
    assert!(
        lines
            .iter()
            .all(|l| l["fields"]["message"] != "simulation finished" || in_call.contains(&l)),
        "a simulation line outside its call's span"
    );

    let text = text.text();
    let evaluated = text
        .lines()
        .find(|l| l.contains("proposal evaluated"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        evaluated.contains(&format!("proposal_id={id}"))
            && evaluated.contains(&format!("safe_tx_hash={hash}")),
        "{evaluated}"
    );
}
