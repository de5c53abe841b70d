//! Bounded, hashing input for the parsers.
//!
//! Parsers read through [`Metered`], which counts bytes against [`ParseLimits::max_bytes`] and
//! feeds every byte into a SHA-256, so the digest a snapshot carries is the digest of exactly
//! what was parsed (and what a published checksum is compared with).

use std::io::{self, BufRead, Read};

use sha2::{Digest, Sha256};

use super::{ListParseError, Sha256Digest};

/// Bounds on what a parser accepts. The defaults leave room for a list several times the size
/// of OFAC's 121 MB advanced XML while keeping a hostile or corrupt file from exhausting memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseLimits {
    /// Total input bytes.
    pub max_bytes: u64,
    /// Bytes of one XML event or text node, one CSV record, one plain-list line.
    pub max_record_bytes: usize,
    /// EVM plus non-EVM address records.
    pub max_addresses: usize,
    /// XML element nesting.
    pub max_depth: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        Self {
            max_bytes: 1 << 30,
            max_record_bytes: 1 << 20,
            max_addresses: 8_000_000,
            max_depth: 64,
        }
    }
}

/// Reads from `inner`, hashing and counting; refuses to read past the byte limit.
pub(crate) struct Metered<R> {
    inner: R,
    hasher: Sha256,
    read: u64,
    limit: u64,
    exceeded: bool,
}

impl<R: Read> Metered<R> {
    pub(crate) fn new(inner: R, limit: u64) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            read: 0,
            limit,
            exceeded: false,
        }
    }

    /// Bytes read so far.
    pub(crate) fn position(&self) -> u64 {
        self.read
    }

    /// Reads the rest of the input (so the digest covers all of it) and returns the digest.
    pub(crate) fn finish(mut self) -> Result<Sha256Digest, ListParseError> {
        let mut sink = [0u8; 8192];
        loop {
            match self.read(&mut sink) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => return Err(self.map_error(e)),
            }
        }
        Ok(Sha256Digest(self.hasher.finalize().into()))
    }

    /// Turns a read error into a typed one, recognising our own limit.
    pub(crate) fn map_error(&self, error: io::Error) -> ListParseError {
        if self.exceeded {
            ListParseError::TooLarge { limit: self.limit }
        } else {
            ListParseError::Read(error)
        }
    }
}

impl<R: Read> Read for Metered<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let bytes = buf.get(..n).unwrap_or_default();
        self.read = self.read.saturating_add(n as u64);
        if self.read > self.limit {
            self.exceeded = true;
            return Err(io::Error::other("list exceeds the size limit"));
        }
        self.hasher.update(bytes);
        Ok(n)
    }
}

/// A buffered [`Metered`] reader; parsers take this.
pub(crate) struct Input<R> {
    pub reader: io::BufReader<Metered<R>>,
}

impl<R: Read> Input<R> {
    pub(crate) fn new(inner: R, limits: &ParseLimits) -> Self {
        Self {
            reader: io::BufReader::with_capacity(64 * 1024, Metered::new(inner, limits.max_bytes)),
        }
    }

    /// Bytes consumed from the underlying reader (a little ahead of the parse position).
    pub(crate) fn position(&self) -> u64 {
        self.reader.get_ref().position()
    }

    pub(crate) fn map_error(&self, error: io::Error) -> ListParseError {
        self.reader.get_ref().map_error(error)
    }

    /// Drains the input and returns the digest of all of it.
    pub(crate) fn finish(self) -> Result<Sha256Digest, ListParseError> {
        // Bytes still in the buffer were hashed when `Metered` read them.
        self.reader.into_inner().finish()
    }
}

/// Exposes the buffered reader for parsers built on `BufRead` (quick-xml).
impl<R: Read> Read for Input<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }
}

impl<R: Read> BufRead for Input<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.reader.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.reader.consume(amount);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_covers_unread_tail() {
        let data = b"line one\nline two\n";
        let mut input = Input::new(&data[..], &ParseLimits::default());
        let mut first = [0u8; 4];
        input.read_exact(&mut first).unwrap();
        let digest = input.finish().unwrap();
        assert_eq!(digest.0, <[u8; 32]>::from(Sha256::digest(data)));
    }

    #[test]
    fn size_limit_is_typed() {
        let data = [b'a'; 100];
        let limits = ParseLimits {
            max_bytes: 10,
            ..ParseLimits::default()
        };
        let input = Input::new(&data[..], &limits);
        assert!(matches!(
            input.finish(),
            Err(ListParseError::TooLarge { limit: 10 })
        ));
    }
}
