//! The `[anomaly]` table and operators' `working_hours`, compiled once at load into typed
//! settings, so that the rules never meet a zone name, a day word or a zero threshold.
//!
//! Time zones come from the IANA database bundled into the binary
//! ([`jiff::tz::TimeZoneDatabase::bundled`]), never from the host's files: evaluation reads no
//! file, and two gateways on different hosts judge the same hour the same way.

use std::{collections::BTreeMap, fmt};

use jiff::tz::{TimeZone, TimeZoneDatabase};
use serde::{Deserialize, Serialize};

use super::{event::RefusalKind, rules::AnomalyRule};
use crate::{
    compile::CompileError,
    operators::{OperatorId, Role},
    raw::{RawAction, RawAnomaly, RawRule, RawWorkingHours},
    time::{DAY, Timestamp},
};

/// The longest profile window the settings accept, in days: profiles stay bounded.
pub const MAX_WINDOW_DAYS: u32 = 366;
/// The largest count threshold (`max_approvals`, `count`) the settings accept; profiles keep
/// at most [`super::profile::MAX_RECENT`] recent approvals and refusals, which is more.
pub const MAX_COUNT: u32 = 1_000;
/// The widest grace around declared working hours: half a day.
pub const MAX_GRACE_MINUTES: u32 = 720;
/// The longest counting window (`minutes`) of the burst and refusal rules: one day.
pub const MAX_MINUTES: u32 = 1_440;

/// What an alert does to the decision on the proposal it concerns.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Recorded and notified; the decision is unchanged.
    Alert,
    /// The proposal needs one more approval from this role.
    ExtraApproval {
        /// A role at least one operator holds (checked at load).
        role: Role,
    },
    /// The proposal waits this many more hours after the alert before release.
    Hold {
        /// More than 0.
        hours: u64,
    },
    /// The anomalous approval does not count towards any quorum.
    NotCounted,
}

impl fmt::Display for Action {
    /// What happens and how to pass, for the alert's message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Alert => f.write_str("recorded for review; the decision is unchanged"),
            Self::ExtraApproval { role } => write!(
                f,
                "the proposal needs one more approval from role `{role}` before it can pass"
            ),
            Self::Hold { hours } => write!(
                f,
                "the proposal is held {hours}h before it can be released, so someone can look"
            ),
            Self::NotCounted => f.write_str(
                "the approval this call brought does not count; an approval from a call that \
                 raises no such alert must replace it",
            ),
        }
    }
}

/// A rule's switch and action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Whether the rule runs.
    pub enabled: bool,
    /// What its alerts do.
    pub action: Action,
}

impl Rule {
    const fn off() -> Self {
        Self {
            enabled: false,
            action: Action::Alert,
        }
    }
}

/// `anomaly.off_hours`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffHours {
    /// Switch and action.
    pub rule: Rule,
    /// Also judge by the hours of the week seen in the profile.
    pub learned: bool,
    /// Minutes either side of the declared span that still count as in hours.
    pub grace_minutes: u16,
}

/// `anomaly.reconnaissance`: reads in one UTC day above `max(factor × median, floor)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconnaissance {
    /// Switch and action.
    pub rule: Rule,
    /// Multiple of the median daily reads; more than 0.
    pub factor: u32,
    /// Reads a day that never alert; more than 0.
    pub floor: u32,
}

/// `anomaly.approval_burst`: more than `max_approvals` accepted approvals within `window`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalBurst {
    /// Switch and action.
    pub rule: Rule,
    /// More than 0, at most [`MAX_COUNT`].
    pub max_approvals: u32,
    /// Seconds; more than 0, at most a day.
    pub window: u64,
}

/// `anomaly.rubber_stamp`: an approval of a large transfer within `seconds` of submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RubberStamp {
    /// Switch and action.
    pub rule: Rule,
    /// More than 0.
    pub seconds: u64,
}

/// `anomaly.repeated_refusals`: `count` refusals of `kinds` within `window`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepeatedRefusals {
    /// Switch and action.
    pub rule: Rule,
    /// More than 0, at most [`MAX_COUNT`].
    pub count: u32,
    /// Seconds; more than 0, at most a day.
    pub window: u64,
    /// The refusal kinds counted; at least one.
    pub kinds: Vec<RefusalKind>,
}

/// A three-letter weekday set, Monday = bit 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WorkDays(u8);

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl WorkDays {
    /// Whether `day` (Monday = 0) is a working day.
    pub const fn contains(self, day: u8) -> bool {
        day < 7 && self.0 & (1 << day) != 0
    }
}

