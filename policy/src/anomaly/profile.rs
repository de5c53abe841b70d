//! What an operator (or a client certificate) usually does, learned from their calls over a
//! rolling window: hours of the week, devices, networks, wallets, daily reads, and the recent
//! approvals and refusals the rate rules count.
//!
//! A profile is a fold of observations and nothing else: [`Profile::observe`] prunes by the
//! latest event time it has seen, never by a clock, so rebuilding a profile from the same
//! events (the audit log, after a lost store) gives an equal profile. Every collection has a
//! bound: the window bounds the days and hours, a fixed cap (evicting the least recently seen)
//! bounds devices, networks and wallets, and [`MAX_RECENT`] bounds the approval and refusal
//! logs, so a flood of calls cannot grow a profile without limit.
//!
//! Only calls the gateway allowed teach the profile where, when and on what an operator works:
//! a refused call from a new laptop must not make that laptop familiar. Refusals are kept apart
//! for the refusal rule; reads count towards the day's reads whatever their outcome.

use serde::{Deserialize, Serialize};

use super::{
    event::{
        CallKind, CertFingerprint, Observation, Outcome, RefusalKind, SourceNetwork, Subject,
        WalletId,
    },
    settings::Settings,
};
use crate::time::{DAY, HOUR, Timestamp};

/// Most client certificates one profile remembers.
pub const MAX_DEVICES: usize = 64;
/// Most networks one profile remembers.
pub const MAX_NETWORKS: usize = 128;
/// Most wallets one profile remembers.
pub const MAX_WALLETS: usize = 256;
/// Most recent approvals, and most recent refusals, one profile keeps.
pub const MAX_RECENT: usize = 1_024;
/// Hours in a week: the hour-of-week index runs over `0..HOURS_PER_WEEK`, Monday 00:00 UTC
/// first.
pub const HOURS_PER_WEEK: u8 = 168;

/// A value and when it was last seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen<T> {
    /// The value.
    pub value: T,
    /// The latest allowed call that showed it.
    pub last_seen: Timestamp,
}

/// A count for one UTC day (days since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayCount {
    /// Days since 1970-01-01.
    pub day: u64,
    /// The count.
    pub count: u32,
}

/// One refused call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// When.
    pub at: Timestamp,
    /// Why.
    pub kind: RefusalKind,
}

/// The hour of the week of `at`, in UTC, Monday 00:00–00:59 = 0.
pub fn hour_of_week(at: Timestamp) -> u8 {
    let secs = at.as_secs();
    // 1970-01-01 was a Thursday: Monday-based weekday 3.
    let weekday = (secs / DAY + 3) % 7;
    let hour = (secs % DAY) / HOUR;
    u8::try_from(weekday * 24 + hour).unwrap_or(0)
}

/// The hour of the week of `at` on `subject`'s wall clock: in the zone of their declared
/// working hours when they declare some, so that a daylight-saving switch does not move their
/// habits by an hour; in UTC otherwise (the learned-hours rule allows the neighbouring hours,
/// which absorbs the shift). Changing an operator's zone re-bases what the profile learns from
/// then on; hours learned before keep their old base until the window rolls past them.
pub fn local_hour_of_week(at: Timestamp, subject: &Subject, settings: &Settings) -> u8 {
    let local = match subject {
        Subject::Operator(id) => settings.working_hours.get(id).and_then(|wh| wh.local(at)),
        Subject::Certificate(_) => None,
    };
    local.map_or_else(
        || hour_of_week(at),
        |t| {
            t.weekday
                .saturating_mul(24)
                .saturating_add(u8::try_from(t.minute / 60).unwrap_or(0))
        },
    )
}

/// An operator's (or a client's) learned behaviour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    subject: Subject,
    latest: Option<Timestamp>,
    active_days: Vec<u64>,
    hours: Vec<Seen<u8>>,
    devices: Vec<Seen<CertFingerprint>>,
    networks: Vec<Seen<SourceNetwork>>,
    wallets: Vec<Seen<WalletId>>,
    daily_reads: Vec<DayCount>,
    approvals: Vec<Timestamp>,
    refusals: Vec<Refusal>,
}

impl Profile {
    /// An empty profile: no history, so only the stateless rules can fire on its subject.
    pub const fn new(subject: Subject) -> Self {
        Self {
            subject,
            latest: None,
            active_days: Vec::new(),
            hours: Vec::new(),
            devices: Vec::new(),
            networks: Vec::new(),
            wallets: Vec::new(),
            daily_reads: Vec::new(),
            approvals: Vec::new(),
            refusals: Vec::new(),
        }
    }

