//! The `[anomaly]` table: typed settings, and clear refusals of what cannot be meant.

use signgate_policy::{CompileError, Policy, anomaly::*, operators::OperatorId};

use super::team::*;

fn compile_with(from: &str, to: &str) -> Result<Policy, CompileError> {
    assert!(TEAM.contains(from), "fixture lacks {from}");
    Policy::compile(&TEAM.replacen(from, to, 1))
}

#[test]
fn the_anomaly_table_compiles_into_typed_settings() {
    let s = team().settings();
    assert!(s.enabled);
    assert_eq!((s.window_days, s.min_history_days), (30, 14));
    assert_eq!(s.working_hours.len(), 8);
    assert_eq!(
        s.working_hours[&OperatorId::from("farid")].to_string(),
        "mon,tue,wed,thu,sun 08:00–17:00 Asia/Dubai"
    );
    assert_eq!(s.off_hours.rule.action, security());
    assert_eq!(s.new_device.action, security());
    assert_eq!(s.rubber_stamp.rule.action, Action::Hold { hours: 4 });
    assert_eq!(s.approval_burst.rule.action, Action::NotCounted);
    assert_eq!(
        (s.approval_burst.max_approvals, s.approval_burst.window),
        (5, 600)
    );
    assert_eq!(s.repeated_refusals.kinds.len(), 5);
    for rule in AnomalyRule::ALL {
        assert!(rule.settings(s).enabled, "{rule}");
    }
}

#[test]
fn without_an_anomaly_table_no_rule_runs() {
    let head = &TEAM[..TEAM.find("[anomaly]").unwrap()];
    let policy = Policy::compile(head).unwrap();
    let s = policy.anomaly();
    assert!(!s.enabled);
    assert_eq!(
        s.working_hours.len(),
        8,
        "declared hours are still checked and kept"
    );
    let mut e = usual_alice();
    e.at = "2026-03-21T02:00:00Z".parse().unwrap();
    e.client_cert = Some(cert("laptop-farm/17"));
    assert_eq!(evaluate(profile("alice"), &e, s), vec![]);
}

#[test]
fn a_rule_can_be_switched_off() {
    let policy = compile_with(
        "[anomaly.new_network]\naction = \"alert\"",
        "[anomaly.new_network]\nenabled = false",
    )
    .unwrap();
    let mut e = usual_alice();
    e.network = Some(SourceNetwork::of("198.51.100.23".parse().unwrap()));
    assert_eq!(evaluate(profile("alice"), &e, policy.anomaly()), vec![]);
}