impl fmt::Display for WorkDays {
    /// `mon,tue,wed` — as the policy file writes them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (i, name) in (0u8..).zip(DAY_NAMES) {
            if self.contains(i) {
                if !first {
                    f.write_str(",")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

/// An instant as seen on one operator's wall clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalTime {
    /// Monday = 0 … Sunday = 6.
    pub weekday: u8,
    /// Minutes since local midnight.
    pub minute: u16,
}

impl fmt::Display for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let day = DAY_NAMES.get(usize::from(self.weekday)).unwrap_or(&"?");
        write!(f, "{day} {:02}:{:02}", self.minute / 60, self.minute % 60)
    }
}

/// An operator's declared working hours: days and a daily span in their time zone. A span
/// across midnight is not expressible (`from` must be before `to`); a night shift declares
/// two operators' worth of hours or relies on the learned hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingHours {
    /// The IANA zone, resolved from the bundled database.
    pub zone: TimeZone,
    /// The working days, local.
    pub days: WorkDays,
    /// Start, minutes after local midnight.
    pub from: u16,
    /// End (exclusive), minutes after local midnight; after `from`, at most 1440.
    pub to: u16,
}

impl WorkingHours {
    /// The zone's IANA name.
    pub fn zone_name(&self) -> &str {
        self.zone.iana_name().unwrap_or("UTC")
    }

    /// `at` on the operator's wall clock; `None` only for instants jiff cannot represent
    /// (beyond the year 9999), which no gateway clock produces.
    pub fn local(&self, at: Timestamp) -> Option<LocalTime> {
        let secs = i64::try_from(at.as_secs()).ok()?;
        let ts = jiff::Timestamp::from_second(secs).ok()?;
        let dt = self.zone.to_datetime(ts);
        let weekday = u8::try_from(dt.weekday().to_monday_zero_offset()).ok()?;
        let minute = u16::try_from(i32::from(dt.hour()) * 60 + i32::from(dt.minute())).ok()?;
        Some(LocalTime { weekday, minute })
    }

    /// The declaration as plain data, for an alert's evidence.
    pub fn declared(&self) -> DeclaredHours {
        DeclaredHours {
            zone: self.zone_name().to_owned(),
            days: self.days,
            from: self.from,
            to: self.to,
        }
    }

    /// Whether a local time falls in these hours.
    pub const fn contains(&self, t: LocalTime) -> bool {
        self.contains_with_grace(t, 0)
    }

    /// Whether a local time falls in these hours widened by `grace` minutes on either side
    /// (within the same local day: the grace does not carry a call past midnight into a working
    /// day).
    pub const fn contains_with_grace(&self, t: LocalTime, grace: u16) -> bool {
        self.days.contains(t.weekday)
            && self.from.saturating_sub(grace) <= t.minute
            && t.minute < self.to.saturating_add(grace)
    }

    /// Compiles `working_hours` of operator `operator`.
    pub fn compile(operator: &str, raw: &RawWorkingHours) -> Result<Self, CompileError> {
        let zone = TimeZoneDatabase::bundled().get(&raw.zone).map_err(|_| {
            CompileError::UnknownTimeZone {
                operator: operator.to_owned(),
                zone: raw.zone.clone(),
            }
        })?;
        let mut days = 0u8;
        for word in &raw.days {
            let i = (0u8..)
                .zip(DAY_NAMES)
                .find_map(|(i, d)| (d == word.to_ascii_lowercase()).then_some(i))
                .ok_or_else(|| CompileError::UnknownWorkDay {
                    operator: operator.to_owned(),
                    word: word.clone(),
                })?;
            days |= 1 << i;
        }
        if days == 0 {
            return Err(CompileError::NoWorkDays {
                operator: operator.to_owned(),
            });
        }
        let minute = |text: &str| {
            parse_hh_mm(text).ok_or_else(|| CompileError::BadTimeOfDay {
                operator: operator.to_owned(),
                value: text.to_owned(),
            })
        };
        let (from, to) = (minute(&raw.from)?, minute(&raw.to)?);
        if from >= to {
            return Err(CompileError::EmptyWorkingHours {
                operator: operator.to_owned(),
                from: raw.from.clone(),
                to: raw.to.clone(),
            });
        }
        Ok(Self {
            zone,
            days: WorkDays(days),
            from,
            to,
        })
    }
}

impl fmt::Display for WorkingHours {
    /// `mon,tue,wed,thu,fri 08:00–19:00 Europe/Berlin`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.declared().fmt(f)
    }
}

