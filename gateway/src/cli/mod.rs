//! The `signgate` command line: one clap tree, each subcommand in a module of its own.

pub mod admin;
pub mod audit;
pub mod client;
pub mod connection;
pub mod inspect;
pub mod keygen;
pub mod out;
pub mod policy;
pub mod signer;

use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::serve;

/// signgate: the policy gateway in front of Safe multisig signers.
#[derive(Debug, Parser)]
#[command(name = "signgate", version, about, long_about = None)]
pub struct Cli {
    /// Log as JSON lines instead of human-readable text (serve and signer).
    #[arg(long, global = true)]
    pub log_json: bool,
    /// Log filter for serve and signer (`info`, `debug`, `signgate_gateway=trace` …).
    #[arg(long, global = true, default_value = "info")]
    pub log_level: String,
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway (embedded default: SQLite in ./signgate-data, plaintext on loopback).
    Serve(serve::ServeArgs),
    /// Recompute the hashes of a Safe transaction, decode what it asks for in plain words,
    /// recover its signatures and list its warnings — trusting no UI and no service.
    Inspect(inspect::InspectArgs),
    /// Validate, dry-run and sign policy files.
    Policy(policy::PolicyArgs),
    /// Verify, export, explain and replay the tamper-evident audit log — offline.
    Audit(audit::AuditArgs),
    /// Submit a Safe transaction to the gateway for decision (signed with your operator key).
    Propose(client::ProposeArgs),
    /// Approve a proposal after checking its safeTxHash yourself.
    Approve(client::ApproveArgs),
    /// Reject a proposal; a rejection ends it.
    Reject(client::ApproveArgs),
    /// Withdraw an open proposal (yours, or any with a role the policy's `[cancellation]`
    /// names); the transaction can then be proposed again as a new proposal.
    Cancel(client::CancelArgs),
    /// Show one proposal in plain words, or list a Safe's proposals.
    Status(client::StatusArgs),
    /// Ask the signer backends to sign an approved proposal; prints the execTransaction calldata.
    Release(client::ReleaseArgs),
    /// Administer a running gateway: apply a signed policy, list operators, reload lists,
    /// health.
    Admin(admin::AdminArgs),
    /// Run a reference signer backend holding one Safe owner key.
    Signer(signer::SignerArgs),
    /// Create an ed25519 key (operators, admins, the gateway) or a secp256k1 keystore (an owner).
    Keygen(keygen::KeygenArgs),
}

impl Cli {
    /// Runs the chosen subcommand.
    pub fn run(self) -> anyhow::Result<ExitCode> {
        match self.command {
            Command::Inspect(args) => inspect::run(&args),
            Command::Policy(args) => policy::run(args),
            Command::Audit(args) => audit::run(args),
            Command::Propose(args) => client::propose(&args),
            Command::Approve(args) => {
                client::approve(&args, signgate_proto::v1::ApprovalKind::Approve)
            }
            Command::Reject(args) => {
                client::approve(&args, signgate_proto::v1::ApprovalKind::Reject)
            }
            Command::Cancel(args) => client::cancel(&args),
            Command::Status(args) => client::status(&args),
            Command::Release(args) => client::release(&args),
            Command::Admin(args) => admin::run(args),
            Command::Keygen(args) => {
                let written = keygen::keygen(&args).context("cannot create the key")?;
                let mut out = out::Stdout::lock();
                match written {
                    keygen::KeygenOutput::Ed25519 {
                        secret,
                        public_key_hex,
                    } => writeln!(
                        out,
                        "ed25519 key written to {} (public key {public_key_hex}, also in {}.pub)",
                        secret.display(),
                        secret.display()
                    )?,
                    keygen::KeygenOutput::Secp256k1 { keystore, address } => writeln!(
                        out,
                        "keystore written to {}; add owner {address} to the Safe",
                        keystore.display()
                    )?,
                }
                Ok(ExitCode::SUCCESS)
            }
            Command::Serve(args) => {
                init_tracing(&self.log_level, self.log_json)?;
                runtime()?.block_on(async {
                    serve::run(&args, std::env::vars(), shutdown_signal())
                        .await
                        .context("the gateway stopped")
                })?;
                Ok(ExitCode::SUCCESS)
            }
            Command::Signer(args) => {
                init_tracing(&self.log_level, self.log_json)?;
                runtime()?.block_on(async {
                    signer::run(&args, shutdown_signal())
                        .await
                        .context("the signer stopped")
                })?;
                Ok(ExitCode::SUCCESS)
            }
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Completes on Ctrl-C or SIGTERM, so the server drains in-flight calls before stopping.
///
/// The handlers are installed when this is called, not when the future is first polled (the
/// server polls it only once it serves): a SIGTERM arriving between the `serving` line and that
/// first poll would otherwise take the default action and kill the process undrained, with no
/// stop recorded. Call it inside the runtime, first thing.
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt());
        let term = signal(SignalKind::terminate());
        async move {
            match (interrupt, term) {
                (Ok(mut interrupt), Ok(mut term)) => {
                    tokio::select! {
                        _ = interrupt.recv() => {}
                        _ = term.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async move {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// The `--log-json` line format: one JSON object per event with its fields, the current span
/// (`span`) and every enclosing span (`spans`), so the `proposal_id` and `safe_tx_hash` of a
/// Gateway call (see [`crate::call_span`]) are on every line the call emits. Public so
/// tests capture exactly this format.
pub fn json_log_layer<S, W>(writer: W) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(true)
        .with_writer(writer)
}

fn init_tracing(filter: &str, json: bool) -> anyhow::Result<()> {
    use tracing_subscriber::{layer::SubscriberExt as _, util::SubscriberInitExt as _};
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .with_context(|| format!("--log-level {filter:?} is not a log filter"))?;
    let registry = tracing_subscriber::registry().with(filter);
    if json {
        registry.with(json_log_layer(std::io::stdout)).init();
    } else {
        // Text lines show the call's span with its fields: `call{method=.. proposal_id=..
        // safe_tx_hash=..}: message`.
        registry.with(tracing_subscriber::fmt::layer()).init();
    }
    Ok(())
}
