//! What the API shows, rendered at the edge from the stored domain records: a proposal as a
//! `pb::Proposal` (its transaction decoded again — decoding is pure — with the simulation and
//! screening kept from submission) and each stored evaluation as a `pb::Decision`. The policy
//! in force is read at render time for what it alone knows (which delegatecall targets are
//! allowlisted, the asset table); whom to ask is the decision's own (the counting named them).
//!
//! Reasons go out as data: the stable code, the sentence an operator reads, and every typed
//! field of the reason as key/value evidence, so a client can act on them without parsing text.

use std::sync::Arc;

use alloy_primitives::U256;
use prost::Message;
use signgate_policy::{
    Decision, Evaluation, Policy, Reason,
    adapters::simulation_facts,
    approvals::ApprovalCheck,
    evidence::{
        OutflowFact, RefundPaidFact, RefundSettings, SanctionsHit, Screening, SimulationOutcome,
    },
    movements::refund_of,
};
use signgate_proto::v1 as pb;
use signgate_simulator::{
    SafeContext, SafeTx,
    decode::{Action, ActionPath, AddressRole},
    decode_transaction,
    render::{AssetBook, AssetLabel, CodeName, Descriptors, DisplayWarning, SafeChangeWords},
    report::{GrantKind, OverrideReason, SafeStorageChange, SignatureMode, SimulationReport},
};

use super::convert;
use crate::{
    domain::{
        DecisionDetail, DeclaredIntent, IntentAsset, ListVersion, ProposalAnalysis,
        RecordedAnalysis, SuppliedSignature,
    },
    error::GatewayError,
    store::{
        ApprovalKind, ApprovalRecord, DecisionRecord, ProposalRecord, StoredProposal, UnixMillis,
    },
};

/// A policy timestamp (seconds) as a protobuf timestamp.
fn ts(t: signgate_policy::time::Timestamp) -> signgate_proto::prost_types::Timestamp {
    signgate_proto::prost_types::Timestamp {
        seconds: i64::try_from(t.as_secs()).unwrap_or(i64::MAX),
        nanos: 0,
    }
}

/// The typed fields of any serializable reason as key/value evidence (nested values as JSON).
fn fields<T: serde::Serialize>(value: &T, skip: &str) -> Vec<pb::Evidence> {
    let Ok(serde_json::Value::Object(map)) = serde_json::to_value(value) else {
        return Vec::new();
    };
    map.into_iter()
        .filter(|(k, _)| k != skip)
        .map(|(key, v)| pb::Evidence {
            key,
            value: match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            },
        })
        .collect()
}

/// An anomaly alert that changed a proposal's decision, on the wire: the rule's code, the
/// alert in words (what was seen and what it does), and its fields.
fn alert_reason(a: &signgate_policy::anomaly::ProposalAlert) -> pb::Reason {
    pb::Reason {
        code: a.rule.code().to_owned(),
        message: a.message.clone(),
        evidence: fields(a, "message"),
    }
}

/// One deny reason on the wire.
pub fn reason(r: &Reason) -> pb::Reason {
    pb::Reason {
        code: r.code().to_owned(),
        message: r.to_string(),
        evidence: fields(r, "rule"),
    }
}

fn approval_count(c: &ApprovalCheck) -> pb::ApprovalCount {
    pb::ApprovalCount {
        public_key: hex::encode(c.public_key.0),
        counted: c.not_counted.is_none()
            && c.verdict == signgate_policy::evidence::Verdict::Approve,
        not_counted: c.not_counted.as_ref().map(|n| pb::Reason {
            code: n.code().to_owned(),
            message: match &c.operator {
                Some(op) => format!("{op}'s approval does not count: {n}"),
                None => format!("approval does not count: {n}"),
            },
            evidence: fields(n, "why"),
        }),
    }
}

