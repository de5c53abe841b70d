//! Rows written before schema version 3 hold a proposal's analysis and each decision as encoded
//! API messages (`signgate.v1.Proposal`, `signgate.v1.Decision`). Applying version 3 converts
//! every such row to the typed records, inside the migration's own transaction: the
//! transaction, Safe version, declared intent and supplied signatures are parsed out of the old
//! view with the same parsers requests use; the simulation summary and the decisions, which
//! cannot be rebuilt without their inputs, are kept as the bytes they were and shown as such.
//! A row that does not parse stops the upgrade (and so the start) with what is wrong.

use prost::Message;
use rusqlite::{Transaction, params};
use signgate_proto::v1 as pb;
use signgate_simulator::{SafeVersion, signature::SignatureKind};

use super::rows::json_col;
use crate::{
    domain::{
        DecisionDetail, DeclaredIntent, ProposalAnalysis, ProposalBody, SuppliedSignature, wire,
    },
    store::StoreError,
};

fn corrupt(id: &str, what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("upgrading proposal {id} to typed records: {what}"))
}

/// The typed body of a proposal stored as an encoded view.
fn body(id: &str, view: &[u8]) -> Result<ProposalBody, StoreError> {
    let v = pb::Proposal::decode(view).map_err(|e| corrupt(id, e))?;
    let version: SafeVersion = v
        .safe_version
        .parse()
        .map_err(|_| corrupt(id, format!("safe version {:?}", v.safe_version)))?;
    let tx = v
        .transaction
        .as_ref()
        .ok_or_else(|| corrupt(id, "no transaction"))?;
    let tx = wire::safe_tx("transaction", tx, usize::MAX).map_err(|e| corrupt(id, e))?;
    // A stored intent was checked at submission except for its asset, which an unreadable
    // value used to drop from the declared transfer: the same happens here.
    let intent = v.intent.as_ref().map(|d| {
        wire::intent("intent", d).unwrap_or_else(|_| DeclaredIntent {
            description: d.description.clone(),
            ..DeclaredIntent::default()
        })
    });
    let supplied = v
        .supplied_signatures
        .iter()
        .map(|s| SuppliedSignature {
            index: s.index,
            signer: (!s.signer.is_empty())
                .then(|| wire::address("signer", &s.signer).ok())
                .flatten(),
            kind: serde_json::from_value::<SignatureKind>(serde_json::Value::String(
                s.kind.clone(),
            ))
            .ok(),
            valid: s.valid,
            problem: s.problem.clone(),
            signature: s.signature.clone(),
        })
        .collect();
    Ok(ProposalBody {
        version,
        tx,
        intent,
        supplied,
        analysis: ProposalAnalysis::Legacy(view.to_vec()),
        alerts: Vec::new(),
    })
}

/// Converts every proposal and decision row that has no typed body yet.
pub(super) fn typed_records(tx: &Transaction<'_>) -> Result<(), StoreError> {
    let proposals: Vec<(String, Vec<u8>)> = tx
        .prepare("SELECT id, view FROM proposals WHERE body IS NULL")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (id, view) in &proposals {
        let body = json_col("proposal body", &body(id, view)?)?;
        tx.execute(
            "UPDATE proposals SET body = ?1, view = x'' WHERE id = ?2",
            params![body, id],
        )?;
    }
    let decisions: Vec<(String, i64, Vec<u8>)> = tx
        .prepare("SELECT proposal_id, seq, detail FROM decisions WHERE body IS NULL")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (id, seq, detail) in &decisions {
        let body = json_col("decision detail", &DecisionDetail::Legacy(detail.clone()))?;
        tx.execute(
            "UPDATE decisions SET body = ?1, detail = x'' WHERE proposal_id = ?2 AND seq = ?3",
            params![body, id, seq],
        )?;
    }
    if !proposals.is_empty() || !decisions.is_empty() {
        tracing::info!(
            proposals = proposals.len(),
            decisions = decisions.len(),
            "store upgraded to typed records (schema 3)"
        );
    }
    Ok(())
}
