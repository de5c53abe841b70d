//! Anomaly alerts as `Admin.WatchAlerts` shows them ([`pb::AnomalyAlert`]): the rule's code, the
//! subject, the call, the evidence as named values, the action and the alert in words.

use signgate_policy::anomaly::{Action, Alert, CallKind, Subject};
use signgate_proto::v1 as pb;

use crate::domain::{records::UnixMillis, wire};

/// The action's word, as `[anomaly]` spells it.
pub const fn action_word(action: &Action) -> &'static str {
    match action {
        Action::Alert => "alert",
        Action::ExtraApproval { .. } => "extra_approval",
        Action::Hold { .. } => "hold",
        Action::NotCounted => "not_counted",
    }
}

/// The call's word.
const fn call_word(call: CallKind) -> &'static str {
    match call {
        CallKind::Submit => "submit",
        CallKind::Approve => "approve",
        CallKind::Reject => "reject",
        CallKind::Cancel => "cancel",
        CallKind::Release => "release",
        CallKind::Read(_) => "read",
        CallKind::Admin(_) => "admin",
    }
}

/// Every field of the evidence but the rule's tag, as a named value: text as it is, anything
/// else as compact JSON.
fn evidence(alert: &Alert) -> Vec<pb::Evidence> {
    let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(&alert.anomaly) else {
        return Vec::new();
    };
    fields
        .into_iter()
        .filter(|(k, v)| k != "rule" && !v.is_null())
        .map(|(key, v)| pb::Evidence {
            key,
            value: match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            },
        })
        .collect()
}

/// `alert` as the API shows it.
pub fn alert(alert: &Alert) -> pb::AnomalyAlert {
    let (operator, client_certificate) = match &alert.subject {
        Some(Subject::Operator(id)) => (id.to_string(), String::new()),
        Some(Subject::Certificate(c)) => (String::new(), c.to_string()),
        None => (String::new(), String::new()),
    };
    let ms = i64::try_from(alert.at.as_secs().saturating_mul(1000)).unwrap_or(i64::MAX);
    pb::AnomalyAlert {
        rule: alert.code().to_owned(),
        operator,
        client_certificate,
        at: Some(wire::timestamp(UnixMillis(ms))),
        call: call_word(alert.call).to_owned(),
        evidence: evidence(alert),
        action: action_word(&alert.action).to_owned(),
        message: alert.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use signgate_policy::{
        anomaly::{Anomaly, RefusalKind},
        operators::OperatorId,
        time::Timestamp,
    };

    use super::*;

    #[test]
    fn an_alert_shows_its_rule_subject_evidence_and_action() {
        let a = Alert {
            subject: Some(Subject::Operator(OperatorId("bob".into()))),
            at: Timestamp(1_800_000_000),
            call: CallKind::Approve,
            anomaly: Anomaly::RepeatedRefusals {
                refusals: 3,
                minutes: 15,
                last: RefusalKind::ForgedSignature,
            },
            action: Action::Hold { hours: 4 },
        };
        let v = alert(&a);
        assert_eq!(v.rule, "anomaly.repeated_refusals");
        assert_eq!((v.operator.as_str(), v.call.as_str()), ("bob", "approve"));
        assert_eq!(v.action, "hold");
        assert_eq!(v.at.map(|t| t.seconds), Some(1_800_000_000));
        let evidence: Vec<(&str, &str)> = v
            .evidence
            .iter()
            .map(|e| (e.key.as_str(), e.value.as_str()))
            .collect();
        assert!(evidence.contains(&("refusals", "3")), "{evidence:?}");
        assert!(
            evidence.contains(&("last", "forged_signature")),
            "{evidence:?}"
        );
        assert!(!evidence.iter().any(|(k, _)| *k == "rule"));
        assert_eq!(v.message, a.to_string());
    }
}
