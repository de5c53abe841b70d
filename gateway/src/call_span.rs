//! The tracing span of one Gateway or Admin call, tagged with the proposal it concerns.
//!
//! Every call runs inside a `call` span created with empty `proposal_id` and `safe_tx_hash`
//! fields (by the [`crate::server::observe`] layer around both services); whoever first learns them
//! records them on the current span, and from then on every
//! log line of the call carries both — including lines from the blocking threads of the
//! simulation and the audit append, which enter the span explicitly, and from the signer
//! calls, which run inside it. An operator greps one hash and sees the whole story of a
//! proposal across calls.
//!
//! Each field is recorded once per call (a second `record` would repeat it in text logs).

use std::fmt::Display;

use alloy_primitives::B256;
use tracing::{Span, field::Empty};

/// The span of one call to `method` (the gRPC method name, `SubmitProposal` …).
pub fn new(method: &'static str) -> Span {
    tracing::info_span!("call", method, proposal_id = Empty, safe_tx_hash = Empty)
}

/// Tags the current call with its proposal id.
pub fn record_id(id: &impl Display) {
    Span::current().record("proposal_id", tracing::field::display(id));
}

/// Tags the current call with the proposal's safeTxHash.
pub fn record_hash(hash: &B256) {
    Span::current().record("safe_tx_hash", tracing::field::display(hash));
}

/// Tags the current call with both, when they become known together (a submission).
pub fn record_proposal(id: &impl Display, hash: &B256) {
    record_id(id);
    record_hash(hash);
}
