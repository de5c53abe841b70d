//! Issue 14, item 5: a release is answered only once a signed checkpoint covering its
//! `signatures_returned` record has been delivered outside the gateway (`[audit]
//! checkpoint_hook`); a hook that fails withholds the signatures.

use std::path::Path;

use alloy_primitives::U256;
use signgate_proto::v1 as pb;

use crate::{
    demo,
    support::{
        Options, approve, audit_kinds, start_with_signers_and, state, submit, token_transfer,
    },
};

/// A demo transfer submitted by alice and approved by bob and carol, ready for release.
async fn approved(
    c: &mut signgate_proto::v1::gateway_client::GatewayClient<tonic::transport::Channel>,
) -> pb::Proposal {
    let amount = U256::from(250_000u64) * U256::from(10u64).pow(U256::from(18u64));
    let tx = token_transfer(demo::PAYEE, amount, 0);
    let p = submit(c, demo::DEMO_SAFE, &tx, "alice").await;
    let p = approve(c, &p, "bob").await;
    let p = approve(c, &p, "carol").await;
    assert_eq!(state(&p), pb::ProposalState::Approved, "{:?}", p.decision);
    p
}

fn with_hook(argv: &[&str]) -> Options<signgate_simulator::evm::Snapshot> {
    let mut opts = Options::demo();
    opts.checkpoint_hook = Some(argv.iter().map(|a| (*a).to_owned()).collect());
    opts
}

/// A shell script in `dir` that runs `body`, executable.
fn script(dir: &Path, name: &str, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_string_lossy().into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_checkpoint_hook_withholds_the_signatures() {
    let dir = tempfile::tempdir().unwrap();
    let hook = script(dir.path(), "witness-down.sh", "cat >/dev/null\nexit 1");
    let (gw, [s1, s2]) =
        start_with_signers_and(dir.path(), [0, 2], with_hook(&[hook.as_str()])).await;
    let mut c = gw.client().await;
    let p = approved(&mut c).await;

    let err = c
        .request_signatures(pb::RequestSignaturesRequest { id: p.id.clone() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable, "{err:?}");
    assert!(
        err.message()
            .contains("no witness outside the gateway confirmed it"),
        "{}",
        err.message()
    );
    assert!(
        err.message().contains("nothing was returned"),
        "{}",
        err.message()
    );
    // The release itself is on the record: the log says what happened, the caller got nothing.
    let kinds = audit_kinds(dir.path());
    assert_eq!(
        kinds.last().map(String::as_str),
        Some("signatures_returned"),
        "{kinds:?}"
    );

    gw.stop().await;
    s1.stop().await;
    s2.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_that_is_not_there_withholds_the_signatures() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir
        .path()
        .join("no-such-hook")
        .to_string_lossy()
        .into_owned();
    let (gw, [s1, s2]) =
        start_with_signers_and(dir.path(), [0, 2], with_hook(&[missing.as_str()])).await;
    let mut c = gw.client().await;
    let p = approved(&mut c).await;

    let err = c
        .request_signatures(pb::RequestSignaturesRequest { id: p.id.clone() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable, "{err:?}");

    gw.stop().await;
    s1.stop().await;
    s2.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_waits_for_a_witnessed_checkpoint_covering_it() {
    let dir = tempfile::tempdir().unwrap();
    let witnessed = dir.path().join("witnessed.note");
    let hook = script(
        dir.path(),
        "witness.sh",
        &format!("cat > '{}'", witnessed.display()),
    );
    let (gw, [s1, s2]) =
        start_with_signers_and(dir.path(), [0, 2], with_hook(&[hook.as_str()])).await;
    let mut c = gw.client().await;
    let p = approved(&mut c).await;

    let released = c
        .request_signatures(pb::RequestSignaturesRequest { id: p.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(released.signatures.len(), 2 * 65);

    // The note the hook received when the answer was sent covers every record up to and
    // including this release's `signatures_returned`.
    let note = std::fs::read_to_string(&witnessed).unwrap();
    let (checkpoint, _) = signgate_audit::checkpoint::parse_note(&note).unwrap();
    let kinds = audit_kinds(dir.path());
    let returned = kinds
        .iter()
        .rposition(|k| k == "signatures_returned")
        .unwrap();
    assert!(
        checkpoint.size > returned as u64,
        "checkpoint of {} records does not cover record #{returned}: {kinds:?}",
        checkpoint.size
    );
    assert_eq!(checkpoint.size, kinds.len() as u64, "{kinds:?}");
    // The drop directory received the same checkpoint.
    let dropped = dir
        .path()
        .join("data/checkpoints")
        .join(signgate_audit::export::note_file_name(checkpoint.size));
    assert_eq!(std::fs::read_to_string(dropped).unwrap(), note);

    gw.stop().await;
    s1.stop().await;
    s2.stop().await;
}
