//! The bodies of the PostgreSQL store's transactions, each run inside the caller's
//! transaction (`READ COMMITTED`, every check made under the lock that protects it):
//!
//! | lock | taken by | protects |
//! |---|---|---|
//! | `pg_advisory_xact_lock` per (chain, Safe) | release, before any row | the velocity windows and nonce reservations of that Safe |
//! | `pg_advisory_xact_lock` per security key | an approval signed by one, before any row | that its counter is above every stored one |
//! | the proposal's row, `FOR UPDATE` | every change of a proposal | its revision check |
//! | `audit_head`, `FOR UPDATE` | every change with records | the log's positions |
//! | `policy_in_force`, `FOR SHARE` (last) | every change carrying a decision | that no policy was put in force since it was decided |
//!
//! The log's head comes before the policy in force because a policy application (an append
//! outside the store) takes them in that order: it holds the head, then writes the policy.
//!
//! Every transaction takes them in this order, so two replicas never wait on each other in a
//! cycle; the unique constraints back the checks up.

use alloy_primitives::{Address, U256};
use deadpool_postgres::{GenericClient, Transaction};
use sha2::{Digest, Sha256};
use tokio_postgres::{Row, types::ToSql};

use crate::store::{
    ApprovalRecord, DecisionRecord, ListFilter, NewDecision, NewProposal, NonceReservation, Page,
    PageToken, ProposalChange, ProposalId, ProposalRecord, ProposalState, Release, ReleaseOutcome,
    StoreError, StoredProposal, UnixMillis,
    columns::{
        chain_col, hex_col, json_col, parse_address, parse_b256, parse_enum, parse_json, parse_key,
        parse_u64, parse_u256,
    },
};

use super::{cached, pg_error};
use crate::store::rules::{
    advanced, change, check_open, created, over_limit, page, released_already, revision_col,
    same_reservation, signature_chain,
};

/// The proposal columns, in the order [`record`] reads them.
const PROPOSAL_COLUMNS: &str = "id, chain_id, safe, nonce, safe_tx_hash, initiator, state, \
                                revision, created_at, updated_at, cancel_reason, body";

fn record(r: &Row) -> Result<ProposalRecord, StoreError> {
    let get_text = |i: usize| r.try_get::<_, String>(i).map_err(pg_error);
    let get_int = |i: usize| r.try_get::<_, i64>(i).map_err(pg_error);
    let body: Option<String> = r.try_get(11).map_err(pg_error)?;
    Ok(ProposalRecord {
        id: ProposalId::new(get_text(0)?),
        chain_id: parse_u64("chain id", get_int(1)?)?,
        safe: parse_address(&get_text(2)?)?,
        nonce: parse_u256(&get_text(3)?)?,
        safe_tx_hash: parse_b256(&get_text(4)?)?,
        initiator: get_text(5)?,
        state: parse_enum(&get_text(6)?)?,
        revision: parse_u64("revision", get_int(7)?)?,
        created_at: UnixMillis(get_int(8)?),
        updated_at: UnixMillis(get_int(9)?),
        cancel_reason: r.try_get(10).map_err(pg_error)?,
        body: parse_json("proposal body", body.as_deref())?,
    })
}

