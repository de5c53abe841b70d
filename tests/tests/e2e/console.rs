//! Issue 19: the web console, over real HTTP against a real gateway, and in Debian's Chromium
//! driven by playwright-core (`tests/browser/console.mjs`, installed by `scripts/browser-setup`).

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Command, ExitCode},
};

use alloy_primitives::U256;
use clap::Parser as _;
use signgate_gateway::console::CONTENT_SECURITY_POLICY;
use signgate_proto::v1 as pb;
use signgate_simulator::SafeTx;
use tokio::{io::AsyncReadExt as _, io::AsyncWriteExt as _, net::TcpStream};

use crate::{
    demo,
    support::{Options, Running, start, state, submit, token_transfer},
};

/// The demo gateway with its console (`console.listen` on 127.0.0.1 and a free port).
async fn start_with_console(dir: &Path) -> (Running, SocketAddr) {
    let mut opts = Options::demo();
    opts.console = true;
    let gw = start(dir, opts).await;
    let addr = gw.console.unwrap();
    (gw, addr)
}

/// The demo DEMO transfer of 7 base units by alice, which needs approvals.
async fn demo_transfer(
    c: &mut signgate_proto::v1::gateway_client::GatewayClient<tonic::transport::Channel>,
) -> pb::Proposal {
    let transfer = submit(
        c,
        demo::DEMO_SAFE,
        &token_transfer(demo::PAYEE, U256::from(7u64), 0),
        "alice",
    )
    .await;
    assert_eq!(state(&transfer), pb::ProposalState::NeedsApprovals);
    transfer
}

/// The demo DEMO transfer (needs approvals) and the Bybit transaction (denied), as alice.
async fn two_proposals(gw: &Running) -> (pb::Proposal, pb::Proposal) {
    let mut c = gw.client().await;
    let transfer = demo_transfer(&mut c).await;
    let fixture: serde_json::Value = serde_json::from_str(include_str!(
        "../../../simulator/tests/fixtures/evm/bybit.json"
    ))
    .unwrap();
    let tx: SafeTx = serde_json::from_value(fixture["tx"].clone()).unwrap();
    let bybit = submit(&mut c, demo::BYBIT_SAFE, &tx, "alice").await;
    assert_eq!(state(&bybit), pb::ProposalState::Denied);
    (transfer, bybit)
}

