//! Issue 19: approvals signed with a security key or passkey (WebAuthn), over real gRPC, with a
//! software authenticator holding real P-256 keys (`signgate_webauthn::testing`). The browser
//! path is `console.rs`; here each way an assertion can be wrong is refused, and nothing is
//! stored for it.

use alloy_primitives::U256;
use prost::Message as _;
use signgate_audit::{AuditEvent, AuditRecord, export::export_jsonl, verify::verify_export};
use signgate_gateway::pipeline::setup;
use signgate_proto::{
    envelope::{APPROVAL_CONTEXT, webauthn_challenge},
    v1::{self as pb, gateway_client::GatewayClient},
};
use signgate_webauthn::testing::{Authenticator, UP, UV};
use tonic::{Code, transport::Channel};

use crate::{
    demo,
    support::{
        Options, approve, audit_export, audit_key, start_provider_with_policy, state, statement,
        submission, submit_request, token_transfer,
    },
};

/// The console origin the gateway accepts in these tests (nothing listens there: the tests
/// call gRPC directly, as the console would).
const CONSOLE: &str = "127.0.0.1:18080";
const ORIGIN: &str = "http://localhost:18080";

/// The demo policy with `key` enrolled for bob beside his ed25519 key.
pub(crate) fn policy_with(key: &Authenticator) -> String {
    let c = key.credential();
    let bob = "keys = [{ public_key = \"0x705fbac01f5519899f437bc42e40255ae9ab54bff00de3433af7d687d9e71ad5\", enrolled_at = \"2015-01-01\" }]";
    let with = format!(
        "keys = [{{ public_key = \"0x705fbac01f5519899f437bc42e40255ae9ab54bff00de3433af7d687d9e71ad5\", enrolled_at = \"2015-01-01\" }}, {{ webauthn = {{ id = \"{}\", public_key = \"{}\", rp_id = \"{}\" }}, enrolled_at = \"2015-01-01\" }}]",
        c.id(),
        c.public_key(),
        c.rp_id()
    );
    let policy = setup::DEMO_POLICY.replacen(bob, &with, 1);
    assert_ne!(policy, setup::DEMO_POLICY);
    policy
}

async fn started(dir: &std::path::Path, key: &Authenticator) -> crate::support::Running {
    started_on(dir, &policy_with(key)).await
}

async fn started_on(dir: &std::path::Path, policy: &str) -> crate::support::Running {
    let mut opts = Options::demo();
    opts.env = vec![("SIGNGATE_CONSOLE__LISTEN".into(), CONSOLE.into())];
    start_provider_with_policy(dir, opts.served(), Some(policy)).await
}

/// A DEMO transfer of `amount` base units (distinct amounts, distinct proposals) by alice.
pub(crate) async fn proposal(c: &mut GatewayClient<Channel>, amount: u64) -> pb::Proposal {
    let tx = token_transfer(demo::PAYEE, U256::from(amount), 0);
    let mut payload = submission(demo::DEMO_SAFE, &tx);
    payload.request_id = format!("webauthn-{amount}");
    c.submit_proposal(submit_request(&payload, &demo::operator("alice")))
        .await
        .unwrap()
        .into_inner()
}

/// An `Approve` of `p` whose statement `key` signs: over `signed_for`'s challenge (normally
/// `p`'s own statement), from `origin`, with `flags`.
fn request(
    payload: Vec<u8>,
    signed_for: &[u8],
    key: &mut Authenticator,
    origin: &str,
    flags: u8,
) -> pb::ApproveRequest {
    let a = key.assert_as(
        &webauthn_challenge(APPROVAL_CONTEXT, signed_for),
        origin,
        flags,
    );
    pb::ApproveRequest {
        approval: Some(pb::SignedEnvelope {
            payload,
            public_key: Vec::new(),
            signature: Vec::new(),
            webauthn: Some(pb::WebAuthnAssertion {
                credential_id: a.credential_id().to_vec(),
                authenticator_data: a.authenticator_data().to_vec(),
                client_data_json: a.client_data_json().to_vec(),
                signature: a.signature().to_vec(),
            }),
        }),
    }
}

