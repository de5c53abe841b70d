//! `signgate propose | approve | reject | status | release`: the gateway's API for people.
//!
//! A treasury operator uses these without reading code: each command signs its request with the
//! operator's ed25519 key file (`signgate keygen`), talks to the gateway over gRPC and prints the
//! proposal in plain words — what it does, what the simulation saw, the decision and why.
//! `approve` insists on the safeTxHash the operator checked independently (on a hardware wallet or
//! with `signgate inspect`), so an approval can never bind a hash the operator did not see.

use std::{
    fmt::Write as _,
    path::PathBuf,
    process::ExitCode,
    time::{SystemTime, UNIX_EPOCH},
};

use alloy_primitives::{Address, B256, Bytes, U256};
use anyhow::{Context as _, bail};
use clap::Args;
use ed25519_dalek::SigningKey;
use prost::Message as _;
use signgate_proto::{
    envelope::{self, APPROVAL_CONTEXT, CANCEL_CONTEXT, SUBMISSION_CONTEXT},
    prost_types::Timestamp,
    v1::{self as pb, gateway_client::GatewayClient},
};
use signgate_simulator::SafeTx;
use tonic::transport::Channel;

use signgate_keys::read_ed25519;

use super::{connection::Connection, out::Stdout};
use crate::domain::wire::safe_tx_to_proto;

/// `signgate propose`: submit a Safe transaction for decision.
#[derive(Debug, Args)]
pub struct ProposeArgs {
    /// The gateway and the TLS files.
    #[command(flatten)]
    pub connection: Connection,
    /// Your ed25519 operator key file.
    #[arg(long)]
    pub key: PathBuf,
    /// The Safe the transaction is for.
    #[arg(long)]
    pub safe: Address,
    /// The chain id of the Safe; it is part of the signed hash.
    #[arg(long, default_value_t = 1)]
    pub chain_id: u64,
    /// A Safe Transaction Service JSON file holding exactly one transaction (instead of flags).
    #[arg(long, conflicts_with_all = ["to", "data"])]
    pub tx_service: Option<PathBuf>,
    /// Destination of the transaction (required without --tx-service).
    #[arg(long)]
    pub to: Option<Address>,
    /// ETH value in wei.
    #[arg(long, default_value = "0")]
    pub value: U256,
    /// Calldata as hex.
    #[arg(long, default_value = "0x")]
    pub data: Bytes,
    /// `call` or `delegatecall`.
    #[arg(long, default_value = "call")]
    pub operation: String,
    /// The Safe nonce the transaction is meant for (required without --tx-service: it is part of
    /// the signed hash).
    #[arg(long)]
    pub nonce: Option<U256>,
    /// The safeTxHash you expect; the gateway refuses the proposal if it recomputes another.
    #[arg(long)]
    pub expect_safe_tx_hash: Option<B256>,
}

/// `signgate approve` / `signgate reject`: an operator's signed statement on a proposal.
#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// The gateway and the TLS files.
    #[command(flatten)]
    pub connection: Connection,
    /// Your ed25519 operator key file.
    #[arg(long)]
    pub key: PathBuf,
    /// The proposal id.
    pub proposal: String,
    /// The safeTxHash you checked yourself (hardware wallet, `signgate inspect`); the command
    /// refuses to sign a statement for any other hash.
    #[arg(long)]
    pub safe_tx_hash: B256,
    /// A note kept with your approval in the audit log.
    #[arg(long, default_value = "")]
    pub comment: String,
}

/// `signgate cancel`: an operator's signed withdrawal of an open proposal.
#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The gateway and the TLS files.
    #[command(flatten)]
    pub connection: Connection,
    /// Your ed25519 operator key file.
    #[arg(long)]
    pub key: PathBuf,
    /// The proposal id.
    pub proposal: String,
    /// The safeTxHash of the proposal you mean to withdraw; the command refuses to sign a
    /// cancellation for any other hash.
    #[arg(long)]
    pub safe_tx_hash: B256,
    /// Why, kept with the proposal and in the audit log.
    #[arg(long, default_value = "")]
    pub reason: String,
}

