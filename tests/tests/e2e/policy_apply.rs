//! Issues 6 and 7: `Admin.ApplyPolicy` and `Admin.ListOperators` over real gRPC. A policy takes
//! effect only with enough signatures of the admins in force, changes decisions from the next
//! call on, survives a restart, and every step (start, lists, policy, operators, stop) is in an
//! audit log that verifies.

use alloy_primitives::U256;
use ed25519_dalek::SigningKey;
use signgate_audit::{
    AuditEvent, AuditRecord, export::export_jsonl, record::OperatorChange, verify::verify_export,
};
use signgate_gateway::{
    audit::{AuditLog, AuditReader},
    pipeline::setup,
};
use signgate_policy::{PolicyHash, governance::sign_policy};
use signgate_proto::v1::{self as pb, admin_client::AdminClient};
use tonic::{Code, transport::Channel};

use crate::{
    demo,
    support::{
        Options, approve, audit_key, config, start, state, submission, submit_request,
        token_transfer,
    },
};

/// The demo policy with a stricter quorum for DEMO transfers (three treasury approvals instead
/// of two) and Mallory offboarded.
fn stricter_policy() -> String {
    let strict = setup::DEMO_POLICY
        .replace(
            "approvals = { treasury = 2 }\napproval_expiry_hours = 72",
            "approvals = { treasury = 3 }\napproval_expiry_hours = 72",
        )
        .replace(
            "started_at = \"2026-10-01\"\n",
            "started_at = \"2026-10-01\"\nstatus = \"offboarded\"\n",
        );
    assert_ne!(strict, setup::DEMO_POLICY);
    strict
}

fn signature(key: &SigningKey, hash: PolicyHash) -> pb::PolicySignature {
    let s = sign_policy(key, hash);
    pb::PolicySignature {
        public_key: s.public_key.to_vec(),
        signature: s.signature.to_vec(),
    }
}

fn request(source: &str, signatures: Vec<pb::PolicySignature>) -> pb::ApplyPolicyRequest {
    pb::ApplyPolicyRequest {
        policy: source.as_bytes().to_vec(),
        signatures,
    }
}

async fn admin(addr: std::net::SocketAddr) -> AdminClient<Channel> {
    AdminClient::connect(format!("http://{addr}"))
        .await
        .unwrap()
}

/// Submits a transfer of `amount` base units of DEMO (distinct amounts make distinct
/// proposals for the Safe's current nonce), approved by bob and carol; returns its state.
async fn two_treasury_approvals(
    c: &mut signgate_proto::v1::gateway_client::GatewayClient<Channel>,
    amount: u64,
) -> pb::ProposalState {
    let tx = token_transfer(demo::PAYEE, U256::from(amount), 0);
    let mut payload = submission(demo::DEMO_SAFE, &tx);
    payload.request_id = format!("policy-apply-{amount}");
    let p = c
        .submit_proposal(submit_request(&payload, &demo::operator("alice")))
        .await
        .unwrap()
        .into_inner();
    let p = approve(c, &p, "bob").await;
    let p = approve(c, &p, "carol").await;
    state(&p)
}

