//! A small, bounded CSV record reader for OFAC's delimited files and plain lists.
//!
//! OFAC's `.csv` files are RFC 4180-like: comma-separated, `"` quotes a field and `""` escapes a
//! quote, CRLF ends a record, and the file ends with a lone 0x1A (Ctrl-Z) byte. A general CSV
//! crate would not know that marker and does not bound a record's size; this reader does both
//! and reports line numbers for errors.

use std::io::{self, BufRead, Read};

use super::{ListParseError, input::Input};

/// OFAC's end-of-file marker.
const END_MARKER: u8 = 0x1A;

/// Reads records one at a time.
pub(crate) struct CsvReader<R> {
    input: Input<R>,
    max_record: usize,
    line: u64,
    ended: bool,
}

/// One record: its fields and the line it started on.
#[derive(Debug, Default)]
pub(crate) struct Record {
    pub fields: Vec<String>,
    pub line: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    FieldStart,
    Unquoted,
    Quoted,
    QuoteInQuoted,
}

impl<R: Read> CsvReader<R> {
    pub(crate) fn new(input: Input<R>, max_record: usize) -> Self {
        Self {
            input,
            max_record,
            line: 1,
            ended: false,
        }
    }

    /// Hands back the input (to finish its digest).
    pub(crate) fn into_input(self) -> Input<R> {
        self.input
    }

    /// The next record, or `None` at the end of input or at the 0x1A marker. Blank lines are
    /// skipped. Anything but whitespace after the marker is an error.
    pub(crate) fn next_record(&mut self) -> Result<Option<Record>, ListParseError> {
        if self.ended {
            return Ok(None);
        }
        let mut record = Record {
            fields: Vec::new(),
            line: self.line,
        };
        let mut field: Vec<u8> = Vec::new();
        let mut state = State::FieldStart;
        let mut size = 0usize;
        let mut at_record_start = true;
        loop {
            let byte = match self.next_byte()? {
                Some(b) => b,
                None => {
                    if state == State::Quoted {
                        return Err(ListParseError::UnterminatedQuote { line: record.line });
                    }
                    if at_record_start {
                        return Ok(None);
                    }
                    self.push_field(&mut record, &mut field)?;
                    return Ok(Some(record));
                }
            };
            size = size.saturating_add(1);
            if size > self.max_record {
                return Err(ListParseError::RecordTooLarge {
                    limit: self.max_record,
                    offset: self.input.position(),
                });
            }
            if at_record_start && byte == END_MARKER {
                self.expect_only_whitespace()?;
                self.ended = true;
                return Ok(None);
            }
            match (state, byte) {
                (State::Quoted, b'"') => state = State::QuoteInQuoted,
                (State::Quoted, b) => {
                    if b == b'\n' {
                        self.line += 1;
                    }
                    field.push(b);
                }
                (State::QuoteInQuoted, b'"') => {
                    field.push(b'"');
                    state = State::Quoted;
                }
                (State::FieldStart, b'"') => state = State::Quoted,
                (_, b',') => {
                    self.push_field(&mut record, &mut field)?;
                    state = State::FieldStart;
                }
                // CR counts only as part of a CRLF line end; a stray CR is field content, so
                // `0\rx…` can never turn into the address `0x…`.
                (_, b'\r') if self.peek_byte()? == Some(b'\n') => continue,
                (_, b'\n') => {
                    self.line += 1;
                    if at_record_start {
                        size = 0;
                        record.line = self.line;
                        continue;
                    }
                    self.push_field(&mut record, &mut field)?;
                    return Ok(Some(record));
                }
                // Text after a closing quote (`"a"b`) is kept, as OFAC files never do this and
                // refusing it would gain nothing.
                (_, b) => {
                    field.push(b);
                    state = State::Unquoted;
                }
            }
            at_record_start = false;
        }
    }

    fn push_field(&self, record: &mut Record, field: &mut Vec<u8>) -> Result<(), ListParseError> {
        let text = String::from_utf8(std::mem::take(field))
            .map_err(|_| ListParseError::NotUtf8 { line: record.line })?;
        record.fields.push(text);
        Ok(())
    }

    fn next_byte(&mut self) -> Result<Option<u8>, ListParseError> {
        loop {
            match self.input.fill_buf() {
                Ok([]) => return Ok(None),
                Ok([first, ..]) => {
                    let b = *first;
                    self.input.consume(1);
                    return Ok(Some(b));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.input.map_error(e)),
            }
        }
    }

    fn peek_byte(&mut self) -> Result<Option<u8>, ListParseError> {
        loop {
            match self.input.fill_buf() {
                Ok(buf) => return Ok(buf.first().copied()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.input.map_error(e)),
            }
        }
    }

    fn expect_only_whitespace(&mut self) -> Result<(), ListParseError> {
        while let Some(b) = self.next_byte()? {
            if !b.is_ascii_whitespace() && b != END_MARKER {
                return Err(ListParseError::DataAfterEndMarker { line: self.line });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sanctions::ParseLimits;

    fn records(data: &[u8]) -> Result<Vec<Vec<String>>, ListParseError> {
        let mut reader = CsvReader::new(Input::new(data, &ParseLimits::default()), 1000);
        let mut out = Vec::new();
        while let Some(r) = reader.next_record()? {
            out.push(r.fields);
        }
        Ok(out)
    }

    #[test]
    fn quotes_escapes_crlf_and_end_marker() {
        let got = records(b"1,\"a, \"\"b\"\"\",-0- \r\n\r\n2,\"x\ny\",z\r\n\x1a").unwrap();
        assert_eq!(
            got,
            vec![vec!["1", "a, \"b\"", "-0- "], vec!["2", "x\ny", "z"]]
        );
    }

    #[test]
    fn a_stray_cr_is_content_not_a_line_end() {
        // Found by the plain_list fuzz target: `0\rx…` must not read as `0x…`.
        assert_eq!(records(b"0\rx1\r\n").unwrap(), vec![vec!["0\rx1"]]);
    }

    #[test]
    fn last_record_without_newline() {
        assert_eq!(records(b"a,b").unwrap(), vec![vec!["a", "b"]]);
    }

    #[test]
    fn errors_are_typed() {
        assert!(matches!(
            records(b"1,\"open\n"),
            Err(ListParseError::UnterminatedQuote { line: 1 })
        ));
        assert!(matches!(
            records(b"1,a\n\x1a2,b\n"),
            Err(ListParseError::DataAfterEndMarker { .. })
        ));
        assert!(matches!(
            records(b"1,\xff\n"),
            Err(ListParseError::NotUtf8 { line: 1 })
        ));
        assert!(matches!(
            records(&[b'a'; 2000]),
            Err(ListParseError::RecordTooLarge { .. })
        ));
    }
}