/// Declared working hours as data (the zone by its IANA name), as alerts carry them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclaredHours {
    /// The IANA zone name.
    pub zone: String,
    /// The working days.
    pub days: WorkDays,
    /// Start, minutes after local midnight.
    pub from: u16,
    /// End (exclusive), minutes after local midnight.
    pub to: u16,
}

impl fmt::Display for DeclaredHours {
    /// `mon,tue,wed,thu,fri 08:00–19:00 Europe/Berlin`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:02}:{:02}–{:02}:{:02} {}",
            self.days,
            self.from / 60,
            self.from % 60,
            self.to / 60,
            self.to % 60,
            self.zone
        )
    }
}

/// `HH:MM` → minutes after midnight, `00:00` … `24:00`.
fn parse_hh_mm(s: &str) -> Option<u16> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    let total = h.checked_mul(60)?.checked_add(m)?;
    (m < 60 && total <= 24 * 60).then_some(total)
}

/// The compiled anomaly settings. [`Settings::off`] when the policy has no `[anomaly]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Whether any rule runs (the `[anomaly]` table is present).
    pub enabled: bool,
    /// The profile window, in days.
    pub window_days: u32,
    /// Active days a profile needs before the learned rules judge by it.
    pub min_history_days: u32,
    /// Declared working hours, by operator.
    pub working_hours: BTreeMap<OperatorId, WorkingHours>,
    /// `anomaly.off_hours`.
    pub off_hours: OffHours,
    /// `anomaly.new_device`.
    pub new_device: Rule,
    /// `anomaly.new_network`.
    pub new_network: Rule,
    /// `anomaly.out_of_scope_wallet`.
    pub out_of_scope_wallet: Rule,
    /// `anomaly.gateway_identity_admin`.
    pub gateway_identity_admin: Rule,
    /// `anomaly.cloned_authenticator`.
    pub cloned_authenticator: Rule,
    /// `anomaly.probationary_restricted`.
    pub probationary_restricted: Rule,
    /// `anomaly.reconnaissance`.
    pub reconnaissance: Reconnaissance,
    /// `anomaly.approval_burst`.
    pub approval_burst: ApprovalBurst,
    /// `anomaly.rubber_stamp`.
    pub rubber_stamp: RubberStamp,
    /// `anomaly.repeated_refusals`.
    pub repeated_refusals: RepeatedRefusals,
}

impl Settings {
    /// No rule runs: what a policy without `[anomaly]` compiles to. Profiles still learn with
    /// the default window, so turning the rules on later finds history.
    pub fn off() -> Self {
        Self {
            enabled: false,
            window_days: 30,
            min_history_days: 14,
            working_hours: BTreeMap::new(),
            off_hours: OffHours {
                rule: Rule::off(),
                learned: false,
                grace_minutes: 60,
            },
            new_device: Rule::off(),
            new_network: Rule::off(),
            out_of_scope_wallet: Rule::off(),
            gateway_identity_admin: Rule::off(),
            cloned_authenticator: Rule::off(),
            probationary_restricted: Rule::off(),
            reconnaissance: Reconnaissance {
                rule: Rule::off(),
                factor: 5,
                floor: 200,
            },
            approval_burst: ApprovalBurst {
                rule: Rule::off(),
                max_approvals: 5,
                window: 600,
            },
            rubber_stamp: RubberStamp {
                rule: Rule::off(),
                seconds: 60,
            },
            repeated_refusals: RepeatedRefusals {
                rule: Rule::off(),
                count: 3,
                window: 900,
                kinds: Vec::new(),
            },
        }
    }

    /// The rules that run and whose alerts are to change decisions (an action other than
    /// `alert`), in [`AnomalyRule::ALL`] order: what a gateway must enforce, or refuse.
    pub fn deciding(&self) -> Vec<(AnomalyRule, &Action)> {
        AnomalyRule::ALL
            .into_iter()
            .map(|r| (r, r.settings(self)))
            .filter(|(_, rule)| self.enabled && rule.enabled && rule.action != Action::Alert)
            .map(|(r, rule)| (r, &rule.action))
            .collect()
    }

    /// The profile window in seconds.
    pub const fn window(&self) -> u64 {
        (self.window_days as u64).saturating_mul(DAY)
    }