fn operator<'a>(ops: &'a [pb::Operator], id: &str) -> &'a pb::Operator {
    ops.iter().find(|o| o.id == id).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_signed_by_enough_admins_takes_effect_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), Options::demo()).await;
    let mut c = gw.client().await;
    let mut a = admin(gw.addr).await;

    // The demo operators, as the policy in force knows them.
    let ops = a
        .list_operators(pb::ListOperatorsRequest {})
        .await
        .unwrap()
        .into_inner()
        .operators;
    let ids: Vec<&str> = ops.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, ["alice", "bob", "carol", "dave", "erin", "mallory"]);
    let alice = operator(&ops, "alice");
    assert!(alice.initiator && !alice.probationary);
    assert_eq!(
        alice.public_key,
        format!(
            "0x{}",
            hex::encode(demo::operator("alice").verifying_key().to_bytes())
        )
    );
    assert_eq!(alice.groups, ["treasury"]);
    let mallory = operator(&ops, "mallory");
    assert!(mallory.probationary, "{mallory:?}");
    assert!(mallory.probation.contains("new hire"), "{mallory:?}");
    assert_eq!(mallory.status, "active");

    // Under the demo policy two treasury approvals approve a DEMO transfer.
    assert_eq!(
        two_treasury_approvals(&mut c, 1).await,
        pb::ProposalState::Approved
    );

    let strict = stricter_policy();
    let hash = PolicyHash::of(&strict);
    let (dave, erin) = (demo::operator("dave"), demo::operator("erin"));

    // One signature short: refused with the count, nothing changes.
    let err = a
        .apply_policy(request(&strict, vec![signature(&dave, hash)]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    assert!(
        err.message()
            .contains("1 valid admin signature(s), 2 required"),
        "{}",
        err.message()
    );

    // Erin signed another version, Bob is no admin: each rejected signature is named.
    let other = PolicyHash::of(setup::DEMO_POLICY);
    let err = a
        .apply_policy(request(
            &strict,
            vec![
                signature(&dave, hash),
                signature(&erin, other),
                signature(&demo::operator("bob"), hash),
            ],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let m = err.message();
    assert!(m.contains("does not verify over this content hash"), "{m}");
    assert!(m.contains("is not a key of a policy admin"), "{m}");

    // A forged signature (right key, bytes flipped) does not count either.
    let mut forged = signature(&erin, hash);
    forged.signature[0] ^= 1;
    let err = a
        .apply_policy(request(&strict, vec![signature(&dave, hash), forged]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");

    // A policy that does not compile is named as such.
    let err = a
        .apply_policy(request("name = ", vec![signature(&dave, hash)]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");

    // The old policy still decides after every refusal.
    assert_eq!(
        two_treasury_approvals(&mut c, 2).await,
        pb::ProposalState::Approved
    );

    // Both admins: in force from the next call on.
    let applied = a
        .apply_policy(request(
            &strict,
            vec![signature(&dave, hash), signature(&erin, hash)],
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(applied.policy_hash, hash.to_string());
    assert_eq!(
        applied.previous_policy_hash,
        PolicyHash::of(setup::DEMO_POLICY).to_string()
    );
    assert!(
        applied
            .changes
            .iter()
            .any(|c| c.contains("mallory") && c.contains("offboarded")),
        "{:?}",
        applied.changes
    );
    assert_eq!(
        two_treasury_approvals(&mut c, 3).await,
        pb::ProposalState::NeedsApprovals
    );
    let ops = a
        .list_operators(pb::ListOperatorsRequest {})
        .await
        .unwrap()
        .into_inner()
        .operators;
    assert_eq!(operator(&ops, "mallory").status, "offboarded");
    assert!(!operator(&ops, "mallory").initiator);

    // Applying it again changes nothing.
    let err = a
        .apply_policy(request(
            &strict,
            vec![signature(&dave, hash), signature(&erin, hash)],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    drop((c, a));
    gw.stop().await;

    // After a restart (which rewrites the demo policy file) the applied policy still decides.
    let gw = start(dir.path(), Options::demo()).await;
    let mut c = gw.client().await;
    assert_eq!(
        two_treasury_approvals(&mut c, 4).await,
        pb::ProposalState::NeedsApprovals
    );
    let mut a = admin(gw.addr).await;
    let ops = a
        .list_operators(pb::ListOperatorsRequest {})
        .await
        .unwrap()
        .into_inner()
        .operators;
    assert_eq!(operator(&ops, "mallory").status, "offboarded");
    drop((c, a));
    gw.stop().await;

    // Every event is in the log, and the log verifies.
    let path = setup::audit_path(&config(dir.path(), &[]));
    let records: Vec<AuditRecord> = AuditReader::open(&path)
        .unwrap()
        .leaves()
        .unwrap()
        .iter()
        .map(|l| AuditRecord::from_bytes(l).unwrap())
        .collect();
    let kinds: Vec<&str> = records.iter().map(|r| r.event.kind()).collect();
    for kind in [
        "server_started",
        "sanctions_list",
        "policy_applied",
        "operator_changed",
        "server_stopped",
    ] {
        assert!(kinds.contains(&kind), "no {kind} in {kinds:?}");
    }
    assert_eq!(kinds.iter().filter(|k| **k == "server_started").count(), 2);
    assert_eq!(kinds.iter().filter(|k| **k == "server_stopped").count(), 2);
    assert_eq!(kinds.iter().filter(|k| **k == "policy_applied").count(), 1);
    let applied = records
        .iter()
        .find_map(|r| match &r.event {
            AuditEvent::PolicyApplied(p) => Some(p),
            _ => None,
        })
        .unwrap();
    assert_eq!(applied.policy_hash, hash);
    assert_eq!(applied.previous, Some(PolicyHash::of(setup::DEMO_POLICY)));
    assert_eq!(applied.admin_signatures.len(), 2);
    assert_eq!(applied.caller.identity, "loopback");
    assert!(records.iter().any(|r| matches!(
        &r.event,
        AuditEvent::OperatorChanged(o)
            if o.operator == "mallory" && o.change == OperatorChange::StatusChanged
    )));
    // The second start records the applied policy as the one in force.
    let starts: Vec<_> = records
        .iter()
        .filter_map(|r| match &r.event {
            AuditEvent::ServerStarted(s) => Some(s.policy_hash),
            _ => None,
        })
        .collect();
    assert_eq!(
        starts,
        [Some(PolicyHash::of(setup::DEMO_POLICY)), Some(hash)]
    );

    let log = AuditLog::open(&path, audit_key()).unwrap();
    log.checkpoint().unwrap();
    drop(log);
    let reader = AuditReader::open(&path).unwrap();
    let notes = reader.checkpoints().unwrap();
    let mut exported = Vec::new();
    export_jsonl(&reader.leaves().unwrap(), &notes, true, &mut exported).unwrap();
    let named: Vec<(String, String)> = notes
        .into_iter()
        .enumerate()
        .map(|(i, n)| (format!("checkpoint-{i}"), n))
        .collect();
    let v = verify_export(&exported, &named, &audit_key().verifying_key());
    assert!(v.passed(), "{:?}", v.findings);
    assert_eq!(v.records, records.len() as u64);
    assert_eq!(v.verified_size, records.len() as u64);
}
