//! Several `signgate serve` replicas on one PostgreSQL database (issue 15): real processes,
//! real gRPC on loopback, a fresh database on the PostgreSQL the machine runs
//! (`scripts/postgres-up` starts or installs it).
//!
//! - any replica serves any call, and `WatchProposal` on one sees every change made through
//!   the others;
//! - two different transactions for the same Safe nonce, both approved, released at the same
//!   moment through two replicas: exactly one is released in every round, the other is refused
//!   and expired; `SIGNGATE_RACE_ROUNDS` sets the rounds (the suite runs
//!   [`SUITE_ROUNDS`], `scripts/replica-race-soak` 10,000);
//! - the shared audit log, exported and verified offline with every replica's key, holds one
//!   reservation per (Safe, nonce).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop loudly"
)]

mod common;

use std::time::Duration;

use common::{
    APPROVERS, approve_request, hash_of,
    replicas::{Replicas, approved, get, may_have_reserved, runtime, state, until_available},
    submit_request,
};
use signgate_audit::AuditEvent;
use signgate_gateway::pipeline::setup::DEMO_POLICY;
use signgate_policy::{
    PolicyHash,
    governance::{PolicyStatement, sign_policy},
};
use signgate_proto::v1::{self as pb, gateway_client::GatewayClient};
use tonic::{Code, transport::Channel};

/// Race rounds in the test suite.
const SUITE_ROUNDS: u32 = 1000;

#[test]
fn any_replica_serves_any_call_and_watchers_see_every_replica() {
    let mut r = Replicas::start(3);
    let rt = runtime();
    rt.block_on(async {
        let (mut a, mut b, mut c) = (r.client(0).await, r.client(1).await, r.client(2).await);
        let p = a
            .submit_proposal(submit_request(1_000, 0))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(state(&p), pb::ProposalState::NeedsApprovals);
        // Watched through replica 2 from the start.
        let mut watch = c
            .watch_proposal(pb::WatchProposalRequest { id: p.id.clone() })
            .await
            .unwrap()
            .into_inner();
        let hash = hash_of(&p);
        let seen = tokio::spawn(async move {
            let mut states = Vec::new();
            while let Ok(Some(event)) =
                tokio::time::timeout(Duration::from_secs(20), watch.message())
                    .await
                    .unwrap()
            {
                if let Some(p) = event.proposal {
                    states.push((p.revision, state(&p)));
                }
            }
            states
        });
        b.approve(approve_request(&p.id, &hash, APPROVERS[0].1))
            .await
            .unwrap();
        let approved = c
            .approve(approve_request(&p.id, &hash, APPROVERS[1].1))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(state(&approved), pb::ProposalState::Approved);
        // Released through replica 1; read back through replica 0.
        let released = b
            .request_signatures(pb::RequestSignaturesRequest { id: p.id.clone() })
            .await;
        assert!(may_have_reserved(&released), "{released:?}");
        assert_eq!(
            state(&get(&mut a, &p.id).await),
            pb::ProposalState::Released
        );
        let states = seen.await.unwrap();
        let last = states.last().copied();
        assert_eq!(
            last.map(|(_, s)| s),
            Some(pb::ProposalState::Released),
            "the watcher on replica 2 saw {states:?}"
        );
        assert!(
            states
                .iter()
                .any(|(_, s)| *s == pb::ProposalState::Approved),
            "the watcher on replica 2 saw {states:?}"
        );
        // Revisions only grow.
        assert!(states.windows(2).all(|w| w[0].0 < w[1].0), "{states:?}");
    });
    let records = r.stop_and_verify();
    let started = records
        .iter()
        .filter(|r| matches!(r.event, AuditEvent::ServerStarted(_)))
        .count();
    assert_eq!(
        started, 3,
        "one server_started per replica in the shared log"
    );
}

