//! The packed `multiSend(bytes transactions)` format of MultiSend and MultiSendCallOnly (1.1.1 on).
//!
//! Each entry is `uint8 operation ‖ address to ‖ uint256 value ‖ uint256 dataLength ‖ data`, an
//! 85-byte header followed by the data, and the next entry starts right after it. The contract
//! loops while bytes remain and checks nothing else; this parser refuses everything the contract
//! would read past the end of (a partial header, a length that overruns, trailing bytes that are
//! not a whole entry) and any operation outside {0, 1}.

use alloy_primitives::{Address, U256};

use crate::{limits::MAX_BATCH_ENTRIES, tx::Operation};

/// Length of an entry header.
pub const ENTRY_HEADER_LEN: usize = 1 + 20 + 32 + 32;

/// One entry of a batch, borrowing its data from the `transactions` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchEntry<'a> {
    /// CALL or DELEGATECALL (byte 0 of the header).
    pub operation: Operation,
    /// As encoded; a 1.5.0 library reads zero as "the executing account".
    pub to: Address,
    /// Wei sent with the call.
    pub value: U256,
    /// The entry's calldata, `dataLength` bytes after the header.
    pub data: &'a [u8],
}

/// Why the `transactions` bytes are not a well-formed batch. Offsets are into those bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// Fewer than 85 bytes remain where an entry starts.
    #[error(
        "entry at byte {offset} is cut short: {remaining} bytes left where an 85-byte header is \
         needed (trailing bytes that are not a whole entry)"
    )]
    Truncated {
        /// Where the entry starts in the `transactions` bytes.
        offset: usize,
        /// Bytes left from there to the end.
        remaining: usize,
    },
    /// An entry's `dataLength` runs past the end of the `transactions` bytes.
    #[error("entry at byte {offset} claims {data_len} bytes of data but only {remaining} remain")]
    DataOverrun {
        /// Where the entry starts in the `transactions` bytes.
        offset: usize,
        /// The length the header claims.
        data_len: U256,
        /// Bytes left after the header.
        remaining: usize,
    },
    /// An entry's operation byte is neither 0 nor 1.
    #[error("entry at byte {offset} has operation {value}, neither CALL (0) nor DELEGATECALL (1)")]
    InvalidOperation {
        /// Where the entry starts in the `transactions` bytes.
        offset: usize,
        /// The operation byte found.
        value: u8,
    },
    /// The batch has more than [`MAX_BATCH_ENTRIES`] entries.
    #[error("more than {max} entries in one batch")]
    TooManyEntries {
        /// The bound.
        max: usize,
    },
}

/// Splits packed `transactions` into entries.
pub fn parse_batch(transactions: &[u8]) -> Result<Vec<BatchEntry<'_>>, BatchError> {
    let mut entries = Vec::new();
    let mut offset = 0usize;
    while let Some(rest) = transactions.get(offset..).filter(|rest| !rest.is_empty()) {
        let truncated = || BatchError::Truncated {
            offset,
            remaining: rest.len(),
        };
        let (header, body) = rest
            .split_at_checked(ENTRY_HEADER_LEN)
            .ok_or_else(truncated)?;
        let (op, header) = header.split_first().ok_or_else(truncated)?;
        let (to, header) = header.split_at_checked(20).ok_or_else(truncated)?;
        let (value, len) = header.split_at_checked(32).ok_or_else(truncated)?;
        let operation = Operation::from_u8(*op)
            .map_err(|_| BatchError::InvalidOperation { offset, value: *op })?;
        let data_len = U256::from_be_slice(len);
        let overrun = BatchError::DataOverrun {
            offset,
            data_len,
            remaining: body.len(),
        };
        let n = usize::try_from(data_len).map_err(|_| overrun.clone())?;
        let data = body.get(..n).ok_or(overrun)?;
        if entries.len() >= MAX_BATCH_ENTRIES {
            return Err(BatchError::TooManyEntries {
                max: MAX_BATCH_ENTRIES,
            });
        }
        entries.push(BatchEntry {
            operation,
            to: Address::from_slice(to),
            value: U256::from_be_slice(value),
            data,
        });
        offset = offset.saturating_add(ENTRY_HEADER_LEN).saturating_add(n);
    }
    Ok(entries)
}

/// Packs entries into the `transactions` bytes (the inverse of [`parse_batch`]); used to build
/// batches and in round-trip tests.
pub fn encode_batch<'a>(entries: impl IntoIterator<Item = BatchEntry<'a>>) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in entries {
        out.push(entry.operation.as_u8());
        out.extend_from_slice(entry.to.as_slice());
        out.extend_from_slice(&entry.value.to_be_bytes::<32>());
        out.extend_from_slice(&U256::from(entry.data.len()).to_be_bytes::<32>());
        out.extend_from_slice(entry.data);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(op: Operation, data: &[u8]) -> BatchEntry<'_> {
        BatchEntry {
            operation: op,
            to: Address::repeat_byte(7),
            value: U256::from(5),
            data,
        }
    }

    #[test]
    fn round_trips_and_refuses_malformed_bytes() {
        let encoded = encode_batch([
            entry(Operation::Call, &[1, 2, 3]),
            entry(Operation::DelegateCall, &[]),
        ]);
        let parsed = parse_batch(&encoded).unwrap();
        assert_eq!(
            parsed,
            vec![
                entry(Operation::Call, &[1, 2, 3]),
                entry(Operation::DelegateCall, &[])
            ]
        );

        let cut = encoded.get(..encoded.len() - 1).unwrap();
        assert!(matches!(
            parse_batch(cut),
            Err(BatchError::Truncated {
                offset: 88,
                remaining: 84
            })
        ));
        let cut = encoded.get(..ENTRY_HEADER_LEN + 2).unwrap();
        assert!(matches!(
            parse_batch(cut),
            Err(BatchError::DataOverrun { offset: 0, .. })
        ));

        let mut bad_op = encoded.clone();
        bad_op[0] = 2;
        assert_eq!(
            parse_batch(&bad_op),
            Err(BatchError::InvalidOperation {
                offset: 0,
                value: 2
            })
        );

        let mut huge = encoded;
        huge[53..85].copy_from_slice(&U256::MAX.to_be_bytes::<32>());
        assert!(matches!(
            parse_batch(&huge),
            Err(BatchError::DataOverrun { .. })
        ));
        assert_eq!(parse_batch(&[]), Ok(vec![]));
    }
}