    /// Compiles `[anomaly]` (absent: [`Settings::off`]) with the operators' compiled working
    /// hours. `holds_role` says whether any operator holds a role, for `extra_approval`.
    pub fn compile(
        raw: Option<&RawAnomaly>,
        working_hours: BTreeMap<OperatorId, WorkingHours>,
        holds_role: impl Fn(&Role) -> bool,
    ) -> Result<Self, CompileError> {
        let Some(raw) = raw else {
            return Ok(Self {
                working_hours,
                ..Self::off()
            });
        };
        if raw.window_days == 0 || raw.window_days > MAX_WINDOW_DAYS {
            return Err(CompileError::AnomalyValue {
                setting: "anomaly.window_days".to_owned(),
                value: u64::from(raw.window_days),
                bounds: format!("1 to {MAX_WINDOW_DAYS}"),
            });
        }
        if raw.min_history_days == 0 || raw.min_history_days > raw.window_days {
            return Err(CompileError::AnomalyValue {
                setting: "anomaly.min_history_days".to_owned(),
                value: u64::from(raw.min_history_days),
                bounds: format!("1 to window_days ({})", raw.window_days),
            });
        }
        let rule = |name: &str, r: &RawRule| compile_rule(name, r.enabled, &r.action, &holds_role);
        let o = &raw.off_hours;
        let off_hours = OffHours {
            rule: compile_rule("off_hours", o.enabled, &o.action, &holds_role)?,
            learned: o.learned,
            grace_minutes: u16::try_from(bounded(
                "anomaly.off_hours.grace_minutes",
                o.grace_minutes,
                0,
                MAX_GRACE_MINUTES,
            )?)
            .unwrap_or(0),
        };
        let r = &raw.reconnaissance;
        let reconnaissance = Reconnaissance {
            rule: compile_rule("reconnaissance", r.enabled, &r.action, &holds_role)?,
            factor: bounded("anomaly.reconnaissance.factor", r.factor, 1, MAX_COUNT)?,
            floor: bounded("anomaly.reconnaissance.floor", r.floor, 1, u32::MAX)?,
        };
        let b = &raw.approval_burst;
        let approval_burst = ApprovalBurst {
            rule: compile_rule("approval_burst", b.enabled, &b.action, &holds_role)?,
            max_approvals: bounded(
                "anomaly.approval_burst.max_approvals",
                b.max_approvals,
                1,
                MAX_COUNT,
            )?,
            window: u64::from(bounded(
                "anomaly.approval_burst.minutes",
                b.minutes,
                1,
                MAX_MINUTES,
            )?) * 60,
        };
        let s = &raw.rubber_stamp;
        let rubber_stamp = RubberStamp {
            rule: compile_rule("rubber_stamp", s.enabled, &s.action, &holds_role)?,
            seconds: u64::from(bounded(
                "anomaly.rubber_stamp.seconds",
                s.seconds,
                1,
                u32::MAX,
            )?),
        };
        let f = &raw.repeated_refusals;
        let mut kinds = Vec::with_capacity(f.kinds.len());
        for word in &f.kinds {
            let kind = RefusalKind::parse(word)
                .ok_or_else(|| CompileError::UnknownRefusalKind { word: word.clone() })?;
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        kinds.sort();
        if kinds.is_empty() {
            return Err(CompileError::AnomalyValue {
                setting: "anomaly.repeated_refusals.kinds".to_owned(),
                value: 0,
                bounds: "at least one kind".to_owned(),
            });
        }
        let repeated_refusals = RepeatedRefusals {
            rule: compile_rule("repeated_refusals", f.enabled, &f.action, &holds_role)?,
            count: bounded("anomaly.repeated_refusals.count", f.count, 1, MAX_COUNT)?,
            window: u64::from(bounded(
                "anomaly.repeated_refusals.minutes",
                f.minutes,
                1,
                MAX_MINUTES,
            )?) * 60,
            kinds,
        };
        Ok(Self {
            enabled: true,
            window_days: raw.window_days,
            min_history_days: raw.min_history_days,
            working_hours,
            off_hours,
            new_device: rule("new_device", &raw.new_device)?,
            new_network: rule("new_network", &raw.new_network)?,
            out_of_scope_wallet: rule("out_of_scope_wallet", &raw.out_of_scope_wallet)?,
            gateway_identity_admin: rule("gateway_identity_admin", &raw.gateway_identity_admin)?,
            cloned_authenticator: rule("cloned_authenticator", &raw.cloned_authenticator)?,
            probationary_restricted: rule("probationary_restricted", &raw.probationary_restricted)?,
            reconnaissance,
            approval_burst,
            rubber_stamp,
            repeated_refusals,
        })
    }
}

fn bounded(setting: &str, value: u32, min: u32, max: u32) -> Result<u32, CompileError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(CompileError::AnomalyValue {
            setting: setting.to_owned(),
            value: u64::from(value),
            bounds: format!("{min} to {max}"),
        })
    }
}