/// The rounds `rounds` of the race: for each, two transactions for the round's nonce, both
/// approved, released at the same moment through the two replicas of `clients`; exactly one is
/// released and the other refused. How many each replica won.
async fn race_rounds(
    clients: [GatewayClient<Channel>; 2],
    rounds: impl Iterator<Item = u32>,
) -> [u32; 2] {
    let [mut a, mut b] = clients;
    let (mut a2, mut b2) = (a.clone(), b.clone());
    let mut wins = [0u32; 2];
    for round in rounds {
        let nonce = u64::from(round);
        let amount = 10_000 + 2 * nonce;
        let p1 = approved(&mut a, [&mut b, &mut a2], amount, nonce).await;
        let p2 = approved(&mut b, [&mut a, &mut b2], amount + 1, nonce).await;
        let (r1, r2) = tokio::join!(
            a.request_signatures(pb::RequestSignaturesRequest { id: p1.id.clone() }),
            b.request_signatures(pb::RequestSignaturesRequest { id: p2.id.clone() }),
        );
        let (s1, s2) = (
            state(&get(&mut a, &p1.id).await),
            state(&get(&mut b, &p2.id).await),
        );
        let (won, loser, loser_result, winner_result) = match (s1, s2) {
            (pb::ProposalState::Released, pb::ProposalState::Expired) => (0, &p2, r2, r1),
            (pb::ProposalState::Expired, pb::ProposalState::Released) => (1, &p1, r1, r2),
            other => {
                panic!("round {round}: not exactly one released: {other:?}\n{r1:?}\n{r2:?}")
            }
        };
        wins[won] += 1;
        assert!(
            may_have_reserved(&winner_result),
            "round {round}: {winner_result:?}"
        );
        let refusal = loser_result.unwrap_err();
        assert_eq!(
            refusal.code(),
            Code::FailedPrecondition,
            "round {round}, {}: {refusal:?}",
            loser.id
        );
    }
    wins
}

#[test]
fn exactly_one_release_per_nonce_when_replicas_race() {
    let rounds = std::env::var("SIGNGATE_RACE_ROUNDS")
        .ok()
        .map_or(SUITE_ROUNDS, |v| v.parse().unwrap());
    let mut r = Replicas::start(2);
    let rt = runtime();
    // Several streams of rounds at once (each its own nonces): the rounds race each other too.
    let streams = 4u32;
    let wins = rt.block_on(async {
        let mut handles = Vec::new();
        for stream in 0..streams {
            let (a, b) = (r.client(0).await, r.client(1).await);
            handles.push(tokio::spawn(race_rounds(
                [a, b],
                (stream..rounds).step_by(streams as usize),
            )));
        }
        let mut wins = [0u32; 2];
        for h in handles {
            let w = h.await.unwrap();
            wins[0] += w[0];
            wins[1] += w[1];
        }
        wins
    });
    let records = r.stop_and_verify();
    // One reservation per nonce in the shared log too.
    let mut tickets = std::collections::BTreeMap::new();
    for rec in &records {
        if let AuditEvent::ReleaseTicketIssued(t) = &rec.event {
            *tickets.entry(t.proposal_id.clone()).or_insert(0u32) += 1;
        }
    }
    assert_eq!(
        tickets.len(),
        rounds as usize,
        "one released proposal per round"
    );
    eprintln!(
        "race: {rounds} rounds, replica 0 won {} and replica 1 won {}",
        wins[0], wins[1]
    );
}

#[test]
fn a_policy_applied_through_one_replica_governs_the_next_decision_on_every_replica() {
    let mut r = Replicas::start(3);
    let rt = runtime();
    rt.block_on(async {
        // Three treasury approvals instead of two.
        let strict = DEMO_POLICY.replace(
            "approvals = { treasury = 2 }\napproval_expiry_hours = 72",
            "approvals = { treasury = 3 }\napproval_expiry_hours = 72",
        );
        assert_ne!(strict, DEMO_POLICY);
        let statement = PolicyStatement {
            version: 2,
            replaces: PolicyHash::of(DEMO_POLICY),
            policy: PolicyHash::of(&strict),
        };
        let mut admin = r.admin(0).await;
        let applied = admin
            .apply_policy(apply_request(&strict, 2, DEMO_POLICY))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(applied.policy_hash, statement.policy.to_string());
        // The very next decision on each of the other replicas is made under it: a transfer
        // with bob's and carol's approvals still needs a third.
        for (i, amount) in [(1usize, 7_001u64), (2, 7_002)] {
            let c = r.client(i).await;
            let p = until_available(|| {
                let mut c = c.clone();
                async move { c.submit_proposal(submit_request(amount, 0)).await }
            })
            .await;
            let hash = hash_of(&p);
            let mut last = p;
            for (_, seed) in APPROVERS {
                let id = last.id.clone();
                last = until_available(|| {
                    let (mut c, request) = (c.clone(), approve_request(&id, &hash, seed));
                    async move { c.approve(request).await }
                })
                .await;
            }
            assert_eq!(
                state(&last),
                pb::ProposalState::NeedsApprovals,
                "replica {i} decided under the old policy: {last:?}"
            );
            let decided_under = last.decision.as_ref().map(|d| d.policy_hash.clone());
            assert_eq!(
                decided_under,
                Some(statement.policy.to_string()),
                "replica {i}"
            );
        }
    });
    r.stop_and_verify();
}