/// `signgate status`: one proposal, or the proposals of a Safe.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The gateway and the TLS files.
    #[command(flatten)]
    pub connection: Connection,
    /// A proposal id; without it, lists the proposals of `--safe` (or all).
    pub proposal: Option<String>,
    /// List only this Safe's proposals (when no proposal id is given).
    #[arg(long)]
    pub safe: Option<Address>,
}

/// `signgate release`: ask the signer backends to sign an approved proposal.
#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// The gateway and the TLS files.
    #[command(flatten)]
    pub connection: Connection,
    /// The proposal id.
    pub proposal: String,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

async fn connect(c: &Connection) -> anyhow::Result<GatewayClient<Channel>> {
    Ok(GatewayClient::new(c.channel().await?))
}

fn now() -> Option<Timestamp> {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(Timestamp {
        seconds: i64::try_from(secs).ok()?,
        nanos: 0,
    })
}

fn seal(context: &str, payload: Vec<u8>, key: &SigningKey) -> pb::SignedEnvelope {
    envelope::seal(key, context, payload)
}

/// Runs `signgate propose`.
pub fn propose(args: &ProposeArgs) -> anyhow::Result<ExitCode> {
    let key =
        read_ed25519(&args.key).with_context(|| format!("cannot read {}", args.key.display()))?;
    let tx = match &args.tx_service {
        Some(path) => pb::proposal_submission::Tx::TransactionServiceJson(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?,
        ),
        None => {
            let to = args
                .to
                .context("give --tx-service FILE, or --to with the transaction's fields")?;
            let nonce = args
                .nonce
                .context("--nonce is required: it is part of the signed hash")?;
            let mut tx = SafeTx::call(to, args.value, args.data.clone(), nonce);
            tx.operation = match args.operation.to_ascii_lowercase().as_str() {
                "call" | "0" => signgate_simulator::Operation::Call,
                "delegatecall" | "1" => signgate_simulator::Operation::DelegateCall,
                other => bail!("--operation {other:?} is neither call nor delegatecall"),
            };
            pb::proposal_submission::Tx::Transaction(safe_tx_to_proto(&tx))
        }
    };
    let submission = pb::ProposalSubmission {
        chain_id: args.chain_id,
        safe: args.safe.to_checksum(None),
        tx: Some(tx),
        issued_at: now(),
        request_id: format!(
            "cli-{}",
            SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos()
        ),
        expected_safe_tx_hash: args
            .expect_safe_tx_hash
            .map(|h| h.to_string())
            .unwrap_or_default(),
        ..Default::default()
    };
    let req = pb::SubmitProposalRequest {
        submission: Some(seal(SUBMISSION_CONTEXT, submission.encode_to_vec(), &key)),
    };
    let proposal = runtime()?.block_on(async {
        connect(&args.connection)
            .await?
            .submit_proposal(req)
            .await
            .map_err(|s| args.connection.refused(&s))
    })?;
    let proposal = proposal.into_inner();
    write!(Stdout::lock(), "{}", render(&proposal))?;
    Ok(exit_for(&proposal))
}

/// The proposal `id` as the gateway holds it, and its safeTxHash, refused unless that is the
/// hash the operator checked on their own device: nothing is signed for any other transaction.
async fn checked(
    client: &mut GatewayClient<Channel>,
    connection: &Connection,
    id: &str,
    expected: B256,
) -> anyhow::Result<(pb::Proposal, String)> {
    let current = client
        .get_proposal(pb::GetProposalRequest { id: id.to_owned() })
        .await
        .map_err(|s| connection.refused(&s))?
        .into_inner();
    let gateway_hash = current
        .hashes
        .as_ref()
        .map(|h| h.safe_tx_hash.clone())
        .unwrap_or_default();
    if gateway_hash.parse::<B256>().ok() != Some(expected) {
        bail!(
            "the proposal's safeTxHash is {gateway_hash}, not the {expected} you checked: nothing was signed"
        );
    }
    Ok((current, gateway_hash))
}