    /// A profile built by folding `events` in order: what the gateway does after losing its
    /// store, from the audit log. Events of other subjects are skipped.
    pub fn rebuild<'a>(
        subject: Subject,
        events: impl IntoIterator<Item = &'a Observation>,
        settings: &Settings,
    ) -> Self {
        let mut p = Self::new(subject);
        for e in events {
            p.observe(e, settings);
        }
        p
    }

    /// Who the profile is about.
    pub const fn subject(&self) -> &Subject {
        &self.subject
    }

    /// The latest event time folded in.
    pub const fn latest(&self) -> Option<Timestamp> {
        self.latest
    }

    /// Folds one call in and prunes what fell out of the window (measured back from the latest
    /// event time seen). Returns false, changing nothing, for a call of another subject.
    ///
    /// Call [`super::evaluate`] on the profile *before* observing the same call: a rule asks
    /// whether the call is unusual for the history before it.
    pub fn observe(&mut self, e: &Observation, settings: &Settings) -> bool {
        if e.subject().as_ref() != Some(&self.subject) {
            return false;
        }
        let now = self.latest.map_or(e.at, |l| l.max(e.at));
        self.latest = Some(now);
        let day = e.at.as_secs() / DAY;
        if matches!(e.call, CallKind::Read(_)) {
            match self.daily_reads.iter_mut().find(|d| d.day == day) {
                Some(d) => d.count = d.count.saturating_add(1),
                None => {
                    self.daily_reads.push(DayCount { day, count: 1 });
                    self.daily_reads.sort_by_key(|d| d.day);
                }
            }
        }
        match e.outcome {
            Outcome::Allowed => {
                if !self.active_days.contains(&day) {
                    self.active_days.push(day);
                    self.active_days.sort_unstable();
                }
                touch(
                    &mut self.hours,
                    local_hour_of_week(e.at, &self.subject, settings),
                    e.at,
                    usize::from(HOURS_PER_WEEK),
                );
                if let Some(c) = e.client_cert {
                    touch(&mut self.devices, c, e.at, MAX_DEVICES);
                }
                if let Some(n) = e.network {
                    touch(&mut self.networks, n, e.at, MAX_NETWORKS);
                }
                if let Some(w) = e.wallet {
                    touch(&mut self.wallets, w, e.at, MAX_WALLETS);
                }
                if e.call == CallKind::Approve {
                    self.approvals.push(e.at);
                    self.approvals.sort_unstable();
                }
            }
            Outcome::Refused(kind) => {
                self.refusals.push(Refusal { at: e.at, kind });
                self.refusals.sort_by_key(|r| (r.at, r.kind));
            }
        }
        self.prune(now, settings);
        true
    }

    fn prune(&mut self, now: Timestamp, settings: &Settings) {
        let horizon = horizon(now, settings);
        let first_day = horizon.as_secs() / DAY;
        self.active_days.retain(|d| *d >= first_day);
        self.daily_reads.retain(|d| d.day >= first_day);
        self.hours.retain(|s| s.last_seen >= horizon);
        self.devices.retain(|s| s.last_seen >= horizon);
        self.networks.retain(|s| s.last_seen >= horizon);
        self.wallets.retain(|s| s.last_seen >= horizon);
        let since = Timestamp(now.as_secs().saturating_sub(settings.approval_burst.window));
        self.approvals.retain(|t| *t >= since);
        keep_last(&mut self.approvals, MAX_RECENT);
        let since = Timestamp(
            now.as_secs()
                .saturating_sub(settings.repeated_refusals.window),
        );
        self.refusals.retain(|r| r.at >= since);
        keep_last(&mut self.refusals, MAX_RECENT);
    }

    /// Active days (UTC days with an allowed call) in the window before `at`'s day: how much
    /// history the learned rules have to judge `at` by.
    pub fn history_days(&self, at: Timestamp, settings: &Settings) -> usize {
        let first_day = horizon(at, settings).as_secs() / DAY;
        let today = at.as_secs() / DAY;
        self.active_days
            .iter()
            .filter(|d| (first_day..today).contains(*d))
            .count()
    }

    /// Whether an allowed call in the window before `at` came in `at`'s hour of the week (see
    /// [`local_hour_of_week`]) or either neighbouring hour.
    pub fn knows_hour(&self, at: Timestamp, settings: &Settings) -> bool {
        let h = u16::from(local_hour_of_week(at, &self.subject, settings));
        let week = u16::from(HOURS_PER_WEEK);
        let near = [(h + week - 1) % week, h, (h + 1) % week];
        let horizon = horizon(at, settings);
        self.hours
            .iter()
            .any(|s| s.last_seen >= horizon && near.contains(&u16::from(s.value)))
    }

    /// Whether the certificate was seen in the window before `at`.
    pub fn knows_device(&self, c: &CertFingerprint, at: Timestamp, settings: &Settings) -> bool {
        knows(&self.devices, c, horizon(at, settings))
    }

    /// Whether the network was seen in the window before `at`.
    pub fn knows_network(&self, n: &SourceNetwork, at: Timestamp, settings: &Settings) -> bool {
        knows(&self.networks, n, horizon(at, settings))
    }

    /// Whether the wallet was acted on in the window before `at`.
    pub fn knows_wallet(&self, w: &WalletId, at: Timestamp, settings: &Settings) -> bool {
        knows(&self.wallets, w, horizon(at, settings))
    }

    /// Devices, networks and wallets seen in the window before `at`, for evidence.
    pub fn known_counts(&self, at: Timestamp, settings: &Settings) -> KnownCounts {
        let h = horizon(at, settings);
        KnownCounts {
            devices: count_since(&self.devices, h),
            networks: count_since(&self.networks, h),
            wallets: count_since(&self.wallets, h),
        }
    }

    /// Reads on `at`'s UTC day so far.
    pub fn reads_on_day_of(&self, at: Timestamp) -> u32 {
        let day = at.as_secs() / DAY;
        self.daily_reads
            .iter()
            .find(|d| d.day == day)
            .map_or(0, |d| d.count)
    }

    /// The median reads per active day in the window before `at`'s day (a day with calls but no
    /// reads counts as zero), rounded up; 0 without history.
    pub fn median_daily_reads(&self, at: Timestamp, settings: &Settings) -> u32 {
        let first_day = horizon(at, settings).as_secs() / DAY;
        let today = at.as_secs() / DAY;
        let mut counts: Vec<u32> = self
            .active_days
            .iter()
            .filter(|d| (first_day..today).contains(*d))
            .map(|d| {
                self.daily_reads
                    .iter()
                    .find(|r| r.day == *d)
                    .map_or(0, |r| r.count)
            })
            .collect();
        counts.sort_unstable();
        let mid = counts.len() / 2;
        match (
            counts.len() % 2,
            counts.get(mid),
            mid.checked_sub(1).and_then(|i| counts.get(i)),
        ) {
            (1, Some(m), _) => *m,
            (0, Some(hi), Some(lo)) => hi.saturating_add(*lo).div_ceil(2),
            _ => 0,
        }
    }

    /// Accepted approvals in `(at − window, at]`.
    pub fn approvals_within(&self, at: Timestamp, window: u64) -> usize {
        let since = at.as_secs().saturating_sub(window);
        self.approvals
            .iter()
            .filter(|t| t.as_secs() > since && **t <= at)
            .count()
    }

    /// Refusals of `kinds` in `(at − window, at]`.
    pub fn refusals_within(&self, at: Timestamp, window: u64, kinds: &[RefusalKind]) -> usize {
        let since = at.as_secs().saturating_sub(window);
        self.refusals
            .iter()
            .filter(|r| r.at.as_secs() > since && r.at <= at && kinds.contains(&r.kind))
            .count()
    }
}