#[test]
fn with_the_database_down_every_call_is_unavailable_and_service_resumes_by_itself() {
    use signgate_testkit::postgres::PrivateCluster;
    let cluster = PrivateCluster::start();
    cluster.create_database("signgate");
    let mut r = Replicas::start_on(2, None, cluster.url("signgate"));
    let rt = runtime();
    rt.block_on(async {
        let (mut a, mut b) = (r.client(0).await, r.client(1).await);
        let p = a
            .submit_proposal(submit_request(5_000, 0))
            .await
            .unwrap()
            .into_inner();
        let hash = hash_of(&p);
        b.approve(approve_request(&p.id, &hash, APPROVERS[0].1))
            .await
            .unwrap();

        cluster.stop();
        for c in [&mut a, &mut b] {
            let submit = c
                .submit_proposal(submit_request(5_001, 0))
                .await
                .unwrap_err();
            assert_eq!(submit.code(), Code::Unavailable, "{submit:?}");
            let approve = c
                .approve(approve_request(&p.id, &hash, APPROVERS[1].1))
                .await
                .unwrap_err();
            assert_eq!(approve.code(), Code::Unavailable, "{approve:?}");
            let read = c
                .get_proposal(pb::GetProposalRequest { id: p.id.clone() })
                .await
                .unwrap_err();
            assert_eq!(read.code(), Code::Unavailable, "{read:?}");
            let release = c
                .request_signatures(pb::RequestSignaturesRequest { id: p.id.clone() })
                .await
                .unwrap_err();
            assert_eq!(release.code(), Code::Unavailable, "{release:?}");
        }

        // Back, without restarting the replicas: the approval that was refused goes through,
        // and the release happens once.
        cluster.start_again();
        let approved = until_available(|| {
            let (mut c, request) = (b.clone(), approve_request(&p.id, &hash, APPROVERS[1].1));
            async move { c.approve(request).await }
        })
        .await;
        assert_eq!(state(&approved), pb::ProposalState::Approved);
        let released = a
            .request_signatures(pb::RequestSignaturesRequest { id: p.id.clone() })
            .await;
        assert!(may_have_reserved(&released), "{released:?}");
        assert_eq!(
            state(&get(&mut b, &p.id).await),
            pb::ProposalState::Released
        );
        // Nothing was written while the database was down: one proposal, two approvals.
        let listed = a
            .list_proposals(pb::ListProposalsRequest::default())
            .await
            .unwrap()
            .into_inner();
        assert_eq!(listed.proposals.len(), 1, "{listed:?}");
    });
    r.stop_and_verify();
}

