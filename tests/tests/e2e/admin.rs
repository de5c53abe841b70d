//! Issue 4 through the gateway: an admin reload swaps in a new list while the gateway serves,
//! reports the address-level diff, and the next proposal to the newly listed address is denied.

use std::time::Duration;

use alloy_primitives::U256;
use signgate_gateway::config::SanctionsListConfig;
use signgate_policy::sanctions::{ListAction, ListCategory, ListFormat, ListSpec};
use signgate_proto::v1::{self as pb, admin_client::AdminClient};

use crate::{
    demo,
    support::{Options, deny_codes, start, state, submit, token_transfer},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_reload_lists_a_destination_and_the_next_proposal_to_it_is_denied() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("internal-deny.txt");
    // Starts with an unrelated address only.
    std::fs::write(&list, "0x098B716B8Aaf21512996dC57EB0615e2383E2f96\n").unwrap();
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
    let mut c = gw.client().await;

    let before = submit(
        &mut c,
        demo::DEMO_SAFE,
        &token_transfer(demo::PAYEE, U256::from(7u64), 0),
        "alice",
    )
    .await;
    assert_eq!(
        state(&before),
        pb::ProposalState::NeedsApprovals,
        "{:?}",
        before.decision
    );

    // The payee is designated: the list file gains it, an admin asks for a reload.
    std::fs::write(
        &list,
        format!(
            "0x098B716B8Aaf21512996dC57EB0615e2383E2f96\n{}\n",
            demo::PAYEE
        ),
    )
    .unwrap();
    let mut admin = AdminClient::connect(format!("http://{}", gw.addr))
        .await
        .unwrap();
    let reply = admin
        .reload_sanctions_lists(pb::ReloadSanctionsListsRequest { list_ids: vec![] })
        .await
        .unwrap()
        .into_inner();
    let status = reply
        .lists
        .iter()
        .find(|l| l.id == "internal-deny")
        .unwrap();
    assert_eq!(status.error, "", "{status:?}");
    assert_eq!(
        (status.added, status.removed, status.addresses),
        (1, 0, 2),
        "{status:?}"
    );

    let after = submit(
        &mut c,
        demo::DEMO_SAFE,
        &token_transfer(demo::PAYEE, U256::from(8u64), 0),
        "alice",
    )
    .await;
    assert_eq!(state(&after), pb::ProposalState::Denied);
    assert!(
        deny_codes(&after)
            .iter()
            .any(|c| c == "sanctions.listed_address"),
        "{:?}",
        deny_codes(&after)
    );

    // A broken update is refused and the previous copy stays in force.
    std::fs::write(&list, "this is not an address\n").unwrap();
    let reply = admin
        .reload_sanctions_lists(pb::ReloadSanctionsListsRequest {
            list_ids: vec!["internal-deny".into()],
        })
        .await
        .unwrap()
        .into_inner();
    let status = &reply.lists[0];
    assert!(status.error.contains("stays in force"), "{status:?}");
    assert_eq!(status.addresses, 2);
    let again = submit(
        &mut c,
        demo::DEMO_SAFE,
        &token_transfer(demo::PAYEE, U256::from(9u64), 0),
        "alice",
    )
    .await;
    assert_eq!(state(&again), pb::ProposalState::Denied);

    // An unknown list id is named as such.
    let reply = admin
        .reload_sanctions_lists(pb::ReloadSanctionsListsRequest {
            list_ids: vec!["nope".into()],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.lists[0].error, "no list has this id");

    drop(c);
    drop(admin);
    gw.stop().await;
}

/// Health details name every dependency an operator must watch: a stale list is FAILING with
/// the reason (every proposal is denied), a fresh one OK with its size and age, and the audit
/// log reports how many records it holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_details_show_each_list_the_audit_log_and_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("fresh.txt");
    let stale = dir.path().join("stale.txt");
    for f in [&fresh, &stale] {
        std::fs::write(f, "0x098B716B8Aaf21512996dC57EB0615e2383E2f96\n").unwrap();
    }
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - Duration::from_secs(2 * 24 * 3600))
        .unwrap();
    let list = |id: &str, path: &std::path::Path| SanctionsListConfig {
        spec: ListSpec::new(
            id,
            path.display().to_string(),
            ListCategory::Sanctions,
            ListAction::Deny,
            ListFormat::Plain,
            Duration::from_secs(24 * 3600),
        )
        .unwrap(),
        path: path.to_path_buf(),
        comments_path: None,
        remote: None,
    };
    let mut opts = Options::demo();
    opts.lists = Some(vec![list("fresh-list", &fresh), list("stale-list", &stale)]);
    let gw = start(dir.path(), opts).await;
    let mut admin = AdminClient::connect(format!("http://{}", gw.addr))
        .await
        .unwrap();
    let health = admin
        .get_health_details(pb::GetHealthDetailsRequest {})
        .await
        .unwrap()
        .into_inner();
    let component = |name: &str| {
        health
            .components
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no component {name}: {health:?}"))
            .clone()
    };
    assert!(health.serving);
    assert_eq!(component("store").status(), pb::ComponentStatus::Ok);
    assert_eq!(component("policy").status(), pb::ComponentStatus::Ok);
    let audit = component("audit");
    assert_eq!(audit.status(), pb::ComponentStatus::Ok, "{audit:?}");
    assert!(audit.detail.contains("records"), "{audit:?}");
    let ok = component("sanctions:fresh-list");
    assert_eq!(ok.status(), pb::ComponentStatus::Ok, "{ok:?}");
    assert!(
        ok.detail.starts_with("1 address, version undated, sha256 "),
        "{ok:?}"
    );
    let failing = component("sanctions:stale-list");
    assert_eq!(
        failing.status(),
        pb::ComponentStatus::Failing,
        "{failing:?}"
    );
    assert!(failing.detail.contains("denied"), "{failing:?}");
    gw.stop().await;
}
