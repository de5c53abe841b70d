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
fn policy_with(key: &Authenticator) -> String {
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
    let mut opts = Options::demo();
    opts.env = vec![("SIGNGATE_CONSOLE__LISTEN".into(), CONSOLE.into())];
    start_provider_with_policy(dir, opts.served(), Some(&policy_with(key))).await
}

/// A DEMO transfer of `amount` base units (distinct amounts, distinct proposals) by alice.
async fn proposal(c: &mut GatewayClient<Channel>, amount: u64) -> pb::Proposal {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_key_approvals_are_refused_for_each_way_they_can_be_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let mut key = Authenticator::es256(42).for_rp("localhost");
    let gw = started(dir.path(), &key).await;
    let mut c = gw.client().await;
    let p1 = proposal(&mut c, 21).await;
    let p2 = proposal(&mut c, 22).await;
    let (b1, b2) = (payload(&p1), payload(&p2));

    let refused =
        |r: Result<tonic::Response<pb::Proposal>, tonic::Status>, code: Code, says: &str| {
            let e = r.unwrap_err();
            assert_eq!(e.code(), code, "{e:?}");
            assert!(e.message().contains(says), "{says}: {}", e.message());
        };
    // Signed for another proposal's statement.
    refused(
        c.approve(request(b2.clone(), &b1, &mut key, ORIGIN, UP | UV))
            .await,
        Code::InvalidArgument,
        "challenge",
    );
    // From another origin.
    refused(
        c.approve(request(
            b1.clone(),
            &b1,
            &mut key,
            "http://localhost.evil:18080",
            UP | UV,
        ))
        .await,
        Code::InvalidArgument,
        "origin",
    );
    // Without user verification.
    refused(
        c.approve(request(b1.clone(), &b1, &mut key, ORIGIN, UP))
            .await,
        Code::InvalidArgument,
        "verif",
    );
    // A credential the policy does not enrol.
    let mut stranger = Authenticator::es256(99).for_rp("localhost");
    refused(
        c.approve(request(b1.clone(), &b1, &mut stranger, ORIGIN, UP | UV))
            .await,
        Code::PermissionDenied,
        "not enrolled",
    );
    // A security key on another call than an approval.
    let mut sub = submit_request(
        &submission(
            demo::DEMO_SAFE,
            &token_transfer(demo::PAYEE, U256::from(23u64), 0),
        ),
        &demo::operator("alice"),
    );
    if let Some(env) = sub.submission.as_mut() {
        env.webauthn = request(b1.clone(), &b1, &mut key, ORIGIN, UP | UV)
            .approval
            .unwrap()
            .webauthn;
    }
    let e = c.submit_proposal(sub).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("webauthn"), "{}", e.message());

    // The genuine one counts; the same bytes again are refused.
    key.counter = 10;
    let good = request(b1.clone(), &b1, &mut key, ORIGIN, UP | UV);
    let p = c.approve(good.clone()).await.unwrap().into_inner();
    assert_eq!(bob_approvals(&p), 1);
    let again = c.approve(good).await.unwrap_err();
    assert!(
        matches!(
            again.code(),
            Code::PermissionDenied | Code::FailedPrecondition | Code::AlreadyExists
        ),
        "{again:?}"
    );
    // A counter below the highest seen: a cloned authenticator.
    key.counter = 3;
    refused(
        c.approve(request(b2.clone(), &b2, &mut key, ORIGIN, UP | UV))
            .await,
        Code::PermissionDenied,
        "cloned",
    );

    // Nothing refused was stored.
    let p1 = c
        .get_proposal(pb::GetProposalRequest { id: p1.id.clone() })
        .await
        .unwrap()
        .into_inner();
    let p2 = c
        .get_proposal(pb::GetProposalRequest { id: p2.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(bob_approvals(&p1), 1);
    assert_eq!(bob_approvals(&p2), 0);
    gw.stop().await;

    // The cloned key raised an alert naming bob, recorded in the audit log.
    let (leaves, _) = audit_export(dir.path()).await;
    let alerts: Vec<String> = leaves
        .iter()
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .filter(|l| l.contains("\"rule\":\"cloned_authenticator\""))
        .collect();
    assert!(!alerts.is_empty(), "no cloned_authenticator alert");
    assert!(alerts.iter().any(|a| a.contains("bob")), "{alerts:?}");
}
