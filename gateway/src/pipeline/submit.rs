//! `SubmitProposal`: the initiator's verified submission → the stored proposal and its first
//! decision.
//!
//! Order matters for failing closed: the submitter must be admitted as an initiator (enrolled,
//! unrevoked key; active; on the wallet; not probationary on a restricted wallet) before
//! anything is decoded, simulated, recorded or stored; the hash the client expects must equal the recomputed one. Simulation and
//! screening problems are not errors: they become deny reasons in the stored decision.

use alloy_primitives::{Address, B256};
use signgate_audit::record::DecisionTrigger;
use signgate_chain::StateProvider;
use signgate_policy::{
    admission::{Act, admit},
    anomaly::{CallKind, ProposalAlert, RefusalKind},
    operators::OperatorId,
};
use signgate_simulator::{SafeContext, SafeTx, safe_tx_hashes, tx_service};

use super::{Pipeline, analysis, judged, records};
use crate::{
    call_facts, call_span,
    domain::{Caller, ProposalAnalysis, ProposalBody, Submission, TxSource},
    error::GatewayError,
    store::{
        DecisionRecord, Inserted, NewProposal, ProposalId, ProposalState, ProposalStore,
        StoredProposal, UnixMillis,
    },
};

/// Admission of the key that signed a request, before any work on it: the operator holding
/// `key` in the policy in force, or `PermissionDenied` saying why not and what would pass
/// (`signgate_policy::admission`). `field` names the signing key in the message.
pub(super) fn admitted(
    policy: &signgate_policy::Policy,
    key: &alloy_primitives::FixedBytes<32>,
    act: Act,
    (chain_id, safe): (u64, Address),
    now: UnixMillis,
    field: &str,
) -> Result<OperatorId, GatewayError> {
    admit(
        policy,
        key,
        act,
        chain_id,
        safe,
        super::evidence::seconds(now),
    )
    .map_err(|refusal| {
        tracing::info!(code = refusal.code(), %refusal, "request refused at admission");
        GatewayError::PermissionDenied(format!("{field}: {refusal}"))
    })
}

/// How many times one transaction may be proposed and cancelled before it is refused: a bound
/// on the ids tried per submission.
const MAX_PROPOSALS_PER_TX: u32 = 64;

/// What a submission of one transaction finds in the store.
enum Proposal {
    /// A proposal of it that is not cancelled: the submission answers with it.
    Open(Box<StoredProposal>),
    /// None, or only cancelled ones: the submission becomes a new proposal with this id.
    New(ProposalId),
}

/// The proposal of (chain, Safe, safeTxHash) a submission names: the first of its ids
/// ([`ProposalId::derive_nth`]) that is either unused or holds a proposal not cancelled.
async fn open_proposal_of<S: ProposalStore, T>(
    p: &Pipeline<S, T>,
    chain_id: u64,
    safe: Address,
    hash: B256,
) -> Result<Proposal, GatewayError> {
    for n in 0..MAX_PROPOSALS_PER_TX {
        let id = ProposalId::derive_nth(chain_id, safe, hash, n);
        match p.store.get(id.clone()).await? {
            None => return Ok(Proposal::New(id)),
            Some(existing) if existing.record.state == ProposalState::Cancelled => {}
            Some(existing) => return Ok(Proposal::Open(Box::new(existing))),
        }
    }
    Err(GatewayError::FailedPrecondition(format!(
        "transaction {hash:#x} was proposed and cancelled {MAX_PROPOSALS_PER_TX} times; \
         change it (a new nonce) to propose it again"
    )))
}

/// The Safe transaction of a submission: the ten fields, or the one transaction of a Safe
/// Transaction Service document (which must be for the submitted Safe).
fn transaction(s: &Submission) -> Result<SafeTx, GatewayError> {
    const FIELD: &str = "submission.payload.transaction_service_json";
    match &s.tx {
        TxSource::Fields(tx) => Ok((**tx).clone()),
        TxSource::TransactionService(json) => {
            let docs = tx_service::parse_document(json)
                .map_err(|e| GatewayError::invalid(FIELD, e.to_string()))?;
            let [doc] = docs.as_slice() else {
                return Err(GatewayError::invalid(
                    FIELD,
                    format!("holds {} transactions; submit exactly one", docs.len()),
                ));
            };
            if doc.safe != s.safe {
                return Err(GatewayError::invalid(
                    FIELD,
                    format!("is for Safe {}, not {}", doc.safe, s.safe),
                ));
            }
            doc.to_safe_tx(0)
                .map_err(|e| GatewayError::invalid(FIELD, e.to_string()))
        }
    }
}

