//! The synthetic team: eight operators' habits, sixty days of their calls from a fixed seed,
//! and the profiles trained on the first thirty.

use std::{
    collections::BTreeMap,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    sync::OnceLock,
};

use jiff::{Span, civil::Date};
use signgate_policy::{
    Policy,
    anomaly::{
        Action, Alert, AnomalyRule, ApprovalContext, CallKind, CertFingerprint, IdentityClass,
        Observation, Outcome, ProbationFacts, Profile, ReadCall, RefusalKind, Settings,
        SourceNetwork, Subject, WalletId, evaluate,
    },
    operators::{OperatorId, Role},
    time::{HOUR, Timestamp},
};

pub(super) const TEAM: &str = include_str!("../../fixtures/anomaly/team.toml");
pub(super) const SEED: u64 = 0x5167_6a7e_0018;
pub(super) const DAYS: i64 = 60;
pub(super) const TRAINING_DAYS: i64 = 30;

/// SplitMix64: small, seeded, and the same on every platform.
pub(super) struct Rng(u64);

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

pub(super) fn start() -> Date {
    jiff::civil::date(2026, 2, 16)
}

pub(super) fn day_start_utc(day: i64) -> Timestamp {
    let d = start().checked_add(Span::new().days(day)).unwrap();
    let t = d.to_zoned(jiff::tz::TimeZone::UTC).unwrap().timestamp();
    Timestamp(u64::try_from(t.as_second()).unwrap())
}

pub(super) fn cert(tag: &str) -> CertFingerprint {
    CertFingerprint(alloy_primitives::keccak256(tag.as_bytes()))
}

pub(super) fn wallet(policy: &Policy, name: &str) -> WalletId {
    let w = policy.wallets().iter().find(|w| w.name == name).unwrap();
    WalletId {
        chain_id: w.chain_id,
        safe: w.safe,
    }
}

/// One synthetic operator's habits.
pub(super) struct Person {
    pub(super) id: OperatorId,
    pub(super) laptop: CertFingerprint,
    pub(super) desktop: Option<CertFingerprint>,
    pub(super) office: IpAddr,
    pub(super) home: IpAddr,
    pub(super) wallets: Vec<WalletId>,
    pub(super) reads_per_day: u64,
}

/// One working session: when, from which device and network.
#[derive(Clone, Copy)]
pub(super) struct Session {
    pub(super) start: u64,
    pub(super) end: u64,
    pub(super) device: CertFingerprint,
    pub(super) network: SourceNetwork,
}

pub(super) struct Team {
    pub(super) policy: Policy,
    pub(super) people: Vec<Person>,
    pub(super) bot: CertFingerprint,
    /// Every call of the 60 days, in time order.
    pub(super) events: Vec<Observation>,
}

impl Team {
    pub(super) fn settings(&self) -> &Settings {
        self.policy.anomaly()
    }
    pub(super) fn person(&self, id: &str) -> &Person {
        self.people.iter().find(|p| p.id.0 == id).unwrap()
    }
    pub(super) fn training_end(&self) -> Timestamp {
        day_start_utc(TRAINING_DAYS)
    }
}

/// Id, has a desktop, office and home addresses, wallets, reads a day.
pub(super) type Habits = (&'static str, bool, IpAddr, IpAddr, Vec<WalletId>, u64);

pub(super) fn people(policy: &Policy) -> Vec<Person> {
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

pub(super) fn sessions(team_policy: &Policy, p: &Person, rng: &mut Rng) -> Vec<Session> {
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

pub(super) fn call(
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

pub(super) fn generate() -> Team {
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

pub(super) fn team() -> &'static Team {
    static TEAM_HISTORY: OnceLock<Team> = OnceLock::new();
    TEAM_HISTORY.get_or_init(generate)
}

/// Every subject's profile after folding `events`.
pub(super) fn fold<'a>(
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

pub(super) fn trained() -> &'static BTreeMap<Subject, Profile> {
    static TRAINED: OnceLock<BTreeMap<Subject, Profile>> = OnceLock::new();
    TRAINED.get_or_init(|| {
        let t = team();
        fold(
            t.events.iter().take_while(|e| e.at < t.training_end()),
            t.settings(),
        )
    })
}

pub(super) fn profile(id: &str) -> &'static Profile {
    &trained()[&Subject::Operator(id.into())]
}

/// Alice on the first benign day (Wednesday 2026-03-18) at 10:00 in Berlin, from her office
/// desk, reading the treasury: nothing unusual.
pub(super) fn usual_alice() -> Observation {
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

pub(super) fn alerts_for(e: &Observation) -> Vec<Alert> {
    let subject = e.subject().unwrap();
    let empty = Profile::new(subject.clone());
    let p = trained().get(&subject).unwrap_or(&empty);
    evaluate(p, e, team().settings())
}

pub(super) fn only(alerts: &[Alert], rule: AnomalyRule) -> &Alert {
    let matching: Vec<&Alert> = alerts.iter().filter(|a| a.rule() == rule).collect();
    assert_eq!(matching.len(), 1, "{rule}: {alerts:#?}");
    matching[0]
}

pub(super) fn security() -> Action {
    Action::ExtraApproval {
        role: Role("security".into()),
    }
}
