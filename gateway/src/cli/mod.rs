//! The `signgate` command line: one clap tree, each subcommand in a module of its own.

pub mod inspect;
pub mod policy;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// signgate: the policy gateway in front of Safe multisig signers.
#[derive(Debug, Parser)]
#[command(name = "signgate", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
#[expect(
    clippy::large_enum_variant,
    reason = "parsed once per process; boxing would only obscure the clap tree"
)]
pub enum Command {
    /// Recompute the hashes of a Safe transaction, decode what it asks for in plain words,
    /// recover its signatures and list its warnings — trusting no UI and no service.
    Inspect(inspect::InspectArgs),
    /// Validate, dry-run and sign policy files.
    Policy(policy::PolicyArgs),
}

impl Cli {
    /// Runs the chosen subcommand.
    pub fn run(self) -> anyhow::Result<ExitCode> {
        match self.command {
            Command::Inspect(args) => inspect::run(&args),
            Command::Policy(args) => policy::run(args),
        }
    }
}
