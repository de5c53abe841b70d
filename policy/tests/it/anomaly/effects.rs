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

    let none = AlertEffects::of(&[alert(admin.clone(), Action::Alert, at)]);
    assert!(none.is_none() && none.approval_counts());
    assert_eq!(none, AlertEffects::default());

    let fx = AlertEffects::of(&[alert(device.clone(), security(), at)]);
    assert_eq!(
        fx.extra_approvals,
        vec![(Role("security".into()), AnomalyRule::NewDevice)]
    );
    assert!(fx.hold_until.is_none() && fx.approval_counts());

    let fx = AlertEffects::of(&[alert(stamp.clone(), Action::Hold { hours: 4 }, at)]);
    assert_eq!(fx.hold_until, Some(at.plus(4 * HOUR)));
    assert!(fx.extra_approvals.is_empty() && fx.approval_counts());

    let fx = AlertEffects::of(&[alert(burst.clone(), Action::NotCounted, at)]);
    assert_eq!(fx.not_counted, vec![AnomalyRule::ApprovalBurst]);
    assert!(!fx.approval_counts());

    // Together: one extra security approval asked by two rules, the longest hold, and the
    // approval voided.
    let off = Anomaly::OffHours {
        outside_declared: None,
        outside_learned: Some(3),
    };
    let fx = AlertEffects::of(&[
        alert(off, security(), at),
        alert(device, security(), at),
        alert(stamp.clone(), Action::Hold { hours: 4 }, at),
        alert(stamp, Action::Hold { hours: 24 }, at.plus(60)),
        alert(burst, Action::NotCounted, at),
        alert(admin, Action::Alert, at),
    ]);
    assert_eq!(fx.extra_roles(), vec![&Role("security".into())]);
    assert_eq!(fx.extra_approvals.len(), 2);
    assert_eq!(fx.hold_until, Some(at.plus(60 + 24 * HOUR)));
    assert_eq!(fx.not_counted, vec![AnomalyRule::ApprovalBurst]);
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
    let fx = AlertEffects::of(&alerts);
    assert_eq!(
        fx.extra_approvals,
        vec![
            (Role("security".into()), AnomalyRule::OffHours),
            (Role("security".into()), AnomalyRule::NewDevice)
        ]
    );
    assert_eq!(fx.hold_until, Some(e.at.plus(4 * HOUR)));
    assert!(fx.approval_counts());
}
