//! The `signgate` binary: parses the command line and reports errors with what to do next.

use std::process::ExitCode;

use clap::Parser as _;
use signgate_gateway::cli::{Cli, out};

fn main() -> ExitCode {
    // The last flush is part of the command: a final line without its newline is still in the
    // buffer, and its EPIPE must be seen here rather than swallowed at exit.
    let result = Cli::parse()
        .run()
        .and_then(|code| Ok(out::Stdout::lock().flush().map(|()| code)?));
    match result {
        Ok(code) => code,
        // The reader of our output closed it (`signgate audit show … | head`): stop quietly
        // with the shell's SIGPIPE status; see `out::BROKEN_PIPE_EXIT` for why not 0.
        Err(err) if out::reader_went_away(&err) => ExitCode::from(out::BROKEN_PIPE_EXIT),
        Err(err) => {
            eprintln!("signgate: {err:#}");
            ExitCode::from(2)
        }
    }
}
