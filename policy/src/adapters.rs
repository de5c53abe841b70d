//! One-way conversions from the simulator's types into [`crate::evidence`] facts.
//!
//! Kept thin on purpose: each adapter only selects and renames, so a reviewer can check it
//! against the source type at a glance, and `policy` never depends on how the simulator
//! computes anything.

use alloy_primitives::Address;
use signgate_simulator::decode::{Action, ActionKind, ActionPath, SafeConfigCall, TokenCall};

use crate::evidence::{ActionFact, ActionFactKind, SafeChangeKind};

/// Flattens a decoded action tree (root first, batch entries depth-first) into facts.
/// `safe` is needed to tell a `transferFrom` out of the Safe (a transfer) from any other.
pub fn action_facts(root: &Action, safe: Address) -> Vec<ActionFact> {
    let mut out = Vec::new();
    push_action(root, ActionPath::default(), safe, &mut out);
    out
}

fn push_action(a: &Action, path: ActionPath, safe: Address, out: &mut Vec<ActionFact>) {
    let kind = match &a.kind {
        ActionKind::NativeTransfer => ActionFactKind::NativeTransfer,
        ActionKind::SafeConfig { call } => ActionFactKind::SafeConfig { change: config_kind(call) },
        ActionKind::UnknownSelfCall { .. } => ActionFactKind::SafeConfig { change: SafeChangeKind::Other },
        ActionKind::Batch { .. } => ActionFactKind::Batch,
        ActionKind::Token { call: TokenCall::Transfer { recipient, amount } } => {
            ActionFactKind::TokenTransfer { recipient: *recipient, amount: *amount }
        }
        ActionKind::Token { call: TokenCall::TransferFrom { from, recipient, amount_or_token_id } }
            if *from == safe =>
        {
            ActionFactKind::TokenTransfer { recipient: *recipient, amount: *amount_or_token_id }
        }
        ActionKind::SafeLibrary { .. } => ActionFactKind::SafeLibrary,
        ActionKind::Token { .. } | ActionKind::Permit2 { .. } | ActionKind::Unknown { .. } => {
            ActionFactKind::ContractCall
        }
    };
    out.push(ActionFact { path: path.clone(), operation: a.operation, to: a.to, value: a.value, kind });
    if let ActionKind::Batch { actions, .. } = &a.kind {
        for (i, child) in actions.iter().enumerate() {
            push_action(child, path.child(i), safe, out);
        }
    }
}

/// Which part of the Safe's configuration a self-call changes.
pub const fn config_kind(call: &SafeConfigCall) -> SafeChangeKind {
    match call {
        SafeConfigCall::AddOwnerWithThreshold { .. }
        | SafeConfigCall::RemoveOwner { .. }
        | SafeConfigCall::SwapOwner { .. } => SafeChangeKind::Owners,
        SafeConfigCall::ChangeThreshold { .. } => SafeChangeKind::Threshold,
        SafeConfigCall::EnableModule { .. } | SafeConfigCall::DisableModule { .. } => SafeChangeKind::Modules,
        SafeConfigCall::SetGuard { .. } => SafeChangeKind::Guard,
        SafeConfigCall::SetModuleGuard { .. } => SafeChangeKind::ModuleGuard,
        SafeConfigCall::SetFallbackHandler { .. } => SafeChangeKind::FallbackHandler,
        SafeConfigCall::ChangeMasterCopy { .. } => SafeChangeKind::Singleton,
        SafeConfigCall::ApproveHash { .. } => SafeChangeKind::ApprovedHash,
    }
}
