//! The clock: the one place the gateway reads the time.
//!
//! Every component that needs `now` is handed a [`Clock`] when it is built — the pipeline for
//! request freshness, decisions, time locks and expiry; the admin service for its uptime — and
//! never reads the system time itself, so tests drive time with a [`ManualClock`] instead of
//! sleeping, and a decision's instant is a fact passed in, as the policy crate requires.

use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    },
    time::{SystemTime, UNIX_EPOCH},
};

use crate::domain::records::UnixMillis;

/// A source of the current instant.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// Now, in milliseconds since the Unix epoch.
    fn now(&self) -> UnixMillis;

    /// Now as a `SystemTime` (for APIs that take one, such as sanctions list freshness).
    fn system_time(&self) -> SystemTime {
        let ms = u64::try_from(self.now().0).unwrap_or(0);
        UNIX_EPOCH + std::time::Duration::from_millis(ms)
    }
}

/// A shared clock.
pub type SharedClock = Arc<dyn Clock>;

/// The operating system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixMillis {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        UnixMillis(i64::try_from(ms).unwrap_or(i64::MAX))
    }

    fn system_time(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// The system clock, shared.
pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

/// A clock that moves only when told to: tests set it to an instant and advance it.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock standing at `at`.
    pub fn at(at: UnixMillis) -> Arc<Self> {
        Arc::new(Self(AtomicI64::new(at.0)))
    }

    /// Moves the clock to `at` (backwards too: clocks of real machines do).
    pub fn set(&self, at: UnixMillis) {
        self.0.store(at.0, Ordering::SeqCst);
    }

    /// Moves the clock forward by `ms` milliseconds.
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixMillis {
        UnixMillis(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let c = ManualClock::at(UnixMillis(1_000));
        assert_eq!(c.now(), UnixMillis(1_000));
        c.advance(500);
        assert_eq!(c.now(), UnixMillis(1_500));
        c.set(UnixMillis(10));
        assert_eq!(c.now(), UnixMillis(10));
        assert_eq!(
            c.system_time(),
            UNIX_EPOCH + std::time::Duration::from_millis(10)
        );
    }
}