/// One HTTP/1.1 GET with exactly these headers; the raw response.
async fn raw_get(addr: SocketAddr, path: &str, host: &str) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let res = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
    let status = res.status().as_u16();
    (status, res.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_what_the_gateway_computed_to_its_own_host_only() {
    let dir = tempfile::tempdir().unwrap();
    let (gw, addr) = start_with_console(dir.path()).await;
    let (transfer, bybit) = two_proposals(&gw).await;

    // The list names both, newest first; a state filter keeps only the denied one.
    let (status, list) = get(addr, "/proposals").await;
    assert_eq!(status, 200, "{list}");
    let (t, b) = (
        list.find(&transfer.id).unwrap(),
        list.find(&bybit.id).unwrap(),
    );
    assert!(b < t, "newest first");
    let (_, denied) = get(addr, "/proposals?state=denied").await;
    assert!(denied.contains(&bybit.id) && !denied.contains(&transfer.id));
    let (status, _) = get(addr, "/proposals?state=bogus").await;
    assert_eq!(status, 400);
    // The time filter: a day or an instant, UTC; created at or after `from`, before `to`.
    let (status, both) = get(addr, "/proposals?from=2020-01-01").await;
    assert_eq!(status, 200);
    assert!(both.contains(&transfer.id) && both.contains(&bybit.id));
    let (_, none) = get(addr, "/proposals?to=2020-01-01T00:00:00Z").await;
    assert!(!none.contains(&transfer.id) && none.contains("No proposal matches."));
    let (_, none) = get(addr, "/proposals?from=2999-01-01&state=denied").await;
    assert!(!none.contains(&bybit.id));
    let (status, said) = get(addr, "/proposals?from=yesterday").await;
    assert_eq!(status, 400);
    assert!(said.contains("is not an instant"), "{said}");

    // The transfer: the ten SafeTx fields, the three hashes, the decision and whom it needs.
    let (status, page) = get(addr, &format!("/proposals/{}", transfer.id)).await;
    assert_eq!(status, 200);
    let hashes = transfer.hashes.as_ref().unwrap();
    for needle in [
        "safeTxGas",
        "baseGas",
        "gasPrice",
        "gasToken",
        "refundReceiver",
        "nonce",
        "operation",
        "Needs approvals",
        hashes.safe_tx_hash.as_str(),
        hashes.domain_hash.as_str(),
        hashes.message_hash.as_str(),
    ] {
        assert!(page.contains(needle), "{needle} missing from the page");
    }
    // Bybit: the delegatecall and the singleton change in words, and denied for good.
    let (_, page) = get(addr, &format!("/proposals/{}", bybit.id)).await;
    let sim = bybit.simulation.as_ref().unwrap();
    for c in &sim.safe_changes {
        assert!(page.contains(&escape(&c.description)), "{}", c.description);
    }
    assert!(page.contains("DELEGATECALL to"), "{page}");
    assert!(page.contains("upgrade.singleton_changed"));
    assert!(page.contains("DENIED — no approval can release it"));

    // Every response carries the policy; a Host that is not the console's is refused.
    let raw = raw_get(addr, "/proposals", &addr.to_string()).await;
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    assert!(
        raw.to_ascii_lowercase().contains(&format!(
            "content-security-policy: {}",
            CONTENT_SECURITY_POLICY.to_ascii_lowercase()
        )),
        "{raw}"
    );
    let rebound = raw_get(addr, "/proposals", "attacker.example:80").await;
    assert!(rebound.starts_with("HTTP/1.1 421"), "{rebound}");
    let localhost = raw_get(addr, "/proposals", &format!("localhost:{}", addr.port())).await;
    assert!(localhost.starts_with("HTTP/1.1 200"), "{localhost}");
    // A proposal that does not exist is the gateway's NOT_FOUND, as a page.
    let (status, _) = get(addr, "/proposals/p-00000000000000000000000000").await;
    assert!(status == 404 || status == 400, "{status}");

    // The admin's page: every operator with their keys and probation.
    let (status, ops) = get(addr, "/admin/operators").await;
    assert_eq!(status, 200, "{ops}");
    for needle in [
        "alice",
        "bob",
        "carol",
        "dave",
        "mallory",
        "ed25519 <code>0x",
        "new hire",
    ] {
        assert!(
            ops.contains(needle),
            "{needle} missing from the operators page"
        );
    }

    // The auditor: the story of the transfer, and the downloads verify offline.
    let log = gw.audit.clone();
    tokio::task::spawn_blocking(move || log.checkpoint().unwrap())
        .await
        .unwrap();
    let (status, story) = get(addr, &format!("/audit/proposals/{}", transfer.id)).await;
    assert_eq!(status, 200, "{story}");
    assert!(story.contains("alice proposed a transaction"), "{story}");
    let (status, audit) = get(addr, "/audit").await;
    assert_eq!(status, 200);
    assert!(audit.contains("PASS"), "{audit}");
    // By kind, and by time: nothing is recorded in the future.
    let (_, decisions) = get(addr, "/audit?kind=decision_made").await;
    assert!(
        decisions.contains("<code>decision_made</code>")
            && !decisions.contains("<code>proposal_submitted</code>")
    );
    let (_, future) = get(addr, "/audit?since=2999-01-01T00:00:00Z").await;
    assert!(!future.contains("<code>decision_made</code>"), "{future}");
    let (status, _) = get(addr, "/audit?since=yesterday").await;
    assert_eq!(status, 400);
    let out = dir.path().join("downloads");
    std::fs::create_dir_all(&out).unwrap();
    for name in ["export.jsonl", "checkpoint.note", "audit.pub"] {
        let (status, body) = get(addr, &format!("/audit/{name}")).await;
        assert_eq!(status, 200, "{name}: {body}");
        std::fs::write(out.join(name), body).unwrap();
    }
    assert_eq!(verify_offline(&out), ExitCode::SUCCESS);
    // The same as one self-contained file: no script, every proposal's story, PASS.
    let html = out.join("report.html");
    assert_eq!(audit_cli(&out, "report", Some(&html)), ExitCode::SUCCESS);
    let report = std::fs::read_to_string(&html).unwrap();
    assert!(!report.contains("<script"), "the report runs nothing");
    assert!(report.contains("PASS"));
    assert!(report.contains(&transfer.id) && report.contains(&bybit.id));
    assert!(report.contains("alice proposed a transaction"));
    // A tampered export does not verify.
    let export = std::fs::read_to_string(out.join("export.jsonl")).unwrap();
    std::fs::write(
        out.join("export.jsonl"),
        export.replacen("\"alice\"", "\"mallory\"", 1),
    )
    .unwrap();
    assert_ne!(verify_offline(&out), ExitCode::SUCCESS);

    gw.stop().await;
}

/// `signgate audit verify` on the three downloaded files.
fn verify_offline(dir: &Path) -> ExitCode {
    audit_cli(dir, "verify", None)
}

/// `signgate audit COMMAND` (`verify`, `report`) on the three downloaded files in `dir`.
fn audit_cli(dir: &Path, command: &str, out: Option<&Path>) -> ExitCode {
    let arg = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let mut args = vec![
        "signgate".to_owned(),
        "audit".to_owned(),
        command.to_owned(),
        "--log".to_owned(),
        arg("export.jsonl"),
        "--checkpoints".to_owned(),
        arg("checkpoint.note"),
        "--public-key".to_owned(),
        arg("audit.pub"),
    ];
    if let Some(out) = out {
        args.extend(["--out".to_owned(), out.to_string_lossy().into_owned()]);
    }
    signgate_gateway::cli::Cli::try_parse_from(args)
        .unwrap()
        .run()
        .unwrap()
}

/// What maud makes of text in a page.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Runs `scripts/browser-setup` (Debian's chromium, the pinned npm packages), then
/// `tests/browser/console.mjs` against the console, with the proposals' ids in its environment.
/// Screenshots and downloads land in `tests/browser/artifacts/console/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_chromium_pages_render_without_errors_pass_axe_and_the_export_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let (gw, addr) = start_with_console(dir.path()).await;
    let (transfer, bybit) = two_proposals(&gw).await;
    let log = gw.audit.clone();
    tokio::task::spawn_blocking(move || log.checkpoint().unwrap())
        .await
        .unwrap();

    let setup = Command::new(repo().join("scripts/browser-setup"))
        .status()
        .expect("scripts/browser-setup runs");
    assert!(setup.success(), "scripts/browser-setup failed");
    let artifacts = repo().join("tests/browser/artifacts/console");
    let _ = std::fs::remove_dir_all(&artifacts);
    std::fs::create_dir_all(&artifacts).unwrap();
    let browser = tokio::process::Command::new("node")
        .arg(repo().join("tests/browser/console.mjs"))
        .env("CONSOLE_URL", format!("http://{addr}"))
        .env("DEMO_ID", &transfer.id)
        .env("BYBIT_ID", &bybit.id)
        .env("ARTIFACTS", &artifacts)
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&browser.stdout);
    let stderr = String::from_utf8_lossy(&browser.stderr);
    assert!(browser.status.success(), "{stdout}\n{stderr}");
    for shot in [
        "proposals.png",
        "demo-transfer.png",
        "bybit.png",
        "audit.png",
    ] {
        assert!(artifacts.join(shot).is_file(), "{shot} missing:\n{stdout}");
    }
    // What the browser downloaded verifies offline.
    assert_eq!(verify_offline(&artifacts), ExitCode::SUCCESS, "{stdout}");

    gw.stop().await;
}

