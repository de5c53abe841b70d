//! What the decision pipeline takes and returns, as typed data: the caller, verified requests,
//! the proposal as stored (transaction, Safe version, declared intent and analysis) and each
//! stored decision.
//!
//! Nothing here is an API message. The `api` layer turns `signgate.v1` requests into these
//! types and these types into responses, so the pipeline and the store never depend on the wire
//! format, and a re-check before release works on the facts themselves rather than on a view
//! rebuilt from what a client was shown.

mod caller;
mod intent;
mod proposal;
pub mod records;
mod request;
pub mod statement;
pub mod wire;

pub use caller::Caller;
pub use intent::{DeclaredIntent, IntentAsset};
pub use proposal::{
    DecisionDetail, EvaluatedDecision, ListVersion, ProposalAnalysis, ProposalBody,
    RecordedAnalysis, SimulationFailure, SuppliedSignature,
};
pub use request::{
    CancelRequest, SignedBytes, Statement, StatementSignature, Submission, TxSource,
};
