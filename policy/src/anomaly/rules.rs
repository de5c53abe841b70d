//! The anomaly rules: a pure function of (profile, observation, settings) returning alerts with
//! stable codes, typed evidence and the action the policy attached.
//!
//! Rules that judge by history (learned hours, new device, new network, new wallet,
//! reconnaissance) stay silent until the profile has `min_history_days` active days, so a new
//! team or a new hire does not alert on everything in their first weeks. Rules that count
//! (bursts, refusals, reconnaissance) fire on the call that crosses their threshold, so a
//! flood makes one alert per crossing rather than one per call — except approval bursts,
//! which flag every approval past the limit because a `not_counted` action must reach each one.
//! A new device or network alerts once its first allowed call teaches the profile; refused
//! calls teach nothing, so each refused call from an unknown device alerts again (the
//! refusals rule and the gateway's notification side are where a flood is summarised).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{
    event::{
        AdminCall, CallKind, CertFingerprint, IdentityClass, Observation, Outcome, RefusalKind,
        SourceNetwork, Subject, WalletId,
    },
    profile::{KnownCounts, Profile},
    settings::{Action, DeclaredHours, LocalTime, Rule, Settings},
};
use crate::{operators::Probation, time::Timestamp};

/// The anomaly rules, each with a stable code (as in the audit log, metrics and webhooks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyRule {
    /// Outside declared or learned working hours.
    OffHours,
    /// A client certificate not seen in the window.
    NewDevice,
    /// A source network not seen in the window.
    NewNetwork,
    /// A wallet the operator has not acted on in the window.
    OutOfScopeWallet,
    /// A gateway (service) identity calling the Admin API.
    GatewayIdentityAdmin,
    /// A probationary operator acting on a restricted wallet.
    ProbationaryRestricted,
    /// Reads far above the usual daily volume.
    Reconnaissance,
    /// Too many approvals too fast.
    ApprovalBurst,
    /// A large transfer approved seconds after submission.
    RubberStamp,
    /// Repeated refusals of the listed kinds.
    RepeatedRefusals,
    /// A security key whose signature counter did not increase: a cloned authenticator, or a
    /// replayed assertion.
    ClonedAuthenticator,
}

impl AnomalyRule {
    /// Every rule, in evaluation order.
    pub const ALL: [Self; 11] = [
        Self::OffHours,
        Self::NewDevice,
        Self::NewNetwork,
        Self::OutOfScopeWallet,
        Self::GatewayIdentityAdmin,
        Self::ProbationaryRestricted,
        Self::Reconnaissance,
        Self::ApprovalBurst,
        Self::RubberStamp,
        Self::RepeatedRefusals,
        Self::ClonedAuthenticator,
    ];

    /// Stable code; never changes once published.
    pub const fn code(self) -> &'static str {
        match self {
            Self::OffHours => "anomaly.off_hours",
            Self::NewDevice => "anomaly.new_device",
            Self::NewNetwork => "anomaly.new_network",
            Self::OutOfScopeWallet => "anomaly.out_of_scope_wallet",
            Self::GatewayIdentityAdmin => "anomaly.gateway_identity_admin",
            Self::ProbationaryRestricted => "anomaly.probationary_restricted",
            Self::Reconnaissance => "anomaly.reconnaissance",
            Self::ApprovalBurst => "anomaly.approval_burst",
            Self::RubberStamp => "anomaly.rubber_stamp",
            Self::RepeatedRefusals => "anomaly.repeated_refusals",
            Self::ClonedAuthenticator => "anomaly.cloned_authenticator",
        }
    }

    /// The rule's settings.
    pub const fn settings(self, s: &Settings) -> &Rule {
        match self {
            Self::OffHours => &s.off_hours.rule,
            Self::NewDevice => &s.new_device,
            Self::NewNetwork => &s.new_network,
            Self::OutOfScopeWallet => &s.out_of_scope_wallet,
            Self::GatewayIdentityAdmin => &s.gateway_identity_admin,
            Self::ProbationaryRestricted => &s.probationary_restricted,
            Self::Reconnaissance => &s.reconnaissance.rule,
            Self::ApprovalBurst => &s.approval_burst.rule,
            Self::RubberStamp => &s.rubber_stamp.rule,
            Self::RepeatedRefusals => &s.repeated_refusals.rule,
            Self::ClonedAuthenticator => &s.cloned_authenticator,
        }
    }
}