fn check_expected(expected: Option<B256>, computed: B256) -> Result<(), GatewayError> {
    match expected {
        Some(e) if e != computed => Err(GatewayError::invalid(
            "submission.payload.expected_safe_tx_hash",
            format!("the transaction hashes to {computed:#x}, not {e:#x}; check every field"),
        )),
        _ => Ok(()),
    }
}

/// The refusal kind the anomaly rules count for a denied submission: sanctions first, then a
/// DELEGATECALL the policy does not allow; `None` for any other decision (a submission denied
/// for another reason is a policy outcome, not an attempt the rules count).
fn denied_for(decision: &signgate_policy::Decision) -> Option<RefusalKind> {
    use signgate_policy::{Decision, Reason};
    let Decision::Deny { reasons } = decision else {
        return None;
    };
    if reasons
        .iter()
        .any(|r| matches!(r, Reason::SanctionedAddress { .. }))
    {
        Some(RefusalKind::DeniedSanctions)
    } else if reasons.iter().any(|r| {
        matches!(
            r,
            Reason::DelegatecallNotAllowlisted { .. } | Reason::DelegatecallMutableCode { .. }
        )
    }) {
        Some(RefusalKind::DeniedDelegatecall)
    } else {
        None
    }
}

/// `SubmitProposal`.
pub(super) async fn submit<S: ProposalStore, T: StateProvider>(
    p: &Pipeline<S, T>,
    caller: &Caller,
    s: Submission,
) -> Result<StoredProposal, GatewayError> {
    let received = p.clock.now();
    let policy = p.policy.load();
    call_facts::record_wallet(s.chain_id, s.safe);
    // Who submits is settled before anything else: a submitter the policy does not let
    // initiate is refused here and stores nothing, so they cannot claim the proposal id
    // (derived from chain, Safe and safeTxHash) of a transaction a colleague may submit.
    let initiator = admitted(
        &policy,
        &alloy_primitives::FixedBytes(s.signed.public_key.to_bytes()),
        Act::Submit,
        (s.chain_id, s.safe),
        received,
        "submission.public_key",
    )?;
    let tx = transaction(&s)?;
    // One pin for the whole decision: the Safe's version, the supplied signatures and the
    // simulation all read the same block.
    let pinned = p.state.pin(s.chain_id, false).await?;
    let live = p.state.is_live();
    let facts = if live || s.safe_version.is_none() {
        Some(analysis::read_safe(&pinned, s.safe, &tx, p.limits.simulation_timeout).await?)
    } else {
        None
    };
    let version = analysis::resolve_version(live, facts.as_ref(), s.safe_version)?;
    let ctx = SafeContext {
        chain_id: s.chain_id,
        safe: s.safe,
        version,
    };
    let decoded = analysis::decode(&ctx, &tx, "submission.payload.transaction.data")?;
    let hash = decoded.hashes.safe_tx_hash;
    check_expected(s.expected_safe_tx_hash, hash)?;
    // A resubmission of a known transaction answers with the proposal as it stands, without
    // simulating it again.
    let id = match open_proposal_of(p, s.chain_id, s.safe, hash).await? {
        Proposal::Open(existing) => {
            call_span::record_proposal(&existing.record.id, &hash);
            return Ok(*existing);
        }
        Proposal::New(id) => id,
    };
    call_span::record_proposal(&id, &hash);
    // Supplied owner signatures are checked before the simulation: a blob the Safe would
    // accept as it is runs unmodified.
    let supplied = if s.signatures.is_empty() {
        None
    } else {
        Some(
            super::supplied::check(
                &pinned,
                ctx,
                safe_tx_hashes(&ctx, &tx),
                s.signatures.clone(),
                p.limits.simulation_timeout,
            )
            .await,
        )
    };
    let run_signatures = supplied
        .as_ref()
        .filter(|c| c.accepted)
        .map(|_| s.signatures.clone());
    let analysis = analysis::analyse_decoded(
        p.runner(&pinned),
        p.lists.snapshot(),
        ctx,
        tx.clone(),
        decoded,
        run_signatures,
    )
    .await?;
    let supplied = supplied.map(|c| c.signatures).unwrap_or_default();
    // The policy's anomaly rules change decisions: the submission is judged before its first
    // decision, and its alerts travel with the proposal into every later one.
    let judging = judged::needed(&policy);
    for attempt in 1..=judged::MAX_ATTEMPTS {
        let submitted = super::Submitted {
            initiator: initiator.clone(),
            declared: s.intent.as_ref(),
            alerts: &[],
        };
        let (mut ev, mut evaluation, mut decided_at) =
            super::assess_now(p, &policy, &analysis, &id, submitted.clone(), &[]).await?;
        if let Some(kind) = denied_for(&evaluation.decision) {
            call_facts::record_refusal(kind);
        }
        let judgement = if judging {
            judged::judge(p.store.as_ref(), &p.turns, &policy, CallKind::Submit).await?
        } else {
            None
        };
        let at = super::evidence::seconds(received);
        let alerts: Vec<ProposalAlert> = judgement
            .iter()
            .flat_map(|j| &j.alerts)
            .filter_map(|a| ProposalAlert::of(a, at, None))
            .collect();
        if !alerts.is_empty() {
            let submitted = super::Submitted {
                alerts: &alerts,
                ..submitted
            };
            (ev, evaluation, decided_at) =
                super::assess_now(p, &policy, &analysis, &id, submitted, &[]).await?;
        }
        let (decision, state) = super::stored_decision(&evaluation, &analysis.lists, decided_at);
        tracing::info!(
            proposal_id = %id,
            safe_tx_hash = %hash,
            initiator = %initiator,
            decision = evaluation.decision.kind(),
            reasons = ?evaluation.decision.reason_codes(),
            "proposal evaluated"
        );
        let proposal = NewProposal {
            id: id.clone(),
            chain_id: s.chain_id,
            safe: s.safe,
            nonce: tx.nonce,
            safe_tx_hash: hash,
            initiator: initiator.to_string(),
            state,
            created_at: received,
            body: ProposalBody {
                version,
                tx: tx.clone(),
                intent: s.intent.clone(),
                supplied: supplied.clone(),
                analysis: ProposalAnalysis::Recorded(Box::new(analysis.recorded())),
                alerts,
            },
        };
        // Recorded with it, in one transaction: a proposal can never exist (and gather
        // approvals) without its submission and first decision in the log, preceded by the
        // anomaly rules' judgement of the call when it was judged. A submission racing an
        // identical one that committed first is answered with that proposal, and its own records
        // roll back with its insert: one submission on record per stored proposal.
        let (mut events, observed, raised, turn) = match judgement {
            Some(j) => (j.events, Some(j.write), j.alerts, Some(j.turn)),
            None => (Vec::new(), None, Vec::new(), None),
        };
        events.push(records::submitted(
            &proposal,
            &s.signed,
            &analysis,
            &evaluation,
            &ev,
            caller,
            &policy,
        ));
        events.push(records::decision(
            DecisionTrigger::Submitted,
            &evaluation,
            &ev,
        ));
        // What a read of the new proposal would return, kept rather than read back: its record
        // comes from the insert, its one decision and no approvals from here.
        let first = DecisionRecord {
            seq: 1,
            outcome: decision.outcome,
            policy_hash: decision.policy_hash.clone(),
            decided_at: decision.decided_at,
            detail: decision.detail.clone(),
        };
        let judged_call = observed.is_some();
        let change = p.commit(events, |audit| {
            p.store
                .insert_proposal_observed(audit, proposal, decision, observed)
        });
        let inserted = judged::in_turn(turn, change, |i| matches!(i, Inserted::Created(_))).await;
        match inserted {
            Ok(Inserted::Created(record)) => {
                if judged_call {
                    call_facts::judged(raised);
                }
                return Ok(StoredProposal {
                    record,
                    decision: Some(first),
                    approvals: Vec::new(),
                });
            }
            Ok(Inserted::Existing(_)) => return p.load(&id).await,
            // Another call of the submitter was judged first: judge this one again.
            Err(GatewayError::Aborted(_)) if attempt < judged::MAX_ATTEMPTS => {}
            Err(e) => return Err(e),
        }
    }
    Err(GatewayError::Aborted(format!(
        "the submitter's calls kept changing their anomaly profile; retry the submission of {id}"
    )))
}