#[test]
fn the_anomaly_table_refuses_unknown_keys_and_bad_values() {
    let syntax = |from: &str, to: &str, needle: &str| match compile_with(from, to) {
        Err(CompileError::Syntax(m)) => assert!(m.contains(needle), "{needle}: {m}"),
        other => panic!("{to}: {other:?}"),
    };
    syntax(
        "window_days = 30",
        "window_days = 30\ncolour = \"red\"",
        "unknown field `colour`",
    );
    syntax(
        "seconds = 60",
        "seconds = 60\nminutes = 1",
        "unknown field `minutes`",
    );
    syntax(
        "action = \"alert\"\n\n[anomaly.out",
        "action = \"page_someone\"\n\n[anomaly.out",
        "page_someone",
    );
    syntax(
        "hold = { hours = 4 }",
        "hold = { hours = 4, minutes = 5 }",
        "minutes",
    );
    syntax(
        "from = \"08:00\", to = \"18:00\" }",
        "from = \"08:00\", to = \"18:00\", lunch = \"12:00\" }",
        "lunch",
    );

    let refused = |from: &str, to: &str| compile_with(from, to).unwrap_err();
    let e = refused("Europe/Berlin", "Europe/Berlim");
    assert_eq!(
        e,
        CompileError::UnknownTimeZone {
            operator: "alice".into(),
            zone: "Europe/Berlim".into()
        }
    );
    assert!(
        e.to_string().contains("unknown time zone `Europe/Berlim`"),
        "{e}"
    );
    let e = refused(
        "from = \"08:00\", to = \"18:00\"",
        "from = \"18:00\", to = \"08:00\"",
    );
    assert!(
        matches!(e, CompileError::EmptyWorkingHours { ref operator, .. } if operator == "alice"),
        "{e:?}"
    );
    assert!(e.to_string().contains("`from` must be before `to`"), "{e}");
    let e = refused(
        "from = \"08:00\", to = \"18:00\"",
        "from = \"08:00\", to = \"08:00\"",
    );
    assert!(matches!(e, CompileError::EmptyWorkingHours { .. }), "{e:?}");
    let e = refused("days = [\"sun\"", "days = [\"sunday\"");
    assert!(matches!(e, CompileError::UnknownWorkDay { .. }), "{e:?}");
    let e = refused("from = \"09:30\"", "from = \"9:30\"");
    assert!(matches!(e, CompileError::BadTimeOfDay { .. }), "{e:?}");

    for (from, to, setting) in [
        (
            "max_approvals = 5",
            "max_approvals = 0",
            "anomaly.approval_burst.max_approvals",
        ),
        (
            "minutes = 10",
            "minutes = 0",
            "anomaly.approval_burst.minutes",
        ),
        ("factor = 5", "factor = 0", "anomaly.reconnaissance.factor"),
        ("floor = 200", "floor = 0", "anomaly.reconnaissance.floor"),
        (
            "seconds = 60",
            "seconds = 0",
            "anomaly.rubber_stamp.seconds",
        ),
        ("count = 3", "count = 0", "anomaly.repeated_refusals.count"),
        (
            "minutes = 15",
            "minutes = 0",
            "anomaly.repeated_refusals.minutes",
        ),
        ("window_days = 30", "window_days = 0", "anomaly.window_days"),
        (
            "window_days = 30",
            "window_days = 400",
            "anomaly.window_days",
        ),
        (
            "min_history_days = 14",
            "min_history_days = 31",
            "anomaly.min_history_days",
        ),
        (
            "min_history_days = 14",
            "min_history_days = 0",
            "anomaly.min_history_days",
        ),
        (
            "hold = { hours = 4 }",
            "hold = { hours = 0 }",
            "anomaly.rubber_stamp.action.hold.hours",
        ),
        (
            "count = 3",
            "count = 1001",
            "anomaly.repeated_refusals.count",
        ),
    ] {
        match refused(from, to) {
            CompileError::AnomalyValue { setting: s, .. } => assert_eq!(s, setting, "{to}"),
            other => panic!("{to}: {other:?}"),
        }
    }
    let e = refused("kinds = [\"forged_signature\"", "kinds = [\"forged\"");
    assert_eq!(
        e,
        CompileError::UnknownRefusalKind {
            word: "forged".into()
        }
    );
    let e = refused(
        "kinds = [\"forged_signature\", \"stale_signature\", \"wrong_hash_approval\", \"denied_sanctions\", \"denied_delegatecall\"]",
        "kinds = []",
    );
    assert!(matches!(e, CompileError::AnomalyValue { .. }), "{e:?}");
    let e = refused(
        "[anomaly.new_device]\naction = { extra_approval = { role = \"security\" } }",
        "[anomaly.new_device]\naction = { extra_approval = { role = \"auditor\" } }",
    );
    assert_eq!(
        e,
        CompileError::AnomalyUnheldRole {
            rule: "anomaly.new_device".into(),
            role: "auditor".into()
        }
    );
    assert!(e.to_string().contains("which no operator holds"), "{e}");
    // Rules that fire only on calls deciding nothing take no action that changes decisions.
    for (from, to, rule, calls) in [
        (
            "[anomaly.gateway_identity_admin]\naction = \"alert\"",
            "[anomaly.gateway_identity_admin]\naction = \"not_counted\"",
            "anomaly.gateway_identity_admin",
            "admin calls",
        ),
        (
            "[anomaly.reconnaissance]\nfactor = 5",
            "[anomaly.reconnaissance]\naction = { hold = { hours = 2 } }\nfactor = 5",
            "anomaly.reconnaissance",
            "reads",
        ),
        (
            "[anomaly.repeated_refusals]\ncount = 3",
            "[anomaly.repeated_refusals]\naction = { extra_approval = { role = \"security\" } }\ncount = 3",
            "anomaly.repeated_refusals",
            "refused calls",
        ),
    ] {
        let e = refused(from, to);
        assert_eq!(
            e,
            CompileError::AnomalyActionWithoutProposal {
                rule: rule.into(),
                calls
            }
        );
        assert!(e.to_string().contains("must be `alert`"), "{e}");
    }
}
