//! The signature counter rule: WebAuthn's clone detection (§6.1.1, §7.2 step "signCount").
//!
//! If both the stored counter and the new one are 0, the authenticator keeps no counter (many
//! synced passkeys do this) and nothing can be concluded: allowed. Otherwise the new counter
//! must be strictly greater than the highest one stored. The spec treats "less than or equal"
//! as a sign the authenticator may have been cloned; signgate refuses rather than flags, and
//! refuses equality too, so the same assertion (same counter) cannot be counted twice. A
//! counter that was non-zero and comes back as 0 is refused as well.

/// Why a counter is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CounterError {
    /// The counter did not increase: a replayed assertion or a cloned authenticator.
    #[error(
        "signature counter {now} is not greater than {previous}, the highest seen: the \
         authenticator may have been cloned, or the assertion replayed"
    )]
    NotIncreasing {
        /// The highest counter seen before.
        previous: u32,
        /// The counter of this assertion.
        now: u32,
    },
}

/// Applies the counter rule; `previous` is the highest counter stored for the credential
/// (`None` before any, which allows every counter).
pub fn check_counter(previous: Option<u32>, now: u32) -> Result<(), CounterError> {
    match previous {
        None => Ok(()),
        Some(0) if now == 0 => Ok(()),
        Some(previous) if now > previous => Ok(()),
        Some(previous) => Err(CounterError::NotIncreasing { previous, now }),
    }
}