/// A proposal; `lock` takes its row for the rest of the transaction.
pub(super) async fn load(
    c: &impl GenericClient,
    id: &ProposalId,
    lock: bool,
) -> Result<Option<ProposalRecord>, StoreError> {
    let sql = format!(
        "SELECT {PROPOSAL_COLUMNS} FROM proposals WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    cached::query_opt(c, &sql, &[&id.as_str()])
        .await
        .map_err(pg_error)?
        .as_ref()
        .map(record)
        .transpose()
}

async fn load_required(
    tx: &Transaction<'_>,
    id: &ProposalId,
) -> Result<ProposalRecord, StoreError> {
    load(tx, id, true)
        .await?
        .ok_or_else(|| StoreError::NotFound { id: id.clone() })
}

/// Refuses a change decided under another policy than the one recorded as in force, holding
/// that row shared until commit so no application lands between this check and the commit.
pub(super) async fn check_policy(
    tx: &Transaction<'_>,
    decided_under: &str,
) -> Result<(), StoreError> {
    let row = cached::query_opt(
        tx,
        "SELECT policy_hash FROM policy_in_force WHERE id = 1 FOR SHARE",
        &[],
    )
    .await
    .map_err(pg_error)?;
    let in_force: Option<String> = row.map(|r| r.try_get(0)).transpose().map_err(pg_error)?;
    match in_force {
        Some(h) if h == decided_under => Ok(()),
        other => Err(StoreError::PolicySuperseded {
            decided_under: decided_under.to_owned(),
            in_force: other.unwrap_or_else(|| "none".to_owned()),
        }),
    }
}

/// Moves a proposal to `state`, bumps its revision and returns the updated record.
async fn set_state(
    tx: &Transaction<'_>,
    rec: &ProposalRecord,
    state: ProposalState,
    now: UnixMillis,
    cancel_reason: Option<&str>,
) -> Result<ProposalRecord, StoreError> {
    let next = advanced(rec, state, now, cancel_reason);
    cached::execute(
        tx,
        "UPDATE proposals SET state = $1, revision = $2, updated_at = $3, \
         cancel_reason = COALESCE($4, cancel_reason) WHERE id = $5",
        &[
            &state.as_str(),
            &revision_col(&next)?,
            &now.0,
            &cancel_reason,
            &rec.id.as_str(),
        ],
    )
    .await
    .map_err(pg_error)?;
    Ok(next)
}

async fn insert_decision(
    tx: &Transaction<'_>,
    id: &ProposalId,
    d: &NewDecision,
) -> Result<(), StoreError> {
    let body = json_col("decision detail", &d.detail)?;
    cached::execute(
        tx,
        "INSERT INTO decisions (proposal_id, seq, outcome, policy_hash, decided_at, detail, body) \
         VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM decisions WHERE proposal_id = $1), \
         $2, $3, $4, ''::bytea, $5)",
        &[
            &id.as_str(),
            &d.outcome.as_str(),
            &d.policy_hash,
            &d.decided_at.0,
            &body,
        ],
    )
    .await
    .map_err(pg_error)?;
    Ok(())
}

/// The open proposal of the same id or transaction, if one exists.
pub(super) async fn existing(
    tx: &Transaction<'_>,
    p: &NewProposal,
) -> Result<Option<ProposalRecord>, StoreError> {
    let row = cached::query_opt(
        tx,
        &format!(
            "SELECT {PROPOSAL_COLUMNS} FROM proposals WHERE id = $1 \
                 OR (chain_id = $2 AND safe = $3 AND safe_tx_hash = $4 AND state <> 'cancelled') \
                 LIMIT 1"
        ),
        &[
            &p.id.as_str(),
            &chain_col(p.chain_id)?,
            &hex_col(p.safe.as_slice()),
            &hex_col(p.safe_tx_hash.as_slice()),
        ],
    )
    .await
    .map_err(pg_error)?;
    row.as_ref().map(record).transpose()
}

pub(super) async fn insert(
    tx: &Transaction<'_>,
    p: &NewProposal,
    decision: &NewDecision,
) -> Result<(ProposalRecord, Vec<ProposalChange>), StoreError> {
    let body = json_col("proposal body", &p.body)?;
    cached::execute(
        tx,
        &format!(
            "INSERT INTO proposals ({PROPOSAL_COLUMNS}, view) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8, NULL, $9, ''::bytea)"
        ),
        &[
            &p.id.as_str(),
            &chain_col(p.chain_id)?,
            &hex_col(p.safe.as_slice()),
            &p.nonce.to_string(),
            &hex_col(p.safe_tx_hash.as_slice()),
            &p.initiator,
            &p.state.as_str(),
            &p.created_at.0,
            &body,
        ],
    )
    .await
    .map_err(pg_error)?;
    insert_decision(tx, &p.id, decision).await?;
    let rec = created(p.clone());
    let changes = vec![change(&rec)];
    Ok((rec, changes))
}

pub(super) async fn approve(
    tx: &Transaction<'_>,
    id: &ProposalId,
    expected_revision: u64,
    (approval, counter): (&ApprovalRecord, Option<u32>),
    decision: &NewDecision,
    new_state: ProposalState,
) -> Result<(ProposalRecord, Vec<ProposalChange>), StoreError> {
    if let Some(counter) = counter {
        // Under the key's lock, taken before any row: an approval with the same key on another
        // replica waits here, and then reads this one's assertion.
        cached::execute(
            tx,
            "SELECT pg_advisory_xact_lock($1)",
            &[&key_lock(approval.public_key)],
        )
        .await
        .map_err(pg_error)?;
        let stored = signatures_of(tx, approval.public_key).await?;
        crate::store::rules::counter_above(stored.iter().map(Vec::as_slice), counter)?;
    }
    let rec = load_required(tx, id).await?;
    check_open(&rec, expected_revision, "approved")?;
    let taken = cached::query_opt(
        tx,
        "SELECT 1 FROM approvals WHERE proposal_id = $1 AND public_key = $2",
        &[&id.as_str(), &hex::encode(approval.public_key)],
    )
    .await
    .map_err(pg_error)?;
    if taken.is_some() {
        return Err(StoreError::DuplicateApproval {
            id: id.clone(),
            public_key: approval.public_key,
        });
    }
    insert_decision(tx, id, decision).await?;
    cached::execute(
        tx,
        "INSERT INTO approvals (proposal_id, public_key, operator, kind, payload, signature, \
         comment, received_at, alerts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            &id.as_str(),
            &hex::encode(approval.public_key),
            &approval.operator,
            &approval.kind.as_str(),
            &approval.payload,
            &approval.signature,
            &approval.comment,
            &approval.received_at.0,
            &crate::store::columns::alerts_json(&approval.alerts)?,
        ],
    )
    .await
    .map_err(pg_error)?;
    let updated = set_state(tx, &rec, new_state, approval.received_at, None).await?;
    let changes = vec![change(&updated)];
    Ok((updated, changes))
}