/// `keys = [...]` of `operator` in `policy` with `key` added.
fn with_key(policy: &str, operator: &str, key: &str) -> String {
    let start = policy
        .find(&format!("id = \"{operator}\""))
        .expect("the operator is in the policy");
    let line = start
        + policy[start..]
            .find("keys = [")
            .expect("the operator has keys");
    let end = line + policy[line..].find("]\n").expect("one line of keys");
    format!("{}, {key}{}", &policy[..end], &policy[end..])
}

/// A phishing relay in front of the console (what a look-alike site on another origin does):
/// listens on 127.0.0.1 and a free port, and passes each request to `console` with its `Host`
/// and `Origin` rewritten to the console's own, one request per connection, the answer back
/// unchanged.
async fn phishing_relay(console: SocketAddr) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut browser, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if browser.read_exact(&mut byte).await.is_err() {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let length = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                let mut body = vec![0u8; length];
                if browser.read_exact(&mut body).await.is_err() {
                    return;
                }
                let rewritten: Vec<String> = head
                    .trim_end()
                    .lines()
                    .filter(|l| {
                        let k = l.split(':').next().unwrap_or("").to_ascii_lowercase();
                        !matches!(k.as_str(), "host" | "connection" | "origin" | "referer")
                    })
                    .map(str::to_owned)
                    .chain([
                        format!("Host: localhost:{}", console.port()),
                        // As a relay would: the console's own origin, so only what the
                        // security key signed can give the relay away.
                        format!("Origin: http://localhost:{}", console.port()),
                        "Connection: close".to_owned(),
                    ])
                    .collect();
                let Ok(mut upstream) = TcpStream::connect(console).await else {
                    return;
                };
                let request = format!("{}\r\n\r\n", rewritten.join("\r\n"));
                if upstream.write_all(request.as_bytes()).await.is_err()
                    || upstream.write_all(&body).await.is_err()
                {
                    return;
                }
                let _ = tokio::io::copy(&mut upstream, &mut browser).await;
            });
        }
    });
    addr
}

