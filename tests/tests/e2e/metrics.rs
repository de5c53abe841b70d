//! Issue 6, metrics: the Prometheus endpoint counts what the gateway decided and why, times
//! its calls, and shows the age and usability of every sanctions list — scraped over real
//! HTTP from a gateway that served real gRPC.

use std::{net::SocketAddr, time::Duration};

use alloy_primitives::U256;
use signgate_gateway::config::SanctionsListConfig;
use signgate_policy::sanctions::ListSpec;
use signgate_proto::v1::{self as pb, admin_client::AdminClient};
use signgate_simulator::SafeTx;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::{
    demo,
    support::{Options, approve, config, start, start_with_signers, state, submit, token_transfer},
};

/// `GET path` with a hand-written HTTP/1.1 request: the status line and the body.
async fn get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).await.unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

pub async fn scrape(addr: SocketAddr) -> String {
    let (status, body) = get(addr, "/metrics").await;
    assert!(status.contains(" 200 "), "{status}");
    body
}

/// The value of the sample `name` whose labels include every pair of `labels`.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| {
            let Some(rest) = l.strip_prefix(name) else {
                return false;
            };
            (rest.starts_with('{') || rest.starts_with(' '))
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn bybit() -> SafeTx {
    let fixture: serde_json::Value = serde_json::from_str(include_str!(
        "../../../simulator/tests/fixtures/evm/bybit.json"
    ))
    .unwrap();
    serde_json::from_value(fixture["tx"].clone()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_reasons_latencies_and_list_age_are_scraped() {
    let dir = tempfile::tempdir().unwrap();
    let (gw, [s1, s2]) = start_with_signers(dir.path(), [0, 2]).await;
    let mut c = gw.client().await;

    let before = scrape(gw.metrics).await;
    assert_eq!(
        sample(&before, "signgate_decisions_total", &[]),
        None,
        "nothing decided yet:\n{before}"
    );

    let denied = submit(&mut c, demo::BYBIT_SAFE, &bybit(), "alice").await;
    assert_eq!(state(&denied), pb::ProposalState::Denied);
    let tx = token_transfer(demo::PAYEE, U256::from(1_000u64), 0);
    let waiting = submit(&mut c, demo::DEMO_SAFE, &tx, "alice").await;
    assert_eq!(state(&waiting), pb::ProposalState::NeedsApprovals);
    // An Admin call goes through the same layer: span and latency, by method and code.
    let mut admin = AdminClient::connect(format!("http://{}", gw.addr))
        .await
        .unwrap();
    admin
        .get_health_details(pb::GetHealthDetailsRequest {})
        .await
        .unwrap();
    let missing = c
        .get_proposal(pb::GetProposalRequest {
            id: "p-000000000000000000000000".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);

    let text = scrape(gw.metrics).await;
    let decided = |outcome| {
        sample(
            &text,
            "signgate_decisions_total",
            &[("outcome", outcome), ("trigger", "submitted")],
        )
    };
    assert_eq!(decided("deny"), Some(1.0), "{text}");
    assert_eq!(decided("needs_approvals"), Some(1.0), "{text}");
    assert_eq!(decided("approved"), None, "{text}");
    for reason in ["delegatecall.not_allowlisted", "upgrade.singleton_changed"] {
        assert_eq!(
            sample(&text, "signgate_deny_reasons_total", &[("reason", reason)]),
            Some(1.0),
            "{reason}:\n{text}"
        );
    }
    assert_eq!(
        sample(
            &text,
            "signgate_grpc_request_duration_seconds_count",
            &[("method", "SubmitProposal"), ("code", "OK")]
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "signgate_grpc_request_duration_seconds_count",
            &[("method", "GetProposal"), ("code", "NOT_FOUND")]
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "signgate_grpc_request_duration_seconds_count",
            &[("method", "GetHealthDetails"), ("code", "OK")]
        ),
        Some(1.0),
        "Admin calls are timed too:\n{text}"
    );
    let slowest = sample(
        &text,
        "signgate_grpc_request_duration_seconds_bucket",
        &[("method", "SubmitProposal"), ("le", "+Inf")],
    );
    assert_eq!(slowest, Some(2.0), "{text}");
    assert_eq!(
        sample(&text, "signgate_simulation_duration_seconds_count", &[]),
        Some(2.0),
        "{text}"
    );

    let cfg = config(dir.path(), &[]);
    let list = signgate_gateway::pipeline::setup::write_demo(&cfg.data_dir)
        .unwrap()
        .lists[0]
        .spec
        .id
        .to_string();
    let age = sample(
        &text,
        "signgate_sanctions_list_age_seconds",
        &[("list", list.as_str())],
    )
    .unwrap_or_else(|| panic!("no age for {list}:\n{text}"));
    assert!((0.0..600.0).contains(&age), "{age}");
    assert_eq!(
        sample(
            &text,
            "signgate_sanctions_list_usable",
            &[("list", list.as_str())]
        ),
        Some(1.0),
        "{text}"
    );
    assert!(text.contains("# HELP signgate_decisions "), "{text}");
    assert!(text.ends_with("# EOF\n"), "{text}");

    let (status, body) = get(gw.metrics, "/").await;
    assert!(status.contains(" 404 "), "{status}");
    assert!(!body.contains("signgate_"), "{body}");

    // Approvals and the release are counted under their own triggers.
    let p = approve(&mut c, &waiting, "bob").await;
    let p = approve(&mut c, &p, "carol").await;
    assert_eq!(state(&p), pb::ProposalState::Approved);
    c.request_signatures(pb::RequestSignaturesRequest { id: p.id.clone() })
        .await
        .unwrap();
    let refused = c
        .request_signatures(pb::RequestSignaturesRequest {
            id: denied.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    let text = scrape(gw.metrics).await;
    let decided = |outcome, trigger| {
        sample(
            &text,
            "signgate_decisions_total",
            &[("outcome", outcome), ("trigger", trigger)],
        )
    };
    assert_eq!(decided("needs_approvals", "approval"), Some(1.0), "{text}");
    assert_eq!(decided("approved", "approval"), Some(1.0), "{text}");
    assert_eq!(decided("approved", "release"), Some(1.0), "{text}");
    for result in ["returned", "refused"] {
        assert_eq!(
            sample(&text, "signgate_releases_total", &[("result", result)]),
            Some(1.0),
            "{result}:\n{text}"
        );
    }
    assert_eq!(
        sample(&text, "signgate_simulation_duration_seconds_count", &[]),
        Some(5.0),
        "submit ×2, approve ×2, release ×1:\n{text}"
    );
    drop(c);
    gw.stop().await;
    s1.stop().await;
    s2.stop().await;
}

/// A list past its maximum age is visible on the endpoint before any proposal meets it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_list_shows_as_unusable() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &[]);
    let mut lists = signgate_gateway::pipeline::setup::write_demo(&cfg.data_dir)
        .unwrap()
        .lists;
    let fresh = lists[0].clone();
    // The same file under another id whose maximum age is already over when it is loaded.
    let spec = &fresh.spec;
    lists.push(SanctionsListConfig {
        spec: ListSpec::new(
            "stale-copy",
            spec.source.clone(),
            spec.category,
            spec.action,
            spec.format,
            Duration::from_nanos(1),
        )
        .unwrap(),
        path: fresh.path.clone(),
        comments_path: None,
        remote: None,
    });
    let mut opts = Options::demo();
    opts.lists = Some(lists);
    let gw = start(dir.path(), opts).await;

    let text = scrape(gw.metrics).await;
    let fresh_id = fresh.spec.id.to_string();
    assert_eq!(
        sample(
            &text,
            "signgate_sanctions_list_usable",
            &[("list", fresh_id.as_str())]
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "signgate_sanctions_list_usable",
            &[("list", "stale-copy")]
        ),
        Some(0.0),
        "{text}"
    );
    assert!(
        sample(
            &text,
            "signgate_sanctions_list_age_seconds",
            &[("list", "stale-copy")]
        )
        .is_some(),
        "{text}"
    );
    gw.stop().await;
}

/// `signgate serve` with a metrics address it cannot bind does not start, and says which key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_metrics_port_stops_the_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let env = [
        (
            "SIGNGATE_STORE__DATA_DIR",
            dir.path().join("data").to_string_lossy().into_owned(),
        ),
        ("SIGNGATE_SERVER__LISTEN", "127.0.0.1:0".to_owned()),
        (
            "SIGNGATE_METRICS__LISTEN",
            taken.local_addr().unwrap().to_string(),
        ),
    ]
    .map(|(k, v)| (k.to_owned(), v));
    let args = signgate_gateway::serve::ServeArgs { config: None };
    // The shutdown never fires: only a failed start returns.
    let err = signgate_gateway::serve::run(&args, env, std::future::pending())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("metrics.listen"), "{err}");
    drop(taken);
}