pub(super) async fn decide(
    tx: &Transaction<'_>,
    id: &ProposalId,
    expected_revision: u64,
    decision: &NewDecision,
    new_state: ProposalState,
) -> Result<(ProposalRecord, Vec<ProposalChange>), StoreError> {
    let rec = load_required(tx, id).await?;
    check_open(&rec, expected_revision, "re-decided")?;
    insert_decision(tx, id, decision).await?;
    let updated = set_state(tx, &rec, new_state, decision.decided_at, None).await?;
    let changes = vec![change(&updated)];
    Ok((updated, changes))
}

pub(super) async fn cancel(
    tx: &Transaction<'_>,
    id: &ProposalId,
    reason: &str,
    now: UnixMillis,
) -> Result<(ProposalRecord, Vec<ProposalChange>), StoreError> {
    let rec = load_required(tx, id).await?;
    check_open(&rec, rec.revision, "cancelled")?;
    let updated = set_state(tx, &rec, ProposalState::Cancelled, now, Some(reason)).await?;
    let changes = vec![change(&updated)];
    Ok((updated, changes))
}

/// The advisory lock key of a security key's counter (the first 8 bytes of a SHA-256 of its
/// key id; two keys sharing a lock only wait on each other).
fn key_lock(key: [u8; 32]) -> i64 {
    let mut h = Sha256::new();
    h.update(b"signgate key lock\0");
    h.update(key);
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(digest.get(..8).unwrap_or(&[0; 8]));
    i64::from_be_bytes(first)
}

/// The stored signature of every approval or rejection made with `key`.
pub(super) async fn signatures_of(
    c: &impl GenericClient,
    key: [u8; 32],
) -> Result<Vec<Vec<u8>>, StoreError> {
    let rows = c
        .query(
            "SELECT signature FROM approvals WHERE public_key = $1",
            &[&hex::encode(key)],
        )
        .await
        .map_err(pg_error)?;
    rows.iter()
        .map(|r| r.try_get::<_, Vec<u8>>(0).map_err(pg_error))
        .collect()
}

/// The advisory lock key of a Safe's windows and nonces on one chain (the first 8 bytes of a
/// SHA-256 of both; two Safes sharing a key only wait on each other).
fn safe_lock(chain_id: u64, safe: Address) -> i64 {
    let mut h = Sha256::new();
    h.update(b"signgate safe lock\0");
    h.update(chain_id.to_be_bytes());
    h.update(safe.as_slice());
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(digest.get(..8).unwrap_or(&[0; 8]));
    i64::from_be_bytes(first)
}

