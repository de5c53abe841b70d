//! The benign month's alert rate, and profiles rebuilt from the same events.

use std::{
    collections::BTreeMap,
    net::{IpAddr, Ipv4Addr},
};

use alloy_primitives::B256;
use proptest::prelude::*;
use signgate_policy::{
    anomaly::*,
    time::{DAY, Timestamp},
};

use super::team::*;

#[test]
fn a_benign_month_alerts_on_at_most_one_percent_of_calls() {
    let t = team();
    let s = t.settings();
    let mut profiles = trained().clone();
    let (mut calls, mut actions, mut alerted, mut alerted_actions) = (0u64, 0u64, 0u64, 0u64);
    let mut by_rule: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut examples = Vec::new();
    for e in t.events.iter().skip_while(|e| e.at < t.training_end()) {
        let subject = e.subject().unwrap();
        let p = profiles
            .entry(subject.clone())
            .or_insert_with(|| Profile::new(subject));
        let alerts = evaluate(p, e, s);
        p.observe(e, s);
        calls += 1;
        let is_action = !matches!(e.call, CallKind::Read(_));
        actions += u64::from(is_action);
        if !alerts.is_empty() {
            alerted += 1;
            alerted_actions += u64::from(is_action);
        }
        for a in alerts {
            *by_rule.entry(a.code()).or_default() += 1;
            if examples.len() < 5 {
                examples.push(a.to_string());
            }
        }
    }
    let rate = alerted as f64 * 100.0 / calls as f64;
    let action_rate = alerted_actions as f64 * 100.0 / actions.max(1) as f64;
    println!(
        "benign month (days 31-60, 8 operators + 1 service): {calls} calls, {alerted} alerted = {rate:.2}%; \
         {actions} non-read actions, {alerted_actions} alerted = {action_rate:.2}%; by rule: {by_rule:?}"
    );
    for x in &examples {
        println!("  e.g. {x}");
    }
    assert!(
        calls > 5_000,
        "the synthetic month is too small to say anything: {calls}"
    );
    assert!(rate <= 1.0, "{rate:.2}% of benign calls alerted");
    assert!(
        action_rate <= 1.0,
        "{action_rate:.2}% of benign actions alerted"
    );
}

#[test]
fn profiles_rebuilt_from_the_same_events_equal_the_incremental_ones() {
    let t = team();
    let s = t.settings();
    // Incremental, as the gateway does it: evaluate, then observe, one call at a time, with
    // a store round trip (JSON) halfway.
    let half = t.events.len() / 2;
    let mut incremental = fold(&t.events[..half], s);
    for p in incremental.values_mut() {
        let json = serde_json::to_string(p).unwrap();
        *p = serde_json::from_str(&json).unwrap();
    }
    for e in &t.events[half..] {
        let subject = e.subject().unwrap();
        let p = incremental
            .entry(subject.clone())
            .or_insert_with(|| Profile::new(subject));
        let _ = evaluate(p, e, s);
        p.observe(e, s);
    }
    for (subject, p) in &incremental {
        let rebuilt = Profile::rebuild(subject.clone(), &t.events, s);
        assert_eq!(&rebuilt, p, "{subject}");
    }
    assert_eq!(incremental.len(), 9);
}

fn arbitrary_call() -> impl Strategy<Value = Observation> {
    (
        0u64..40 * DAY,
        0usize..6,
        0u8..3,
        0u8..3,
        0u8..4,
        0usize..3,
        any::<bool>(),
    )
        .prop_map(|(at, call, dev, net, w, outcome, large)| {
            let call = [
                CallKind::Submit,
                CallKind::Approve,
                CallKind::Reject,
                CallKind::Read(ReadCall::Get),
                CallKind::Read(ReadCall::List),
                CallKind::Admin(AdminCall::ListOperators),
            ][call];
            Observation {
                at: Timestamp(1_780_000_000 + at),
                operator: Some("alice".into()),
                key: None,
                client_cert: Some(CertFingerprint(B256::repeat_byte(dev))),
                network: Some(SourceNetwork::of(IpAddr::V4(Ipv4Addr::new(10, net, 0, 1)))),
                identity: IdentityClass::Operator,
                call,
                wallet: (w > 0).then(|| WalletId {
                    chain_id: 1,
                    safe: alloy_primitives::Address::repeat_byte(w),
                }),
                outcome: [
                    Outcome::Allowed,
                    Outcome::Refused(RefusalKind::ForgedSignature),
                    Outcome::Refused(RefusalKind::Other),
                ][outcome],
                approval: Some(ApprovalContext {
                    submitted_at: Timestamp(1_780_000_000 + at.saturating_sub(30)),
                    large_transfer: large,
                }),
                probation: None,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A profile stored as JSON at any point and folded on from there equals the one folded
    /// in one go, and evaluating between observations changes nothing.
    #[test]
    fn a_profile_folded_in_two_halves_through_json_equals_one_fold(
        mut calls in proptest::collection::vec(arbitrary_call(), 1..200),
        cut in any::<prop::sample::Index>(),
    ) {
        calls.sort_by_key(|e| e.at);
        let s = team().settings();
        let subject = Subject::Operator("alice".into());
        let whole = Profile::rebuild(subject.clone(), &calls, s);
        let cut = cut.index(calls.len() + 1);
        let first = Profile::rebuild(subject, &calls[..cut], s);
        let mut resumed: Profile = serde_json::from_str(&serde_json::to_string(&first).unwrap()).unwrap();
        for e in &calls[cut..] {
            let _ = evaluate(&resumed, e, s);
            resumed.observe(e, s);
        }
        prop_assert_eq!(whole, resumed);
    }
}
