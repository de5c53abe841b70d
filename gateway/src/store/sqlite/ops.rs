//! The bodies of the store's transactions. Each runs inside the caller's `IMMEDIATE`
//! transaction, so its checks and writes see one consistent state and commit or roll back as
//! one.

use alloy_primitives::{Address, U256};
use rusqlite::{Connection, OptionalExtension, params, params_from_iter, types::Value};

use super::rows::{
    PROPOSAL_COLUMNS, ProposalRow, chain_col, hex_col, is_constraint, json_col, load,
    load_required, parse_b256, parse_enum, parse_json, parse_key, parse_u64, parse_u256,
};
pub(super) use crate::store::rules::{change, check_open, created};
use crate::store::{
    ApprovalRecord, DecisionRecord, ListFilter, NewDecision, NonceReservation, OverLimit, Page,
    PageToken, ProposalChange, ProposalId, ProposalRecord, ProposalState, Release, ReleaseOutcome,
    StoreError, StoredProposal, UnixMillis,
    rules::{
        advanced, over_limit, page, released_already, revision_col, same_reservation,
        signature_chain,
    },
};

/// Moves a proposal to `state`, bumps its revision and returns the updated record.
pub(super) fn set_state(
    c: &Connection,
    rec: &ProposalRecord,
    state: ProposalState,
    now: UnixMillis,
    cancel_reason: Option<&str>,
) -> Result<ProposalRecord, StoreError> {
    let next = advanced(rec, state, now, cancel_reason);
    c.prepare_cached(
        "UPDATE proposals SET state = ?1, revision = ?2, updated_at = ?3, \
         cancel_reason = COALESCE(?4, cancel_reason) WHERE id = ?5",
    )?
    .execute(params![
        state.as_str(),
        revision_col(&next)?,
        now.0,
        cancel_reason,
        rec.id.as_str()
    ])?;
    Ok(next)
}

/// A decision's detail column, serialised by the caller before its change is queued, so the
/// writer thread does not spend its time on JSON.
pub(super) fn decision_detail(d: &NewDecision) -> Result<String, StoreError> {
    json_col("decision detail", &d.detail)
}

/// Appends a decision with the next sequence number of its proposal; `detail` is
/// [`decision_detail`] of it.
pub(super) fn insert_decision(
    c: &Connection,
    id: &ProposalId,
    d: &NewDecision,
    detail: &str,
) -> Result<(), StoreError> {
    c.prepare_cached(
        "INSERT INTO decisions (proposal_id, seq, outcome, policy_hash, decided_at, detail, body) \
         VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM decisions WHERE proposal_id = ?1), \
         ?2, ?3, ?4, x'', ?5)",
    )?
    .execute(params![
        id.as_str(),
        d.outcome.as_str(),
        d.policy_hash,
        d.decided_at.0,
        detail
    ])?;
    Ok(())
}

/// The reservation of a (chain, Safe, nonce), if any.
pub(super) fn reservation_of(
    c: &Connection,
    chain_id: u64,
    safe: Address,
    nonce: U256,
) -> Result<Option<NonceReservation>, StoreError> {
    let row = c
        .prepare_cached(
            "SELECT safe_tx_hash, proposal_id, reserved_at FROM nonce_reservations \
             WHERE chain_id = ?1 AND safe = ?2 AND nonce = ?3",
        )?
        .query_row(
            params![
                chain_col(chain_id)?,
                hex_col(safe.as_slice()),
                nonce.to_string()
            ],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            },
        )
        .optional()?;
    row.map(|(hash, proposal, at)| {
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

/// The sum of the release events of `asset` for a Safe after `since` (exclusive), in `U256`
/// summed here rather than in SQL (decimal text, no float, no 64-bit overflow). A sum that
/// overflows is `U256::MAX`, over any limit.
pub(super) fn velocity_spent(
    c: &Connection,
    chain_id: u64,
    safe: Address,
    asset: &str,
    since: UnixMillis,
) -> Result<U256, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT amount FROM velocity_events \
         WHERE chain_id = ?1 AND safe = ?2 AND asset = ?3 AND released_at > ?4",
    )?;
    let amounts = stmt.query_map(
        params![
            chain_col(chain_id)?,
            hex_col(safe.as_slice()),
            asset,
            since.0
        ],
        |r| r.get::<_, String>(0),
    )?;
    let mut total = U256::ZERO;
    for amount in amounts {
        let amount = parse_u256(&amount?)?;
        total = total.checked_add(amount).unwrap_or(U256::MAX);
    }
    Ok(total)
}