/// How many devices, networks and wallets a profile knows, for an alert's evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownCounts {
    /// Client certificates seen in the window.
    pub devices: u32,
    /// Networks seen in the window.
    pub networks: u32,
    /// Wallets acted on in the window.
    pub wallets: u32,
}

fn count_since<T>(seen: &[Seen<T>], horizon: Timestamp) -> u32 {
    let n = seen.iter().filter(|s| s.last_seen >= horizon).count();
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The oldest instant still in the window that ends at `now`.
fn horizon(now: Timestamp, settings: &Settings) -> Timestamp {
    Timestamp(now.as_secs().saturating_sub(settings.window()))
}

fn knows<T: PartialEq>(seen: &[Seen<T>], value: &T, horizon: Timestamp) -> bool {
    seen.iter()
        .any(|s| &s.value == value && s.last_seen >= horizon)
}

/// Marks `value` seen at `at`, keeping `seen` sorted by value and at most `cap` long (the least
/// recently seen goes first; ties by value, so eviction is deterministic).
fn touch<T: Ord + Copy>(seen: &mut Vec<Seen<T>>, value: T, at: Timestamp, cap: usize) {
    if let Some(s) = seen.iter_mut().find(|s| s.value == value) {
        s.last_seen = s.last_seen.max(at);
        return;
    }
    while seen.len() >= cap {
        let oldest = seen
            .iter()
            .enumerate()
            .min_by_key(|(_, s)| (s.last_seen, s.value))
            .map(|(i, _)| i);
        match oldest {
            Some(i) => {
                seen.remove(i);
            }
            None => break,
        }
    }
    seen.push(Seen {
        value,
        last_seen: at,
    });
    seen.sort_by_key(|s| s.value);
}

fn keep_last<T>(v: &mut Vec<T>, cap: usize) {
    let excess = v.len().saturating_sub(cap);
    if excess > 0 {
        v.drain(..excess);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anomaly::event::{IdentityClass, ReadCall};

    #[test]
    fn hour_of_week_starts_monday_utc() {
        // 2026-03-02 is a Monday.
        let mon: Timestamp = "2026-03-02T00:30:00Z".parse().unwrap();
        assert_eq!(hour_of_week(mon), 0);
        let sun: Timestamp = "2026-03-08T23:59:59Z".parse().unwrap();
        assert_eq!(hour_of_week(sun), 167);
    }

    fn read(at: u64, cert: u8) -> Observation {
        Observation {
            at: Timestamp(at),
            operator: Some("alice".into()),
            key: None,
            client_cert: Some(CertFingerprint([cert; 32].into())),
            network: None,
            identity: IdentityClass::Operator,
            call: CallKind::Read(ReadCall::Get),
            wallet: None,
            outcome: Outcome::Allowed,
            approval: None,
            probation: None,
        }
    }

    fn settings() -> Settings {
        Settings {
            enabled: true,
            ..Settings::off()
        }
    }

    #[test]
    fn devices_are_bounded_and_evict_the_least_recently_seen() {
        let s = settings();
        let mut p = Profile::new(Subject::Operator("alice".into()));
        for i in 0..=u8::try_from(MAX_DEVICES).unwrap() {
            assert!(p.observe(&read(1_000 + u64::from(i), i), &s));
        }
        assert_eq!(p.devices.len(), MAX_DEVICES);
        let at = Timestamp(5_000);
        assert!(!p.knows_device(&CertFingerprint([0; 32].into()), at, &s));
        assert!(p.knows_device(&CertFingerprint([1; 32].into()), at, &s));
    }

    #[test]
    fn the_window_prunes_by_event_time() {
        let s = settings();
        let mut p = Profile::new(Subject::Operator("alice".into()));
        p.observe(&read(10 * DAY, 1), &s);
        p.observe(&read(50 * DAY, 2), &s);
        assert_eq!(p.devices.len(), 1);
        assert_eq!(p.active_days, vec![50]);
        assert_eq!(p.daily_reads, vec![DayCount { day: 50, count: 1 }]);
    }

    #[test]
    fn calls_of_someone_else_are_not_folded_in() {
        let mut p = Profile::new(Subject::Operator("bob".into()));
        assert!(!p.observe(&read(DAY, 1), &settings()));
        assert_eq!(p, Profile::new(Subject::Operator("bob".into())));
    }

    #[test]
    fn median_counts_active_days_without_reads_as_zero() {
        let s = settings();
        let mut p = Profile::new(Subject::Operator("alice".into()));
        for (day, reads) in [(1u64, 10u32), (2, 0), (3, 30), (4, 20)] {
            let mut e = read(day * DAY, 1);
            if reads == 0 {
                e.call = CallKind::Cancel;
                p.observe(&e, &s);
            }
            for _ in 0..reads {
                p.observe(&e, &s);
            }
        }
        // Days 1–4 before day 5: 0, 10, 20, 30 → (10 + 20) / 2.
        assert_eq!(p.median_daily_reads(Timestamp(5 * DAY), &s), 15);
        assert_eq!(p.history_days(Timestamp(5 * DAY), &s), 4);
    }
}