/// Takes, in one order, the locks of every Safe whose windows or nonces `r` reads or writes.
pub(super) async fn lock_safes(
    tx: &Transaction<'_>,
    rec: &ProposalRecord,
    r: &Release,
) -> Result<(), StoreError> {
    let mut keys = vec![
        safe_lock(signature_chain(rec), rec.safe),
        safe_lock(rec.chain_id, rec.safe),
    ];
    keys.extend(r.caps.iter().map(|c| safe_lock(rec.chain_id, c.safe)));
    keys.extend(r.outflows.iter().map(|o| safe_lock(rec.chain_id, o.safe)));
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        cached::execute(tx, "SELECT pg_advisory_xact_lock($1)", &[&key])
            .await
            .map_err(pg_error)?;
    }
    Ok(())
}

pub(super) async fn reservation_of(
    c: &impl GenericClient,
    chain_id: u64,
    safe: Address,
    nonce: U256,
) -> Result<Option<NonceReservation>, StoreError> {
    let row = cached::query_opt(
        c,
        "SELECT safe_tx_hash, proposal_id, reserved_at FROM nonce_reservations \
             WHERE chain_id = $1 AND safe = $2 AND nonce = $3",
        &[
            &chain_col(chain_id)?,
            &hex_col(safe.as_slice()),
            &nonce.to_string(),
        ],
    )
    .await
    .map_err(pg_error)?;
    row.map(|r| {
        let hash: String = r.try_get(0).map_err(pg_error)?;
        let proposal: String = r.try_get(1).map_err(pg_error)?;
        let at: i64 = r.try_get(2).map_err(pg_error)?;
        Ok(NonceReservation {
            chain_id,
            safe,
            nonce,
            safe_tx_hash: parse_b256(&hash)?,
            proposal_id: ProposalId::new(proposal),
            reserved_at: UnixMillis(at),
        })
    })
    .transpose()
}

pub(super) async fn velocity_spent(
    c: &impl GenericClient,
    chain_id: u64,
    safe: Address,
    asset: &str,
    since: UnixMillis,
) -> Result<U256, StoreError> {
    let rows = cached::query(
        c,
        "SELECT amount FROM velocity_events \
             WHERE chain_id = $1 AND safe = $2 AND asset = $3 AND released_at > $4",
        &[
            &chain_col(chain_id)?,
            &hex_col(safe.as_slice()),
            &asset,
            &since.0,
        ],
    )
    .await
    .map_err(pg_error)?;
    let mut total = U256::ZERO;
    for r in rows {
        let amount: String = r.try_get(0).map_err(pg_error)?;
        total = total.checked_add(parse_u256(&amount)?).unwrap_or(U256::MAX);
    }
    Ok(total)
}