impl fmt::Display for AnomalyRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Outside the declared hours: what was declared and the local time of the call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutsideDeclared {
    /// The operator's declared working hours.
    pub hours: DeclaredHours,
    /// The call's time on the operator's wall clock.
    pub local: LocalTime,
    /// The grace around the declared span, minutes; the call was outside that too.
    pub grace_minutes: u16,
}

/// What each rule saw: typed evidence, one variant per rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "rule")]
pub enum Anomaly {
    /// `anomaly.off_hours`; at least one of the two is present.
    OffHours {
        /// Outside the declared working hours.
        outside_declared: Option<OutsideDeclared>,
        /// Outside every hour of the week (±1 hour) seen in the window: the hour of the week of
        /// the call (Monday 00h = 0; local to the declared zone if any, else UTC), when the
        /// learned check fired.
        outside_learned: Option<u8>,
    },
    /// `anomaly.new_device`.
    NewDevice {
        /// The certificate not seen before.
        fingerprint: CertFingerprint,
        /// Certificates seen in the window.
        known: u32,
        /// The window, days.
        window_days: u32,
    },
    /// `anomaly.new_network`.
    NewNetwork {
        /// The network not seen before.
        network: SourceNetwork,
        /// Networks seen in the window.
        known: u32,
        /// The window, days.
        window_days: u32,
    },
    /// `anomaly.out_of_scope_wallet`.
    OutOfScopeWallet {
        /// The wallet not acted on before.
        wallet: WalletId,
        /// Wallets acted on in the window.
        known: u32,
        /// The window, days.
        window_days: u32,
    },
    /// `anomaly.gateway_identity_admin`.
    GatewayIdentityAdmin {
        /// The admin call attempted.
        call: AdminCall,
    },
    /// `anomaly.probationary_restricted`.
    ProbationaryRestricted {
        /// Why and until when the operator is probationary.
        probation: Probation,
        /// The wallet acted on.
        wallet: Option<WalletId>,
        /// Its restricted tag.
        tag: String,
    },
    /// `anomaly.reconnaissance`.
    Reconnaissance {
        /// Reads on this UTC day, this one included.
        reads_today: u32,
        /// Median reads per active day in the window.
        usual: u32,
        /// The limit crossed: `max(factor × usual, floor)`.
        limit: u32,
    },
    /// `anomaly.approval_burst`.
    ApprovalBurst {
        /// Approvals in the window, this one included.
        approvals: u32,
        /// The window, minutes.
        minutes: u64,
        /// The most allowed.
        max: u32,
    },
    /// `anomaly.rubber_stamp`.
    RubberStamp {
        /// When the proposal was submitted.
        submitted_at: Timestamp,
        /// Seconds from submission to this approval.
        after_seconds: u64,
        /// The least a large transfer's review should take.
        min_seconds: u64,
    },
    /// `anomaly.repeated_refusals`.
    RepeatedRefusals {
        /// Refusals in the window, this one included.
        refusals: u32,
        /// The window, minutes.
        minutes: u64,
        /// This call's refusal.
        last: RefusalKind,
    },
    /// `anomaly.cloned_authenticator`: an approval refused because the security key's
    /// signature counter was not above the highest its credential showed.
    ClonedAuthenticator {},
}

impl Anomaly {
    /// The rule that found it.
    pub const fn rule(&self) -> AnomalyRule {
        match self {
            Self::OffHours { .. } => AnomalyRule::OffHours,
            Self::NewDevice { .. } => AnomalyRule::NewDevice,
            Self::NewNetwork { .. } => AnomalyRule::NewNetwork,
            Self::OutOfScopeWallet { .. } => AnomalyRule::OutOfScopeWallet,
            Self::GatewayIdentityAdmin { .. } => AnomalyRule::GatewayIdentityAdmin,
            Self::ProbationaryRestricted { .. } => AnomalyRule::ProbationaryRestricted,
            Self::Reconnaissance { .. } => AnomalyRule::Reconnaissance,
            Self::ApprovalBurst { .. } => AnomalyRule::ApprovalBurst,
            Self::RubberStamp { .. } => AnomalyRule::RubberStamp,
            Self::RepeatedRefusals { .. } => AnomalyRule::RepeatedRefusals,
            Self::ClonedAuthenticator {} => AnomalyRule::ClonedAuthenticator,
        }
    }
}

