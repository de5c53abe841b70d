//! Issue 13, items 6 and 7: requests refused because of who signed them, before any work. Each
//! file of `tests/fixtures/attacks/` (format in its README) is one attack run against its own
//! gateway over real gRPC: the attack gets the expected status and message, stores nothing,
//! appends nothing to the audit log, and the steps after it (such as the permitted initiator
//! submitting the same transaction) still succeed.

use std::path::{Path, PathBuf};

use alloy_primitives::U256;
use serde_json::Value;
use signgate_gateway::pipeline::setup;
use signgate_policy::{
    PolicyHash,
    governance::{PolicyStatement, sign_policy},
};
use signgate_proto::v1::{self as pb, admin_client::AdminClient, gateway_client::GatewayClient};
use tonic::{Code, transport::Channel};

use crate::{
    demo,
    support::{
        Options, approve_request, audit_kinds, cancel_request, start, state, statement, submission,
        submit_request, token_transfer,
    },
};

fn attacks_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/attacks")
}

pub fn str_field<'a>(v: &'a Value, key: &str, file: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{file}: `{key}` must be a string: {v}"))
}

fn count_field(v: &Value, key: &str, file: &str) -> usize {
    let n = v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{file}: `{key}` must be a count: {v}"));
    usize::try_from(n).unwrap()
}

fn array<'a>(v: &'a Value, key: &str, file: &str) -> &'a [Value] {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("{file}: `{key}` must be an array"))
}

/// The demo policy with the file's edits, each `find` occurring exactly once.
pub fn edited_policy(edits: &[Value], file: &str) -> String {
    let mut policy = setup::DEMO_POLICY.to_owned();
    for e in edits {
        let find = str_field(e, "find", file);
        assert_eq!(
            policy.matches(find).count(),
            1,
            "{file}: `{find}` must occur exactly once in the demo policy"
        );
        policy = policy.replacen(find, str_field(e, "replace", file), 1);
    }
    policy
}

/// Applies `policy` through `Admin.ApplyPolicy`, signed by the demo admins as version 2
/// replacing the demo policy: the first application on a gateway started under it.
pub async fn apply(addr: std::net::SocketAddr, policy: &str) {
    let statement = PolicyStatement {
        version: 2,
        replaces: PolicyHash::of(setup::DEMO_POLICY),
        policy: PolicyHash::of(policy),
    };
    let signatures = ["dave", "erin"]
        .into_iter()
        .map(|admin| {
            let s = sign_policy(&demo::operator(admin), &statement);
            pb::PolicySignature {
                public_key: s.public_key.to_vec(),
                signature: s.signature.to_vec(),
            }
        })
        .collect();
    AdminClient::connect(format!("http://{addr}"))
        .await
        .unwrap()
        .apply_policy(pb::ApplyPolicyRequest {
            policy: policy.as_bytes().to_vec(),
            signatures,
            version: statement.version,
            replaces_policy_hash: statement.replaces.to_string(),
        })
        .await
        .unwrap();
}

/// What successful steps should have left in the audit log.
#[derive(Default)]
struct Expected {
    submitted: usize,
    approvals: usize,
}

/// Runs one step against `last` (the proposal of the last successful submission).
async fn run(
    c: &mut GatewayClient<Channel>,
    step: &Value,
    last: Option<&pb::Proposal>,
    file: &str,
) -> Result<pb::Proposal, tonic::Status> {
    let key = demo::operator(str_field(step, "by", file));
    match str_field(step, "act", file) {
        "submit" => {
            let tx = token_transfer(demo::PAYEE, U256::from(1_000u64), 0);
            let req = submit_request(&submission(demo::DEMO_SAFE, &tx), &key);
            c.submit_proposal(req)
                .await
                .map(tonic::Response::into_inner)
        }
        act @ ("approve" | "reject") => {
            let p = last.unwrap_or_else(|| panic!("{file}: `{act}` needs a `submit` before it"));
            if act == "approve" {
                let req = approve_request(&statement(p, pb::ApprovalKind::Approve), &key);
                c.approve(req).await.map(tonic::Response::into_inner)
            } else {
                let env = approve_request(&statement(p, pb::ApprovalKind::Reject), &key).approval;
                c.reject(pb::RejectRequest { rejection: env })
                    .await
                    .map(tonic::Response::into_inner)
            }
        }
        "cancel" => {
            let p = last.unwrap_or_else(|| panic!("{file}: `cancel` needs a `submit` before it"));
            let by = str_field(step, "by", file);
            c.cancel(cancel_request(p, by, "withdrawn"))
                .await
                .map(tonic::Response::into_inner)
        }
        other => panic!("{file}: unknown act `{other}`"),
    }
}

