//! The `signgate` binary: parses the command line and reports errors with what to do next.

use std::process::ExitCode;

use clap::Parser as _;
use signgate_gateway::cli::Cli;

fn main() -> ExitCode {
    match Cli::parse().run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("signgate: {err:#}");
            ExitCode::from(2)
        }
    }
}