/// Issue 19, browser tests 1 and 3: bob and carol enrol virtual authenticators through the
/// console, the admins apply the policy change that adds them, every bad assertion is refused,
/// and both approve the DEMO transfer with their keys: Approved on the page and through gRPC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_chromium_security_keys_enrol_approve_and_every_bad_assertion_is_refused() {
    use tokio::io::AsyncBufReadExt as _;

    let dir = tempfile::tempdir().unwrap();
    let (gw, addr) = start_with_console(dir.path()).await;
    let port = addr.port();
    let mut c = gw.client().await;
    let transfer = crate::webauthn::proposal(&mut c, 7).await;
    let other = crate::webauthn::proposal(&mut c, 8).await;

    let setup = Command::new(repo().join("scripts/browser-setup"))
        .status()
        .expect("scripts/browser-setup runs");
    assert!(setup.success(), "scripts/browser-setup failed");
    let artifacts = repo().join("tests/browser/artifacts/webauthn");
    let _ = std::fs::remove_dir_all(&artifacts);
    std::fs::create_dir_all(&artifacts).unwrap();
    let mut node = tokio::process::Command::new("node")
        .arg(repo().join("tests/browser/webauthn.mjs"))
        .env("CONSOLE_URL", format!("http://localhost:{port}"))
        .env(
            "PHISH_URL",
            format!("http://localhost:{}", phishing_relay(addr).await.port()),
        )
        .env("DEMO_ID", &transfer.id)
        .env("OTHER_ID", &other.id)
        .env("ARTIFACTS", &artifacts)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let mut stdin = node.stdin.take().unwrap();
    let mut lines = tokio::io::BufReader::new(node.stdout.take().unwrap()).lines();
    let mut said = Vec::new();
    let enrolled: serde_json::Value = loop {
        let line = tokio::time::timeout(std::time::Duration::from_secs(120), lines.next_line())
            .await
            .expect("the browser enrols within two minutes")
            .unwrap()
            .unwrap_or_else(|| {
                panic!("the browser stopped before enrolling:\n{}", said.join("\n"))
            });
        if let Some(json) = line.strip_prefix("ENROLLED ") {
            break serde_json::from_str(json).unwrap();
        }
        said.push(line);
    };

    // The admins' governed change: both keys added, new keys not probationary for this team.
    let mut policy = signgate_gateway::pipeline::setup::DEMO_POLICY.to_owned();
    for operator in ["bob", "carol"] {
        policy = with_key(&policy, operator, enrolled[operator].as_str().unwrap());
    }
    policy = policy.replacen(
        "[probation]\n",
        "[probation]\nnew_keys_probationary = false\n",
        1,
    );
    let st = crate::policy_apply::statement(
        &policy,
        2,
        signgate_policy::PolicyHash::of(signgate_gateway::pipeline::setup::DEMO_POLICY),
    );
    crate::policy_apply::admin(gw.addr)
        .await
        .apply_policy(crate::policy_apply::request(
            &policy,
            &st,
            crate::policy_apply::both(&st),
        ))
        .await
        .unwrap();
    stdin.write_all(b"GO\n").await.unwrap();
    drop(stdin);
    while let Some(line) = lines.next_line().await.unwrap() {
        said.push(line);
    }
    let status = node.wait().await.unwrap();
    let mut stderr = String::new();
    if let Some(mut e) = node.stderr.take() {
        let _ = e.read_to_string(&mut stderr).await;
    }
    let said = said.join("\n");
    assert!(status.success(), "{said}\n{stderr}");
    for shot in ["enrol.png", "webauthn-before.png", "webauthn-after.png"] {
        assert!(artifacts.join(shot).is_file(), "{shot} missing:\n{said}");
    }

    // Through gRPC too: approved by bob's and carol's security keys, both counted.
    let p = c
        .get_proposal(pb::GetProposalRequest {
            id: transfer.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&p), pb::ProposalState::Approved, "{said}");
    for operator in ["bob", "carol"] {
        assert!(
            p.approvals
                .iter()
                .any(|a| a.operator == operator && a.counted),
            "{operator}: {:?}",
            p.approvals
        );
    }
    gw.stop().await;
}