/// One evaluation on the wire.
pub fn decision(e: &Evaluation, lists: &[ListVersion], decided_at: UnixMillis) -> pb::Decision {
    use pb::decision::Outcome as O;
    let outcome = match &e.decision {
        Decision::Deny { reasons } => O::Denied(pb::Denied {
            reasons: reasons.iter().map(reason).collect(),
        }),
        Decision::NeedsApprovals { missing } => O::NeedsApprovals(pb::NeedsApprovals {
            missing: missing
                .iter()
                .map(|m| pb::MissingApproval {
                    group: m.role.to_string(),
                    have: m.have,
                    need: m.need,
                    // Whom the counting itself found would count if they approved now.
                    eligible_operators: m.eligible.iter().map(ToString::to_string).collect(),
                })
                .collect(),
            reasons: missing
                .iter()
                .flat_map(|m| {
                    m.not_counted.iter().map(move |(op, why)| pb::Reason {
                        code: why.code().to_owned(),
                        message: format!(
                            "{op}'s approval does not count toward role {}: {why}",
                            m.role
                        ),
                        evidence: fields(why, "why"),
                    })
                })
                // The anomaly alerts that changed the decision: what an approver must know
                // about the extra approval asked for, or the approval that did not count.
                .chain(e.alerts.iter().map(alert_reason))
                .collect(),
        }),
        Decision::Approved {
            release_after,
            expires_at,
        } => O::Approved(pb::Approved {
            release_after: Some(ts(*release_after)),
            expires_at: Some(ts(*expires_at)),
            // A hold shows here: why the release waits longer than the tiers' time lock.
            notes: e.alerts.iter().map(alert_reason).collect(),
        }),
    };
    pb::Decision {
        outcome: Some(outcome),
        policy_hash: e.policy.to_string(),
        list_hashes: lists.iter().map(list_version).collect(),
        decided_at: Some(convert::timestamp(decided_at)),
        approval_counts: e.approvals.iter().map(approval_count).collect(),
    }
}

fn action(
    a: &Action,
    path: &ActionPath,
    safe: alloy_primitives::Address,
    book: &AssetBook,
) -> pb::DecodedAction {
    let children = a
        .kind
        .children()
        .into_iter()
        // "this Safe" stays the proposing Safe; the other Safe's self-calls show its address.
        .map(|(step, c)| action(c, &path.child(step), safe, book))
        .collect();
    let words = a.words(Some(safe), book);
    pb::DecodedAction {
        path: path.to_string(),
        // The first line describes this node; children carry their own.
        description: words.lines().next().unwrap_or_default().trim().to_owned(),
        operation: a.operation.as_str().to_owned(),
        target: a.to.to_checksum(None),
        function: a.kind.function_name().to_owned(),
        // The addresses among this node's own arguments (recipient, spender, new owner …).
        arguments: a
            .involvements(path, "")
            .into_iter()
            .filter(|i| {
                i.path == *path
                    && !matches!(
                        i.role,
                        AddressRole::CallTarget | AddressRole::DelegatecallTarget
                    )
            })
            .map(|i| pb::Evidence {
                key: i.role.as_str().to_owned(),
                value: i.address.to_checksum(None),
            })
            .collect(),
        children,
    }
}

/// A list version as the wire names it: `id:sha256`, or `id:unavailable`.
fn list_version(l: &ListVersion) -> String {
    match &l.sha256 {
        Some(sha) => format!("{}:{}", l.list, hex::encode(sha)),
        None => format!("{}:unavailable", l.list),
    }
}

/// The Safe's gas refund as an asset movement, at its worst case (see
/// [`signgate_policy::movements`]): it never shows in calldata, and the run pays one instance.
fn refund_movement(
    tx: &SafeTx,
    safe: alloy_primitives::Address,
    paid: Option<&RefundPaidFact>,
    book: &AssetBook,
) -> Option<pb::AssetMovement> {
    let settings = RefundSettings {
        safe_tx_gas: tx.safe_tx_gas,
        base_gas: tx.base_gas,
        gas_price: tx.gas_price,
        gas_token: tx.gas_token,
        refund_receiver: tx.refund_receiver,
    };
    let r = refund_of(&settings, paid)?;
    let note = format!(
        "gas refund (worst case: (safeTxGas {} + call overhead + baseGas {}) × gasPrice {} per gas{})",
        tx.safe_tx_gas,
        tx.base_gas,
        book.asset_amount(token_of(r.asset), tx.gas_price),
        if r.receiver.is_none() {
            "; paid to whoever executes the transaction"
        } else {
            ""
        }
    );
    Some(movement(
        book,
        r.asset,
        safe,
        r.receiver
            .map_or_else(|| "tx.origin".to_owned(), |a| a.to_checksum(None)),
        r.amount,
        note,
    ))
}