#[test]
fn releases_through_different_replicas_never_together_cross_a_velocity_limit() {
    use alloy_primitives::U256;
    // The demo treasury may send 500,000 DEMO a day; six approved transfers of 100,000 DEMO
    // (queued at nonces 0 to 5) are released all at once, three through each replica.
    let whole = U256::from(10u64).pow(U256::from(18u64));
    let amount = U256::from(100_000u64) * whole;
    let mut r = Replicas::start(2);
    let rt = runtime();
    let released = rt.block_on(async {
        let (mut a, mut b) = (r.client(0).await, r.client(1).await);
        let mut ids = Vec::new();
        for nonce in 0..6u64 {
            let p = a
                .submit_proposal(common::submit_units(amount, nonce))
                .await
                .unwrap()
                .into_inner();
            let hash = hash_of(&p);
            let mut last = p;
            for (client, (_, seed)) in [&mut a, &mut b].into_iter().zip(APPROVERS) {
                last = client
                    .approve(approve_request(&last.id, &hash, seed))
                    .await
                    .unwrap()
                    .into_inner();
            }
            assert_eq!(state(&last), pb::ProposalState::Approved, "{last:?}");
            ids.push(last.id);
        }
        let calls = ids.iter().enumerate().map(|(i, id)| {
            let mut c = if i % 2 == 0 { a.clone() } else { b.clone() };
            let id = id.clone();
            async move {
                c.request_signatures(pb::RequestSignaturesRequest { id })
                    .await
            }
        });
        let results = futures_join_all(calls).await;
        let mut released = 0;
        for (id, result) in ids.iter().zip(&results) {
            match state(&get(&mut a, id).await) {
                pb::ProposalState::Released => released += 1,
                other => {
                    let refusal = result.as_ref().unwrap_err();
                    assert_ne!(refusal.code(), Code::Ok);
                    assert!(
                        refusal.message().contains("velocity")
                            || refusal.message().contains("limit"),
                        "{id} is {other:?}: {refusal:?}"
                    );
                }
            }
        }
        released
    });
    assert_eq!(released, 5, "exactly the limit's worth is released");
    r.stop_and_verify();
}

/// Runs every future of `calls` at once and waits for all of them, in order.
async fn futures_join_all<F: std::future::Future + Send + 'static>(
    calls: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send,
{
    let handles: Vec<_> = calls.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

/// `source` as `version`, replacing `replaces`, signed by both demo policy admins (dave, erin).
fn apply_request(source: &str, version: u64, replaces: &str) -> pb::ApplyPolicyRequest {
    let statement = PolicyStatement {
        version,
        replaces: PolicyHash::of(replaces),
        policy: PolicyHash::of(source),
    };
    let signatures = [0xd0u8, 0xee]
        .iter()
        .map(|seed| {
            let s = sign_policy(
                &ed25519_dalek::SigningKey::from_bytes(&[*seed; 32]),
                &statement,
            );
            pb::PolicySignature {
                public_key: s.public_key.to_vec(),
                signature: s.signature.to_vec(),
            }
        })
        .collect();
    pb::ApplyPolicyRequest {
        policy: source.as_bytes().to_vec(),
        signatures,
        version,
        replaces_policy_hash: statement.replaces.to_string(),
    }
}

#[test]
fn two_replicas_applying_different_successors_at_once_cannot_fork_the_chain() {
    let mut r = Replicas::start(2);
    let rt = runtime();
    rt.block_on(async {
        let three = DEMO_POLICY.replace(
            "approvals = { treasury = 2 }\napproval_expiry_hours = 72",
            "approvals = { treasury = 3 }\napproval_expiry_hours = 72",
        );
        let expiry =
            DEMO_POLICY.replace("approval_expiry_hours = 72", "approval_expiry_hours = 24");
        assert!(three != DEMO_POLICY && expiry != DEMO_POLICY);
        let (mut a, mut b) = (r.admin(0).await, r.admin(1).await);
        let (ra, rb) = tokio::join!(
            a.apply_policy(apply_request(&three, 2, DEMO_POLICY)),
            b.apply_policy(apply_request(&expiry, 2, DEMO_POLICY)),
        );
        let (won, lost) = match (&ra, &rb) {
            (Ok(_), Err(e)) => (&three, e),
            (Err(e), Ok(_)) => (&expiry, e),
            other => panic!("both or neither applied: {other:?}"),
        };
        assert_eq!(lost.code(), Code::FailedPrecondition, "{lost:?}");
        // Both replicas end up deciding under the one that won.
        for i in 0..2 {
            let c = r.client(i).await;
            let p = until_available(|| {
                let mut c = c.clone();
                async move { c.submit_proposal(submit_request(9_000 + i as u64, 0)).await }
            })
            .await;
            assert_eq!(
                p.decision.as_ref().map(|d| d.policy_hash.clone()),
                Some(PolicyHash::of(won).to_string()),
                "replica {i}"
            );
        }
    });
    // The chain verifies offline: one version 2, no fork.
    r.stop_and_verify();
}

#[test]
fn a_replica_reaches_its_database_over_tls_with_the_configured_ca() {
    use signgate_testkit::postgres::{PrivateCluster, psql};
    let (cluster, ca) = PrivateCluster::start_with_tls();
    cluster.create_database("signgate");
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("db-ca.pem");
    std::fs::write(&ca_file, ca).unwrap();
    let url = format!("postgres://postgres@localhost:{}/signgate", cluster.port());
    let env = |data: &str, ca: &std::path::Path| {
        [
            (
                "SIGNGATE_STORE__DATA_DIR",
                dir.path().join(data).display().to_string(),
            ),
            ("SIGNGATE_STORE__BACKEND", "postgres".to_owned()),
            ("SIGNGATE_STORE__POSTGRES__URL", url.clone()),
            ("SIGNGATE_STORE__POSTGRES__CA", ca.display().to_string()),
        ]
    };
    let mut gw = common::Gateway::spawn(dir.path(), &env("a", &ca_file));
    let addr = gw
        .wait_ready()
        .unwrap_or_else(|e| panic!("{e}\n{}", gw.tail()));
    let rt = runtime();
    rt.block_on(async {
        let mut c =
            signgate_proto::v1::gateway_client::GatewayClient::connect(format!("http://{addr}"))
                .await
                .unwrap();
        let p = c
            .submit_proposal(submit_request(3_000, 0))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(state(&p), pb::ProposalState::NeedsApprovals);
    });
    // Every connection of the gateway is encrypted.
    let plain = psql(
        &cluster.url("signgate"),
        "SELECT count(*) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) \
         WHERE a.application_name = 'signgate' AND NOT s.ssl",
    );
    let encrypted = psql(
        &cluster.url("signgate"),
        "SELECT count(*) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) \
         WHERE a.application_name = 'signgate' AND s.ssl",
    );
    assert_eq!(plain, "0");
    assert_ne!(encrypted, "0");
    gw.terminate();
    // An auditor exports over TLS too.
    let export = std::process::Command::new(common::BIN)
        .args(["audit", "export", "--postgres", &url, "--postgres-ca"])
        .arg(&ca_file)
        .arg("--out")
        .arg(dir.path().join("log.jsonl"))
        .output()
        .unwrap();
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );

    // A CA that did not issue the server's certificate: the replica does not start.
    let (_other, other_ca) = PrivateCluster::start_with_tls();
    let wrong = dir.path().join("wrong-ca.pem");
    std::fs::write(&wrong, other_ca).unwrap();
    let mut refused = common::Gateway::spawn(dir.path(), &env("b", &wrong));
    let err = refused.wait_ready().unwrap_err();
    assert!(err.contains("exited"), "{err}");
    assert!(
        refused.tail().to_lowercase().contains("certificate"),
        "{}",
        refused.tail()
    );
}

