//! `signgate-audit`: verify an exported audit log and read it in plain words, without the gateway.
//!
//! For auditors: `cargo install --path audit` builds this from the audit crate alone. It
//! reads the same files as `signgate audit verify` (the JSON Lines export, the checkpoint notes
//! and `<data_dir>/audit.key.pub`) and prints the same verdict.
//!
//! `show` verifies first and refuses to tell anything from an export that does not verify: a
//! story read from an edited log is worse than none. Exit status: 0 pass, 1 the export does
//! not verify (or names no such proposal), 2 the inputs could not be read or the arguments
//! are wrong.

use std::{path::PathBuf, process::ExitCode};

use clap::{Args, Parser, Subcommand};
use signgate_audit::{
    export::{UnreadableLine, records_from_export},
    files::{FileError, read_export, read_notes, read_public_key},
    story::{events, story},
    verify::{Verification, verify_export_by_any},
};
use signgate_policy::Policy;

/// Verify a signgate audit export offline.
#[derive(Debug, Parser)]
#[command(name = "signgate-audit", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Verify an exported log: every hash, every checkpoint signature, consistency between
    /// checkpoints. Exit status 0 means pass, 1 means fail.
    Verify(Inputs),
    /// Verify, then tell the full story of one proposal in plain words; without a proposal id,
    /// list the gateway's own events (starts, stops, policies, operators, sanctions lists).
    Show {
        /// The proposal id.
        proposal: Option<String>,
        #[command(flatten)]
        inputs: Inputs,
    },
}

/// What an auditor holds.
#[derive(Debug, Args)]
struct Inputs {
    /// The exported log (JSON Lines, from `signgate audit export`).
    #[arg(long)]
    log: PathBuf,
    /// Checkpoint notes: files, or directories whose `*.note` files are read. Repeatable.
    #[arg(long = "checkpoints", required = true)]
    checkpoints: Vec<PathBuf>,
    /// The gateway's audit public key (64 hex digits: `<data_dir>/audit.key.pub`). Repeat it
    /// for a log several replicas share: a checkpoint signed by any of them counts.
    #[arg(long, required = true)]
    public_key: Vec<PathBuf>,
    /// The genesis policy: the policy file the gateway was first started with
    /// (`pipeline.policy`). With it the chain of applied policies is checked from its first
    /// link; without it, from the first recorded policy on.
    #[arg(long, value_name = "FILE")]
    genesis: Option<PathBuf>,
}

/// Why the tool could not give a verdict or a story.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("the export verified but cannot be read at {0}")]
    Unreadable(#[from] UnreadableLine),
    #[error("no record mentions proposal {0}")]
    NoSuchProposal(String),
    #[error("cannot read the genesis policy {0}: {1}")]
    Genesis(PathBuf, String),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(code) => code,
        Err(CliError::NoSuchProposal(p)) => {
            eprintln!("error: no record mentions proposal {p}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn verified(inputs: &Inputs) -> Result<(Vec<u8>, Verification), CliError> {
    let log = read_export(&inputs.log)?;
    let keys = inputs
        .public_key
        .iter()
        .map(|p| read_public_key(p))
        .collect::<Result<Vec<_>, _>>()?;
    let notes = read_notes(&inputs.checkpoints)?;
    let genesis = inputs
        .genesis
        .as_ref()
        .map(|path| {
            std::fs::read_to_string(path)
                .map_err(|e| e.to_string())
                .and_then(|text| Policy::compile(&text).map_err(|e| e.to_string()))
                .map_err(|e| CliError::Genesis(path.clone(), e))
        })
        .transpose()?;
    let verification = verify_export_by_any(&log, &notes, &keys, genesis.as_ref());
    Ok((log, verification))
}

fn run(command: Command) -> Result<ExitCode, CliError> {
    match command {
        Command::Verify(inputs) => {
            let (_, v) = verified(&inputs)?;
            print!("{}", v.report(unix_now()));
            Ok(if v.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Show { proposal, inputs } => {
            let (log, v) = verified(&inputs)?;
            // The verdict goes to stderr, so stdout is only the story.
            eprint!("{}", v.report(unix_now()));
            if !v.passed() {
                eprintln!("refusing to show records from an export that does not verify");
                return Ok(ExitCode::FAILURE);
            }
            let records = records_from_export(&log)?;
            match proposal {
                None => print!("{}", events(&records)),
                Some(p) => print!(
                    "{}",
                    story(&records, &p).ok_or(CliError::NoSuchProposal(p))?
                ),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Now, in Unix seconds, for dating the newest checkpoint in the report. A clock before 1970
/// reads as 0, which makes every checkpoint look as new as it can: the report then says it lies
/// in the future rather than hiding it.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
