//! A proposal's body as the embedded store keeps it: its JSON compressed with LZ4.
//!
//! The body is mostly the recorded simulation (about 6 kB of JSON for a token transfer, 2.3 kB
//! compressed). Uncompressed it spilled onto two overflow pages of its own, so each submission
//! wrote three 4 KiB pages for it into the WAL, then again into the database file at the next
//! checkpoint; compressed, the row fits one page. PostgreSQL compresses large values itself
//! (TOAST), so only this store does it.
//!
//! The column holds text (plain JSON: every row written before, and still readable) or a blob:
//! a format byte, the JSON's length (u32, little-endian) and one LZ4 block. The length is
//! checked against [`MAX_BODY_BYTES`] before anything is allocated, and the block must
//! decompress to exactly that many bytes of UTF-8: a corrupt or hostile value written into the
//! data directory is [`StoreError::Corrupt`], never a panic or an allocation it chose.

use rusqlite::types::ValueRef;

use crate::store::StoreError;

/// The one compressed format: an LZ4 block after the length.
const LZ4_BLOCK: u8 = 1;

/// Largest body a stored value may claim (a MultiSend's recorded simulation is far smaller).
pub const MAX_BODY_BYTES: usize = 64 << 20;

/// The stored form of a body's JSON.
pub(super) fn encode(json: &str) -> Result<Vec<u8>, StoreError> {
    let len = u32::try_from(json.len())
        .ok()
        .filter(|&n| n as usize <= MAX_BODY_BYTES)
        .ok_or_else(|| {
            StoreError::Corrupt(format!(
                "proposal body of {} bytes exceeds the limit of {MAX_BODY_BYTES}",
                json.len()
            ))
        })?;
    let block = lz4_flex::block::compress(json.as_bytes());
    let mut out = Vec::with_capacity(5 + block.len());
    out.push(LZ4_BLOCK);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&block);
    Ok(out)
}

/// The JSON of a stored body: text as it is, a blob decompressed; `None` for SQL `NULL`.
pub(super) fn decode(stored: ValueRef<'_>) -> Result<Option<String>, StoreError> {
    match stored {
        ValueRef::Null => Ok(None),
        ValueRef::Text(text) => std::str::from_utf8(text)
            .map(|s| Some(s.to_owned()))
            .map_err(|_| corrupt("is text but not UTF-8")),
        ValueRef::Blob(blob) => decompress(blob).map(Some),
        ValueRef::Integer(_) | ValueRef::Real(_) => Err(corrupt("is a number")),
    }
}

/// A compressed body's JSON.
pub fn decompress(blob: &[u8]) -> Result<String, StoreError> {
    let (&format, rest) = blob
        .split_first()
        .ok_or_else(|| corrupt("is an empty blob"))?;
    if format != LZ4_BLOCK {
        return Err(corrupt(&format!("has unknown format {format}")));
    }
    let (len, block) = rest
        .split_first_chunk::<4>()
        .ok_or_else(|| corrupt("ends before its length"))?;
    let len = u32::from_le_bytes(*len) as usize;
    if len > MAX_BODY_BYTES {
        return Err(corrupt(&format!(
            "claims {len} bytes, over the limit of {MAX_BODY_BYTES}"
        )));
    }
    let json = lz4_flex::block::decompress(block, len)
        .map_err(|e| corrupt(&format!("does not decompress: {e}")))?;
    if json.len() != len {
        return Err(corrupt(&format!(
            "decompresses to {} bytes, not the {len} it claims",
            json.len()
        )));
    }
    String::from_utf8(json).map_err(|_| corrupt("decompresses to bytes that are not UTF-8"))
}

fn corrupt(why: &str) -> StoreError {
    StoreError::Corrupt(format!("proposal body {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_comes_back_as_it_went_in_and_smaller() {
        let json = format!(
            r#"{{"calls":[{}]}}"#,
            vec![r#"{"caller":"0x5afe5afe5afe5afe5afe5afe5afe5afe5afe5afe","success":true}"#; 60]
                .join(",")
        );
        let stored = encode(&json).unwrap();
        assert!(
            stored.len() < json.len() / 4,
            "{} of {}",
            stored.len(),
            json.len()
        );
        assert_eq!(
            decode(ValueRef::Blob(&stored)).unwrap().as_deref(),
            Some(&*json)
        );
        // Rows written before compression are text, read as they are.
        assert_eq!(decode(ValueRef::Text(json.as_bytes())).unwrap(), Some(json));
        assert_eq!(decode(ValueRef::Null).unwrap(), None);
    }

    #[test]
    fn a_corrupt_or_hostile_value_is_corrupt() {
        let good =
            encode(r#"{"a":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}"#).unwrap();
        let mut wrong_format = good.clone();
        wrong_format[0] = 2;
        let mut huge = good.clone();
        huge[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut short_claim = good.clone();
        short_claim[1..5].copy_from_slice(&3u32.to_le_bytes());
        let mut long_claim = good.clone();
        long_claim[1..5].copy_from_slice(&1000u32.to_le_bytes());
        let truncated = &good[..good.len() - 3];
        let not_utf8 = {
            let mut v = vec![LZ4_BLOCK];
            v.extend_from_slice(&2u32.to_le_bytes());
            v.extend_from_slice(&lz4_flex::block::compress(&[0xff, 0xfe]));
            v
        };
        for bad in [
            &[][..],
            &[LZ4_BLOCK, 1, 0][..],
            &wrong_format,
            &huge,
            &short_claim,
            &long_claim,
            truncated,
            &not_utf8,
        ] {
            assert!(
                matches!(decode(ValueRef::Blob(bad)), Err(StoreError::Corrupt(_))),
                "{bad:?}"
            );
        }
        assert!(decode(ValueRef::Text(&[0xff])).is_err());
        assert!(decode(ValueRef::Integer(1)).is_err());
    }
}
