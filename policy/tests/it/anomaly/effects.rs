//! Each action of the policy maps to its effect on the decision.

use signgate_policy::{
    anomaly::*,
    operators::Role,
    time::{HOUR, Timestamp},
};

use super::team::*;

fn alert(rule_anomaly: Anomaly, action: Action, at: Timestamp) -> Alert {
    Alert {
        subject: Some(Subject::Operator("alice".into())),
        at,
        call: CallKind::Approve,
        anomaly: rule_anomaly,
        action,
    }
}

#[test]
fn each_action_maps_to_its_effect() {
    let at = usual_alice().at;
    let burst = Anomaly::ApprovalBurst {
        approvals: 6,
        minutes: 10,
        max: 5,
    };
    let stamp = Anomaly::RubberStamp {
        submitted_at: at,
        after_seconds: 3,
        min_seconds: 60,
    };
    let device = Anomaly::NewDevice {
        fingerprint: cert("x"),
        known: 1,
        window_days: 30,
    };
    let admin = Anomaly::GatewayIdentityAdmin {
        call: AdminCall::ApplyPolicy,
    };

    // What each call's alerts put into the proposal's evidence.
    let into_evidence = |alerts: &[Alert]| -> Vec<ProposalAlert> {
        alerts
            .iter()
            .filter_map(|a| ProposalAlert::of(a, a.at, Some(alloy_primitives::FixedBytes([7; 32]))))
            .collect()
    };
    let key = alloy_primitives::FixedBytes([7; 32]);

    assert!(into_evidence(&[alert(admin.clone(), Action::Alert, at)]).is_empty());

    let fx = into_evidence(&[alert(device.clone(), security(), at)]);
    assert_eq!(
        extra_roles(&fx),
        vec![(Role("security".into()), vec![AnomalyRule::NewDevice])]
    );
    assert!(
        fx.iter()
            .all(|a| a.hold_until().is_none() && !a.voids(&key, at))
    );

    let fx = into_evidence(&[alert(stamp.clone(), Action::Hold { hours: 4 }, at)]);
    assert_eq!(
        fx.iter().filter_map(ProposalAlert::hold_until).max(),
        Some(at.plus(4 * HOUR))
    );
    assert!(extra_roles(&fx).is_empty() && !fx.iter().any(|a| a.voids(&key, at)));

    let fx = into_evidence(&[alert(burst.clone(), Action::NotCounted, at)]);
    assert!(
        fx.iter()
            .any(|a| a.voids(&key, at) && a.rule == AnomalyRule::ApprovalBurst)
    );
    // Only the approval the call brought: another key, or another instant, is not voided.
    assert!(
        !fx.iter()
            .any(|a| a.voids(&alloy_primitives::FixedBytes([8; 32]), at))
    );
    assert!(!fx.iter().any(|a| a.voids(&key, at.plus(1))));

    // Together: one extra security approval asked by two rules, the longest hold, and the
    // approval voided.
    let off = Anomaly::OffHours {
        outside_declared: None,
        outside_learned: Some(3),
    };
    let fx = into_evidence(&[
        alert(off, security(), at),
        alert(device, security(), at),
        alert(stamp.clone(), Action::Hold { hours: 4 }, at),
        alert(stamp, Action::Hold { hours: 24 }, at.plus(60)),
        alert(burst, Action::NotCounted, at),
        alert(admin, Action::Alert, at),
    ]);
    assert_eq!(
        extra_roles(&fx),
        vec![(
            Role("security".into()),
            vec![AnomalyRule::OffHours, AnomalyRule::NewDevice]
        )]
    );
    assert_eq!(
        fx.iter().filter_map(ProposalAlert::hold_until).max(),
        Some(at.plus(60 + 24 * HOUR))
    );
    assert!(fx.iter().any(|a| a.voids(&key, at)));
    assert_eq!(
        fx.len(),
        5,
        "the record-only alert stays out of the evidence"
    );
}

#[test]
fn the_fixture_actions_reach_the_effects_through_evaluate() {
    // An off-hours approval from a new laptop, of a large transfer submitted 10 s before: two
    // reasons for one more security approval and a four-hour hold.
    let mut e = usual_alice();
    e.call = CallKind::Approve;
    e.at = "2026-03-21T02:00:00Z".parse().unwrap();
    e.client_cert = Some(cert("laptop-farm/17"));
    e.approval = Some(ApprovalContext {
        submitted_at: Timestamp(e.at.as_secs() - 10),
        large_transfer: true,
    });
    let alerts = alerts_for(&e);
    let codes: Vec<&str> = alerts.iter().map(Alert::code).collect();
    assert_eq!(
        codes,
        [
            "anomaly.off_hours",
            "anomaly.new_device",
            "anomaly.rubber_stamp"
        ]
    );
    let fx: Vec<ProposalAlert> = alerts
        .iter()
        .filter_map(|a| ProposalAlert::of(a, e.at, None))
        .collect();
    assert_eq!(
        extra_roles(&fx),
        vec![(
            Role("security".into()),
            vec![AnomalyRule::OffHours, AnomalyRule::NewDevice]
        )]
    );
    assert_eq!(
        fx.iter().filter_map(ProposalAlert::hold_until).max(),
        Some(e.at.plus(4 * HOUR))
    );
}