/// The token of an asset (`None`: the native coin).
fn token_of(asset: signgate_policy::wallets::Asset) -> Option<alloy_primitives::Address> {
    match asset {
        signgate_policy::wallets::Asset::Native => None,
        signgate_policy::wallets::Asset::Token(t) => Some(t),
    }
}

/// One movement on the wire: base units in `amount`, the words in `description`.
fn movement(
    book: &AssetBook,
    asset: signgate_policy::wallets::Asset,
    from: alloy_primitives::Address,
    to: String,
    amount: U256,
    note: String,
) -> pb::AssetMovement {
    let token = token_of(asset);
    let decimals = match token {
        None => Some(18),
        Some(t) => match book.label(t) {
            AssetLabel::Policy { decimals, .. } | AssetLabel::TokenSays { decimals, .. } => {
                Some(u32::from(decimals))
            }
            AssetLabel::Impersonates { decimals, .. } => decimals.map(u32::from),
            AssetLabel::Unknown => None,
        },
    };
    let mut description = format!(
        "moves {} from {} to {to}",
        book.asset_amount(token, amount),
        from.to_checksum(None)
    );
    if !note.is_empty() {
        description.push_str(" — ");
        description.push_str(&note);
    }
    pb::AssetMovement {
        asset: asset.to_string(),
        symbol: token.map_or_else(|| "ETH".to_owned(), |t| book.symbol(t)),
        from: from.to_checksum(None),
        to,
        amount: amount.to_string(),
        token_id: String::new(),
        note,
        description,
        decimals,
    }
}

/// The refund of an inner `execTransaction` (another Safe's transaction the proposal runs), at
/// its worst case: it is paid on chain at the executor's gas price, which the run cannot know.
fn inner_refund_movement(
    inner: &signgate_policy::evidence::InnerRefundFact,
    book: &AssetBook,
) -> Option<pb::AssetMovement> {
    let s = &inner.settings;
    let r = refund_of(s, None)?;
    let note = format!(
        "gas refund of the inner execTransaction at {} (worst case: (safeTxGas {} + call overhead + baseGas {}) × gasPrice {} per gas)",
        inner.location,
        s.safe_tx_gas,
        s.base_gas,
        book.asset_amount(token_of(r.asset), s.gas_price)
    );
    Some(movement(
        book,
        r.asset,
        inner.safe,
        r.receiver
            .map_or_else(|| "tx.origin".to_owned(), |a| a.to_checksum(None)),
        r.amount,
        note,
    ))
}

/// A grant's words, for the movement that stands for it: whom, how much, and what is within
/// reach.
fn grant_note(report: &SimulationReport, o: &OutflowFact, book: &AssetBook) -> String {
    let signgate_policy::wallets::Asset::Token(token) = o.asset else {
        return String::new();
    };
    let Some(g) = report
        .grants
        .iter()
        .chain(report.reached_safes.iter().flat_map(|r| &r.grants))
        .find(|g| g.token == token && g.spender == o.to)
    else {
        return String::new();
    };
    let granted = match &g.kind {
        GrantKind::Allowance { value } => format!(
            "grant: {} may spend {}",
            g.spender,
            book.amount(token, *value)
        ),
        GrantKind::Token { token_id } => {
            format!("grant: {} may take NFT id {token_id}", g.spender)
        }
        GrantKind::All => format!(
            "grant: {} may take EVERY token of this contract the Safe holds",
            g.spender
        ),
    };
    match g.holder_balance {
        Some(b) => format!(
            "{granted}; within reach now: the Safe's balance after the run, {}",
            book.amount(token, b)
        ),
        None => granted,
    }
}