/// The statement the console at `base` makes for `kind` of proposal `id`: its payload (base64url,
/// as the page posts it back) and the challenge a security key signs, checked against the
/// console's own.
async fn console_statement(
    http: &reqwest::Client,
    base: &str,
    id: &str,
    kind: &str,
) -> (String, Vec<u8>) {
    use signgate_proto::envelope::{APPROVAL_CONTEXT, webauthn_challenge};
    let statement: serde_json::Value = http
        .get(format!("{base}/proposals/{id}/statement?kind={kind}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let payload = statement["payload"].as_str().unwrap().to_owned();
    let bytes = {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&payload)
            .unwrap()
    };
    let challenge = webauthn_challenge(APPROVAL_CONTEXT, &bytes).to_vec();
    assert_eq!(
        statement["challenge"].as_str().unwrap(),
        signgate_webauthn::testing::b64(&challenge)
    );
    (payload, challenge)
}

/// Posts `assertion` of `payload` as `kind` to the console's sign endpoint for proposal `id`.
async fn console_sign(
    http: &reqwest::Client,
    base: &str,
    id: &str,
    kind: &str,
    payload: &str,
    assertion: &signgate_webauthn::Assertion,
) -> reqwest::Response {
    http.post(format!("{base}/proposals/{id}/sign"))
        .json(&serde_json::json!({
            "kind": kind,
            "payload": payload,
            "credential": serde_json::from_str::<serde_json::Value>(&assertion.to_json()).unwrap(),
        }))
        .send()
        .await
        .unwrap()
}

/// A rejection through the console's own endpoints, signed by bob's key (a software
/// authenticator standing in for the browser): the statement the console makes is the one the
/// key signs, the gateway takes it as `Reject`, and a rejection statement posted as an approval
/// is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_signed_with_a_security_key_through_the_console_ends_the_proposal() {
    use signgate_webauthn::testing::{Authenticator, UP, UV};

    let dir = tempfile::tempdir().unwrap();
    let mut key = Authenticator::es256(43).for_rp("localhost");
    let mut opts = Options::demo();
    opts.console = true;
    let gw = crate::support::start_provider_with_policy(
        dir.path(),
        opts.served(),
        Some(&crate::webauthn::policy_with(&key)),
    )
    .await;
    let port = gw.console.unwrap().port();
    let (transfer, _) = two_proposals(&gw).await;
    let base = format!("http://localhost:{port}");
    let http = reqwest::Client::new();

    let (payload, challenge) = console_statement(&http, &base, &transfer.id, "reject").await;
    let assertion = key.assert_as(&challenge, &base, UP | UV);
    // Posted as an approval, the rejection is refused for its kind.
    let wrong = console_sign(&http, &base, &transfer.id, "approve", &payload, &assertion).await;
    assert_eq!(wrong.status().as_u16(), 400);
    let said: serde_json::Value = wrong.json().await.unwrap();
    assert!(said["message"].as_str().unwrap().contains("kind"), "{said}");
    // As what it is, it ends the proposal.
    let done: serde_json::Value =
        console_sign(&http, &base, &transfer.id, "reject", &payload, &assertion)
            .await
            .json()
            .await
            .unwrap();
    assert_eq!(done["state"], "Rejected", "{done}");
    let mut c = gw.client().await;
    let p = c
        .get_proposal(pb::GetProposalRequest {
            id: transfer.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&p), pb::ProposalState::Rejected);
    gw.stop().await;
}