/// Runs `signgate approve` (or `reject` when `kind` says so).
pub fn approve(args: &ApproveArgs, kind: pb::ApprovalKind) -> anyhow::Result<ExitCode> {
    let key =
        read_ed25519(&args.key).with_context(|| format!("cannot read {}", args.key.display()))?;
    let proposal = runtime()?.block_on(async {
        let mut client = connect(&args.connection).await?;
        let (current, gateway_hash) = checked(
            &mut client,
            &args.connection,
            &args.proposal,
            args.safe_tx_hash,
        )
        .await?;
        let statement = pb::ApprovalStatement {
            proposal_id: current.id.clone(),
            chain_id: current.chain_id,
            safe: current.safe.clone(),
            safe_tx_hash: gateway_hash,
            kind: kind.into(),
            issued_at: now(),
            comment: args.comment.clone(),
        };
        let sealed = seal(APPROVAL_CONTEXT, statement.encode_to_vec(), &key);
        let reply = match kind {
            pb::ApprovalKind::Reject => {
                client
                    .reject(pb::RejectRequest {
                        rejection: Some(sealed),
                    })
                    .await
            }
            _ => {
                client
                    .approve(pb::ApproveRequest {
                        approval: Some(sealed),
                    })
                    .await
            }
        };
        reply
            .map_err(|s| args.connection.refused(&s))
            .map(tonic::Response::into_inner)
    })?;
    write!(Stdout::lock(), "{}", render(&proposal))?;
    Ok(exit_for(&proposal))
}

/// Runs `signgate cancel`.
pub fn cancel(args: &CancelArgs) -> anyhow::Result<ExitCode> {
    let key =
        read_ed25519(&args.key).with_context(|| format!("cannot read {}", args.key.display()))?;
    let proposal = runtime()?.block_on(async {
        let mut client = connect(&args.connection).await?;
        let (current, gateway_hash) = checked(
            &mut client,
            &args.connection,
            &args.proposal,
            args.safe_tx_hash,
        )
        .await?;
        let statement = pb::CancelStatement {
            proposal_id: current.id.clone(),
            chain_id: current.chain_id,
            safe: current.safe.clone(),
            safe_tx_hash: gateway_hash,
            issued_at: now(),
            reason: args.reason.clone(),
        };
        let sealed = seal(CANCEL_CONTEXT, statement.encode_to_vec(), &key);
        client
            .cancel(pb::CancelRequest {
                cancellation: Some(sealed),
            })
            .await
            .map_err(|s| args.connection.refused(&s))
            .map(tonic::Response::into_inner)
    })?;
    write!(Stdout::lock(), "{}", render(&proposal))?;
    Ok(exit_for(&proposal))
}

