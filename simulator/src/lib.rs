//! The one model of a Safe transaction in signgate.
//!
//! Everything here is pure except the `evm` feature's simulation:
//! - [`version`]: supported Safe versions and their per-version rules;
//! - [`tx`]: the ten-field [`SafeTx`] and its [`Operation`];
//! - [`constants`]: typehashes and storage slots, computed from their preimages;
//! - [`abi`]: the single `sol!` source for every contract signgate reads or calls;
//! - [`hash`]: the EIP-712 domain, struct hash and safeTxHash per version;
//! - [`deployments`]: canonical Safe deployments by address and code hash;
//! - [`decode`]: calldata into a typed action tree with every involved address and its role;
//! - [`signature`]: signature blobs split, recovered and checked exactly as `checkNSignatures`;
//! - [`warnings`]: statically detected risks (untrusted or nested delegatecalls, config changes);
//! - [`limits`]: the bounds every decoder enforces;
//! - [`tx_service`]: Safe Transaction Service JSON import, its hints checked, never trusted;
//! - `evm` (feature `evm`): revm execution of `execTransaction`, the effects inspector and the
//!   state sources (snapshot, JSON-RPC fork);
//! - [`render`]: the words an approver reads — amounts in units people count, Safe changes
//!   named — shared by the CLI and the API;
//! - [`report`]: the EVM-independent [`SimulationReport`](report::SimulationReport) of what a
//!   simulated transaction really changes.

#![warn(missing_docs)]
#![warn(unreachable_pub)]

pub mod abi;
pub mod constants;
pub mod decode;
pub mod deployments;
#[cfg(feature = "evm")]
pub mod evm;
pub mod hash;
pub mod limits;
pub mod render;
pub mod report;
pub mod signature;
pub mod tx;
pub mod tx_service;
pub mod version;
pub mod warnings;

pub use decode::{DecodeError, DecodedTransaction, decode_transaction};
pub use hash::{SafeContext, SafeTxHashes, safe_tx_hash, safe_tx_hashes};
pub use signature::{
    SignatureCheck, SignatureCheckReport, check_n_signatures, check_signatures, pack_signatures,
};
pub use tx::{Operation, SafeTx};
pub use version::SafeVersion;