/// `p`'s approval statement, encoded.
fn payload(p: &pb::Proposal) -> Vec<u8> {
    statement(p, pb::ApprovalKind::Approve).encode_to_vec()
}

fn bob_approvals(p: &pb::Proposal) -> usize {
    p.approvals.iter().filter(|a| a.operator == "bob").count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_security_key_approval_counts_and_its_assertion_verifies_offline() {
    let dir = tempfile::tempdir().unwrap();
    let mut key = Authenticator::es256(41).for_rp("localhost");
    let gw = started(dir.path(), &key).await;
    let mut c = gw.client().await;

    let p = proposal(&mut c, 11).await;
    let body = payload(&p);
    let p = c
        .approve(request(body.clone(), &body, &mut key, ORIGIN, UP | UV))
        .await
        .unwrap()
        .into_inner();
    let bob = p.approvals.iter().find(|a| a.operator == "bob").unwrap();
    assert!(bob.counted, "{bob:?}");
    assert_eq!(state(&p), pb::ProposalState::NeedsApprovals);
    let p = approve(&mut c, &p, "carol").await;
    assert_eq!(state(&p), pb::ProposalState::Approved);
    gw.stop().await;

    // The record keeps the statement, the assertion, the credential and the origins; the export
    // verifies, and the assertion checks offline (and not for another statement).
    let (leaves, notes) = audit_export(dir.path()).await;
    let recorded = leaves
        .iter()
        .filter_map(|l| AuditRecord::from_bytes(l).ok())
        .find_map(|r| match r.event {
            AuditEvent::ApprovalReceived(a) if a.webauthn.is_some() => Some(a),
            _ => None,
        })
        .expect("the security-key approval is recorded with its assertion");
    assert_eq!(recorded.operator.as_deref(), Some("bob"));
    let w = recorded.webauthn.clone().unwrap();
    assert_eq!(
        w.origins,
        vec![ORIGIN.to_owned(), format!("http://{CONSOLE}")]
    );
    w.check(&recorded.public_key).unwrap();
    let mut other = w.clone();
    other.statement = payload(&proposal_stub()).into();
    assert!(other.check(&recorded.public_key).is_err());
    let mut export = Vec::new();
    export_jsonl(&leaves, &notes, false, &mut export).unwrap();
    let named: Vec<(String, String)> = notes
        .iter()
        .enumerate()
        .map(|(i, n)| (format!("n{i}"), n.clone()))
        .collect();
    let v = verify_export(&export, &named, &audit_key().verifying_key());
    assert!(v.passed(), "{:?}", v.findings);
}

/// Another statement, for the offline check's negative case.
fn proposal_stub() -> pb::Proposal {
    pb::Proposal {
        id: "p-000000000000000000000000".into(),
        chain_id: 1,
        safe: demo::DEMO_SAFE.to_checksum(None),
        hashes: Some(pb::SafeTxHashes {
            safe_tx_hash: format!("{:#x}", alloy_primitives::B256::repeat_byte(7)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// One file of `tests/fixtures/attacks/webauthn/` (its README says what each field means).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Shape {
    description: String,
    #[serde(default)]
    prior: bool,
    #[serde(default)]
    sign: Option<String>,
    #[serde(default)]
    origin: Option<String>,
    #[serde(default)]
    flags: Option<String>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    counter: Option<u32>,
    #[serde(default)]
    call: Option<String>,
    #[serde(default)]
    revoked: bool,
    code: String,
    #[serde(default)]
    says: Option<String>,
}

fn code_named(name: &str) -> Code {
    match name {
        "OK" => Code::Ok,
        "INVALID_ARGUMENT" => Code::InvalidArgument,
        "PERMISSION_DENIED" => Code::PermissionDenied,
        "FAILED_PRECONDITION" => Code::FailedPrecondition,
        other => panic!("unknown code {other}"),
    }
}

/// Runs one shape on its own gateway; returns the audit log's records afterwards.
async fn run_shape(name: &str, shape: &Shape) -> Vec<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let mut bob = Authenticator::es256(42).for_rp("localhost");
    let mut policy = policy_with(&bob);
    if shape.revoked {
        // bob's security key, revoked since 2016 (his ed25519 key stays).
        policy = policy.replacen(
            "rp_id = \"localhost\" }, enrolled_at = \"2015-01-01\" }",
            "rp_id = \"localhost\" }, enrolled_at = \"2015-01-01\", revoked_at = \"2016-01-01\" }",
            1,
        );
        assert_ne!(policy, policy_with(&bob), "{name}");
    }
    let gw = started_on(dir.path(), &policy).await;
    let mut c = gw.client().await;
    let p = proposal(&mut c, 31).await;
    let other = proposal(&mut c, 32).await;
    if shape.prior {
        bob.counter = 9;
        let b = payload(&other);
        c.approve(request(b.clone(), &b, &mut bob, ORIGIN, UP | UV))
            .await
            .unwrap();
    }
    let mut key = match shape.key.as_deref() {
        None | Some("bob") => bob,
        Some("stranger") => Authenticator::es256(99).for_rp("localhost"),
        Some("bob_other_rp") => bob.for_rp("console.example"),
        Some(other) => panic!("{name}: unknown key {other}"),
    };
    if let Some(n) = shape.counter {
        key.counter = n;
    }
    let body = payload(&p);
    let signed_for = match shape.sign.as_deref() {
        None | Some("statement") => body.clone(),
        Some("other_statement") => payload(&other),
        Some("rejection") => statement(&p, pb::ApprovalKind::Reject).encode_to_vec(),
        Some(other) => panic!("{name}: unknown statement {other}"),
    };
    // A rejection is sent whole (its own bytes, signed for themselves).
    let sent = if shape.sign.as_deref() == Some("rejection") {
        signed_for.clone()
    } else {
        body.clone()
    };
    let flags = match shape.flags.as_deref() {
        None | Some("UP|UV") => UP | UV,
        Some("UP") => UP,
        Some(other) => panic!("{name}: unknown flags {other}"),
    };
    let origin = shape.origin.as_deref().unwrap_or(ORIGIN);
    let req = request(sent, &signed_for, &mut key, origin, flags);
    let answer = match shape.call.as_deref() {
        None | Some("approve") => c.approve(req).await.map(|_| ()),
        Some("approve_twice") => {
            c.approve(req.clone()).await.unwrap();
            c.approve(req).await.map(|_| ())
        }
        Some("approve_with_ed25519_key_too") => {
            // The same envelope also naming bob's ed25519 key and carrying its signature.
            let mut req = req;
            let sealed = signgate_proto::envelope::seal(
                &demo::operator("bob"),
                APPROVAL_CONTEXT,
                body.clone(),
            );
            if let Some(env) = req.approval.as_mut() {
                env.public_key = sealed.public_key;
                env.signature = sealed.signature;
            }
            c.approve(req).await.map(|_| ())
        }
        Some("cancel") => {
            let mut cancel = crate::support::cancel_request(&p, "bob", "a security key cancels");
            if let Some(env) = cancel.cancellation.as_mut() {
                env.webauthn = req.approval.and_then(|e| e.webauthn);
            }
            c.cancel(cancel).await.map(|_| ())
        }
        Some("submit") => {
            let mut sub = submit_request(
                &submission(
                    demo::DEMO_SAFE,
                    &token_transfer(demo::PAYEE, U256::from(33u64), 0),
                ),
                &demo::operator("alice"),
            );
            if let Some(env) = sub.submission.as_mut() {
                env.webauthn = req.approval.and_then(|e| e.webauthn);
            }
            c.submit_proposal(sub).await.map(|_| ())
        }
        Some(other) => panic!("{name}: unknown call {other}"),
    };
    let expected = code_named(&shape.code);
    match (&answer, expected) {
        (Ok(()), Code::Ok) => {}
        (Ok(()), _) => panic!(
            "{name}: accepted, expected {expected:?}: {}",
            shape.description
        ),
        (Err(e), _) => {
            assert_eq!(e.code(), expected, "{name}: {e:?}");
            if let Some(says) = &shape.says {
                assert!(
                    e.message().contains(says.as_str()),
                    "{name}: {}",
                    e.message()
                );
            }
        }
    }
    // Nothing refused is stored: bob's approvals are the control's, the replay's first and the
    // prior one, no more.
    let now = c
        .get_proposal(pb::GetProposalRequest { id: p.id.clone() })
        .await
        .unwrap()
        .into_inner();
    let stored =
        usize::from(expected == Code::Ok || shape.call.as_deref() == Some("approve_twice"));
    assert_eq!(bob_approvals(&now), stored, "{name}");
    gw.stop().await;
    audit_export(dir.path()).await.0
}

/// Every shape of `tests/fixtures/attacks/webauthn/` gets its decision; the cloned key's shape
/// also raises `anomaly.cloned_authenticator`, naming bob, in the audit log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shape_of_a_bad_security_key_approval_is_refused() {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/attacks/webauthn");
    let mut files: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "{files:?}");
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let shape: Shape = serde_json::from_str(&std::fs::read_to_string(&file).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let leaves = run_shape(&name, &shape).await;
        if name.starts_with("counter-below") {
            let alerts: Vec<String> = leaves
                .iter()
                .map(|l| String::from_utf8_lossy(l).into_owned())
                .filter(|l| l.contains("\"rule\":\"cloned_authenticator\""))
                .collect();
            assert!(
                alerts.iter().any(|a| a.contains("bob")),
                "{name}: {alerts:?}"
            );
        }
    }
}

/// A copy of bob's key used at the same moment as the original, on two proposals, both
/// assertions carrying the same counter: each call passes the early counter check if neither
/// is stored yet, so the store checks again in the transaction that stores. Exactly one
/// approval counts; the other is refused as a cloned authenticator, whichever lands first. Run
/// several rounds so the calls do overlap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloned_key_used_at_the_same_moment_on_two_proposals_counts_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut key = Authenticator::es256(44).for_rp("localhost");
    let gw = started(dir.path(), &key).await;
    let mut c = gw.client().await;
    for round in 0..4u64 {
        let first = proposal(&mut c, 100 + 2 * round).await;
        let second = proposal(&mut c, 101 + 2 * round).await;
        let mut clone = key.clone();
        let (b1, b2) = (payload(&first), payload(&second));
        let r1 = request(b1.clone(), &b1, &mut key, ORIGIN, UP | UV);
        let r2 = request(b2.clone(), &b2, &mut clone, ORIGIN, UP | UV);
        let (mut c1, mut c2) = (c.clone(), c.clone());
        let (a, b) = tokio::join!(c1.approve(r1), c2.approve(r2));
        let refused: Vec<tonic::Status> = [a, b].into_iter().filter_map(Result::err).collect();
        assert_eq!(refused.len(), 1, "round {round}: {refused:?}");
        assert_eq!(refused[0].code(), tonic::Code::PermissionDenied);
        assert!(
            refused[0].message().contains("counter"),
            "{}",
            refused[0].message()
        );
        let mut counted = 0;
        for p in [&first, &second] {
            let now = c
                .get_proposal(pb::GetProposalRequest { id: p.id.clone() })
                .await
                .unwrap()
                .into_inner();
            counted += bob_approvals(&now);
        }
        assert_eq!(counted, 1, "round {round}");
        // The original goes on from the higher counter.
        key.counter = key.counter.max(clone.counter);
    }
    gw.stop().await;
}
