//! Instants and spans as the policy sees them: whole seconds since the Unix epoch, UTC.
//!
//! `policy` never reads a clock; every instant arrives as data. Policy files and case files
//! write instants as `2025-02-21` or `2025-02-21T14:13:00Z`, and reasons print them the same
//! way, so what an operator reads matches what an author wrote.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// Seconds in a day, hour and minute.
pub const DAY: u64 = 86_400;
/// Seconds in an hour.
pub const HOUR: u64 = 3_600;

/// An instant: seconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// `self + seconds`, saturating: a span so long it overflows means "never" in every rule
    /// that uses it, which is the conservative reading.
    pub const fn plus(self, seconds: u64) -> Self {
        Self(self.0.saturating_add(seconds))
    }

    /// Seconds since the epoch.
    pub const fn as_secs(self) -> u64 {
        self.0
    }
}

/// Why an instant could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a UTC instant (expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)")]
pub struct TimestampError {
    /// The text that was refused.
    pub input: String,
}

impl FromStr for Timestamp {
    type Err = TimestampError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || TimestampError {
            input: s.to_owned(),
        };
        let (date, time) = match s.split_once('T') {
            Some((d, t)) => (d, Some(t.strip_suffix('Z').ok_or_else(err)?)),
            None => (s, None),
        };
        let mut d = date.splitn(3, '-');
        let (Some(y), Some(m), Some(dd)) = (d.next(), d.next(), d.next()) else {
            return Err(err());
        };
        let y: i64 = y.parse().map_err(|_| err())?;
        let m: u32 = m.parse().map_err(|_| err())?;
        let dd: u32 = dd.parse().map_err(|_| err())?;
        if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || dd < 1 || dd > days_in(y, m) {
            return Err(err());
        }
        let mut secs = u64::try_from(days_from_civil(y, m, dd)).map_err(|_| err())? * DAY;
        if let Some(t) = time {
            let mut p = t.splitn(3, ':');
            let (Some(h), Some(mi), Some(se)) = (p.next(), p.next(), p.next()) else {
                return Err(err());
            };
            let h: u64 = h.parse().map_err(|_| err())?;
            let mi: u64 = mi.parse().map_err(|_| err())?;
            let se: u64 = se.parse().map_err(|_| err())?;
            if h > 23 || mi > 59 || se > 59 {
                return Err(err());
            }
            secs += h * HOUR + mi * 60 + se;
        }
        Ok(Self(secs))
    }
}

impl fmt::Display for Timestamp {
    /// `2025-02-21T14:13:00Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0 / DAY;
        let rem = self.0 % DAY;
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            rem / HOUR,
            (rem % HOUR) / 60,
            rem % 60
        )
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    /// Accepts the text form or a plain number of seconds (what machines send).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a UTC instant (YYYY-MM-DD[THH:MM:SSZ]) or seconds since the epoch")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Timestamp, E> {
                Ok(Timestamp(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Timestamp, E> {
                u64::try_from(v)
                    .map(Timestamp)
                    .map_err(|_| E::custom("negative instant"))
            }
        }
        d.deserialize_any(V)
    }
}

const fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

const fn days_in(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since the epoch of a proleptic Gregorian date (the "days from civil" construction:
/// shift the year to start in March so the leap day is the last day of the year).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`] for non-negative day counts.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_text() {
        for s in [
            "1970-01-01T00:00:00Z",
            "2024-02-29T23:59:59Z",
            "2025-02-21T14:13:00Z",
        ] {
            let t: Timestamp = s.parse().unwrap();
            assert_eq!(t.to_string(), s);
        }
        assert_eq!("2025-02-21".parse::<Timestamp>().unwrap().0, 1_740_096_000);
    }

    #[test]
    fn refuses_nonsense() {
        for s in [
            "2025-02-30",
            "2025-13-01",
            "2025-01-01T10:00:00",
            "yesterday",
            "1969-12-31",
        ] {
            assert!(s.parse::<Timestamp>().is_err(), "{s}");
        }
    }
}