/// Checks every cap of `r` against the events already stored: `None` when the release fits,
/// otherwise what each window held and the first cap crossed. Runs under the write lock, so no
/// other release can add an event between this check and the caller's inserts.
fn check_caps(
    c: &Connection,
    rec: &ProposalRecord,
    r: &Release,
) -> Result<Option<OverLimit>, StoreError> {
    let spent = r
        .caps
        .iter()
        .map(|cap| {
            velocity_spent(
                c,
                rec.chain_id,
                cap.safe,
                &cap.asset,
                cap.since(r.released_at),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(over_limit(r, spent))
}

/// Stores the release's outflows as events dated at its release, each in the window of the
/// Safe it leaves.
fn insert_events(c: &Connection, rec: &ProposalRecord, r: &Release) -> Result<(), StoreError> {
    for o in r.outflows.iter().filter(|o| !o.amount.is_zero()) {
        c.execute(
            "INSERT INTO velocity_events \
             (chain_id, safe, asset, amount, released_at, proposal_id) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                chain_col(rec.chain_id)?,
                hex_col(o.safe.as_slice()),
                o.asset,
                o.amount.to_string(),
                r.released_at.0,
                rec.id.as_str()
            ],
        )?;
    }
    Ok(())
}

/// Velocity check, velocity events, nonce reservation, RELEASED, and EXPIRED for every other
/// open proposal of the same nonce. The events are written before the reservation on purpose:
/// a reservation clash after them must roll them back, which the tests check.
pub(super) fn release_tx(
    tx: &Connection,
    r: &Release,
) -> Result<(ReleaseOutcome, Vec<ProposalChange>), StoreError> {
    let rec = load_required(tx, &r.id)?;
    if released_already(&rec, r)? {
        let reservation = reservation_of(tx, signature_chain(&rec), rec.safe, rec.nonce)?;
        return Ok((same_reservation(&rec, reservation)?, Vec::new()));
    }
    if let Some(over) = check_caps(tx, &rec, r)? {
        return Ok((ReleaseOutcome::OverLimit(over), Vec::new()));
    }
    insert_events(tx, &rec, r)?;
    let inserted = tx.execute(
        "INSERT INTO nonce_reservations \
         (chain_id, safe, nonce, safe_tx_hash, proposal_id, reserved_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            chain_col(signature_chain(&rec))?,
            hex_col(rec.safe.as_slice()),
            rec.nonce.to_string(),
            hex_col(rec.safe_tx_hash.as_slice()),
            rec.id.as_str(),
            r.released_at.0
        ],
    );
    if let Err(e) = inserted {
        if is_constraint(&e)
            && let Some(existing) = reservation_of(tx, signature_chain(&rec), rec.safe, rec.nonce)?
        {
            return Err(StoreError::NonceTaken {
                chain_id: rec.chain_id,
                safe: rec.safe,
                nonce: rec.nonce,
                existing_proposal: existing.proposal_id,
                existing_safe_tx_hash: existing.safe_tx_hash,
            });
        }
        return Err(e.into());
    }
    let released = set_state(tx, &rec, ProposalState::Released, r.released_at, None)?;
    let mut changes = vec![change(&released)];
    let mut stmt = tx.prepare(
        "UPDATE proposals SET state = ?1, revision = revision + 1, updated_at = ?2 \
         WHERE (chain_id = ?3 OR ?9) AND safe = ?4 AND nonce = ?5 AND id <> ?6 \
         AND state IN (?7, ?8) RETURNING id, revision",
    )?;
    let expired = stmt
        .query_map(
            params![
                ProposalState::Expired.as_str(),
                r.released_at.0,
                chain_col(rec.chain_id)?,
                hex_col(rec.safe.as_slice()),
                rec.nonce.to_string(),
                rec.id.as_str(),
                ProposalState::NeedsApprovals.as_str(),
                ProposalState::Approved.as_str(),
                // A legacy Safe's release takes its nonce on every chain.
                signature_chain(&rec) == 0
            ],
            |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?)),
        )?
        .collect::<Result<Vec<_>, _>>()?;
    for (id, revision) in expired {
        changes.push(ProposalChange {
            id: ProposalId::new(id),
            revision: parse_u64("revision", revision)?,
            state: ProposalState::Expired,
        });
    }
    let reservation = NonceReservation {
        chain_id: rec.chain_id,
        safe: rec.safe,
        nonce: rec.nonce,
        safe_tx_hash: rec.safe_tx_hash,
        proposal_id: rec.id,
        reserved_at: r.released_at,
    };
    Ok((ReleaseOutcome::Released(reservation), changes))
}

