//! The one place gateway errors become gRPC statuses.
//!
//! Bad input becomes `INVALID_ARGUMENT` with a `BadRequest` field violation (tonic-types
//! details) so clients can point at the field; a dependency failure becomes `UNAVAILABLE` with a
//! fixed message; anything unexpected becomes `INTERNAL` with a generic message. Store errors,
//! SQL, paths and addresses of internal services appear only in logs, never in a status.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::error::GatewayError;
#[cfg(test)]
use crate::store::StoreError;

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
            GatewayError::ChainUnavailable(m) => {
                tracing::warn!(%m, "chain unavailable; call refused");
                Status::unavailable(m)
            }
            GatewayError::ReleaseUnwitnessed { detail } => {
                tracing::error!(%detail, "release checkpoint not delivered");
                Status::unavailable(
                    "the release was recorded but no witness outside the gateway confirmed it; \
                     nothing was returned",
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
