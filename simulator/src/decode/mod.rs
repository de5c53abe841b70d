//! Calldata decoding: a [`SafeTx`](crate::SafeTx) into a typed [`Action`] tree.

mod action;

pub use action::{
    Action, ActionKind, ActionPath, AddressRole, Involvement, Permit2Call, Permit2Transfer,
    SafeConfigCall, SafeLibraryCall, TokenCall,
};
