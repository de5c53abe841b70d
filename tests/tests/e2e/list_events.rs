//! Issue 7: every sanctions list load is in the audit log — at start, on an admin reload (with
//! the address-level diff) and when an update is refused (with the reason and the version
//! kept).

use std::time::Duration;

use alloy_primitives::B256;
use signgate_audit::{
    AuditEvent, AuditRecord,
    record::{ListOutcome, SanctionsListChange},
};
use signgate_gateway::config::SanctionsListConfig;
use signgate_policy::sanctions::{ListAction, ListCategory, ListFormat, ListSpec};
use signgate_proto::v1::{self as pb, admin_client::AdminClient};

use crate::{
    demo,
    support::{Options, start},
};

fn list_records(dir: &std::path::Path) -> Vec<SanctionsListChange> {
    crate::support::audit_leaves(dir)
        .iter()
        .filter_map(|l| match AuditRecord::from_bytes(l).unwrap().event {
            AuditEvent::SanctionsList(c) => Some(c),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loads_reloads_and_refusals_of_a_list_are_recorded_with_their_diff() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("internal-deny.txt");
    std::fs::write(&list, format!("{}\n", demo::SANCTIONED)).unwrap();
    let spec = ListSpec::new(
        "internal-deny",
        list.display().to_string(),
        ListCategory::Internal,
        ListAction::Deny,
        ListFormat::Plain,
        Duration::from_secs(24 * 3600),
    )
    .unwrap();
    let mut opts = Options::demo();
    opts.lists = Some(vec![SanctionsListConfig {
        spec,
        path: list.clone(),
        comments_path: None,
        remote: None,
    }]);
    let gw = start(dir.path(), opts).await;
    let mut a = AdminClient::connect(format!("http://{}", gw.addr))
        .await
        .unwrap();

    // The start's load is recorded: everything added.
    let at_start = list_records(dir.path());
    assert_eq!(at_start.len(), 1, "{at_start:?}");
    assert_eq!(at_start[0].outcome, ListOutcome::Loaded);
    assert_eq!(at_start[0].added, [demo::SANCTIONED]);
    let first: Option<B256> = at_start[0].current_sha256;

    // The payee is designated and the sanctioned address delisted: the reload's diff.
    std::fs::write(&list, format!("{}\n", demo::PAYEE)).unwrap();
    let r = a
        .reload_sanctions_lists(pb::ReloadSanctionsListsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(r.lists[0].error.is_empty(), "{:?}", r.lists);
    let records = list_records(dir.path());
    assert_eq!(records.len(), 2, "{records:?}");
    let reload = &records[1];
    assert_eq!(reload.list, "internal-deny");
    assert_eq!(reload.outcome, ListOutcome::Loaded);
    assert_eq!(reload.added, [demo::PAYEE]);
    assert_eq!(reload.removed, [demo::SANCTIONED]);
    assert_eq!(reload.previous_sha256, first);
    let second = reload.current_sha256;
    assert_ne!(second, first);

    // A garbled update is refused, recorded with its reason, and the previous version kept.
    std::fs::write(&list, "0xnot-an-address\n").unwrap();
    let r = a
        .reload_sanctions_lists(pb::ReloadSanctionsListsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(!r.lists[0].error.is_empty(), "{:?}", r.lists);
    let records = list_records(dir.path());
    assert_eq!(records.len(), 3, "{records:?}");
    let refused = &records[2];
    assert!(
        matches!(&refused.outcome, ListOutcome::Refused { reason } if !reason.is_empty()),
        "{refused:?}"
    );
    assert_eq!(refused.current_sha256, second);
    assert!(refused.added.is_empty() && refused.removed.is_empty());

    drop(a);
    gw.stop().await;
}