impl fmt::Display for Anomaly {
    /// Why the call is unusual, and what would clear it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OffHours {
                outside_declared,
                outside_learned,
            } => {
                f.write_str("outside working hours:")?;
                if let Some(d) = outside_declared {
                    write!(
                        f,
                        " {} local time, declared hours are {} (with {} minutes' grace)",
                        d.local, d.hours, d.grace_minutes
                    )?;
                }
                if outside_declared.is_some() && outside_learned.is_some() {
                    f.write_str(";")?;
                }
                if let Some(h) = outside_learned {
                    write!(
                        f,
                        " no call in the last weeks within an hour of this one (hour {h} of the week)"
                    )?;
                }
                f.write_str("; confirm with the operator by a channel other than this session")
            }
            Self::NewDevice {
                fingerprint,
                known,
                window_days,
            } => write!(
                f,
                "client certificate {fingerprint} was not used by them in the last {window_days} days ({known} known); confirm the new device with the operator in person or by phone"
            ),
            Self::NewNetwork {
                network,
                known,
                window_days,
            } => write!(
                f,
                "network {network} was not used by them in the last {window_days} days ({known} known); confirm where they are working from"
            ),
            Self::OutOfScopeWallet {
                wallet,
                known,
                window_days,
            } => write!(
                f,
                "first action on {wallet} in {window_days} days (they acted on {known} other wallets); confirm the operator's new assignment with their lead"
            ),
            Self::GatewayIdentityAdmin { call } => write!(
                f,
                "a gateway (service) client certificate attempted the admin call {call:?}; service identities never administer, so find out who holds that certificate"
            ),
            Self::ProbationaryRestricted {
                probation,
                wallet,
                tag,
            } => {
                write!(f, "a {probation} acted on a `{tag}` wallet")?;
                if let Some(w) = wallet {
                    write!(f, " ({w})")?;
                }
                f.write_str("; a non-probationary operator must act instead")
            }
            Self::Reconnaissance {
                reads_today,
                usual,
                limit,
            } => write!(
                f,
                "{reads_today} reads today against a usual {usual} a day (limit {limit}); ask the operator what they are looking for"
            ),
            Self::ApprovalBurst {
                approvals,
                minutes,
                max,
            } => write!(
                f,
                "{approvals} approvals within {minutes} minutes (at most {max} expected); each approval is a review, so ask whether these were read"
            ),
            Self::RubberStamp {
                submitted_at,
                after_seconds,
                min_seconds,
            } => write!(
                f,
                "a large transfer approved {after_seconds}s after its submission at {submitted_at} (a review takes at least {min_seconds}s); re-review the transaction's effects before signing"
            ),
            Self::RepeatedRefusals {
                refusals,
                minutes,
                last,
            } => write!(
                f,
                "{refusals} refused calls within {minutes} minutes, the last for {last}; a key or session may be in someone else's hands"
            ),
            Self::ClonedAuthenticator {} => write!(
                f,
                "a security-key approval whose signature counter did not increase: two copies of the key are in use, or an assertion was replayed; revoke the key and re-enrol it"
            ),
        }
    }
}

/// One alert: who, when, what call, what was seen, and what the policy makes of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// The operator (or client certificate) the call came from; `None` for a call that named
    /// neither.
    pub subject: Option<Subject>,
    /// When the call was received.
    pub at: Timestamp,
    /// The call.
    pub call: CallKind,
    /// The evidence; its variant names the rule.
    pub anomaly: Anomaly,
    /// What the policy attached to the rule.
    pub action: Action,
}

impl Alert {
    /// The rule that fired.
    pub const fn rule(&self) -> AnomalyRule {
        self.anomaly.rule()
    }

    /// The rule's stable code.
    pub const fn code(&self) -> &'static str {
        self.rule().code()
    }
}

impl fmt::Display for Alert {
    /// `[anomaly.new_device] operator `alice` approved at 2026-03-21T03:12:00Z: … ; the
    /// proposal needs one more approval from role `security` before it can pass`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] ", self.code())?;
        match &self.subject {
            Some(s) => write!(f, "{s}")?,
            None => f.write_str("an unidentified client")?,
        }
        write!(
            f,
            " {} at {}: {}; ",
            self.call.verb(),
            self.at,
            self.anomaly
        )?;
        if matches!(self.call, CallKind::Submit | CallKind::Approve) || self.action == Action::Alert
        {
            write!(f, "{}", self.action)
        } else {
            // Only a submission's or an approval's alerts enter a proposal's decision.
            f.write_str(
                "recorded for review (the rule's action applies to submissions and approvals)",
            )
        }
    }
}