/// A Safe storage write on the wire: its kind, words and typed fields.
fn safe_change(c: &SafeStorageChange) -> pb::SafeChange {
    let words = SafeChangeWords::of(c);
    let addr = |a: alloy_primitives::Address| a.to_checksum(None);
    let mut v = pb::SafeChange {
        kind: words.kind().to_owned(),
        description: words.to_string(),
        ..Default::default()
    };
    match &words {
        SafeChangeWords::Nonce { before, after }
        | SafeChangeWords::Threshold { before, after }
        | SafeChangeWords::OwnerCount { before, after } => {
            v.before = before.to_string();
            v.after = after.to_string();
        }
        SafeChangeWords::Singleton {
            from,
            from_code,
            to,
            to_code,
            code_hash,
        } => {
            v.before = addr(*from);
            v.after = addr(*to);
            v.before_code = from_code.to_string();
            v.after_code = to_code.to_string();
            v.code_hash = code_hash.map(|h| format!("{h:#x}")).unwrap_or_default();
            if let CodeName::Safe { version, .. } = to_code {
                v.after_version = version.to_string();
            }
        }
        SafeChangeWords::OwnerAdded { owner } | SafeChangeWords::OwnerRemoved { owner } => {
            v.subject = addr(*owner);
        }
        SafeChangeWords::ModuleEnabled { module } | SafeChangeWords::ModuleDisabled { module } => {
            v.subject = addr(*module);
        }
        SafeChangeWords::OwnerListLink {
            entry,
            before,
            after,
        }
        | SafeChangeWords::ModuleListLink {
            entry,
            before,
            after,
        } => {
            v.subject = addr(*entry);
            v.before = addr(*before);
            v.after = addr(*after);
        }
        SafeChangeWords::Hook {
            before,
            after,
            code_hash,
            ..
        } => {
            v.before = addr(*before);
            v.after = addr(*after);
            v.code_hash = code_hash.map(|h| format!("{h:#x}")).unwrap_or_default();
        }
        SafeChangeWords::ApprovedHash {
            owner,
            hash,
            approved,
        } => {
            v.subject = addr(*owner);
            v.before = String::new();
            v.after = if *approved {
                format!("{hash:#x}")
            } else {
                String::new()
            };
        }
        SafeChangeWords::Storage {
            slot,
            before,
            after,
        } => {
            v.slot = format!("{slot:#x}");
            v.before = format!("{before:#x}");
            v.after = format!("{after:#x}");
        }
    }
    v
}

fn simulation(
    analysis: &RecordedAnalysis,
    tx: &SafeTx,
    policy: Option<&Policy>,
    book: &AssetBook,
) -> pb::SimulationSummary {
    let report = match &analysis.simulation {
        Ok(r) => r,
        Err(why) => {
            return pb::SimulationSummary {
                success: false,
                error: why.to_string(),
                ..Default::default()
            };
        }
    };
    let facts = simulation_facts(report);
    let error = match &facts.outcome {
        SimulationOutcome::Success => String::new(),
        SimulationOutcome::Reverted { reason } | SimulationOutcome::Failed { reason } => {
            reason.clone()
        }
        SimulationOutcome::NotRun => "not run".to_owned(),
    };
    pb::SimulationSummary {
        success: matches!(facts.outcome, SimulationOutcome::Success),
        error,
        gas_used: report.gas_used,
        safe_changes: report.safe_storage.iter().map(safe_change).collect(),
        asset_movements: facts
            .outflows
            .iter()
            .map(|o| {
                movement(
                    book,
                    o.asset,
                    o.from.unwrap_or(report.safe),
                    o.to.to_checksum(None),
                    o.amount,
                    grant_note(report, o, book),
                )
            })
            .chain(refund_movement(
                tx,
                report.safe,
                facts.refund.as_ref(),
                book,
            ))
            .chain(
                facts
                    .inner_refunds
                    .iter()
                    .filter_map(|r| inner_refund_movement(r, book)),
            )
            .collect(),
        delegatecalls: facts
            .delegatecalls
            .iter()
            .map(|d| pb::DelegateCallView {
                target: d.target.to_checksum(None),
                path: format!("depth {}", d.depth),
                allowlisted: policy.is_some_and(|p| {
                    p.delegate_targets()
                        .iter()
                        .any(|t| t.address == d.target && Some(t.code_hash) == d.code_hash)
                }),
            })
            .collect(),
        state_block: report.state.block_number.to_string(),
        assumptions: assumptions(report),
        signatures: match report.signatures {
            SignatureMode::Supplied => "supplied",
            SignatureMode::ApprovedHashOverrides => "approved_hash_overrides",
        }
        .to_owned(),
    }
}

