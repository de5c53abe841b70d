//! `signgate admin apply-policy | operators | reload-lists | health | alerts`: the gateway's
//! `Admin` service for the people who run it.
//!
//! `apply-policy` sends a policy file exactly as the admins signed it with the signature files
//! `signgate policy sign` wrote; the gateway decides (enough admins of the policy in force) and
//! answers with the new hash and what changed, or with every signature that did not count.

use std::{fmt::Write as _, path::PathBuf, process::ExitCode};

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use signgate_policy::PolicyHash;
use signgate_proto::v1::{self as pb, admin_client::AdminClient};

use super::{
    connection::Connection,
    out::Stdout,
    policy::{SignatureFile, load_signature_file},
};

/// Arguments of `signgate admin`.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// The gateway and the TLS files (before or after the subcommand).
    #[command(flatten)]
    pub connection: Connection,
    /// What to do on the gateway.
    #[command(subcommand)]
    pub command: AdminCommand,
}

/// The `admin` subcommands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Apply a policy signed by enough admins of the policy in force.
    ApplyPolicy {
        /// The policy file (TOML), exactly as signed.
        #[arg(long)]
        policy: PathBuf,
        /// Signature files written by `signgate policy sign` (JSON); repeat for several.
        #[arg(long = "signature", required = true)]
        signatures: Vec<PathBuf>,
    },
    /// List the operators of the policy in force.
    Operators,
    /// Reload sanctions lists from their files (all, or the ids given).
    ReloadLists {
        /// List ids; none means every list.
        ids: Vec<String>,
    },
    /// Health of the gateway's components.
    Health,
    /// Follow the anomaly alerts the gateway raises from now on, one line each, until
    /// interrupted (or the gateway stops).
    Alerts,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// The statement all the files sign and every signature, deduplicated.
fn read_signatures(files: &[PathBuf]) -> anyhow::Result<(SignatureFile, Vec<pb::PolicySignature>)> {
    let mut merged: Option<SignatureFile> = None;
    for f in files {
        let file = load_signature_file(f)?;
        match &mut merged {
            None => merged = Some(file),
            Some(m) => {
                if m.statement() != file.statement() {
                    bail!(
                        "{} signs policy {} as version {} replacing {}, unlike the other signature files; all must sign the same statement",
                        f.display(),
                        file.policy,
                        file.version,
                        file.replaces
                    );
                }
                for s in file.signatures {
                    if !m.signatures.contains(&s) {
                        m.signatures.push(s);
                    }
                }
            }
        }
    }
    let Some(merged) = merged.filter(|m| !m.signatures.is_empty()) else {
        bail!("the signature files hold no signature; run `signgate policy sign` first");
    };
    let sigs = merged
        .signatures
        .iter()
        .map(|s| pb::PolicySignature {
            public_key: s.public_key.to_vec(),
            signature: s.signature.to_vec(),
        })
        .collect();
    Ok((merged, sigs))
}

/// One alert on one line: the rule, who, the action, then the alert in words.
pub fn render_alert(a: &pb::AnomalyAlert) -> String {
    let who = if a.operator.is_empty() {
        format!("certificate {}", a.client_certificate)
    } else {
        format!("operator {}", a.operator)
    };
    format!("{} {who} ({}): {}", a.rule, a.action, a.message)
}

/// The operators in words, one block each.
pub fn render_operators(ops: &[pb::Operator]) -> String {
    let mut s = String::new();
    for o in ops {
        let _ = writeln!(s, "{} — {} ({})", o.id, o.name, o.status);
        let _ = writeln!(
            s,
            "  roles: {}; teams: {}; wallets: {}",
            or_none(&o.groups),
            or_none(&o.teams),
            if o.wallets.is_empty() {
                "every wallet".to_owned()
            } else {
                o.wallets.join(", ")
            }
        );
        let _ = writeln!(
            s,
            "  may initiate: {}; {}",
            if o.initiator { "yes" } else { "no" },
            if o.probationary {
                o.probation.clone()
            } else {
                "not probationary".to_owned()
            }
        );
        for k in &o.keys {
            let enrolled = k.enrolled_at.as_ref().map_or(0, |t| t.seconds);
            let state = if k.revoked { "revoked" } else { "active" };
            let _ = writeln!(
                s,
                "  key {} ({state}, enrolled {})",
                k.public_key,
                signgate_policy::time::Timestamp(u64::try_from(enrolled).unwrap_or(0))
            );
        }
        if o.keys.is_empty() {
            let _ = writeln!(s, "  no key enrolled");
        }
    }
    s
}

