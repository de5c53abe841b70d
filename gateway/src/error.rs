//! Why a gateway operation failed, in domain terms. The `api` layer maps each variant to one
//! gRPC status in one place (`api::status`); nothing below it knows about statuses.

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
    /// The chain could not be read for the decision (an endpoint down, slow, malformed, on
    /// another chain; a reorganised pin; the request bound): nothing was decided. Unlike
    /// [`Self::Unavailable`] the message goes to the client, because an operator must learn
    /// which endpoint failed and how; it names endpoints by scheme, host and port only.
    #[error("{0}")]
    ChainUnavailable(String),
    /// A release was recorded but the checkpoint covering it could not be delivered outside the
    /// gateway (hook failed, drop directory unwritable), so its signatures were withheld. Kept
    /// apart from [`Self::Unavailable`] because the client must learn that the release is on
    /// the record (its nonce is reserved) even though nothing came back; `detail` goes to the
    /// logs only, as it names paths and programs.
    #[error("release unwitnessed: {detail}")]
    ReleaseUnwitnessed {
        /// Why the delivery failed.
        detail: String,
    },
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

impl From<signgate_chain::ChainError> for GatewayError {
    /// A chain that cannot be read refuses the call, whatever the cause: nothing is decided on
    /// state the gateway could not establish. A chain the configuration does not name is the
    /// caller's mistake; providers that disagree or a Safe the chain does not show are a
    /// precondition the caller must resolve; everything else may pass on a retry.
    fn from(e: signgate_chain::ChainError) -> Self {
        use signgate_chain::ChainError as C;
        match &e {
            C::Unconfigured { .. } => Self::invalid("chain_id", e.to_string()),
            C::Disagreement { .. } | C::NotASafe { .. } => {
                Self::FailedPrecondition(format!("cannot simulate: {e}"))
            }
            _ => Self::ChainUnavailable(format!("cannot simulate: {e}")),
        }
    }
}
