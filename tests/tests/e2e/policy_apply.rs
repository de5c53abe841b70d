//! Issues 6 and 7: `Admin.ApplyPolicy` and `Admin.ListOperators` over real gRPC. A policy takes
//! effect only with enough signatures of the admins in force, changes decisions from the next
//! call on, survives a restart, and every step (start, lists, policy, operators, stop) is in an
//! audit log that verifies.
//!
//! Issue 14 holes 1 and 2: admins sign (version, replaced policy, content hash), so an old
//! policy cannot come back with its old signatures, and a policy file written into the data
//! directory is trusted at start only as the end of the audit log's chain of applied policies.

use alloy_primitives::U256;
use ed25519_dalek::SigningKey;
use signgate_audit::{
    AuditEvent, AuditRecord, export::export_jsonl, record::OperatorChange, verify::verify_export,
};
use signgate_gateway::{audit::AuditLog, pipeline::setup};
use signgate_policy::{
    PolicyHash,
    governance::{PolicyStatement, sign_policy},
};
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

/// "`source` as `version`, replacing `replaces`".
pub(crate) fn statement(source: &str, version: u64, replaces: PolicyHash) -> PolicyStatement {
    PolicyStatement {
        version,
        replaces,
        policy: PolicyHash::of(source),
    }
}

fn signature(key: &SigningKey, statement: &PolicyStatement) -> pb::PolicySignature {
    let s = sign_policy(key, statement);
    pb::PolicySignature {
        public_key: s.public_key.to_vec(),
        signature: s.signature.to_vec(),
    }
}

/// `source` with `signatures`, applied as the version and predecessor of `statement`.
pub(crate) fn request(
    source: &str,
    statement: &PolicyStatement,
    signatures: Vec<pb::PolicySignature>,
) -> pb::ApplyPolicyRequest {
    pb::ApplyPolicyRequest {
        policy: source.as_bytes().to_vec(),
        signatures,
        version: statement.version,
        replaces_policy_hash: statement.replaces.to_string(),
    }
}

/// Signed by both demo admins.
pub(crate) fn both(statement: &PolicyStatement) -> Vec<pb::PolicySignature> {
    ["dave", "erin"]
        .iter()
        .map(|a| signature(&demo::operator(a), statement))
        .collect()
}