/// An admin checks a signed enrolment request offline (`signgate policy enrolment`): the new
/// key signed the request (operator, time, credential) from the console's origin; a request
/// naming another operator, or checked against another origin, does not check.
#[test]
fn a_signed_enrolment_request_checks_offline_and_a_tampered_one_does_not() {
    use signgate_gateway::console::enrol::{EnrolmentRequest, SignedEnrolment};
    use signgate_webauthn::testing::{Authenticator, UP, UV};

    const ORIGIN: &str = "http://localhost:8080";
    let mut key = Authenticator::es256(44).for_rp("localhost");
    let request = EnrolmentRequest {
        operator: "bob".to_owned(),
        requested_at_ms: 1_796_000_000_000,
        credential: key.credential(),
    };
    let proof = key.assert_as(&request.challenge().unwrap(), ORIGIN, UP | UV);
    let signed = SignedEnrolment {
        request,
        proof: serde_json::from_str(&proof.to_json()).unwrap(),
    };
    let dir = tempfile::tempdir().unwrap();
    let run = |signed: &SignedEnrolment, origin: &str| {
        let file = dir.path().join("request.json");
        std::fs::write(&file, serde_json::to_string(signed).unwrap()).unwrap();
        enrolment_check(&file, origin)
    };
    assert_eq!(run(&signed, ORIGIN), ExitCode::SUCCESS);
    assert!(signed.request.policy_key().contains("webauthn = { id = "));
    assert_ne!(run(&signed, "https://console.example"), ExitCode::SUCCESS);
    let mut other = signed.clone();
    other.request.operator = "mallory".to_owned();
    assert_ne!(run(&other, ORIGIN), ExitCode::SUCCESS);
}

/// An HTTPS client of the console under mutual TLS: trusting only the test CA, presenting
/// `identity` (certificate and key PEM) when given, resolving `localhost` to the console.
fn https_client(
    ca: &str,
    identity: Option<&(String, String)>,
    console: SocketAddr,
) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca.as_bytes()).unwrap()])
        .resolve("localhost", console);
    if let Some((cert, key)) = identity {
        b = b.identity(reqwest::Identity::from_pem(format!("{cert}{key}").as_bytes()).unwrap());
    }
    b.build().unwrap()
}