/// The run's assumptions in words: the queued-nonce override (approved-hash overrides stand in
/// for signatures and assume nothing about what the transaction does).
fn assumptions(report: &signgate_simulator::report::SimulationReport) -> Vec<String> {
    report
        .overrides
        .iter()
        .filter_map(|o| match o.reason {
            OverrideReason::QueuedNonce { current, assumed } => Some(format!(
                "the Safe is at nonce {current}; this run assumed nonces {current} to {} \
                 executed first, without replaying them",
                assumed.saturating_sub(U256::from(1))
            )),
            OverrideReason::ApprovedHash { .. } => None,
        })
        .collect()
}

fn hits(analysis: &RecordedAnalysis) -> Vec<pb::ScreeningHit> {
    let hit = |h: &SanctionsHit| pb::ScreeningHit {
        address: h.address.to_checksum(None),
        list: h.list.clone(),
        entry: h.entry.clone(),
        path: h.location.clone(),
    };
    match &analysis.screening {
        Screening::Screened { hits } => hits.iter().map(hit).collect(),
        Screening::CannotScreen { .. } => Vec::new(),
    }
}

fn intent(d: &DeclaredIntent) -> pb::DeclaredIntent {
    pb::DeclaredIntent {
        description: d.description.clone(),
        recipient: d.recipient.map(|a| a.to_checksum(None)).unwrap_or_default(),
        asset: match d.asset {
            None => String::new(),
            Some(IntentAsset::Native) => "ETH".to_owned(),
            Some(IntentAsset::Token(t)) => t.to_checksum(None),
        },
        amount: d.amount.map(|a| a.to_string()).unwrap_or_default(),
    }
}

fn supplied(s: &SuppliedSignature) -> pb::SuppliedSignature {
    pb::SuppliedSignature {
        index: s.index,
        signer: s.signer.map(|a| a.to_checksum(None)).unwrap_or_default(),
        kind: s.kind.map(|k| k.as_str().to_owned()).unwrap_or_default(),
        valid: s.valid,
        problem: s.problem.clone(),
        signature: s.signature.clone(),
    }
}

/// Symbols and decimals for one proposal: the policy's asset table (`None`: no policy, none),
/// then what the tokens said of themselves in the recorded simulation.
fn asset_book(
    policy: Option<&Policy>,
    recorded: &RecordedAnalysis,
    chain_id: u64,
    safe: alloy_primitives::Address,
) -> AssetBook {
    AssetBook::new(
        policy
            .map(|p| p.named_assets(chain_id, safe))
            .unwrap_or_default(),
        recorded
            .simulation
            .as_ref()
            .map(|r| r.tokens.clone())
            .unwrap_or_default(),
    )
}

/// A display warning on the wire: its code, its words and its typed fields.
fn display_warning(w: &DisplayWarning) -> pb::Reason {
    pb::Reason {
        code: w.code().to_owned(),
        message: w.to_string(),
        evidence: fields(w, "warning"),
    }
}

/// The analysed part of a proposal: the transaction decoded again, the simulation and screening
/// as recorded at submission. A proposal stored before typed records shows its stored view.
fn analysed(
    r: &ProposalRecord,
    policy: Option<&Policy>,
    descriptors: &Arc<Descriptors>,
) -> Result<pb::Proposal, GatewayError> {
    let body = &r.body;
    let recorded = match &body.analysis {
        ProposalAnalysis::Recorded(a) => a,
        ProposalAnalysis::Legacy(bytes) => {
            return pb::Proposal::decode(bytes.as_slice())
                .map_err(|e| GatewayError::Internal(format!("stored view of {}: {e}", r.id)));
        }
    };
    let ctx = SafeContext {
        chain_id: r.chain_id,
        safe: r.safe,
        version: body.version,
    };
    let d = decode_transaction(&ctx, &body.tx).map_err(|e| {
        GatewayError::Internal(format!(
            "stored transaction of {} no longer decodes: {e}",
            r.id
        ))
    })?;
    let book = asset_book(policy, recorded, r.chain_id, r.safe)
        .with_clear_signing(r.chain_id, descriptors.clone());
    let mut warnings = book.warnings();
    warnings.extend(d.root.display_warnings(&book));
    Ok(pb::Proposal {
        safe_version: body.version.to_string(),
        transaction: Some(convert::safe_tx_to_proto(&d.tx)),
        hashes: Some(pb::SafeTxHashes {
            domain_hash: format!("{:#x}", d.hashes.domain_separator),
            message_hash: format!("{:#x}", d.hashes.struct_hash),
            safe_tx_hash: format!("{:#x}", d.hashes.safe_tx_hash),
        }),
        actions: vec![action(
            &d.root,
            &ActionPath::default(),
            d.context.safe,
            &book,
        )],
        simulation: Some(simulation(recorded, &body.tx, policy, &book)),
        display_warnings: warnings.iter().map(display_warning).collect(),
        screening_hits: hits(recorded),
        intent: body.intent.as_ref().map(intent),
        supplied_signatures: body.supplied.iter().map(supplied).collect(),
        ..Default::default()
    })
}

