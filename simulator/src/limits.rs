//! Bounds on what the decoder accepts.
//!
//! A signer gateway decodes attacker-supplied bytes; every size it walks is capped here so that a
//! hostile payload costs bounded time and memory and is refused with a typed error instead of a
//! panic or an allocation spike. The values are generous for real custody traffic: the largest
//! Safe transactions seen in practice (contract deployments through CreateCall, large payroll
//! batches) stay well inside them.

/// Largest `data` of a Safe transaction the decoder reads, in bytes (128 KiB).
///
/// Matches the transaction size the common execution clients accept into their mempools; an
/// `execTransaction` carrying more calldata than this could not be broadcast normally anyway.
pub const MAX_CALLDATA_BYTES: usize = 128 * 1024;

/// Deepest nesting of `multiSend` batches inside each other. The root transaction is depth 0,
/// the entries of a top-level batch are depth 1.
///
/// Legitimate tools never nest batches; depth beyond a couple of levels only serves to hide calls.
pub const MAX_BATCH_DEPTH: usize = 4;

/// Most entries one `multiSend` batch may hold.
pub const MAX_BATCH_ENTRIES: usize = 512;

/// Most actions (all nodes of the tree, the root included) one transaction may decode into.
///
/// Kept below what [`MAX_CALLDATA_BYTES`] could carry (an empty entry costs 85 bytes, so about
/// 1,500 entries fit) so that the bound is reachable and tested, not decorative.
pub const MAX_TOTAL_ACTIONS: usize = 1024;

/// Most 65-byte signature parts a blob is read for: no Safe has more owners than this in practice,
/// and `checkNSignatures` only reads the first `threshold` parts.
pub const MAX_SIGNATURES: usize = 256;
