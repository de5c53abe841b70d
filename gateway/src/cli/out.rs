//! Standard output for the commands, with its failures kept typed.
//!
//! Rust ignores SIGPIPE, so a reader that goes away (`signgate audit show … | head`) turns every
//! later write into `EPIPE`; `println!` answers that with a panic and a backtrace hint on stderr.
//! The commands write through [`Stdout`] instead: each write returns a [`StdoutError`], which
//! travels up the `anyhow` chain like any other error, and the binary's edge
//! ([`reader_went_away`]) tells a closed pipe — not a failure of ours — from everything else.

use std::{
    fmt,
    io::{self, Write as _},
};

/// The exit status after the reader of our standard output went away: 141, what a shell reports
/// for a process ended by SIGPIPE (128 + 13), as `cat`, `grep` and the rest of a pipeline do.
/// Not 0: the output was cut short, and a script running under `set -o pipefail` must be able to
/// tell a complete `signgate audit export` from a truncated one — this is an audit tool, so the
/// truncation fails closed instead of passing for success.
pub const BROKEN_PIPE_EXIT: u8 = 141;

/// Writing to standard output failed.
///
/// A type of its own (not a bare [`io::Error`]) so the binary can find it in an error chain and
/// be sure the broken pipe is stdout's, not a gRPC connection's or a file's.
#[derive(Debug, thiserror::Error)]
#[error("cannot write to standard output")]
pub struct StdoutError(#[source] pub io::Error);

impl StdoutError {
    /// Whether the reader closed its end of the pipe (EPIPE).
    #[must_use]
    pub fn is_broken_pipe(&self) -> bool {
        self.0.kind() == io::ErrorKind::BrokenPipe
    }
}

/// Standard output, locked for the lifetime of the value, whose writes return [`StdoutError`].
///
/// `write_fmt` is an inherent method, so `write!(out, …)?` and `writeln!(out, …)?` work on it
/// and hand back the typed error. Locked once per command so lines from one command are never
/// interleaved with another thread's; line-buffered like `println!`.
#[derive(Debug)]
pub struct Stdout {
    inner: io::StdoutLock<'static>,
}

impl Stdout {
    /// Locks standard output.
    #[must_use]
    pub fn lock() -> Self {
        Self {
            inner: io::stdout().lock(),
        }
    }

    /// Writes formatted text (what `write!` and `writeln!` call).
    ///
    /// # Errors
    /// [`StdoutError`] when standard output refuses the bytes (closed pipe, full disk …).
    pub fn write_fmt(&mut self, args: fmt::Arguments<'_>) -> Result<(), StdoutError> {
        self.inner.write_fmt(args).map_err(StdoutError)
    }

    /// Writes bytes as they are.
    ///
    /// # Errors
    /// [`StdoutError`] when standard output refuses the bytes.
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<(), StdoutError> {
        self.inner.write_all(bytes).map_err(StdoutError)
    }

    /// Pushes out whatever is still buffered (a last line without its newline).
    ///
    /// # Errors
    /// [`StdoutError`] when standard output refuses the bytes.
    pub fn flush(&mut self) -> Result<(), StdoutError> {
        self.inner.flush().map_err(StdoutError)
    }
}

/// Whether a command's error means only that the reader of standard output went away. The binary
/// then exits with [`BROKEN_PIPE_EXIT`] and prints nothing: the reader chose to stop reading,
/// which is no failure to explain.
#[must_use]
pub fn reader_went_away(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<StdoutError>()
            .is_some_and(StdoutError::is_broken_pipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_broken_pipe_on_stdout_counts_as_the_reader_going_away() {
        let pipe = anyhow::Error::from(StdoutError(io::ErrorKind::BrokenPipe.into()))
            .context("printing the story");
        assert!(reader_went_away(&pipe));

        let full = anyhow::Error::from(StdoutError(io::ErrorKind::StorageFull.into()));
        assert!(!reader_went_away(&full));

        // A broken pipe elsewhere (a socket, a child process) is a real failure.
        let socket = anyhow::Error::from(io::Error::from(io::ErrorKind::BrokenPipe));
        assert!(!reader_went_away(&socket));
    }
}