fn compile_rule(
    name: &str,
    enabled: bool,
    action: &RawAction,
    holds_role: &impl Fn(&Role) -> bool,
) -> Result<Rule, CompileError> {
    let action = match action {
        RawAction::Alert => Action::Alert,
        RawAction::NotCounted => Action::NotCounted,
        RawAction::Hold { hours: 0 } => {
            return Err(CompileError::AnomalyValue {
                setting: format!("anomaly.{name}.action.hold.hours"),
                value: 0,
                bounds: "more than 0".to_owned(),
            });
        }
        RawAction::Hold { hours } => Action::Hold { hours: *hours },
        RawAction::ExtraApproval { role } => {
            let role = Role(role.clone());
            if !holds_role(&role) {
                return Err(CompileError::AnomalyUnheldRole {
                    rule: format!("anomaly.{name}"),
                    role: role.0,
                });
            }
            Action::ExtraApproval { role }
        }
    };
    // These rules fire only on calls that decide nothing (reads, admin calls, refused calls):
    // an action other than `alert` would be a protection the policy only appears to have.
    let fires_on = match name {
        "reconnaissance" => Some("reads"),
        "gateway_identity_admin" => Some("admin calls"),
        "repeated_refusals" | "cloned_authenticator" => Some("refused calls"),
        _ => None,
    };
    if let (Some(calls), false) = (fires_on, action == Action::Alert) {
        return Err(CompileError::AnomalyActionWithoutProposal {
            rule: format!("anomaly.{name}"),
            calls,
        });
    }
    Ok(Rule { enabled, action })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hours(
        zone: &str,
        days: &[&str],
        from: &str,
        to: &str,
    ) -> Result<WorkingHours, CompileError> {
        WorkingHours::compile(
            "alice",
            &RawWorkingHours {
                zone: zone.to_owned(),
                days: days.iter().map(|d| (*d).to_owned()).collect(),
                from: from.to_owned(),
                to: to.to_owned(),
            },
        )
    }

    #[test]
    fn local_time_follows_the_zone_and_its_daylight_saving() {
        let wh = hours(
            "Europe/Berlin",
            &["mon", "tue", "wed", "thu", "fri"],
            "08:00",
            "19:00",
        )
        .unwrap();
        // 2026-03-27 (Friday) 07:30Z is 08:30 in Berlin (CET, +1) …
        let before: Timestamp = "2026-03-27T07:30:00Z".parse().unwrap();
        let t = wh.local(before).unwrap();
        assert_eq!((t.weekday, t.minute), (4, 8 * 60 + 30));
        assert!(wh.contains(t));
        // … and 2026-03-30 (Monday) 06:30Z is 08:30 CEST (+2) after the switch.
        let after: Timestamp = "2026-03-30T06:30:00Z".parse().unwrap();
        let t = wh.local(after).unwrap();
        assert_eq!((t.weekday, t.minute), (0, 8 * 60 + 30));
        // Saturday is not a working day.
        let sat: Timestamp = "2026-03-28T10:00:00Z".parse().unwrap();
        assert!(!wh.contains(wh.local(sat).unwrap()));
        assert_eq!(
            wh.to_string(),
            "mon,tue,wed,thu,fri 08:00–19:00 Europe/Berlin"
        );
    }

    #[test]
    fn working_hours_refuse_what_cannot_be_meant() {
        assert!(matches!(
            hours("Europe/Berlinn", &["mon"], "08:00", "19:00"),
            Err(CompileError::UnknownTimeZone { .. })
        ));
        assert!(matches!(
            hours("UTC", &["monday"], "08:00", "19:00"),
            Err(CompileError::UnknownWorkDay { .. })
        ));
        assert!(matches!(
            hours("UTC", &[], "08:00", "19:00"),
            Err(CompileError::NoWorkDays { .. })
        ));
        for bad in ["8:00", "08:60", "25:00", "24:01", "0800"] {
            assert!(
                matches!(
                    hours("UTC", &["mon"], bad, "23:00"),
                    Err(CompileError::BadTimeOfDay { .. })
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            hours("UTC", &["mon"], "19:00", "08:00"),
            Err(CompileError::EmptyWorkingHours { .. })
        ));
        assert!(matches!(
            hours("UTC", &["mon"], "08:00", "08:00"),
            Err(CompileError::EmptyWorkingHours { .. })
        ));
        assert!(hours("UTC", &["sun"], "00:00", "24:00").is_ok());
    }
}
