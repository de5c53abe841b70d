//! Calldata decoding: a [`SafeTx`](crate::SafeTx) into a typed [`Action`] tree.
//!
//! - `action`: the tree's types;
//! - `calls`: leaf calls (Safe self-calls, tokens, Permit2, Safe libraries) via `crate::abi`;
//! - `batch`: the packed MultiSend format;
//! - `transaction`: [`decode_transaction`], the bounds and [`DecodeError`];
//! - `involve`: every address with its role ([`DecodedTransaction::involvements`]);
//! - `render`: the tree in plain words.

mod action;
mod batch;
mod calls;
mod involve;
mod render;
mod transaction;

pub use action::{
    Action, ActionKind, ActionPath, AddressRole, Involvement, NestedSafeTx, Permit2Call,
    Permit2Transfer, SafeConfigCall, SafeLibraryCall, TokenCall,
};
pub use batch::{BatchEntry, BatchError, ENTRY_HEADER_LEN, encode_batch, parse_batch};
#[cfg(feature = "evm")]
pub(crate) use calls::{NestedSafeCall, external_call, nested_safe_call};
pub use calls::{known_function, selector};
pub use render::format_eth;
pub use transaction::{DecodeError, DecodedTransaction, decode_calldata, decode_transaction};