/// One page newest first, using keyset pagination on (created_at, id).
pub(super) fn list_tx(
    c: &Connection,
    filter: &ListFilter,
    limit: u32,
    after: Option<&PageToken>,
) -> Result<Page, StoreError> {
    let mut sql = format!("SELECT {PROPOSAL_COLUMNS} FROM proposals WHERE 1 = 1");
    let mut args: Vec<Value> = Vec::new();
    if let Some(chain_id) = filter.chain_id {
        sql.push_str(" AND chain_id = ?");
        args.push(Value::Integer(chain_col(chain_id)?));
    }
    if let Some(safe) = filter.safe {
        sql.push_str(" AND safe = ?");
        args.push(Value::Text(hex_col(safe.as_slice())));
    }
    if !filter.states.is_empty() {
        let marks = vec!["?"; filter.states.len()].join(", ");
        sql.push_str(&format!(" AND state IN ({marks})"));
        args.extend(
            filter
                .states
                .iter()
                .map(|s| Value::Text(s.as_str().to_owned())),
        );
    }
    if let Some(t) = filter.created_at_or_after {
        sql.push_str(" AND created_at >= ?");
        args.push(Value::Integer(t.0));
    }
    if let Some(t) = filter.created_before {
        sql.push_str(" AND created_at < ?");
        args.push(Value::Integer(t.0));
    }
    if let Some(token) = after {
        let (ts, id) = token.parse().ok_or(StoreError::BadPageToken)?;
        sql.push_str(" AND (created_at < ? OR (created_at = ? AND id < ?))");
        args.extend([
            Value::Integer(ts.0),
            Value::Integer(ts.0),
            Value::Text(id.to_string()),
        ]);
    }
    // One extra row tells whether another page exists.
    sql.push_str(" ORDER BY created_at DESC, id DESC LIMIT ?");
    args.push(Value::Integer(i64::from(limit).saturating_add(1)));
    let mut stmt = c.prepare(&sql)?;
    let proposals = stmt
        .query_map(params_from_iter(args), ProposalRow::read)?
        .map(|row| {
            row.map_err(StoreError::from)
                .and_then(ProposalRow::into_record)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(page(proposals, limit))
}

/// A proposal with its latest decision and approvals.
pub(super) fn get_tx(
    c: &Connection,
    id: &ProposalId,
) -> Result<Option<StoredProposal>, StoreError> {
    let Some(record) = load(c, id)? else {
        return Ok(None);
    };
    let decision = c
        .prepare_cached(
            "SELECT seq, outcome, policy_hash, decided_at, body FROM decisions \
             WHERE proposal_id = ?1 ORDER BY seq DESC LIMIT 1",
        )?
        .query_row([id.as_str()], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, Option<String>>(4)?,
            ))
        })
        .optional()?
        .map(|(seq, outcome, policy_hash, at, detail)| {
            Ok::<_, StoreError>(DecisionRecord {
                seq: parse_u64("seq", seq)?,
                outcome: parse_enum(&outcome)?,
                policy_hash,
                decided_at: UnixMillis(at),
                detail: parse_json("decision detail", detail.as_deref())?,
            })
        })
        .transpose()?;
    let mut stmt = c.prepare_cached(
        "SELECT operator, public_key, kind, payload, signature, comment, received_at, alerts \
         FROM approvals WHERE proposal_id = ?1 ORDER BY received_at, public_key",
    )?;
    let approvals = stmt
        .query_map([id.as_str()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Vec<u8>>(3)?,
                r.get::<_, Vec<u8>>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, i64>(6)?,
                r.get::<_, String>(7)?,
            ))
        })?
        .map(|row| {
            let (operator, key, kind, payload, signature, comment, at, alerts) = row?;
            Ok(ApprovalRecord {
                operator,
                public_key: parse_key(&key)?,
                kind: parse_enum(&kind)?,
                payload,
                signature,
                comment,
                received_at: UnixMillis(at),
                alerts: crate::store::columns::parse_alerts(&alerts)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Some(StoredProposal {
        record,
        decision,
        approvals,
    }))
}
