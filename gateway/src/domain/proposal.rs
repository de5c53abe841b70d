//! The proposal and its decisions as the store keeps them: typed records, serialised by the
//! store, rendered for clients only at the edge.

use alloy_primitives::{Address, B256};
use serde::{Deserialize, Serialize};
use signgate_policy::{Evaluation, evidence::Screening};
use signgate_simulator::{SafeTx, SafeVersion, report::SimulationReport, signature::SignatureKind};

use super::DeclaredIntent;

/// What was submitted and what the gateway made of it at submission. Decoding is pure, so the
/// action tree and hashes are recomputed from `tx` and `version` whenever they are shown; the
/// simulation and screening depend on state and lists of that moment, so they are kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalBody {
    /// The Safe version the transaction was hashed for.
    pub version: SafeVersion,
    /// The transaction, normalised.
    pub tx: SafeTx,
    /// The initiator's declared intent.
    pub intent: Option<DeclaredIntent>,
    /// Owner signatures supplied with the submission, each with its verdict (empty if none).
    pub supplied: Vec<SuppliedSignature>,
    /// The analysis at submission.
    pub analysis: ProposalAnalysis,
    /// The anomaly alerts the submission raised whose rules change the decision; absent (empty)
    /// in proposals stored before they existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<signgate_policy::anomaly::ProposalAlert>,
}

/// The analysis kept with a proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposalAnalysis {
    /// Recorded as typed data.
    Recorded(Box<RecordedAnalysis>),
    /// Stored before schema version 3, when the store kept the API view: those encoded bytes,
    /// shown as they were. Approval and release never read them; they analyse the transaction
    /// again.
    Legacy(#[serde(with = "hex_bytes")] Vec<u8>),
}

/// The simulation and screening of a transaction at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedAnalysis {
    /// The simulation report, or why the simulation could not run (which denies).
    pub simulation: Result<SimulationReport, SimulationFailure>,
    /// The sanctions screen of every decoded and touched address.
    pub screening: Screening,
    /// The version of every configured list at that moment.
    pub lists: Vec<ListVersion>,
}

/// The version of one sanctions list a decision screened against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListVersion {
    /// The configured list id.
    pub list: String,
    /// SHA-256 of the loaded list; `None`: the list was unavailable (which denies).
    pub sha256: Option<B256>,
}

/// Why a simulation produced no report. Every variant denies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum SimulationFailure {
    /// The simulation did not finish within its deadline.
    #[error("simulation could not run: no result within {ms} ms")]
    Timeout {
        /// The deadline.
        ms: u64,
    },
    /// The blocking task running it failed.
    #[error("simulation could not run: the simulation task failed")]
    TaskFailed,
    /// The simulator refused or failed (state source, engine); its words.
    #[error("simulation could not run: {0}")]
    Simulator(String),
}

/// One supplied owner signature and its verdict, as `checkNSignatures` would find it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuppliedSignature {
    /// Position in the packed blob.
    pub index: u32,
    /// The recovered or named signer; `None` when recovery failed or it was not checked.
    pub signer: Option<Address>,
    /// The kind its `v` byte selects; `None` when not checked.
    pub kind: Option<SignatureKind>,
    /// True only when the Safe would count it.
    pub valid: bool,
    /// Why it does not count; empty when valid.
    pub problem: String,
    /// The 65-byte part, kept only for a valid ECDSA signature (packed again at release).
    #[serde(with = "hex_bytes")]
    pub signature: Vec<u8>,
}

/// A stored decision's detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionDetail {
    /// An evaluation by the policy.
    Evaluated(Box<EvaluatedDecision>),
    /// Stored before schema version 3 as the API view; those encoded bytes, shown as they were.
    Legacy(#[serde(with = "hex_bytes")] Vec<u8>),
}

/// One evaluation and the lists it screened against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvaluatedDecision {
    /// The policy's evaluation: decision, policy hash, tiers and every approval's check.
    pub evaluation: Evaluation,
    /// The lists screened against.
    pub lists: Vec<ListVersion>,
}

/// Byte strings as 0x-hex in the stored JSON.
mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("0x{}", hex::encode(bytes)))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        let digits = text
            .strip_prefix("0x")
            .ok_or_else(|| D::Error::custom("bytes must start with 0x"))?;
        hex::decode(digits).map_err(D::Error::custom)
    }
}
