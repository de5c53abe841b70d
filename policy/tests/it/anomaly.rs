//! Issue 18: the anomaly rules on a synthetic but realistic team.
//!
//! Eight operators in six time zones (one working Sunday to Thursday), each with declared
//! working hours kept with some jitter, one or two devices, an office and a home network (a
//! hotel now and then), a handful of wallets, their own read volume, proposals submitted in
//! their hours and approved by colleagues minutes to hours later in theirs, the odd stale
//! signature, days off, an early start or a late finish now and then; plus a service client listing proposals around the clock. The
//! history is generated from a fixed seed, so every run sees the same 60 days (starting
//! Monday 2026-02-16, across both the US and the EU daylight-saving switches).
//!
//! Profiles learn days 1–30; then each rule must fire on its injected pattern, and the benign
//! days 31–60 must alert on at most 1% of calls.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers fail loudly on broken fixtures"
)]

use std::{
    collections::BTreeMap,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    sync::OnceLock,
};

use alloy_primitives::B256;
use jiff::{Span, civil::Date};
use proptest::prelude::*;
use signgate_policy::{
    CompileError, Policy,
    anomaly::{
        Action, AdminCall, Alert, AlertEffects, Anomaly, AnomalyRule, ApprovalContext, CallKind,
        CertFingerprint, IdentityClass, Observation, Outcome, ProbationFacts, Profile, ReadCall,
        RefusalKind, Settings, SourceNetwork, Subject, WalletId, evaluate,
    },
    operators::{OperatorId, Role},
    time::{DAY, HOUR, Timestamp},
};

const TEAM: &str = include_str!("../fixtures/anomaly/team.toml");
const SEED: u64 = 0x5167_6a7e_0018;
const DAYS: i64 = 60;
const TRAINING_DAYS: i64 = 30;

/// SplitMix64: small, seeded, and the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[usize::try_from(self.next() % items.len() as u64).unwrap()]
    }
}

fn start() -> Date {
    jiff::civil::date(2026, 2, 16)
}

fn day_start_utc(day: i64) -> Timestamp {
    let d = start().checked_add(Span::new().days(day)).unwrap();
    let t = d.to_zoned(jiff::tz::TimeZone::UTC).unwrap().timestamp();
    Timestamp(u64::try_from(t.as_second()).unwrap())
}

fn cert(tag: &str) -> CertFingerprint {
    CertFingerprint(alloy_primitives::keccak256(tag.as_bytes()))
}

fn wallet(policy: &Policy, name: &str) -> WalletId {
    let w = policy.wallets().iter().find(|w| w.name == name).unwrap();
    WalletId {
        chain_id: w.chain_id,
        safe: w.safe,
    }
}

/// One synthetic operator's habits.
struct Person {
    id: OperatorId,
    laptop: CertFingerprint,
    desktop: Option<CertFingerprint>,
    office: IpAddr,
    home: IpAddr,
    wallets: Vec<WalletId>,
    reads_per_day: u64,
}

/// One working session: when, from which device and network.
#[derive(Clone, Copy)]
struct Session {
    start: u64,
    end: u64,
    device: CertFingerprint,
    network: SourceNetwork,
}

struct Team {
    policy: Policy,
    people: Vec<Person>,
    bot: CertFingerprint,
    /// Every call of the 60 days, in time order.
    events: Vec<Observation>,
}

impl Team {
    fn settings(&self) -> &Settings {
        self.policy.anomaly()
    }
    fn person(&self, id: &str) -> &Person {
        self.people.iter().find(|p| p.id.0 == id).unwrap()
    }
    fn training_end(&self) -> Timestamp {
        day_start_utc(TRAINING_DAYS)
    }
}