pub(crate) async fn admin(addr: std::net::SocketAddr) -> AdminClient<Channel> {
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
    let st = statement(&strict, 2, PolicyHash::of(setup::DEMO_POLICY));
    let (dave, erin) = (demo::operator("dave"), demo::operator("erin"));

    // One signature short: refused with the count, nothing changes.
    let err = a
        .apply_policy(request(&strict, &st, vec![signature(&dave, &st)]))
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
    let other = statement(setup::DEMO_POLICY, 2, PolicyHash::of(setup::DEMO_POLICY));
    let err = a
        .apply_policy(request(
            &strict,
            &st,
            vec![
                signature(&dave, &st),
                signature(&erin, &other),
                signature(&demo::operator("bob"), &st),
            ],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let m = err.message();
    assert!(
        m.contains("does not verify over this version, predecessor and content hash"),
        "{m}"
    );
    assert!(m.contains("is not a key of a policy admin"), "{m}");

    // A forged signature (right key, bytes flipped) does not count either.
    let mut forged = signature(&erin, &st);
    forged.signature[0] ^= 1;
    let err = a
        .apply_policy(request(&strict, &st, vec![signature(&dave, &st), forged]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");

    // A policy that does not compile is named as such.
    let err = a
        .apply_policy(request("name = ", &st, vec![signature(&dave, &st)]))
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
        .apply_policy(request(&strict, &st, both(&st)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(applied.policy_hash, hash.to_string());
    assert_eq!(applied.version, 2);
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
        .apply_policy(request(&strict, &st, both(&st)))
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
    let records: Vec<AuditRecord> = crate::support::audit_leaves(dir.path())
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
    assert_eq!(applied.version, 2);
    assert_eq!(applied.source.as_deref(), Some(strict.as_str()));
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

    let (leaves, notes) = crate::support::audit_export(dir.path()).await;
    let mut exported = Vec::new();
    export_jsonl(&leaves, &notes, true, &mut exported).unwrap();
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

/// The health detail of the policy component: name, hash and version in force.
async fn policy_health(a: &mut AdminClient<Channel>) -> String {
    a.get_health_details(pb::GetHealthDetailsRequest {})
        .await
        .unwrap()
        .into_inner()
        .components
        .into_iter()
        .find(|c| c.name == "policy")
        .unwrap()
        .detail
}

/// v1 (the configured genesis) → v2 (Mallory offboarded) → v3: both take effect and survive a
/// restart; v2's signatures cannot bring v2 back (its version is not above 3; relabelled as v4
/// they do not verify), and a properly signed v4 naming v2 as its predecessor is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_then_v3_survive_a_restart_and_old_or_forked_signatures_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), Options::demo()).await;
    let mut a = admin(gw.addr).await;
    let v1 = setup::DEMO_POLICY;
    let v2 = stricter_policy();
    let v3 = v2.replace("name = \"signgate-demo\"", "name = \"signgate-demo-v3\"");
    let s2 = statement(&v2, 2, PolicyHash::of(v1));
    let s3 = statement(&v3, 3, PolicyHash::of(&v2));
    let r = a
        .apply_policy(request(&v2, &s2, both(&s2)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.version, 2);
    let r = a
        .apply_policy(request(&v3, &s3, both(&s3)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (r.version, r.previous_policy_hash),
        (3, s2.policy.to_string())
    );
    assert!(policy_health(&mut a).await.contains("as version 3"));
    drop(a);
    gw.stop().await;

    let gw = start(dir.path(), Options::demo()).await;
    let mut a = admin(gw.addr).await;
    let health = policy_health(&mut a).await;
    assert!(
        health.starts_with("signgate-demo-v3 ") && health.ends_with("as version 3"),
        "{health}"
    );
    let ops = a
        .list_operators(pb::ListOperatorsRequest {})
        .await
        .unwrap()
        .into_inner()
        .operators;
    assert_eq!(operator(&ops, "mallory").status, "offboarded");

    // v2 again, exactly as it was signed: its version is not above the one in force.
    let err = a
        .apply_policy(request(&v2, &s2, both(&s2)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(
        err.message()
            .contains("version 2 is not above version 3 in force"),
        "{}",
        err.message()
    );
    // v1 brought back as "version 4 replacing v3" with signatures made for another statement.
    let replay = statement(v1, 4, PolicyHash::of(&v3));
    let err = a
        .apply_policy(request(v1, &replay, both(&s2)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    assert!(
        err.message()
            .contains("0 valid admin signature(s), 2 required"),
        "{}",
        err.message()
    );
    // Properly signed by both admins, but for a chain where v2 was never replaced.
    let fork = statement(v1, 4, PolicyHash::of(&v2));
    let err = a
        .apply_policy(request(v1, &fork, both(&fork)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(
        err.message().contains(&format!(
            "the signatures replace policy {}, but policy {} is in force",
            PolicyHash::of(&v2),
            PolicyHash::of(&v3)
        )),
        "{}",
        err.message()
    );
    // Nothing changed.
    assert!(policy_health(&mut a).await.contains("as version 3"));
    drop(a);
    gw.stop().await;

    // The chain verifies from the configured genesis policy, offline, from the records alone.
    let records: Vec<AuditRecord> = crate::support::audit_leaves(dir.path())
        .iter()
        .map(|l| AuditRecord::from_bytes(l).unwrap())
        .collect();
    let applied: Vec<_> = records
        .iter()
        .filter_map(|r| match &r.event {
            AuditEvent::PolicyApplied(p) => Some((r.index, r.at_ms, p)),
            _ => None,
        })
        .collect();
    let chain = signgate_audit::policy_chain::check_chain(
        &signgate_policy::Policy::compile(v1).unwrap(),
        applied,
    )
    .unwrap();
    assert_eq!(chain.links, 2);
    assert_eq!(chain.head.hash(), PolicyHash::of(&v3));

    // The same check is part of the offline verification of the export, from the genesis file.
    let (leaves, notes) = crate::support::audit_export(dir.path()).await;
    let mut exported = Vec::new();
    export_jsonl(&leaves, &notes, false, &mut exported).unwrap();
    let named: Vec<(String, String)> = notes
        .into_iter()
        .enumerate()
        .map(|(i, n)| (format!("checkpoint-{i}"), n))
        .collect();
    let genesis = signgate_policy::Policy::compile(v1).unwrap();
    let v = signgate_audit::verify::verify_export_with_genesis(
        &exported,
        &named,
        &audit_key().verifying_key(),
        Some(&genesis),
    );
    assert!(v.passed(), "{:?}", v.findings);
    let report = v.report(0);
    assert!(
        report.contains(&format!(
            "policy chain: 2 application(s) verified from genesis {}; ends at version 3 ({})",
            genesis.hash(),
            PolicyHash::of(&v3)
        )),
        "{report}"
    );
    // Against another genesis (the auditor was handed the wrong file) the first link fails.
    let other = signgate_policy::Policy::compile(&v2).unwrap();
    let v = signgate_audit::verify::verify_export_with_genesis(
        &exported,
        &named,
        &audit_key().verifying_key(),
        Some(&other),
    );
    assert!(!v.passed());
    assert!(
        v.report(0)
            .contains("FAIL: chain of applied policies: policy_applied record #"),
        "{}",
        v.report(0)
    );
}

/// What `signgate serve` (and [`start`]) does first with the data directory in `dir`: the
/// policy to start under, or why the start is refused.
fn policy_at_restart(dir: &std::path::Path) -> Result<(), String> {
    let cfg = config(dir, &[]);
    let files = setup::write_demo(&cfg.data_dir).unwrap();
    let audit = std::sync::Arc::new(AuditLog::open(&setup::audit_path(&cfg), audit_key()).unwrap());
    setup::governed_policy(&cfg.data_dir, &files.policy, audit)
        .map(drop)
        .map_err(|e| e.to_string())
}

/// Before any policy is applied, the configured genesis file is pinned by the first start's
/// `server_started` record: someone who edits it (one treasury approval suffices) and restarts
/// is refused, told how to change a policy; put back, the gateway starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_genesis_policy_refuses_the_start_before_any_apply() {
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), Options::demo()).await;
    gw.stop().await;

    let lax = setup::DEMO_POLICY.replace(
        "approvals = { treasury = 2 }\napproval_expiry_hours = 72",
        "approvals = { treasury = 1 }\napproval_expiry_hours = 72",
    );
    assert_ne!(lax, setup::DEMO_POLICY);
    let cfg = config(dir.path(), &[]);
    let files = setup::write_demo(&cfg.data_dir).unwrap();
    let audit = crate::support::open_log(dir.path()).await;
    let open = || {
        setup::governed_policy(&cfg.data_dir, &files.policy, audit.clone())
            .map(drop)
            .map_err(|e| e.to_string())
    };
    std::fs::write(&files.policy, &lax).unwrap();
    let err = open().unwrap_err();
    assert!(
        err.contains("is not the policy this data directory was first started under"),
        "{err}"
    );
    assert!(
        err.contains(&PolicyHash::of(setup::DEMO_POLICY).to_string()),
        "{err}"
    );
    assert!(err.contains("signgate admin apply-policy"), "{err}");

    std::fs::write(&files.policy, setup::DEMO_POLICY).unwrap();
    open().expect("the genesis policy restored starts");
}

/// Someone who can write the data directory writes a policy where one treasury approval
/// suffices, signs it with a throwaway key and restarts: the start is refused, naming the
/// check and the way back; with the file moved aside the gateway starts under the genesis
/// policy, and the lax policy never decided anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_signed_policy_file_in_the_data_directory_refuses_the_start() {
    use signgate_gateway::governance::{PersistedPolicy, persist::ACTIVE, policy_dir};
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), Options::demo()).await;
    gw.stop().await;

    let lax = setup::DEMO_POLICY.replace(
        "approvals = { treasury = 2 }\napproval_expiry_hours = 72",
        "approvals = { treasury = 1 }\napproval_expiry_hours = 72",
    );
    assert_ne!(lax, setup::DEMO_POLICY);
    let throwaway = SigningKey::from_bytes(&[0x66; 32]);
    let st = statement(&lax, 2, PolicyHash::of(setup::DEMO_POLICY));
    let forged = PersistedPolicy {
        policy_hash: st.policy,
        source: lax.clone(),
        signatures: vec![sign_policy(&throwaway, &st)],
        version: 2,
        replaces: Some(st.replaces),
        legacy_signatures: false,
    };
    let pdir = policy_dir(&config(dir.path(), &[]).data_dir);
    std::fs::create_dir_all(&pdir).unwrap();
    let active = pdir.join(ACTIVE);
    std::fs::write(&active, serde_json::to_vec(&forged).unwrap()).unwrap();
    let err = policy_at_restart(dir.path()).unwrap_err();
    assert!(err.contains("the signatures check failed"), "{err}");
    assert!(err.contains("is not a key of a policy admin"), "{err}");
    assert!(err.contains("signgate admin apply-policy"), "{err}");

    // The same file signed by both real admins, but never applied: the audit log check.
    let signed = PersistedPolicy {
        signatures: ["dave", "erin"]
            .iter()
            .map(|a| sign_policy(&demo::operator(a), &st))
            .collect(),
        ..forged
    };
    std::fs::write(&active, serde_json::to_vec(&signed).unwrap()).unwrap();
    let err = policy_at_restart(dir.path()).unwrap_err();
    assert!(err.contains("the audit log check failed"), "{err}");
    assert!(err.contains("no policy was applied"), "{err}");

    // A file in the form written before versioned signatures, self-signed: not the log's.
    let legacy = serde_json::json!({
        "policy_hash": st.policy,
        "source": lax,
        "signatures": [],
    });
    std::fs::write(&active, legacy.to_string()).unwrap();
    assert!(policy_at_restart(dir.path()).is_err());

    // Moved aside: the gateway starts under the genesis policy; two approvals still needed.
    std::fs::remove_file(&active).unwrap();
    let gw = start(dir.path(), Options::demo()).await;
    let mut a = admin(gw.addr).await;
    let health = policy_health(&mut a).await;
    assert!(
        health.contains(&format!(
            "{} in force as version 1",
            PolicyHash::of(setup::DEMO_POLICY)
        )),
        "{health}"
    );
    drop(a);
    gw.stop().await;
}
