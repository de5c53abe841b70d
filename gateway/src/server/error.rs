//! The one place gateway errors become gRPC statuses.
//!
//! Bad input becomes `INVALID_ARGUMENT` with a `BadRequest` field violation (tonic-types
//! details) so clients can point at the field; a dependency failure becomes `UNAVAILABLE` with a
//! fixed message; anything unexpected becomes `INTERNAL` with a generic message. Store errors,
//! SQL, paths and addresses of internal services appear only in logs, never in a status.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::{governance::ApplyError, store::StoreError};

/// Why a gateway call failed. A policy denial is not an error: it is a successful response
/// carrying the decision.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// A request field is missing or malformed.
    #[error("invalid {field}: {reason}")]
    InvalidArgument {
        /// The field path, as in the proto (`submission.payload.safe`).
        field: String,
        /// What is wrong, for the client.
        reason: String,
    },
    /// The named thing does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The request is well-formed but the current state does not allow it.
    #[error("{0}")]
    FailedPrecondition(String),
    /// A concurrent change won; the client may retry after re-reading.
    #[error("{0}")]
    Aborted(String),
    /// The caller is authenticated but lacks the permission.
    #[error("{0}")]
    PermissionDenied(String),
    /// The caller could not be identified.
    #[error("{0}")]
    Unauthenticated(String),
    /// A dependency (store, state source, list, signer) failed; nothing was released.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The feature is not wired yet.
    #[error("{0}")]
    Unimplemented(&'static str),
    /// A bug or corrupt data; details go to logs only.
    #[error("internal: {0}")]
    Internal(String),
}

impl GatewayError {
    /// Bad input in `field`.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidArgument {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl From<StoreError> for GatewayError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { id } => Self::NotFound(format!("proposal {id}")),
            e @ StoreError::NonceTaken { .. } => Self::FailedPrecondition(e.to_string()),
            e @ StoreError::InvalidTransition { .. } => Self::FailedPrecondition(e.to_string()),
            e @ StoreError::StaleRevision { .. } => Self::Aborted(e.to_string()),
            e @ StoreError::DuplicateApproval { .. } => Self::FailedPrecondition(e.to_string()),
            StoreError::BadPageToken => {
                Self::invalid("page_token", "not a token returned by ListProposals")
            }
            e @ StoreError::OutOfRange { .. } => Self::invalid("chain_id", e.to_string()),
            e @ StoreError::Corrupt(_) => Self::Internal(e.to_string()),
            e @ StoreError::Unavailable(_) => Self::Unavailable(e.to_string()),
        }
    }
}

impl From<ApplyError> for GatewayError {
    fn from(e: ApplyError) -> Self {
        use signgate_policy::governance::ActivationError;
        match e {
            e @ ApplyError::NotText(_) => Self::invalid("policy", e.to_string()),
            ApplyError::Activation(ActivationError::Compile(c)) => {
                Self::invalid("policy", format!("does not compile: {c}"))
            }
            // Lists every signature that did not count and how many are needed.
            e @ ApplyError::Activation(ActivationError::NotEnoughSignatures { .. }) => {
                Self::PermissionDenied(format!("policy refused, nothing changed: {e}"))
            }
            e @ ApplyError::AlreadyInForce(_) => Self::FailedPrecondition(e.to_string()),
            e @ (ApplyError::Persist(_) | ApplyError::Audit(_)) => Self::Unavailable(format!(
                "{e}; the policy was not applied and the previous one stays in force"
            )),
            ApplyError::Task(detail) => Self::Internal(detail),
        }
    }
}

impl From<GatewayError> for Status {
    fn from(e: GatewayError) -> Self {
        match e {
            GatewayError::InvalidArgument { field, reason } => {
                let message = format!("invalid {field}: {reason}");
                let details = ErrorDetails::with_bad_request_violation(field, reason);
                Status::with_error_details(Code::InvalidArgument, message, details)
            }
            GatewayError::NotFound(what) => Status::not_found(format!("{what} not found")),
            GatewayError::FailedPrecondition(m) => Status::failed_precondition(m),
            GatewayError::Aborted(m) => Status::aborted(m),
            GatewayError::PermissionDenied(m) => Status::permission_denied(m),
            GatewayError::Unauthenticated(m) => Status::unauthenticated(m),
            GatewayError::Unavailable(detail) => {
                tracing::warn!(%detail, "dependency unavailable");
                Status::unavailable(
                    "a dependency of the gateway is unavailable; nothing was released",
                )
            }
            GatewayError::Unimplemented(m) => Status::unimplemented(m),
            GatewayError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                Status::internal("internal error; the gateway logged the details")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_failures_never_leak_into_statuses() {
        let s: Status = GatewayError::from(StoreError::Unavailable(
            "disk I/O error at /secret/db".into(),
        ))
        .into();
        assert_eq!(s.code(), Code::Unavailable);
        assert!(!s.message().contains("/secret"));
        let s: Status = GatewayError::from(StoreError::Corrupt("row 7 SELECT".into())).into();
        assert_eq!(s.code(), Code::Internal);
        assert!(!s.message().contains("SELECT"));
    }

    #[test]
    fn invalid_arguments_carry_the_field() {
        let s: Status = GatewayError::invalid("safe", "not an address").into();
        assert_eq!(s.code(), Code::InvalidArgument);
        let details = s.get_error_details();
        let violations = &details.bad_request().unwrap().field_violations;
        assert_eq!(violations[0].field, "safe");
    }
}