/// Id, has a desktop, office and home addresses, wallets, reads a day.
type Habits = (&'static str, bool, IpAddr, IpAddr, Vec<WalletId>, u64);

fn people(policy: &Policy) -> Vec<Person> {
    let w = |names: &[&str]| names.iter().map(|n| wallet(policy, n)).collect::<Vec<_>>();
    let v4 = |a, b, c| IpAddr::V4(Ipv4Addr::new(a, b, c, 10));
    let v6 = |a, b, c| IpAddr::V6(Ipv6Addr::new(a, b, c, 7, 0, 0, 0, 1));
    let table: [Habits; 8] = [
        (
            "alice",
            true,
            v4(203, 0, 113),
            v4(81, 2, 69),
            w(&["treasury", "ops", "payroll"]),
            40,
        ),
        (
            "bob",
            false,
            v4(198, 18, 4),
            v6(0x2600, 0x1700, 0x51),
            w(&["treasury", "reserve", "ops", "market-making"]),
            25,
        ),
        (
            "carol",
            true,
            v4(118, 189, 2),
            v4(116, 14, 77),
            w(&["treasury", "market-making", "grants"]),
            60,
        ),
        (
            "dave",
            false,
            v4(51, 140, 9),
            v6(0x2a00, 0x23c8, 0x1f),
            w(&["treasury", "reserve", "staking"]),
            30,
        ),
        (
            "erin",
            true,
            v4(64, 71, 12),
            v4(76, 102, 3),
            w(&["treasury", "reserve", "ops", "payroll", "grants"]),
            20,
        ),
        (
            "farid",
            false,
            v4(94, 200, 30),
            v4(5, 195, 44),
            w(&["reserve", "market-making", "staking"]),
            35,
        ),
        (
            "grace",
            true,
            v4(153, 246, 8),
            v6(0x2400, 0x4050, 0x9a),
            w(&["treasury", "reserve", "staking", "grants"]),
            50,
        ),
        (
            "hugo",
            false,
            v4(90, 84, 18),
            v4(37, 170, 5),
            w(&["ops", "payroll", "staking"]),
            15,
        ),
    ];
    table
        .into_iter()
        .map(
            |(id, desktop, office, home, wallets, reads_per_day)| Person {
                id: id.into(),
                laptop: cert(&format!("{id}/laptop")),
                desktop: desktop.then(|| cert(&format!("{id}/desktop"))),
                office,
                home,
                wallets,
                reads_per_day,
            },
        )
        .collect()
}

fn sessions(team_policy: &Policy, p: &Person, rng: &mut Rng) -> Vec<Session> {
    let wh = &team_policy.anomaly().working_hours[&p.id];
    let mut out = Vec::new();
    for day in 0..DAYS {
        let date = start().checked_add(Span::new().days(day)).unwrap();
        let weekday = u8::try_from(date.weekday().to_monday_zero_offset()).unwrap();
        // Days off: about one working day in twenty-five.
        if !wh.days.contains(weekday) || rng.chance(4) {
            continue;
        }
        // Local midnight; working days are never the (Sunday) daylight-saving switch days of
        // the zones that switch, so minutes after midnight are wall-clock minutes.
        let midnight = date
            .to_zoned(wh.zone.clone())
            .unwrap()
            .timestamp()
            .as_second();
        let midnight = u64::try_from(midnight).unwrap();
        // Mostly within the declared hours; one day in twenty starts up to half an hour
        // early, one in twenty runs up to 45 minutes late (both within the fixture's hour of
        // grace), and one in a hundred runs one to two hours late.
        let mut from = u64::from(wh.from) + rng.range(0, 40);
        if rng.chance(5) {
            from = from.saturating_sub(rng.range(40, 70));
        }
        let to = match rng.range(0, 100) {
            0 => u64::from(wh.to) + rng.range(60, 120),
            1..=5 => u64::from(wh.to) + rng.range(5, 45),
            _ => u64::from(wh.to) - rng.range(0, 40),
        };
        let (device, ip) = match rng.range(0, 100) {
            0..=1 => (
                p.laptop,
                IpAddr::V4(Ipv4Addr::new(
                    100,
                    64,
                    u8::try_from(rng.range(0, 256)).unwrap(),
                    9,
                )),
            ),
            2..=31 => (p.laptop, p.home),
            _ => (
                match p.desktop {
                    Some(d) if rng.chance(70) => d,
                    _ => p.laptop,
                },
                p.office,
            ),
        };
        out.push(Session {
            start: midnight + from * 60,
            end: midnight + to * 60,
            device,
            network: SourceNetwork::of(ip),
        });
    }
    out
}

fn call(
    policy: &Policy,
    p: &Person,
    s: &Session,
    at: u64,
    call: CallKind,
    wallet: Option<WalletId>,
) -> Observation {
    Observation {
        at: Timestamp(at),
        operator: Some(p.id.clone()),
        key: None,
        client_cert: Some(s.device),
        network: Some(s.network),
        identity: IdentityClass::Operator,
        call,
        wallet,
        outcome: Outcome::Allowed,
        approval: None,
        probation: wallet
            .and_then(|w| ProbationFacts::from_policy(policy, &p.id, None, &w, Timestamp(at))),
    }
}

fn generate() -> Team {
    let policy = Policy::compile(TEAM).unwrap();
    let people = people(&policy);
    let mut rng = Rng(SEED);
    let schedules: Vec<Vec<Session>> = people
        .iter()
        .map(|p| sessions(&policy, p, &mut rng))
        .collect();
    let mut events = Vec::new();
    let mut submissions = Vec::new();
    for (p, sessions) in people.iter().zip(&schedules) {
        for s in sessions {
            let len = s.end - s.start;
            let reads = p.reads_per_day * rng.range(60, 141) / 100;
            for _ in 0..reads {
                let at = s.start + rng.range(0, len);
                let (kind, w) = match rng.range(0, 10) {
                    0..=6 => (ReadCall::Get, Some(*rng.pick(&p.wallets))),
                    7..=8 => (ReadCall::List, None),
                    _ => (ReadCall::Watch, Some(*rng.pick(&p.wallets))),
                };
                events.push(call(&policy, p, s, at, CallKind::Read(kind), w));
            }
            for _ in 0..rng.range(0, 3) {
                let at = s.start + rng.range(0, len);
                let w = *rng.pick(&p.wallets);
                events.push(call(&policy, p, s, at, CallKind::Submit, Some(w)));
                submissions.push((at, w, p.id.clone(), rng.chance(20)));
            }
            // Now and then an approval signed against an expired deadline.
            if rng.chance(3) {
                let at = s.start + rng.range(0, len);
                let mut e = call(&policy, p, s, at, CallKind::Approve, Some(p.wallets[0]));
                e.outcome = Outcome::Refused(RefusalKind::StaleSignature);
                events.push(e);
            }
        }
    }
    // Colleagues approve in their own hours, a few minutes apart when a queue waits for them.
    submissions.sort_by_key(|s| s.0);
    let mut last_approval = vec![0u64; people.len()];
    for (submitted, w, submitter, large) in submissions {
        let mut offers = Vec::new();
        for (i, (p, sessions)) in people.iter().zip(&schedules).enumerate() {
            if p.id == submitter || !p.wallets.contains(&w) {
                continue;
            }
            let ready = submitted + rng.range(5, 120) * 60;
            let slot = sessions.iter().find_map(|s| {
                let at = ready
                    .max(s.start + rng.range(2, 30) * 60)
                    .max(last_approval[i] + rng.range(3, 8) * 60);
                (at < s.end).then_some((at, *s))
            });
            if let Some((at, s)) = slot {
                offers.push((at, i, s));
            }
        }
        offers.sort_by_key(|o| (o.0, o.1));
        for (at, i, s) in offers.into_iter().take(2) {
            last_approval[i] = at;
            let mut e = call(&policy, &people[i], &s, at, CallKind::Approve, Some(w));
            e.approval = Some(ApprovalContext {
                submitted_at: Timestamp(submitted),
                large_transfer: large,
            });
            events.push(e);
        }
    }
    // A wallet backend polls the proposal list every hour, day and night.
    let bot = cert("wallet-backend");
    for hour in 0..u64::try_from(DAYS).unwrap() * 24 {
        let at = day_start_utc(0).as_secs() + hour * HOUR + rng.range(0, 300);
        events.push(Observation {
            at: Timestamp(at),
            operator: None,
            key: None,
            client_cert: Some(bot),
            network: Some(SourceNetwork::of(IpAddr::V4(Ipv4Addr::new(10, 20, 30, 40)))),
            identity: IdentityClass::GatewayClient,
            call: CallKind::Read(ReadCall::List),
            wallet: None,
            outcome: Outcome::Allowed,
            approval: None,
            probation: None,
        });
    }
    events.sort_by_key(|e| e.at);
    Team {
        policy,
        people,
        bot,
        events,
    }
}

fn team() -> &'static Team {
    static TEAM_HISTORY: OnceLock<Team> = OnceLock::new();
    TEAM_HISTORY.get_or_init(generate)
}