/// Runs every enabled rule on one call against the history before it. Pure: the same
/// (profile, call, settings) always gives the same alerts, in [`AnomalyRule::ALL`] order.
///
/// `profile` must be the call's subject's profile ([`Observation::subject`]) as it was before
/// this call; a profile of someone else counts as no history. With `[anomaly]` absent
/// ([`Settings::off`]) nothing fires.
pub fn evaluate(profile: &Profile, e: &Observation, s: &Settings) -> Vec<Alert> {
    let mut alerts = Vec::new();
    if !s.enabled {
        return alerts;
    }
    let subject = e.subject();
    let mine = subject.as_ref() == Some(profile.subject());
    let history = mine
        && profile.history_days(e.at, s)
            >= usize::try_from(s.min_history_days).unwrap_or(usize::MAX);
    let known = profile.known_counts(e.at, s);
    let mut push = |anomaly: Anomaly| {
        let rule = anomaly.rule().settings(s);
        if rule.enabled {
            alerts.push(Alert {
                subject: subject.clone(),
                at: e.at,
                call: e.call,
                anomaly,
                action: rule.action.clone(),
            });
        }
    };

    if let Some(a) = off_hours(profile, e, s, history) {
        push(a);
    }
    if history {
        new_things(profile, e, s, known)
            .into_iter()
            .for_each(&mut push);
    }
    if let (IdentityClass::GatewayClient, CallKind::Admin(call)) = (e.identity, e.call) {
        push(Anomaly::GatewayIdentityAdmin { call });
    }
    if let Some(p) = e.probation.as_ref().filter(|_| e.call.is_action()) {
        push(Anomaly::ProbationaryRestricted {
            probation: p.probation,
            wallet: e.wallet,
            tag: p.restricted_tag.clone(),
        });
    }
    if history && matches!(e.call, CallKind::Read(_)) {
        let r = &s.reconnaissance;
        let before = profile.reads_on_day_of(e.at);
        let usual = profile.median_daily_reads(e.at, s);
        let limit = usual.saturating_mul(r.factor).max(r.floor);
        if before == limit {
            push(Anomaly::Reconnaissance {
                reads_today: before.saturating_add(1),
                usual,
                limit,
            });
        }
    }
    if e.is_accepted_approval() {
        let b = &s.approval_burst;
        let count = if mine {
            profile.approvals_within(e.at, b.window)
        } else {
            0
        }
        .saturating_add(1);
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        if count > b.max_approvals {
            push(Anomaly::ApprovalBurst {
                approvals: count,
                minutes: b.window / 60,
                max: b.max_approvals,
            });
        }
        let r = &s.rubber_stamp;
        if let Some(ctx) = e.approval.filter(|c| c.large_transfer) {
            let after_seconds = e.at.as_secs().saturating_sub(ctx.submitted_at.as_secs());
            if after_seconds < r.seconds {
                push(Anomaly::RubberStamp {
                    submitted_at: ctx.submitted_at,
                    after_seconds,
                    min_seconds: r.seconds,
                });
            }
        }
    }
    if e.outcome == Outcome::Refused(RefusalKind::ClonedAuthenticator) {
        push(Anomaly::ClonedAuthenticator {});
    }
    if let Outcome::Refused(kind) = e.outcome {
        let r = &s.repeated_refusals;
        if r.kinds.contains(&kind) {
            let count = if mine {
                profile.refusals_within(e.at, r.window, &r.kinds)
            } else {
                0
            }
            .saturating_add(1);
            if u32::try_from(count).is_ok_and(|c| c == r.count) {
                push(Anomaly::RepeatedRefusals {
                    refusals: r.count,
                    minutes: r.window / 60,
                    last: kind,
                });
            }
        }
    }
    alerts
}

