//! The one place a refused or failed `Sign` call becomes a gRPC status.
//!
//! A bad ticket is the caller's fault and is answered in words (the gateway shows them per
//! backend); a ledger or signing failure is the signer's own and is answered with a fixed
//! message, its detail (paths, SQL) going to the signer's log only. In every case nothing was
//! signed.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::{ledger::LedgerError, ticket::TicketError};

/// Why one `Sign` call returned no signature.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The ticket is missing, malformed, forged, expired or names another hash than its
    /// transaction; nothing was recorded.
    #[error(transparent)]
    Ticket(#[from] TicketError),
    /// The ledger refused (another transaction signed for this nonce) or failed. Boxed: the
    /// double-sign report names five values and would make every result large.
    #[error(transparent)]
    Ledger(Box<LedgerError>),
    /// The key failed to sign or the signing task died; a bug, details go to logs only.
    #[error("internal: {0}")]
    Internal(String),
}

impl From<LedgerError> for SignError {
    fn from(e: LedgerError) -> Self {
        Self::Ledger(Box::new(e))
    }
}

impl From<SignError> for Status {
    fn from(e: SignError) -> Self {
        match e {
            SignError::Ticket(TicketError::Malformed { field, reason }) => {
                invalid_argument(field, reason)
            }
            SignError::Ticket(e @ TicketError::HashMismatch { .. }) => {
                invalid_argument("ticket.safe_tx_hash".to_owned(), e.to_string())
            }
            SignError::Ticket(e @ TicketError::Signature(_)) => {
                Status::permission_denied(e.to_string())
            }
            SignError::Ticket(e @ TicketError::Expired { .. }) => {
                Status::failed_precondition(e.to_string())
            }
            SignError::Ledger(e) => match *e {
                e @ LedgerError::DoubleSign { .. } => Status::failed_precondition(e.to_string()),
                LedgerError::Unavailable(detail) => {
                    tracing::warn!(%detail, "signing ledger unavailable");
                    Status::unavailable(
                        "the signer's double-sign ledger is unavailable; nothing was signed",
                    )
                }
            },
            SignError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                Status::internal("internal error; the signer logged the details")
            }
        }
    }
}

/// `INVALID_ARGUMENT` with a `BadRequest` field violation, so a client can point at the field.
fn invalid_argument(field: String, reason: String) -> Status {
    let message = format!("invalid {field}: {reason}");
    let details = ErrorDetails::with_bad_request_violation(field, reason);
    Status::with_error_details(Code::InvalidArgument, message, details)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_failures_never_leak_into_statuses() {
        let s: Status = SignError::from(LedgerError::Unavailable(
            "disk I/O error at /secret/db".into(),
        ))
        .into();
        assert_eq!(s.code(), Code::Unavailable);
        assert!(!s.message().contains("/secret"), "{s:?}");
        let s: Status = SignError::Internal("key material 0xabc".into()).into();
        assert_eq!(s.code(), Code::Internal);
        assert!(!s.message().contains("0xabc"), "{s:?}");
    }

    #[test]
    fn malformed_tickets_carry_the_field() {
        let s: Status = SignError::from(TicketError::Malformed {
            field: "ticket.nonce".into(),
            reason: "required".into(),
        })
        .into();
        assert_eq!(s.code(), Code::InvalidArgument);
        assert_eq!(s.message(), "invalid ticket.nonce: required");
        let details = s.get_error_details();
        let violations = &details.bad_request().unwrap().field_violations;
        assert_eq!(violations[0].field, "ticket.nonce");
    }
}