/// Velocity check, events, reservation, RELEASED, and EXPIRED for every other open proposal of
/// the same nonce, under the locks of every Safe involved ([`lock_safes`], taken by the caller
/// before the proposal's row).
pub(super) async fn release(
    tx: &Transaction<'_>,
    r: &Release,
) -> Result<(ReleaseOutcome, Vec<ProposalChange>), StoreError> {
    let rec = load_required(tx, &r.id).await?;
    if released_already(&rec, r)? {
        let reservation = reservation_of(tx, signature_chain(&rec), rec.safe, rec.nonce).await?;
        return Ok((same_reservation(&rec, reservation)?, Vec::new()));
    }
    if let Some(existing) = reservation_of(tx, signature_chain(&rec), rec.safe, rec.nonce).await? {
        return Err(StoreError::NonceTaken {
            chain_id: rec.chain_id,
            safe: rec.safe,
            nonce: rec.nonce,
            existing_proposal: existing.proposal_id,
            existing_safe_tx_hash: existing.safe_tx_hash,
        });
    }
    let mut spent = Vec::with_capacity(r.caps.len());
    for cap in &r.caps {
        spent.push(
            velocity_spent(
                tx,
                rec.chain_id,
                cap.safe,
                &cap.asset,
                cap.since(r.released_at),
            )
            .await?,
        );
    }
    if let Some(over) = over_limit(r, spent) {
        return Ok((ReleaseOutcome::OverLimit(over), Vec::new()));
    }
    for o in r.outflows.iter().filter(|o| !o.amount.is_zero()) {
        cached::execute(
            tx,
            "INSERT INTO velocity_events (chain_id, safe, asset, amount, released_at, proposal_id) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &chain_col(rec.chain_id)?,
                &hex_col(o.safe.as_slice()),
                &o.asset,
                &o.amount.to_string(),
                &r.released_at.0,
                &rec.id.as_str(),
            ],
        )
        .await
        .map_err(pg_error)?;
    }
    // The primary key backs the check above up: a clash fails the transaction (unique
    // violation), which the caller maps to the reservation that won.
    cached::execute(
        tx,
        "INSERT INTO nonce_reservations \
         (chain_id, safe, nonce, safe_tx_hash, proposal_id, reserved_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &chain_col(signature_chain(&rec))?,
            &hex_col(rec.safe.as_slice()),
            &rec.nonce.to_string(),
            &hex_col(rec.safe_tx_hash.as_slice()),
            &rec.id.as_str(),
            &r.released_at.0,
        ],
    )
    .await
    .map_err(pg_error)?;
    let released = set_state(tx, &rec, ProposalState::Released, r.released_at, None).await?;
    let mut changes = vec![change(&released)];
    let legacy = signature_chain(&rec) == 0;
    let expired = cached::query(
        tx,
        "UPDATE proposals SET state = $1, revision = revision + 1, updated_at = $2 \
             WHERE (chain_id = $3 OR $9) AND safe = $4 AND nonce = $5 AND id <> $6 \
             AND state IN ($7, $8) RETURNING id, revision",
        &[
            &ProposalState::Expired.as_str(),
            &r.released_at.0,
            &chain_col(rec.chain_id)?,
            &hex_col(rec.safe.as_slice()),
            &rec.nonce.to_string(),
            &rec.id.as_str(),
            &ProposalState::NeedsApprovals.as_str(),
            &ProposalState::Approved.as_str(),
            &legacy,
        ],
    )
    .await
    .map_err(pg_error)?;
    for row in expired {
        let id: String = row.try_get(0).map_err(pg_error)?;
        let revision: i64 = row.try_get(1).map_err(pg_error)?;
        changes.push(ProposalChange {
            id: ProposalId::new(id),
            revision: parse_u64("revision", revision)?,
            state: ProposalState::Expired,
        });
    }
    Ok((
        ReleaseOutcome::Released(NonceReservation {
            chain_id: rec.chain_id,
            safe: rec.safe,
            nonce: rec.nonce,
            safe_tx_hash: rec.safe_tx_hash,
            proposal_id: rec.id,
            reserved_at: r.released_at,
        }),
        changes,
    ))
}

/// One page newest first, keyset pagination on (created_at, id).
pub(super) async fn list(
    c: &impl GenericClient,
    filter: &ListFilter,
    limit: u32,
    after: Option<&PageToken>,
) -> Result<Page, StoreError> {
    enum Arg {
        Int(i64),
        Text(String),
    }
    let mut sql = format!("SELECT {PROPOSAL_COLUMNS} FROM proposals WHERE TRUE");
    let mut args: Vec<Arg> = Vec::new();
    let next = |sql: &mut String, frag: &str, arg: Arg, args: &mut Vec<Arg>| {
        args.push(arg);
        sql.push_str(&frag.replace('?', &format!("${}", args.len())));
    };
    if let Some(chain_id) = filter.chain_id {
        next(
            &mut sql,
            " AND chain_id = ?",
            Arg::Int(chain_col(chain_id)?),
            &mut args,
        );
    }
    if let Some(safe) = filter.safe {
        next(
            &mut sql,
            " AND safe = ?",
            Arg::Text(hex_col(safe.as_slice())),
            &mut args,
        );
    }
    if !filter.states.is_empty() {
        sql.push_str(" AND state IN (");
        for (i, s) in filter.states.iter().enumerate() {
            let frag = if i == 0 { "?" } else { ", ?" };
            next(&mut sql, frag, Arg::Text(s.as_str().to_owned()), &mut args);
        }
        sql.push(')');
    }
    if let Some(t) = filter.created_at_or_after {
        next(&mut sql, " AND created_at >= ?", Arg::Int(t.0), &mut args);
    }
    if let Some(t) = filter.created_before {
        next(&mut sql, " AND created_at < ?", Arg::Int(t.0), &mut args);
    }
    if let Some(token) = after {
        let (ts, id) = token.parse().ok_or(StoreError::BadPageToken)?;
        next(&mut sql, " AND (created_at < ?", Arg::Int(ts.0), &mut args);
        next(&mut sql, " OR (created_at = ?", Arg::Int(ts.0), &mut args);
        next(
            &mut sql,
            " AND id < ?))",
            Arg::Text(id.to_string()),
            &mut args,
        );
    }
    next(
        &mut sql,
        " ORDER BY created_at DESC, id DESC LIMIT ?",
        Arg::Int(i64::from(limit).saturating_add(1)),
        &mut args,
    );
    let params: Vec<&(dyn ToSql + Sync)> = args
        .iter()
        .map(|a| match a {
            Arg::Int(i) => i as &(dyn ToSql + Sync),
            Arg::Text(t) => t as &(dyn ToSql + Sync),
        })
        .collect();
    let rows = cached::query(c, &sql, &params).await.map_err(pg_error)?;
    let proposals = rows.iter().map(record).collect::<Result<Vec<_>, _>>()?;
    Ok(page(proposals, limit))
}

