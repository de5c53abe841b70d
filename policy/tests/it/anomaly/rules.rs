//! Each rule fires on its injected pattern and names the operator, the evidence and the action.

use std::net::{IpAddr, Ipv4Addr};

use signgate_policy::{
    anomaly::*,
    time::{HOUR, Timestamp},
};

use super::team::*;

#[test]
fn a_usual_call_raises_nothing() {
    assert!(profile("alice").history_days(usual_alice().at, team().settings()) >= 14);
    assert_eq!(alerts_for(&usual_alice()), vec![]);
}

#[test]
fn off_hours_fires_on_a_saturday_night_call_and_names_both_windows() {
    let mut e = usual_alice();
    e.call = CallKind::Approve;
    // Saturday 2026-03-21 03:00 in Berlin (CET) is 02:00Z.
    e.at = "2026-03-21T02:00:00Z".parse().unwrap();
    let alerts = alerts_for(&e);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = &alerts[0];
    assert_eq!(a.code(), "anomaly.off_hours");
    assert_eq!(a.subject, Some(Subject::Operator("alice".into())));
    assert_eq!(a.action, security());
    let Anomaly::OffHours {
        outside_declared: Some(d),
        outside_learned: Some(_),
    } = &a.anomaly
    else {
        panic!("{a:#?}")
    };
    assert_eq!((d.local.weekday, d.local.minute), (5, 3 * 60));
    assert_eq!(d.hours.zone, "Europe/Berlin");
    let text = a.to_string();
    for needle in [
        "[anomaly.off_hours]",
        "operator `alice`",
        "sat 03:00",
        "mon,tue,wed,thu,fri 08:00–18:00 Europe/Berlin",
        "one more approval from role `security`",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
}

#[test]
fn off_hours_by_the_profile_alone_when_nothing_is_declared() {
    // The service client declares nothing, but after a month of hourly polls every hour is
    // known: no alert. A certificate profile of someone who only ever called at night alerts
    // in the day — here, the learned check on Alice with her declaration ignored.
    let t = team();
    let bot_call = Observation {
        at: "2026-03-21T03:07:00Z".parse().unwrap(),
        operator: None,
        key: None,
        client_cert: Some(t.bot),
        network: Some(SourceNetwork::of(IpAddr::V4(Ipv4Addr::new(10, 20, 30, 40)))),
        identity: IdentityClass::GatewayClient,
        call: CallKind::Read(ReadCall::List),
        wallet: None,
        outcome: Outcome::Allowed,
        approval: None,
        probation: None,
    };
    assert_eq!(alerts_for(&bot_call), vec![]);
    let mut settings = t.settings().clone();
    settings.working_hours.clear();
    let mut e = usual_alice();
    e.at = "2026-03-18T23:30:00Z".parse().unwrap();
    let alerts = evaluate(profile("alice"), &e, &settings);
    let a = only(&alerts, AnomalyRule::OffHours);
    assert!(matches!(
        a.anomaly,
        Anomaly::OffHours {
            outside_declared: None,
            outside_learned: Some(_)
        }
    ));
}

#[test]
fn new_device_fires_on_an_unseen_certificate() {
    let mut e = usual_alice();
    e.client_cert = Some(cert("laptop-farm/17"));
    e.call = CallKind::Approve;
    let alerts = alerts_for(&e);
    let a = only(&alerts, AnomalyRule::NewDevice);
    assert_eq!(alerts.len(), 1);
    assert_eq!(a.action, security());
    assert!(
        matches!(a.anomaly, Anomaly::NewDevice { fingerprint, known: 2, window_days: 30 } if fingerprint == cert("laptop-farm/17"))
    );
    let text = a.to_string();
    assert!(text.contains("operator `alice` approved"), "{text}");
    assert!(text.contains(&cert("laptop-farm/17").to_string()), "{text}");
}

#[test]
fn new_network_fires_on_an_unseen_24() {
    let mut e = usual_alice();
    e.network = Some(SourceNetwork::of("198.51.100.23".parse().unwrap()));
    let alerts = alerts_for(&e);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = only(&alerts, AnomalyRule::NewNetwork);
    assert_eq!(a.action, Action::Alert);
    assert!(a.to_string().contains("198.51.100.0/24"), "{a}");
    // The same office, another address in its /24: nothing.
    let mut e = usual_alice();
    e.network = Some(SourceNetwork::of("203.0.113.200".parse().unwrap()));
    assert_eq!(alerts_for(&e), vec![]);
}

#[test]
fn out_of_scope_fires_on_a_wallet_alice_never_touched() {
    let mut e = usual_alice();
    let grants = wallet(&team().policy, "grants");
    e.wallet = Some(grants);
    e.call = CallKind::Submit;
    let alerts = alerts_for(&e);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = only(&alerts, AnomalyRule::OutOfScopeWallet);
    assert!(
        matches!(a.anomaly, Anomaly::OutOfScopeWallet { wallet, known: 3, .. } if wallet == grants)
    );
    assert!(a.to_string().contains("first action on Safe"), "{a}");
}

#[test]
fn a_gateway_identity_calling_admin_fires() {
    let t = team();
    let e = Observation {
        at: usual_alice().at,
        operator: None,
        key: None,
        client_cert: Some(t.bot),
        network: Some(SourceNetwork::of(IpAddr::V4(Ipv4Addr::new(10, 20, 30, 40)))),
        identity: IdentityClass::GatewayClient,
        call: CallKind::Admin(AdminCall::ApplyPolicy),
        wallet: None,
        outcome: Outcome::Refused(RefusalKind::PermissionDenied),
        approval: None,
        probation: None,
    };
    let alerts = alerts_for(&e);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = only(&alerts, AnomalyRule::GatewayIdentityAdmin);
    assert_eq!(a.subject, Some(Subject::Certificate(t.bot)));
    assert!(a.to_string().contains("ApplyPolicy"), "{a}");
}

#[test]
fn a_probationary_operator_on_a_production_wallet_fires_and_does_not_count() {
    let t = team();
    let hugo = t.person("hugo");
    let treasury = wallet(&t.policy, "treasury");
    // Wednesday 2026-03-18 11:00 in Paris.
    let at = day_start_utc(TRAINING_DAYS).plus(10 * HOUR);
    let facts = ProbationFacts::from_policy(&t.policy, &hugo.id, None, &treasury, at).unwrap();
    assert_eq!(facts.restricted_tag, "production");
    // Not probationary on a hot wallet.
    assert_eq!(
        ProbationFacts::from_policy(&t.policy, &hugo.id, None, &wallet(&t.policy, "ops"), at),
        None
    );
    let e = Observation {
        at,
        operator: Some(hugo.id.clone()),
        key: None,
        client_cert: Some(hugo.laptop),
        network: Some(SourceNetwork::of(hugo.office)),
        identity: IdentityClass::Operator,
        call: CallKind::Approve,
        wallet: Some(treasury),
        outcome: Outcome::Allowed,
        approval: None,
        probation: Some(facts),
    };
    let alerts = alerts_for(&e);
    let a = only(&alerts, AnomalyRule::ProbationaryRestricted);
    assert_eq!(a.action, Action::NotCounted);
    assert!(a.to_string().contains("probationary new hire"), "{a}");
    // He never acted on the treasury either.
    only(&alerts, AnomalyRule::OutOfScopeWallet);
    let key = alloy_primitives::FixedBytes([1; 32]);
    assert!(
        alerts
            .iter()
            .filter_map(|a| ProposalAlert::of(a, e.at, Some(key)))
            .any(|a| a.voids(&key, e.at)),
        "his approval does not count"
    );
}

#[test]
fn reconnaissance_fires_once_when_reads_cross_the_limit() {
    let s = team().settings();
    let mut p = profile("alice").clone();
    let mut fired = Vec::new();
    let base = usual_alice();
    let usual = p.median_daily_reads(base.at, s);
    let limit = (usual * 5).max(200);
    for i in 0..1_000u64 {
        let mut e = base.clone();
        e.at = base.at.plus(i * 20);
        for a in evaluate(&p, &e, s) {
            fired.push((i, a));
        }
        p.observe(&e, s);
    }
    assert_eq!(fired.len(), 1, "{fired:#?}");
    let (i, a) = &fired[0];
    assert_eq!(*i, u64::from(limit));
    assert_eq!(
        a.anomaly,
        Anomaly::Reconnaissance {
            reads_today: limit + 1,
            usual,
            limit
        }
    );
    assert!(
        a.to_string().contains(&format!(
            "{} reads today against a usual {usual}",
            limit + 1
        )),
        "{a}"
    );
    println!(
        "reconnaissance: alice usually reads {usual} a day; alert at read {}",
        limit + 1
    );
}

#[test]
fn approval_burst_flags_every_approval_past_the_limit() {
    let s = team().settings();
    let mut p = profile("alice").clone();
    let base = usual_alice();
    let mut flagged = Vec::new();
    for i in 0..8u64 {
        let mut e = base.clone();
        e.call = CallKind::Approve;
        e.at = base.at.plus(i * 40);
        e.approval = Some(ApprovalContext {
            submitted_at: base
                .at
                .plus(i * 40)
                .plus(0)
                .0
                .checked_sub(3_600)
                .map(Timestamp)
                .unwrap(),
            large_transfer: false,
        });
        let alerts = evaluate(&p, &e, s);
        if let Some(a) = alerts
            .iter()
            .find(|a| a.rule() == AnomalyRule::ApprovalBurst)
        {
            let Anomaly::ApprovalBurst {
                approvals,
                minutes,
                max,
            } = a.anomaly
            else {
                panic!()
            };
            assert_eq!((minutes, max), (10, 5));
            assert_eq!(a.action, Action::NotCounted);
            flagged.push(approvals);
        }
        p.observe(&e, s);
    }
    assert_eq!(flagged, vec![6, 7, 8]);
}

#[test]
fn rubber_stamp_fires_on_a_large_transfer_approved_in_seconds() {
    let mut e = usual_alice();
    e.call = CallKind::Approve;
    e.approval = Some(ApprovalContext {
        submitted_at: e.at.0.checked_sub(20).map(Timestamp).unwrap(),
        large_transfer: true,
    });
    let alerts = alerts_for(&e);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = only(&alerts, AnomalyRule::RubberStamp);
    assert_eq!(a.action, Action::Hold { hours: 4 });
    assert!(matches!(
        a.anomaly,
        Anomaly::RubberStamp {
            after_seconds: 20,
            min_seconds: 60,
            ..
        }
    ));
    assert!(
        a.to_string().contains("approved 20s after its submission"),
        "{a}"
    );
    // A small transfer, or a large one read for two minutes: nothing.
    e.approval = Some(ApprovalContext {
        large_transfer: false,
        ..e.approval.unwrap()
    });
    assert_eq!(alerts_for(&e), vec![]);
    e.approval = Some(ApprovalContext {
        submitted_at: e.at.0.checked_sub(120).map(Timestamp).unwrap(),
        large_transfer: true,
    });
    assert_eq!(alerts_for(&e), vec![]);
}

#[test]
fn repeated_refusals_fire_when_the_third_forged_signature_arrives() {
    let s = team().settings();
    let mut p = profile("alice").clone();
    let base = usual_alice();
    let mut fired = Vec::new();
    for i in 0..5u64 {
        let mut e = base.clone();
        e.call = CallKind::Approve;
        e.at = base.at.plus(i * 120);
        e.outcome = Outcome::Refused(RefusalKind::ForgedSignature);
        for a in evaluate(&p, &e, s) {
            fired.push((i, a));
        }
        p.observe(&e, s);
    }
    assert_eq!(fired.len(), 1, "{fired:#?}");
    let (i, a) = &fired[0];
    assert_eq!(*i, 2);
    assert_eq!(
        a.anomaly,
        Anomaly::RepeatedRefusals {
            refusals: 3,
            minutes: 15,
            last: RefusalKind::ForgedSignature
        }
    );
    assert!(
        a.to_string()
            .contains("3 refused calls within 15 minutes, the last for forged_signature"),
        "{a}"
    );
    // Permission denials are not on the fixture's list.
    let mut e = base.clone();
    e.outcome = Outcome::Refused(RefusalKind::PermissionDenied);
    assert!(
        evaluate(&p, &e, s)
            .iter()
            .all(|a| a.rule() != AnomalyRule::RepeatedRefusals)
    );
}

#[test]
fn a_new_team_does_not_alert_on_everything_on_day_one() {
    // An operator with no history, on a new device and network and wallet, in declared
    // hours: the learned rules wait for min_history_days.
    let t = team();
    let mut e = usual_alice();
    e.client_cert = Some(cert("new-hire-laptop"));
    e.network = Some(SourceNetwork::of("192.0.2.1".parse().unwrap()));
    let empty = Profile::new(Subject::Operator("alice".into()));
    assert_eq!(evaluate(&empty, &e, t.settings()), vec![]);
}