fn off_hours(profile: &Profile, e: &Observation, s: &Settings, history: bool) -> Option<Anomaly> {
    let outside_declared = e
        .operator
        .as_ref()
        .and_then(|op| s.working_hours.get(op))
        .and_then(|wh| {
            let local = wh.local(e.at)?;
            let grace_minutes = s.off_hours.grace_minutes;
            (!wh.contains_with_grace(local, grace_minutes)).then(|| OutsideDeclared {
                hours: wh.declared(),
                local,
                grace_minutes,
            })
        });
    let outside_learned = (s.off_hours.learned && history && !profile.knows_hour(e.at, s))
        .then(|| super::profile::local_hour_of_week(e.at, profile.subject(), s));
    (outside_declared.is_some() || outside_learned.is_some()).then_some(Anomaly::OffHours {
        outside_declared,
        outside_learned,
    })
}

fn new_things(
    profile: &Profile,
    e: &Observation,
    s: &Settings,
    known: KnownCounts,
) -> Vec<Anomaly> {
    let mut out = Vec::new();
    if let Some(c) = e.client_cert.filter(|c| !profile.knows_device(c, e.at, s)) {
        out.push(Anomaly::NewDevice {
            fingerprint: c,
            known: known.devices,
            window_days: s.window_days,
        });
    }
    if let Some(n) = e.network.filter(|n| !profile.knows_network(n, e.at, s)) {
        out.push(Anomaly::NewNetwork {
            network: n,
            known: known.networks,
            window_days: s.window_days,
        });
    }
    if let Some(w) = e
        .wallet
        .filter(|w| e.operator.is_some() && !profile.knows_wallet(w, e.at, s))
    {
        out.push(Anomaly::OutOfScopeWallet {
            wallet: w,
            known: known.wallets,
            window_days: s.window_days,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        anomaly::{
            event::{IdentityClass, ReadCall},
            settings::Settings,
        },
        time::DAY,
    };

    fn on() -> Settings {
        Settings {
            enabled: true,
            off_hours: super::super::settings::OffHours {
                rule: Rule {
                    enabled: true,
                    action: Action::Alert,
                },
                learned: true,
                grace_minutes: 0,
            },
            new_device: Rule {
                enabled: true,
                action: Action::Alert,
            },
            ..Settings::off()
        }
    }

    fn read(who: &str, at: u64, cert: u8) -> Observation {
        Observation {
            at: Timestamp(at),
            operator: Some(who.into()),
            key: None,
            client_cert: Some(CertFingerprint([cert; 32].into())),
            network: None,
            identity: IdentityClass::Operator,
            call: CallKind::Read(ReadCall::List),
            wallet: None,
            outcome: Outcome::Allowed,
            approval: None,
            probation: None,
        }
    }

    /// Alice, 20 weekdays-or-not of calls at 10:00Z from device 1.
    fn alice(s: &Settings) -> Profile {
        let mut p = Profile::new(Subject::Operator("alice".into()));
        for day in 0..20 {
            p.observe(&read("alice", day * DAY + 10 * 3_600, 1), s);
        }
        p
    }

    #[test]
    fn every_code_is_unique_and_under_the_anomaly_prefix() {
        let mut codes: Vec<&str> = AnomalyRule::ALL.iter().map(|r| r.code()).collect();
        assert!(codes.iter().all(|c| c.starts_with("anomaly.")));
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), AnomalyRule::ALL.len());
    }

    #[test]
    fn settings_off_raise_nothing() {
        let s = on();
        let p = alice(&s);
        let odd = read("alice", 20 * DAY + 3 * 3_600, 9);
        assert_eq!(evaluate(&p, &odd, &s).len(), 2);
        assert_eq!(evaluate(&p, &odd, &Settings::off()), vec![]);
    }

    #[test]
    fn someone_elses_profile_is_no_history() {
        let s = on();
        let p = alice(&s);
        // Bob at Alice's usual hour from a device she never used: judged against nothing.
        let bob = read("bob", 20 * DAY + 10 * 3_600, 9);
        assert_eq!(evaluate(&p, &bob, &s), vec![]);
        // Alice herself on that device: new.
        let mut e = bob.clone();
        e.operator = Some("alice".into());
        let alerts = evaluate(&p, &e, &s);
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].rule(), AnomalyRule::NewDevice);
    }

    #[test]
    fn a_disabled_rule_stays_silent() {
        let mut s = on();
        let p = alice(&s);
        s.new_device.enabled = false;
        let e = read("alice", 20 * DAY + 10 * 3_600, 9);
        assert_eq!(evaluate(&p, &e, &s), vec![]);
    }
}