/// Issue 19, production: under mutual TLS the console is served over HTTPS, every browser
/// must present a client certificate from `tls.client_ca`, and what it sees is what its
/// certificate may call: the `Gateway` identity reads proposals and the audit log but not the
/// admin pages (and trying raises the same alert as its CLI would), the `Admin` identity reads
/// those too, a certificate listed for nothing reads nothing. The console's calls carry the
/// browser's certificate into the gateway's call observation, and a security key approves at
/// the console's https origin only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_mutual_tls_the_console_shows_each_browser_what_its_certificate_may_call() {
    use signgate_proto::v1::gateway_client::GatewayClient;
    use signgate_webauthn::testing::{Authenticator, UP, UV};

    use crate::alerts::{mtls_channel, mtls_env, pki::Pki};

    signgate_simulator::evm::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new("signgate e2e ca");
    let (server_cert, server_key) = pki.leaf("localhost");
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_string_lossy().into_owned()
    };
    let mut key = Authenticator::es256(47).for_rp("localhost");
    let mut opts = Options::demo();
    opts.env = mtls_env(&write, &pki, &server_cert, &server_key);
    opts.console = true;
    let gw = crate::support::start_provider_with_policy(
        dir.path(),
        opts.served(),
        Some(&crate::webauthn::policy_with(&key)),
    )
    .await;
    let console = gw.console.unwrap();
    let base = format!("https://localhost:{}", console.port());
    let ops = pki.client("ops.signgate.test");
    let admin = pki.client("admin.signgate.test");
    let mut c = GatewayClient::new(mtls_channel(gw.addr.port(), &pki.ca_pem, &ops).await);
    let transfer = demo_transfer(&mut c).await;

    // Every shape of `tests/fixtures/attacks/console/`, each with the answer it must get.
    let rogue = Pki::new("rogue ca");
    let wildcard_name = "*.signgate.test";
    let identity = |name: &str| -> Option<(String, String)> {
        match name {
            "ops" | "ops_rebound" => Some(ops.clone()),
            "admin" => Some(admin.clone()),
            "intern" => Some(pki.client("intern.signgate.test")),
            "rogue_admin" => Some(rogue.client("admin.signgate.test")),
            "admin_server_cert" => Some(pki.leaf("admin.signgate.test")),
            "wildcard" => Some(pki.client(wildcard_name)),
            "none" | "plain_http" => None,
            other => panic!("unknown certificate shape {other}"),
        }
    };
    let folder = repo().join("tests/fixtures/attacks/console");
    let mut shapes: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    shapes.sort();
    assert!(shapes.len() >= 15, "{shapes:?}");
    for file in &shapes {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let shape: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        let certificate = shape["certificate"].as_str().unwrap();
        let path = shape["path"]
            .as_str()
            .unwrap()
            .replace("{transfer}", &transfer.id);
        let url = if certificate == "plain_http" {
            format!("http://{console}{path}")
        } else {
            format!("{base}{path}")
        };
        let client = https_client(&pki.ca_pem, identity(certificate).as_ref(), console);
        let mut req = match shape["method"].as_str() {
            Some("POST") => client.post(url).json(&serde_json::json!({
                "kind": "approve",
                "payload": "AA",
                "credential": {},
            })),
            _ => client.get(url),
        };
        if let Some(origin) = shape["origin"].as_str() {
            req = req.header(reqwest::header::ORIGIN, origin.replace("{console}", &base));
        }
        if certificate == "ops_rebound" {
            req = req.header(reqwest::header::HOST, "attacker.example");
        }
        let got = match req.send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                let body = r.text().await.unwrap();
                match status {
                    200 => "page".to_owned(),
                    400 => "bad_request".to_owned(),
                    403 => "refused".to_owned(),
                    421 => "misdirected".to_owned(),
                    other => format!("{other}: {body}"),
                }
            }
            Err(_) => "no_https".to_owned(),
        };
        assert_eq!(got, shape["expect"].as_str().unwrap(), "{name}");
    }
    // What a refused Gateway identity reads on the admin page: the gateway's own reason.
    let page = https_client(&pki.ca_pem, Some(&ops), console)
        .get(format!("{base}/admin/operators"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("admin permission"), "{page}");
    let as_ops = https_client(&pki.ca_pem, Some(&ops), console);

    // A security key approves at the console's https origin; the demo's http origin is
    // refused (what a phishing page elsewhere would have the browser write).
    let (payload, challenge) = console_statement(&as_ops, &base, &transfer.id, "approve").await;
    let wrong_origin = key.assert_as(
        &challenge,
        &format!("http://localhost:{}", console.port()),
        UP | UV,
    );
    let refused = console_sign(
        &as_ops,
        &base,
        &transfer.id,
        "approve",
        &payload,
        &wrong_origin,
    )
    .await;
    assert_eq!(refused.status().as_u16(), 400);
    let said: serde_json::Value = refused.json().await.unwrap();
    assert!(
        said["message"].as_str().unwrap().contains("origin"),
        "{said}"
    );
    let right = key.assert_as(&challenge, &base, UP | UV);
    let done: serde_json::Value =
        console_sign(&as_ops, &base, &transfer.id, "approve", &payload, &right)
            .await
            .json()
            .await
            .unwrap();
    assert_eq!(done["ok"], true, "{done}");
    let p = c
        .get_proposal(pb::GetProposalRequest {
            id: transfer.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        p.approvals.iter().any(|a| a.operator == "bob" && a.counted),
        "{:?}",
        p.approvals
    );
    enrol_in_production(&as_ops, &base, dir.path()).await;
    gw.stop().await;

    // Every console call was observed as the browser's own: its certificate, its identity. The
    // Gateway identity's try at the admin page raised the alert its CLI would have.
    let events = crate::support::audit_events(dir.path());
    let observed: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["type"] == "call_observed")
        .collect();
    let direct = observed[0]["client_cert"].as_str().unwrap().to_owned();
    assert_eq!(observed[0]["operator"], "alice");
    let reads = observed
        .iter()
        .filter(|o| o["call"]["read"] == "get" && o["client_cert"] == direct.as_str())
        .count();
    assert!(
        reads >= 2,
        "the console's reads carry ops's certificate: {observed:#?}"
    );
    let alerts: Vec<&serde_json::Value> =
        events.iter().filter(|e| e["type"] == "anomaly").collect();
    assert!(
        alerts
            .iter()
            .any(|a| a["anomaly"]["rule"] == "gateway_identity_admin"
                && a["subject"]["certificate"] == direct.as_str()),
        "{alerts:#?}"
    );
}