/// Runs `signgate status`.
pub fn status(args: &StatusArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let mut client = connect(&args.connection).await?;
        if let Some(id) = &args.proposal {
            let p = client
                .get_proposal(pb::GetProposalRequest { id: id.clone() })
                .await
                .map_err(|s| args.connection.refused(&s))?
                .into_inner();
            write!(Stdout::lock(), "{}", render(&p))?;
            return Ok(ExitCode::SUCCESS);
        }
        let list = client
            .list_proposals(pb::ListProposalsRequest {
                safe: args.safe.map(|s| s.to_checksum(None)).unwrap_or_default(),
                ..Default::default()
            })
            .await
            .map_err(|s| args.connection.refused(&s))?
            .into_inner();
        let mut out = Stdout::lock();
        if list.proposals.is_empty() {
            writeln!(out, "no proposals")?;
        }
        for p in &list.proposals {
            writeln!(
                out,
                "{}  {:?}  Safe {} nonce {}  safeTxHash {}",
                p.id,
                pb::ProposalState::try_from(p.state).unwrap_or(pb::ProposalState::Unspecified),
                p.safe,
                p.nonce,
                p.safe_tx_hash,
            )?;
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Runs `signgate release`.
pub fn release(args: &ReleaseArgs) -> anyhow::Result<ExitCode> {
    let reply = runtime()?.block_on(async {
        connect(&args.connection)
            .await?
            .request_signatures(pb::RequestSignaturesRequest {
                id: args.proposal.clone(),
            })
            .await
            .map_err(|s| args.connection.refused(&s))
    })?;
    let reply = reply.into_inner();
    let mut out = Stdout::lock();
    if let Some(p) = &reply.proposal {
        write!(out, "{}", render(p))?;
    }
    writeln!(
        out,
        "signatures (owner-sorted): 0x{}",
        hex::encode(&reply.signatures)
    )?;
    writeln!(
        out,
        "execTransaction calldata:  0x{}",
        hex::encode(&reply.exec_transaction_calldata)
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Exit status 0 for a proposal that can still pass, 1 for a denial, so scripts stop on it.
fn exit_for(p: &pb::Proposal) -> ExitCode {
    match p.decision.as_ref().and_then(|d| d.outcome.as_ref()) {
        Some(pb::decision::Outcome::Denied(_)) => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    }
}

fn reason_line(out: &mut String, indent: &str, r: &pb::Reason) {
    // Messages usually open with their code already; never print it twice.
    if r.message.starts_with(&format!("[{}]", r.code)) {
        let _ = writeln!(out, "{indent}{}", r.message);
    } else {
        let _ = writeln!(out, "{indent}[{}] {}", r.code, r.message);
    }
    for e in &r.evidence {
        let _ = writeln!(out, "{indent}    {}: {}", e.key, e.value);
    }
}

fn action_lines(out: &mut String, depth: usize, a: &pb::DecodedAction) {
    let _ = writeln!(
        out,
        "{}{} {}",
        "  ".repeat(depth + 1),
        a.path,
        a.description
    );
    for child in &a.children {
        action_lines(out, depth + 1, child);
    }
}

/// All ten SafeTx fields, as the signers sign them: the refund fields move value too. The
/// calldata is decoded under `actions`; its first bytes and length identify it here.
fn transaction_lines(out: &mut String, t: &pb::SafeTransaction) {
    out.push_str("transaction:\n");
    for f in crate::api::fields::safe_tx_fields(t, Some(36)) {
        let _ = writeln!(out, "  {:<16}{}", format!("{}:", f.name), f.value);
    }
}

/// A proposal in plain words.
pub fn render(p: &pb::Proposal) -> String {
    let mut out = String::new();
    let state = pb::ProposalState::try_from(p.state).unwrap_or(pb::ProposalState::Unspecified);
    let _ = writeln!(out, "proposal {} — {:?}", p.id, state);
    let _ = writeln!(
        out,
        "Safe {} (version {}, chain {}), initiated by {}",
        p.safe, p.safe_version, p.chain_id, p.initiator
    );
    if let Some(h) = &p.hashes {
        let _ = writeln!(
            out,
            "domain hash:  {}\nmessage hash: {}\nsafeTxHash:   {}",
            h.domain_hash, h.message_hash, h.safe_tx_hash
        );
    }
    if let Some(t) = &p.transaction {
        transaction_lines(&mut out, t);
    }
    out.push_str("actions:\n");
    for a in &p.actions {
        action_lines(&mut out, 0, a);
    }
    if let Some(sim) = &p.simulation {
        let verdict = if sim.success {
            "succeeds".to_owned()
        } else {
            format!("FAILS: {}", sim.error)
        };
        let _ = writeln!(out, "simulation: {verdict} ({} gas)", sim.gas_used);
        // The words are the gateway's (one rendering for the CLI, the API and the console).
        for c in &sim.safe_changes {
            let _ = writeln!(out, "  Safe change: {}", c.description);
        }
        for d in &sim.delegatecalls {
            let allow = if d.allowlisted {
                "allowlisted"
            } else {
                "NOT allowlisted"
            };
            let _ = writeln!(
                out,
                "  delegatecall to {} at {} ({allow})",
                d.target, d.path
            );
        }
        for m in &sim.asset_movements {
            let _ = writeln!(out, "  {}", m.description);
        }
    }
    for w in &p.display_warnings {
        let _ = writeln!(out, "WARNING: {}", w.message);
    }
    for hit in &p.screening_hits {
        let _ = writeln!(
            out,
            "SANCTIONS HIT: {} at {} on {} ({})",
            hit.address, hit.path, hit.list, hit.entry
        );
    }
    match p.decision.as_ref().and_then(|d| d.outcome.as_ref()) {
        Some(pb::decision::Outcome::Denied(d)) => {
            out.push_str("decision: DENIED — no approval can release it\n");
            for r in &d.reasons {
                reason_line(&mut out, "  ", r);
            }
        }
        Some(pb::decision::Outcome::NeedsApprovals(n)) => {
            out.push_str("decision: needs approvals\n");
            for m in &n.missing {
                // The gateway names only operators whose approval would count now.
                let eligible = if m.eligible_operators.is_empty() {
                    "nobody whose approval would count now".to_owned()
                } else {
                    m.eligible_operators.join(", ")
                };
                let _ = writeln!(
                    out,
                    "  {}: {} of {} (eligible: {eligible})",
                    m.group, m.have, m.need
                );
            }
            for r in &n.reasons {
                reason_line(&mut out, "  ", r);
            }
        }
        Some(pb::decision::Outcome::Approved(a)) => {
            let release = a.release_after.as_ref().map_or(0, |t| t.seconds);
            let _ = writeln!(
                out,
                "decision: APPROVED — releasable from unix time {release}"
            );
        }
        None => out.push_str("decision: none\n"),
    }
    for a in &p.approvals {
        let counted = if a.counted {
            "counts".to_owned()
        } else {
            a.not_counted.as_ref().map_or_else(
                || "does not count".to_owned(),
                |r| format!("does not count: {}", r.message),
            )
        };
        let _ = writeln!(
            out,
            "approval by {} ({:?}): {counted}",
            a.operator,
            pb::ApprovalKind::try_from(a.kind).unwrap_or(pb::ApprovalKind::Unspecified)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_shows_all_ten_safe_tx_fields_and_says_a_refund_is_paid() {
        let t = pb::SafeTransaction {
            to: "0x7070707070707070707070707070707070707070".into(),
            value: "0".into(),
            data: vec![0xa9, 0x05, 0x9c, 0xbb],
            operation: 0,
            safe_tx_gas: "100000".into(),
            base_gas: "999000000".into(),
            gas_price: "10000000000".into(),
            gas_token: "0x0000000000000000000000000000000000000000".into(),
            refund_receiver: String::new(),
            nonce: "3".into(),
        };
        let mut out = String::new();
        transaction_lines(&mut out, &t);
        for line in [
            "to:             0x7070707070707070707070707070707070707070",
            "data:           0xa9059cbb (4 bytes)",
            "operation:      0 (CALL)",
            "safeTxGas:      100000",
            "baseGas:        999000000",
            "gasPrice:       10000000000 (the Safe pays a gas refund",
            "gasToken:       0x0000000000000000000000000000000000000000 (ETH)",
            "refundReceiver: 0x0000000000000000000000000000000000000000 (whoever executes it)",
            "nonce:          3",
        ] {
            assert!(out.contains(line), "{line} not in\n{out}");
        }
    }
}