/// Runs steps that must succeed, checking each one's `state` if given.
async fn succeed(
    c: &mut GatewayClient<Channel>,
    steps: &[Value],
    last: &mut Option<pb::Proposal>,
    expected: &mut Expected,
    file: &str,
) {
    for step in steps {
        let p = run(c, step, last.as_ref(), file)
            .await
            .unwrap_or_else(|e| panic!("{file}: step {step} must succeed: {e:?}"));
        if let Some(want) = step.get("state") {
            let want = want.as_str().unwrap();
            assert_eq!(
                state(&p).as_str_name(),
                want,
                "{file}: step {step}: {:?}",
                p.decision
            );
        }
        if let Some(want) = step.get("initiator") {
            assert_eq!(
                Some(p.initiator.as_str()),
                want.as_str(),
                "{file}: step {step}"
            );
        }
        match step["act"].as_str() {
            Some("submit") => expected.submitted += 1,
            Some("cancel") => {}
            _ => expected.approvals += 1,
        }
        *last = Some(p);
    }
}

async fn attack(path: &Path) {
    let file = path.file_name().unwrap().to_string_lossy().into_owned();
    let spec: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    assert!(
        !str_field(&spec, "description", &file).is_empty(),
        "{file}: describe the attack"
    );
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), Options::demo()).await;
    let mut c = gw.client().await;
    let edits = array(&spec, "policy_edits", &file);
    if !edits.is_empty() {
        apply(gw.addr, &edited_policy(edits, &file)).await;
    }

    let mut last = None;
    let mut expected = Expected::default();
    succeed(
        &mut c,
        array(&spec, "before", &file),
        &mut last,
        &mut expected,
        &file,
    )
    .await;

    let expect = &spec["expect"];
    let err = run(&mut c, &spec["attack"], last.as_ref(), &file)
        .await
        .expect_err(&format!("{file}: the attack must be refused"));
    assert_eq!(
        err.code(),
        Code::from_i32(
            pb_code(str_field(expect, "code", &file)).unwrap_or_else(|| panic!("{file}: code"))
        ),
        "{file}: {err:?}"
    );
    for part in array(expect, "message_contains", &file) {
        let part = part.as_str().unwrap();
        assert!(
            err.message().contains(part),
            "{file}: the refusal must say `{part}`: {}",
            err.message()
        );
    }
    let stored = c
        .list_proposals(pb::ListProposalsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .proposals;
    assert_eq!(
        stored.len(),
        count_field(expect, "proposals_stored", &file),
        "{file}: {stored:?}"
    );
    let approvals = match &last {
        Some(p) => {
            c.get_proposal(pb::GetProposalRequest { id: p.id.clone() })
                .await
                .unwrap()
                .into_inner()
                .approvals
        }
        None => Vec::new(),
    };
    assert_eq!(
        approvals.len(),
        count_field(expect, "approvals_stored", &file),
        "{file}: {approvals:?}"
    );

    succeed(
        &mut c,
        array(&spec, "after", &file),
        &mut last,
        &mut expected,
        &file,
    )
    .await;
    drop(c);
    gw.stop().await;

    // The attack appended nothing: only the successful steps are in the log.
    let kinds = audit_kinds(dir.path());
    let count = |kind: &str| kinds.iter().filter(|k| *k == kind).count();
    assert_eq!(
        count("proposal_submitted"),
        expected.submitted,
        "{file}: {kinds:?}"
    );
    assert_eq!(
        count("approval_received"),
        expected.approvals,
        "{file}: {kinds:?}"
    );
    assert_eq!(
        count("decision_made"),
        expected.submitted + expected.approvals,
        "{file}: {kinds:?}"
    );
}

/// The numeric gRPC code of a status name as the fixtures write it.
pub fn pb_code(name: &str) -> Option<i32> {
    Some(match name {
        "PERMISSION_DENIED" => Code::PermissionDenied as i32,
        "INVALID_ARGUMENT" => Code::InvalidArgument as i32,
        "FAILED_PRECONDITION" => Code::FailedPrecondition as i32,
        "NOT_FOUND" => Code::NotFound as i32,
        "UNAVAILABLE" => Code::Unavailable as i32,
        _ => return None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_attack_in_the_fixtures_is_refused_before_any_work() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(attacks_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    for name in [
        "claim-first-by-probationary.json",
        "inactive-operator-approval.json",
        "revoked-key-submission.json",
    ] {
        assert!(
            files.iter().any(|f| f.ends_with(name)),
            "{name} is one of the attacks"
        );
    }
    for file in &files {
        attack(file).await;
    }
}

/// Admission comes before any work on the transaction: a submission that would fail its own
/// checks (here a wrong expected safeTxHash, found only after decoding) is refused for who
/// signed it, not for what it holds — the gateway never decoded it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_submitter_is_refused_before_the_transaction_is_looked_at() {
    let dir = tempfile::tempdir().unwrap();
    let gw = start(dir.path(), Options::demo()).await;
    let mut c = gw.client().await;
    let tx = token_transfer(demo::PAYEE, U256::from(1_000u64), 0);
    let mut payload = submission(demo::DEMO_SAFE, &tx);
    payload.expected_safe_tx_hash = format!("{:#x}", alloy_primitives::B256::repeat_byte(1));

    let err = c
        .submit_proposal(submit_request(&payload, &demo::operator("mallory")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    assert!(err.message().contains("on probation"), "{}", err.message());

    // The same request from a permitted initiator gets as far as the hash check.
    let err = c
        .submit_proposal(submit_request(&payload, &demo::operator("alice")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    drop(c);
    gw.stop().await;
}