fn or_none(list: &[String]) -> String {
    if list.is_empty() {
        "none".to_owned()
    } else {
        list.join(", ")
    }
}

/// Runs `signgate admin`.
pub fn run(args: AdminArgs) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    rt.block_on(async {
        let conn = &args.connection;
        let mut c = AdminClient::new(conn.channel().await?);
        match args.command {
            AdminCommand::ApplyPolicy { policy, signatures } => {
                let text = std::fs::read(&policy)
                    .with_context(|| format!("cannot read {}", policy.display()))?;
                let (statement, signatures) = read_signatures(&signatures)?;
                let hash = std::str::from_utf8(&text)
                    .map(PolicyHash::of)
                    .with_context(|| format!("{} is not UTF-8 text", policy.display()))?;
                if statement.policy != hash {
                    bail!(
                        "the signatures are for policy {}, not {} ({hash}); sign this file",
                        statement.policy,
                        policy.display(),
                    );
                }
                let req = pb::ApplyPolicyRequest {
                    policy: text,
                    signatures,
                    version: statement.version,
                    replaces_policy_hash: statement.replaces.to_string(),
                };
                let r = c
                    .apply_policy(req)
                    .await
                    .map_err(|s| conn.refused(&s))?
                    .into_inner();
                let mut out = Stdout::lock();
                writeln!(
                    out,
                    "policy {} version {} is in force (it replaced {})",
                    r.policy_hash, r.version, r.previous_policy_hash
                )?;
                for change in r.changes {
                    writeln!(out, "  - {change}")?;
                }
                Ok(ExitCode::SUCCESS)
            }
            AdminCommand::Operators => {
                let r = c
                    .list_operators(pb::ListOperatorsRequest {})
                    .await
                    .map_err(|s| conn.refused(&s))?
                    .into_inner();
                write!(Stdout::lock(), "{}", render_operators(&r.operators))?;
                Ok(ExitCode::SUCCESS)
            }
            AdminCommand::ReloadLists { ids } => {
                let r = c
                    .reload_sanctions_lists(pb::ReloadSanctionsListsRequest { list_ids: ids })
                    .await
                    .map_err(|s| conn.refused(&s))?
                    .into_inner();
                let mut failed = false;
                let mut out = Stdout::lock();
                for l in r.lists {
                    if l.error.is_empty() {
                        writeln!(
                            out,
                            "{}: loaded {} ({} addresses; {} added, {} removed)",
                            l.id, l.content_hash, l.addresses, l.added, l.removed
                        )?;
                    } else {
                        failed = true;
                        writeln!(out, "{}: REFUSED: {}", l.id, l.error)?;
                    }
                }
                Ok(if failed {
                    ExitCode::FAILURE
                } else {
                    ExitCode::SUCCESS
                })
            }
            AdminCommand::Alerts => {
                let mut stream = c
                    .watch_alerts(pb::WatchAlertsRequest {})
                    .await
                    .map_err(|s| conn.refused(&s))?
                    .into_inner();
                while let Some(a) = stream.message().await.map_err(|s| conn.refused(&s))? {
                    let mut out = Stdout::lock();
                    writeln!(out, "{}", render_alert(&a))?;
                    out.flush()?;
                }
                Ok(ExitCode::SUCCESS)
            }
            AdminCommand::Health => {
                let h = c
                    .get_health_details(pb::GetHealthDetailsRequest {})
                    .await
                    .map_err(|s| conn.refused(&s))?
                    .into_inner();
                let mut out = Stdout::lock();
                writeln!(
                    out,
                    "gateway {}: {}",
                    h.version,
                    if h.serving { "serving" } else { "NOT serving" }
                )?;
                for comp in h.components {
                    let status = pb::ComponentStatus::try_from(comp.status).map_or_else(
                        |_| "unknown".to_owned(),
                        |s| {
                            s.as_str_name()
                                .trim_start_matches("COMPONENT_STATUS_")
                                .to_ascii_lowercase()
                        },
                    );
                    writeln!(out, "  {}: {status} — {}", comp.name, comp.detail)?;
                }
                Ok(if h.serving {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                })
            }
        }
    })
}