/// A proposal with its latest decision and approvals, read in one snapshot.
pub(super) async fn get(
    tx: &Transaction<'_>,
    id: &ProposalId,
) -> Result<Option<StoredProposal>, StoreError> {
    let Some(record) = load(tx, id, false).await? else {
        return Ok(None);
    };
    let decision = cached::query_opt(
        tx,
        "SELECT seq, outcome, policy_hash, decided_at, body FROM decisions \
             WHERE proposal_id = $1 ORDER BY seq DESC LIMIT 1",
        &[&id.as_str()],
    )
    .await
    .map_err(pg_error)?
    .map(|r| {
        let seq: i64 = r.try_get(0).map_err(pg_error)?;
        let outcome: String = r.try_get(1).map_err(pg_error)?;
        let policy_hash: String = r.try_get(2).map_err(pg_error)?;
        let at: i64 = r.try_get(3).map_err(pg_error)?;
        let detail: Option<String> = r.try_get(4).map_err(pg_error)?;
        Ok::<_, StoreError>(DecisionRecord {
            seq: parse_u64("seq", seq)?,
            outcome: parse_enum(&outcome)?,
            policy_hash,
            decided_at: UnixMillis(at),
            detail: parse_json("decision detail", detail.as_deref())?,
        })
    })
    .transpose()?;
    let approvals = cached::query(
        tx,
        "SELECT operator, public_key, kind, payload, signature, comment, received_at, alerts \
             FROM approvals WHERE proposal_id = $1 ORDER BY received_at, public_key",
        &[&id.as_str()],
    )
    .await
    .map_err(pg_error)?
    .iter()
    .map(|r| {
        let key: String = r.try_get(1).map_err(pg_error)?;
        let kind: String = r.try_get(2).map_err(pg_error)?;
        Ok(ApprovalRecord {
            operator: r.try_get(0).map_err(pg_error)?,
            public_key: parse_key(&key)?,
            kind: parse_enum(&kind)?,
            payload: r.try_get(3).map_err(pg_error)?,
            signature: r.try_get(4).map_err(pg_error)?,
            comment: r.try_get(5).map_err(pg_error)?,
            received_at: UnixMillis(r.try_get(6).map_err(pg_error)?),
            alerts: crate::store::columns::parse_alerts(
                &r.try_get::<_, String>(7).map_err(pg_error)?,
            )?,
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Some(StoredProposal {
        record,
        decision,
        approvals,
    }))
}

/// The address book of one chain, by address.
pub(super) async fn address_book(
    c: &impl GenericClient,
    chain_id: u64,
) -> Result<Vec<crate::store::AddressEntry>, StoreError> {
    cached::query(
        c,
        "SELECT address, label, category, added_by, added_at FROM address_book \
         WHERE chain_id = $1 ORDER BY address",
        &[&chain_col(chain_id)?],
    )
    .await
    .map_err(pg_error)?
    .iter()
    .map(|r| {
        let address: String = r.try_get(0).map_err(pg_error)?;
        Ok(crate::store::AddressEntry {
            chain_id,
            address: parse_address(&address)?,
            label: r.try_get(1).map_err(pg_error)?,
            category: r.try_get(2).map_err(pg_error)?,
            added_by: r.try_get(3).map_err(pg_error)?,
            added_at: UnixMillis(r.try_get(4).map_err(pg_error)?),
        })
    })
    .collect()
}
