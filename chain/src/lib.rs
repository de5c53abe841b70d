//! Live chain state for decisions: every configured chain read through JSON-RPC, never trusted
//! to one provider, pinned to one block per decision, fail closed.
//!
//! - [`settings`]: a chain as the configuration describes it (endpoints, which block, bounds);
//! - [`rpc`]: one endpoint: batched JSON-RPC over HTTP with a timeout and a size limit;
//! - [`chain`]: a chain's head, its endpoints' health and the pin decisions share;
//! - [`pin`]: one block of one chain, its read cache, and the rounds a simulation runs in
//!   (speculate, fetch every missing read in one batch, run again) so that a cold simulation
//!   costs few sequential round trips;
//! - [`safe`]: the Safe's own state read from every endpoint and compared;
//! - [`provider`]: the seam the gateway decides through: live chains or a snapshot.
//!
//! Why several providers: an RPC provider is a vendor. A compromised or wrong provider can show
//! a Safe with other owners, another singleton or another nonce, and a decision taken on that
//! state approves something else than what executes. Bybit's signers trusted one vendor's
//! screen; signgate reads the pinned block hash and the Safe's own state from every configured
//! endpoint and refuses to decide when they disagree.

#![warn(missing_docs, unreachable_pub)]

pub mod chain;
pub mod error;
pub mod pin;
pub mod provider;
pub mod rpc;
pub mod safe;
pub mod settings;

pub use chain::{Chain, ChainHealth, Chains, EndpointHealth, EndpointState};
pub use error::{Answer, ChainError, EndpointError};
pub use pin::{Budget, Pin, PinView};
pub use provider::{FixedPin, LivePin, PinnedState, SnapshotProvider, StateProvider};
pub use safe::SafeFacts;
pub use settings::{Addressing, BlockChoice, ChainSettings, EndpointUrl, EndpointUrlError};