#[test]
fn a_replica_whose_audit_key_is_not_listed_does_not_start() {
    let mut r = Replicas::start(2);
    let key = |i: usize| {
        std::fs::read_to_string(r.data_dir(i).join("audit.key.pub"))
            .unwrap()
            .trim()
            .to_owned()
    };
    let (a, b) = (key(0), key(1));
    // Both listed: a third start of replica 1 serves.
    let listed = format!("{a},{b}");
    r.gateways[1].terminate();
    r.spawn_with(1, &[("SIGNGATE_AUDIT__REPLICA_KEYS", listed)]);
    r.ready(1);
    // Replica 1 left out: it refuses to start, naming its key.
    r.gateways[1].terminate();
    r.spawn_with(1, &[("SIGNGATE_AUDIT__REPLICA_KEYS", a.clone())]);
    let err = r.gateways[1].wait_ready().unwrap_err();
    assert!(err.contains("exited"), "{err}");
    let tail = r.gateways[1].tail();
    assert!(
        tail.contains("not listed in audit.replica_keys") && tail.contains(&b),
        "{tail}"
    );
    // Replica 0 listing only itself: replica 1's key has opened the log, so it refuses too.
    r.gateways[0].terminate();
    r.spawn_with(0, &[("SIGNGATE_AUDIT__REPLICA_KEYS", a)]);
    assert!(r.gateways[0].wait_ready().is_err());
    assert!(
        r.gateways[0].tail().contains(&b),
        "{}",
        r.gateways[0].tail()
    );
}