/// Every subject's profile after folding `events`.
fn fold<'a>(
    events: impl IntoIterator<Item = &'a Observation>,
    settings: &Settings,
) -> BTreeMap<Subject, Profile> {
    let mut profiles = BTreeMap::new();
    for e in events {
        if let Some(s) = e.subject() {
            profiles
                .entry(s.clone())
                .or_insert_with(|| Profile::new(s))
                .observe(e, settings);
        }
    }
    profiles
}

fn trained() -> &'static BTreeMap<Subject, Profile> {
    static TRAINED: OnceLock<BTreeMap<Subject, Profile>> = OnceLock::new();
    TRAINED.get_or_init(|| {
        let t = team();
        fold(
            t.events.iter().take_while(|e| e.at < t.training_end()),
            t.settings(),
        )
    })
}

fn profile(id: &str) -> &'static Profile {
    &trained()[&Subject::Operator(id.into())]
}

/// Alice on the first benign day (Wednesday 2026-03-18) at 10:00 in Berlin, from her office
/// desk, reading the treasury: nothing unusual.
fn usual_alice() -> Observation {
    let t = team();
    let alice = t.person("alice");
    Observation {
        at: day_start_utc(TRAINING_DAYS).plus(9 * HOUR),
        operator: Some(alice.id.clone()),
        key: None,
        client_cert: Some(alice.laptop),
        network: Some(SourceNetwork::of(alice.office)),
        identity: IdentityClass::Operator,
        call: CallKind::Read(ReadCall::Get),
        wallet: Some(wallet(&t.policy, "treasury")),
        outcome: Outcome::Allowed,
        approval: None,
        probation: None,
    }
}

fn alerts_for(e: &Observation) -> Vec<Alert> {
    let subject = e.subject().unwrap();
    let empty = Profile::new(subject.clone());
    let p = trained().get(&subject).unwrap_or(&empty);
    evaluate(p, e, team().settings())
}

fn only(alerts: &[Alert], rule: AnomalyRule) -> &Alert {
    let matching: Vec<&Alert> = alerts.iter().filter(|a| a.rule() == rule).collect();
    assert_eq!(matching.len(), 1, "{rule}: {alerts:#?}");
    matching[0]
}

fn security() -> Action {
    Action::ExtraApproval {
        role: Role("security".into()),
    }
}

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
    assert!(!AlertEffects::of(&alerts).approval_counts());
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
}

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
    let _ = DAY;
}