/// Enrolment at the production console `base`: the key is bound to the console's name, a
/// registration made at the demo's origin is refused, and the admins' offline check of the
/// signed request passes with the production origin and fails with the demo's.
async fn enrol_in_production(http: &reqwest::Client, base: &str, dir: &Path) {
    use base64::Engine as _;
    use signgate_webauthn::testing::{Authenticator, UP, UV, client_data};

    let decode = |v: &serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(v.as_str().unwrap())
            .unwrap()
    };
    let mut key = Authenticator::es256(48).for_rp("localhost");
    let options: serde_json::Value = http
        .get(format!("{base}/enrol/options?operator=dave"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(options["rp_id"], "localhost", "{options}");
    let challenge = decode(&options["challenge"]);
    let (attestation, _) = key.register_none(&challenge);
    let register = |origin: String| {
        let credential: serde_json::Value = serde_json::from_str(&key.registration_json(
            &attestation,
            &client_data("webauthn.create", &challenge, &origin),
        ))
        .unwrap();
        http.post(format!("{base}/enrol")).json(&serde_json::json!({
            "operator": "dave",
            "requested_at_ms": options["requested_at_ms"],
            "credential": credential,
        }))
    };
    let demo_origin = base.replace("https://", "http://");
    let refused = register(demo_origin.clone()).send().await.unwrap();
    assert_eq!(
        refused.status().as_u16(),
        400,
        "a registration at the demo's origin"
    );
    let registered: serde_json::Value = register(base.to_owned())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(registered["ok"], true, "{registered}");
    let proof = key.assert_as(&decode(&registered["challenge"]), base, UP | UV);
    let proven: serde_json::Value = http
        .post(format!("{base}/enrol/proof"))
        .json(&serde_json::json!({
            "request": registered["request"],
            "proof": serde_json::from_str::<serde_json::Value>(&proof.to_json()).unwrap(),
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(proven["ok"], true, "{proven}");
    let file = dir.join("enrolment.json");
    std::fs::write(&file, proven["signed_request"].to_string()).unwrap();
    assert_eq!(enrolment_check(&file, base), ExitCode::SUCCESS);
    assert_ne!(enrolment_check(&file, &demo_origin), ExitCode::SUCCESS);
}

/// `signgate policy enrolment FILE --origin ORIGIN`: the admins' offline check of a signed
/// enrolment request.
fn enrolment_check(file: &Path, origin: &str) -> ExitCode {
    signgate_gateway::cli::Cli::try_parse_from([
        "signgate",
        "policy",
        "enrolment",
        file.to_str().unwrap(),
        "--origin",
        origin,
    ])
    .unwrap()
    .run()
    .unwrap()
}

/// The console holds at most `MAX_CONNECTIONS` browser connections: anyone who can reach its
/// port can open one without a certificate (or, in the demo, a request). One more is closed at
/// once, and a slot frees when a connection ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_holds_a_bounded_number_of_connections() {
    use signgate_gateway::console::connections::MAX_CONNECTIONS;

    let dir = tempfile::tempdir().unwrap();
    let (gw, addr) = start_with_console(dir.path()).await;
    let mut idle = Vec::new();
    for _ in 0..MAX_CONNECTIONS {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    // Give the console time to accept them all.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let host = format!("localhost:{}", addr.port());
    // Closed at once: whatever the write and read meet (end of stream, or a reset), no answer.
    let mut extra = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET /proposals HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    let _ = extra.write_all(request.as_bytes()).await;
    let mut refused = Vec::new();
    let _ = extra.read_to_end(&mut refused).await;
    assert!(
        refused.is_empty(),
        "a connection beyond the bound was served: {}",
        String::from_utf8_lossy(&refused)
    );
    drop(idle);
    let mut served = String::new();
    for _ in 0..50 {
        served = raw_get(addr, "/proposals", &host).await;
        if !served.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(served.starts_with("HTTP/1.1 200"), "{served}");
    gw.stop().await;
}