/// A stored decision on the wire.
pub fn stored_decision(d: &DecisionRecord) -> Result<pb::Decision, GatewayError> {
    match &d.detail {
        DecisionDetail::Evaluated(e) => Ok(decision(&e.evaluation, &e.lists, d.decided_at)),
        DecisionDetail::Legacy(bytes) => pb::Decision::decode(bytes.as_slice())
            .map_err(|e| GatewayError::Internal(format!("stored decision {}: {e}", d.seq))),
    }
}

fn approval_view(a: &ApprovalRecord, decision: Option<&pb::Decision>) -> pb::ApprovalView {
    let key = hex::encode(a.public_key);
    let count = decision.and_then(|d| d.approval_counts.iter().find(|c| c.public_key == key));
    pb::ApprovalView {
        operator: a.operator.clone(),
        public_key: key.clone(),
        kind: match a.kind {
            ApprovalKind::Approve => pb::ApprovalKind::Approve,
            ApprovalKind::Reject => pb::ApprovalKind::Reject,
        }
        .into(),
        received_at: Some(convert::timestamp(a.received_at)),
        counted: count.is_some_and(|c| c.counted),
        not_counted: count.and_then(|c| c.not_counted.clone()),
        comment: a.comment.clone(),
    }
}

/// The full view of a stored proposal: its analysis, the current state, the latest decision
/// and the approvals (counted as that decision counted them). `policy`: the policy in force,
/// for which delegatecall targets are allowlisted and the asset table (`None`: none).
pub fn proposal(
    stored: &StoredProposal,
    policy: Option<&Policy>,
    descriptors: &Arc<Descriptors>,
) -> Result<pb::Proposal, GatewayError> {
    let r = &stored.record;
    let mut view = analysed(r, policy, descriptors)?;
    let decision = stored.decision.as_ref().map(stored_decision).transpose()?;
    view.id = r.id.to_string();
    view.state = convert::state_to_proto(r.state).into();
    view.revision = r.revision;
    view.chain_id = r.chain_id;
    view.safe = r.safe.to_checksum(None);
    view.initiator = r.initiator.clone();
    view.created_at = Some(convert::timestamp(r.created_at));
    view.updated_at = Some(convert::timestamp(r.updated_at));
    view.cancel_reason = r.cancel_reason.clone().unwrap_or_default();
    view.approvals = stored
        .approvals
        .iter()
        .map(|a| approval_view(a, decision.as_ref()))
        .collect();
    view.decision = decision;
    Ok(view)
}

#[cfg(test)]
mod tests {
    use alloy_primitives::Address;

    use super::*;

    #[test]
    fn reasons_carry_their_fields_as_evidence() {
        let r = Reason::DelegatecallNotAllowlisted {
            target: Address::repeat_byte(0x96),
            code_hash: None,
            location: "calldata tx".into(),
        };
        let pb = reason(&r);
        assert_eq!(pb.code, "delegatecall.not_allowlisted");
        assert!(pb.message.contains("allowlist"), "{}", pb.message);
        let keys: Vec<_> = pb.evidence.iter().map(|e| e.key.as_str()).collect();
        assert!(
            keys.contains(&"target") && keys.contains(&"location"),
            "{keys:?}"
        );
        assert!(!keys.contains(&"rule"), "the tag is the code, not evidence");
    }
}
