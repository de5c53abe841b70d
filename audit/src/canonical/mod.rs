//! Canonical JSON: the one byte form of an audit record that gets hashed.
//!
//! The Merkle leaf is the hash of these bytes, so the same record must always serialise to
//! the same bytes, on any machine, in any later version of signgate that reads version 1.
//! The rules are small enough to re-implement in any language an auditor prefers:
//!
//! - objects: keys sorted by their UTF-8 bytes, no duplicates, no whitespace anywhere;
//! - numbers: integers only (`u64`/`i64`); a float is refused, amounts travel as strings;
//! - strings: `serde_json`'s escaping (`\"`, `\\`, `\b \f \n \r \t`, other control characters
//!   as `\u00XX`, everything else as literal UTF-8), so a record never contains a newline and
//!   one record fits one JSON Lines line;
//! - `null`, `true`, `false` as usual.
//!
//! Parsing is strict in the other direction: bytes that are valid JSON but not in this form
//! (spaces, reordered keys, duplicate keys, `1.0`, `\u0041`) are refused, so a record has
//! exactly one accepted encoding and a verifier never has to guess what was hashed.

mod writer;

use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

/// Largest canonical document accepted, so a hostile export cannot exhaust memory per line.
pub const MAX_CANONICAL_BYTES: usize = 4 * 1024 * 1024;

/// Why bytes are not canonical JSON, or a value cannot be made canonical.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    /// Not JSON at all (the parser's message).
    #[error("not valid JSON: {0}")]
    Syntax(String),
    #[error(
        "JSON is valid but not in canonical form (key order, whitespace, escapes or duplicates)"
    )]
    /// Valid JSON, but not the one accepted byte form of its value.
    NotCanonical,
    /// A number that is not an integer: floats have no single decimal form.
    #[error("floating-point numbers are not allowed in audit records")]
    Float,
    /// Longer than [`MAX_CANONICAL_BYTES`].
    #[error("document of {size} bytes exceeds the limit of {max}")]
    TooLarge {
        /// The document's length.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Canonical JSON that is not the expected type (or a type that cannot be made JSON).
    #[error("does not match the record schema: {0}")]
    Schema(String),
}

/// The canonical bytes of any serialisable value: those of the JSON value `serde_json` would
/// make of it ([`value_to_canonical`]), written without making that value.
pub fn to_canonical<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::with_capacity(512);
    writer::write(value, &mut out)?;
    Ok(out)
}

/// The canonical bytes of a JSON value, by walking it: the reference [`to_canonical`] is held
/// to, and how bytes are checked to be canonical when parsed.
pub fn value_to_canonical(v: &Value) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::with_capacity(256);
    write_value(v, &mut out)?;
    Ok(out)
}

fn write_value(v: &Value, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                out.extend_from_slice(itoa::Buffer::new().format(u).as_bytes());
            } else if let Some(i) = n.as_i64() {
                out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
            } else {
                return Err(CanonicalError::Float);
            }
        }
        Value::String(s) => write_string(s, out)?,
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (k, val)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(k, out)?;
                out.push(b':');
                write_value(val, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_string(s: &str, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    // serde_json's string escaping is fixed and documented; reuse it rather than restate it.
    serde_json::to_writer(&mut *out, s).map_err(|e| CanonicalError::Schema(e.to_string()))
}

/// Parses bytes that must already be canonical JSON into a value.
pub(crate) fn parse_canonical_value(bytes: &[u8]) -> Result<Value, CanonicalError> {
    if bytes.len() > MAX_CANONICAL_BYTES {
        return Err(CanonicalError::TooLarge {
            size: bytes.len(),
            max: MAX_CANONICAL_BYTES,
        });
    }
    let v: Value =
        serde_json::from_slice(bytes).map_err(|e| CanonicalError::Syntax(e.to_string()))?;
    if value_to_canonical(&v)? != bytes {
        return Err(CanonicalError::NotCanonical);
    }
    Ok(v)
}

/// Parses canonical bytes into `T` and insists that `T` writes back the same bytes, so no
/// two different byte strings can stand for one typed record (e.g. upper- and lower-case hex).
pub(crate) fn parse_canonical<T: Serialize + DeserializeOwned>(
    bytes: &[u8],
) -> Result<T, CanonicalError> {
    let v = parse_canonical_value(bytes)?;
    let typed: T = serde_json::from_value(v).map_err(|e| CanonicalError::Schema(e.to_string()))?;
    if to_canonical(&typed)? != bytes {
        return Err(CanonicalError::NotCanonical);
    }
    Ok(typed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_sorted_and_whitespace_is_gone() {
        let v = json!({"b": 1, "a": [true, null, "x\ny"], "A": -3});
        let bytes = value_to_canonical(&v).unwrap();
        assert_eq!(bytes, br#"{"A":-3,"a":[true,null,"x\ny"],"b":1}"#.to_vec());
        assert_eq!(parse_canonical_value(&bytes).unwrap(), v);
    }

    #[test]
    fn non_canonical_forms_are_refused() {
        for bad in [
            &br#"{"b":1,"a":2}"#[..],
            br#"{"a": 2}"#,
            br#"{"a":2,"a":2}"#,
            br#"{"a":"\u0041"}"#,
            br#"{"a":1.0}"#,
            b" {}",
        ] {
            assert!(
                parse_canonical_value(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn floats_are_refused() {
        assert_eq!(
            value_to_canonical(&json!({"x": 0.5})),
            Err(CanonicalError::Float)
        );
    }
}
