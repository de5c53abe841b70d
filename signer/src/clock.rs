//! The signer's clock, handed to it rather than read where it is used, so tests can drive
//! ticket expiry; only [`SystemClock`], chosen at the binary's edge, reads the system time.

use std::{
    fmt,
    time::{SystemTime, UNIX_EPOCH},
};

/// Where the signer reads the time: a ticket's expiry is checked against it and the ledger
/// records it beside each signature.
pub trait Clock: fmt::Debug + Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The operating system's wall clock, for a signer in production.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// Milliseconds since the Unix epoch (negative before it), saturating at the ends of `i64`:
/// the unit of the ledger's `signed_at` column and of expiry messages.
pub fn unix_millis(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn millis_on_both_sides_of_the_epoch() {
        assert_eq!(unix_millis(UNIX_EPOCH), 0);
        assert_eq!(
            unix_millis(UNIX_EPOCH + Duration::from_millis(1_700)),
            1_700
        );
        assert_eq!(unix_millis(UNIX_EPOCH - Duration::from_millis(5)), -5);
    }
}
