//! EVM simulation of a Safe transaction (feature `evm`).
//!
//! - [`run`]: [`simulate`] / [`simulate_with`]: `execTransaction` on the Safe proxy, exactly as
//!   the chain runs it, with approved-hash overrides when no signatures are given;
//! - [`inspector`]: the frame-level effects inspector (calls, logs, creates, self-destructs,
//!   deadline);
//! - `diff`: the journaled state and the inspector's record into a
//!   [`SimulationReport`](crate::report::SimulationReport);
//! - [`source`]: the [`StateSource`] trait every pre-state comes through;
//! - [`snapshot`]: a JSON snapshot source; [`rpc`]: a JSON-RPC fork pinned to one block;
//! - [`fixtures`]: the real Safe runtime code, embedded, for snapshots that name it.

mod diff;
pub mod fixtures;
pub mod inspector;
pub mod rpc;
pub mod run;
pub mod snapshot;
pub mod source;

pub use inspector::EffectsInspector;
pub use revm::primitives::hardfork::SpecId;
pub use rpc::{Addressing, BlockPin, RpcSource, install_crypto_provider};
pub use run::{
    MAX_LIST_LEN, SimulationError, SimulationOptions, exec_transaction_calldata, read_list,
    simulate, simulate_with,
};
pub use snapshot::{Snapshot, SnapshotAccount, SnapshotBlock, SnapshotFile};
pub use source::{BlockInfo, StateError, StateSource, account_info};
