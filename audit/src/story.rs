//! `audit show`: one proposal's records in plain words, or the gateway's own events.
//!
//! Behind both `signgate audit show` and `signgate-audit show`. The gateway's own events are
//! its starts and stops, policies applied, operator changes and sanctions lists.
//!
//! Auditors and treasury staff read this, not JSON: what was proposed, what the simulation
//! showed, what the policy decided and why, who approved when, what was signed. Each line
//! names the record it comes from so a reader can go back to the export.

use std::fmt::Write as _;

use signgate_policy::{Decision, evidence::Verdict, time::Timestamp};

use crate::record::{AuditEvent, AuditRecord, ListOutcome};

/// The story of `proposal_id`, or `None` if no record mentions it.
pub fn story(records: &[AuditRecord], proposal_id: &str) -> Option<String> {
    let mine: Vec<&AuditRecord> = records
        .iter()
        .filter(|r| r.proposal_id() == Some(proposal_id))
        .collect();
    if mine.is_empty() {
        return None;
    }
    let mut s = format!("Proposal {proposal_id}\n");
    for r in mine {
        let at = format_ms(r.at_ms);
        let _ = write!(s, "\n[#{} {at}] ", r.index);
        let _ = match &r.event {
            AuditEvent::ProposalSubmitted(p) => {
                let _ = writeln!(
                    s,
                    "{} proposed a transaction for Safe {} on chain {} (nonce {}).",
                    p.initiator, p.safe, p.chain_id, p.nonce
                );
                let _ = writeln!(
                    s,
                    "  safeTxHash {} (recomputed by the gateway)",
                    p.safe_tx_hash
                );
                for line in &p.summary {
                    let _ = writeln!(s, "  - {line}");
                }
                let sim = &p.evidence.simulation;
                let _ = writeln!(
                    s,
                    "  simulation: {:?}; {} outflow(s), {} delegatecall(s), {} Safe change(s) (report sha256 {})",
                    sim.outcome,
                    sim.outflows.len(),
                    sim.delegatecalls.len(),
                    sim.safe_changes.len(),
                    p.simulation_sha256
                );
                for l in &p.lists {
                    match &l.sha256 {
                        Some(sha) => {
                            let _ = writeln!(s, "  screened against {} version {sha}", l.list);
                        }
                        None => {
                            let _ = writeln!(s, "  list {} was unavailable (denies)", l.list);
                        }
                    }
                }
                writeln!(s, "  under policy {}", p.policy_hash)
            }
            AuditEvent::DecisionMade(d) => {
                let _ = writeln!(
                    s,
                    "Policy {} decided ({:?}): {}",
                    d.policy_hash, d.trigger, d.decision
                );
                if let Decision::Approved { release_after, .. } = &d.decision {
                    let _ = writeln!(s, "  may be released from {release_after}");
                }
                Ok(())
            }
            AuditEvent::ApprovalReceived(a) => {
                let who = a.operator.as_deref().unwrap_or("an unknown key");
                let verb = match a.verdict {
                    Verdict::Approve => "approved",
                    Verdict::Reject => "rejected",
                };
                writeln!(
                    s,
                    "{who} {verb} at {} with key {} (signature valid until {}).",
                    a.received_at, a.public_key, a.expires_at
                )
            }
            AuditEvent::ReleaseTicketIssued(t) => writeln!(
                s,
                "The gateway issued a release ticket for nonce {} under policy {}, valid until {}, to signers {:?}.",
                t.nonce, t.policy_hash, t.expires_at, t.signers
            ),
            AuditEvent::SignaturesReturned(g) => writeln!(
                s,
                "Signatures by {} owner(s) {:?} were returned for safeTxHash {} (blob sha256 {}).",
                g.owners.len(),
                g.owners,
                g.safe_tx_hash,
                g.signatures_sha256
            ),
            AuditEvent::ProposalCancelled(c) => writeln!(
                s,
                "Cancelled by {} (safeTxHash {}): {}",
                c.caller.identity,
                c.safe_tx_hash,
                if c.reason.is_empty() {
                    "no reason given"
                } else {
                    &c.reason
                }
            ),
            other => writeln!(s, "{}", describe(other)),
        };
    }
    Some(s)
}

/// Every record that is not about a proposal, one line each, oldest first: what the gateway
/// itself did (started, stopped, applied a policy, changed operators, loaded lists).
pub fn events(records: &[AuditRecord]) -> String {
    let mut s = String::new();
    for r in records.iter().filter(|r| r.proposal_id().is_none()) {
        let _ = writeln!(
            s,
            "[#{} {}] {}",
            r.index,
            format_ms(r.at_ms),
            describe(&r.event)
        );
    }
    s
}

fn short(hash: Option<impl std::fmt::Display>) -> String {
    hash.map_or_else(|| "none".to_owned(), |h| h.to_string())
}

/// A one-line description of any event (used for events outside a proposal too).
pub(crate) fn describe(event: &AuditEvent) -> String {
    match event {
        AuditEvent::ServerStarted(e) => format!(
            "gateway {} started under policy {} (configuration sha256 {}, audit key {}, release key {})",
            e.version,
            short(e.policy_hash),
            short(e.config_sha256),
            e.audit_key,
            short(e.release_key)
        ),
        AuditEvent::ServerStopped(e) => format!("gateway stopped: {}", e.reason),
        AuditEvent::PolicyApplied(p) => format!(
            "policy {} ({}) applied as version {}{}, replacing {}, with {} admin signature(s) by key(s) {}; requested by {}",
            p.name,
            p.policy_hash,
            p.version,
            if p.migrated {
                " (migrated from signatures made before versions)"
            } else {
                ""
            },
            short(p.previous),
            p.admin_signatures.len(),
            p.admin_signatures
                .iter()
                .map(|s| s.public_key.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            p.caller.identity
        ),
        AuditEvent::SanctionsList(l) => match &l.outcome {
            ListOutcome::Loaded => format!(
                "sanctions list {} loaded (sha256 {}): {} added, {} removed",
                l.list,
                short(l.current_sha256),
                l.added.len(),
                l.removed.len()
            ),
            ListOutcome::Refused { reason } => format!(
                "sanctions list {} update refused: {reason}; version in use: {}",
                l.list,
                short(l.current_sha256)
            ),
        },
        AuditEvent::OperatorChanged(o) => format!(
            "operator {} {} under policy {}: {}",
            o.operator,
            serde_json::to_value(o.change)
                .ok()
                .and_then(|v| v.as_str().map(|s| s.replace('_', " ")))
                .unwrap_or_default(),
            short(o.policy_hash),
            o.detail
        ),
        AuditEvent::CallObserved(o) => format!(
            "call observed: {} by {} ({:?})",
            o.call.verb(),
            o.subject()
                .map_or_else(|| "an unidentified caller".to_owned(), |s| s.to_string()),
            o.outcome
        ),
        AuditEvent::Anomaly(a) => format!("anomaly: {a}"),
        other => other.kind().replace('_', " "),
    }
}

/// The instant of a record, to the second, in the policy's UTC notation.
pub(crate) fn format_ms(ms: u64) -> String {
    Timestamp(ms / 1000).to_string()
}
