//! Every address an action tree involves, with its role and where it sits.
//!
//! Screening (sanctions, allowlists) walks this list, so it must be complete: each call target,
//! each address argument of every decoded call, and the refund settings of the transaction.

use alloy_primitives::Address;

use super::{
    action::{
        Action, ActionKind, ActionPath, AddressRole, Involvement, Permit2Call, SafeConfigCall,
        SafeLibraryCall, TokenCall,
    },
    transaction::DecodedTransaction,
};
use crate::tx::Operation;

impl SafeConfigCall {
    /// The Solidity function name.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::AddOwnerWithThreshold { .. } => "addOwnerWithThreshold",
            Self::RemoveOwner { .. } => "removeOwner",
            Self::SwapOwner { .. } => "swapOwner",
            Self::ChangeThreshold { .. } => "changeThreshold",
            Self::EnableModule { .. } => "enableModule",
            Self::DisableModule { .. } => "disableModule",
            Self::SetGuard { .. } => "setGuard",
            Self::SetModuleGuard { .. } => "setModuleGuard",
            Self::SetFallbackHandler { .. } => "setFallbackHandler",
            Self::ChangeMasterCopy { .. } => "changeMasterCopy",
            Self::ApproveHash { .. } => "approveHash",
        }
    }

    fn addresses(&self) -> Vec<(Address, AddressRole)> {
        use AddressRole as R;
        match self {
            Self::AddOwnerWithThreshold { owner, .. } => vec![(*owner, R::NewOwner)],
            Self::RemoveOwner {
                prev_owner, owner, ..
            } => {
                vec![(*prev_owner, R::ListPredecessor), (*owner, R::RemovedOwner)]
            }
            Self::SwapOwner {
                prev_owner,
                old_owner,
                new_owner,
            } => vec![
                (*prev_owner, R::ListPredecessor),
                (*old_owner, R::RemovedOwner),
                (*new_owner, R::NewOwner),
            ],
            Self::EnableModule { module } => vec![(*module, R::Module)],
            Self::DisableModule {
                prev_module,
                module,
            } => {
                vec![(*prev_module, R::ListPredecessor), (*module, R::Module)]
            }
            Self::SetGuard { guard } => vec![(*guard, R::Guard)],
            Self::SetModuleGuard { guard } => vec![(*guard, R::ModuleGuard)],
            Self::SetFallbackHandler { handler } => vec![(*handler, R::FallbackHandler)],
            Self::ChangeMasterCopy { master_copy } => vec![(*master_copy, R::NewSingleton)],
            Self::ChangeThreshold { .. } | Self::ApproveHash { .. } => vec![],
        }
    }
}

impl TokenCall {
    /// The Solidity function name.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Transfer { .. } => "transfer",
            Self::TransferFrom { .. } => "transferFrom",
            Self::Approve { .. } => "approve",
            Self::IncreaseAllowance { .. } => "increaseAllowance",
            Self::Erc721SafeTransferFrom { .. } | Self::Erc1155SafeTransferFrom { .. } => {
                "safeTransferFrom"
            }
            Self::Erc1155SafeBatchTransferFrom { .. } => "safeBatchTransferFrom",
            Self::SetApprovalForAll { .. } => "setApprovalForAll",
        }
    }

    fn addresses(&self) -> Vec<(Address, AddressRole)> {
        use AddressRole as R;
        match self {
            Self::Transfer { recipient, .. } => vec![(*recipient, R::Recipient)],
            Self::TransferFrom {
                from, recipient, ..
            }
            | Self::Erc721SafeTransferFrom {
                from, recipient, ..
            }
            | Self::Erc1155SafeTransferFrom {
                from, recipient, ..
            }
            | Self::Erc1155SafeBatchTransferFrom {
                from, recipient, ..
            } => {
                vec![(*from, R::Sender), (*recipient, R::Recipient)]
            }
            Self::Approve { spender, .. } | Self::IncreaseAllowance { spender, .. } => {
                vec![(*spender, R::Spender)]
            }
            Self::SetApprovalForAll { operator, .. } => vec![(*operator, R::Operator)],
        }
    }
}

impl Permit2Call {
    /// The Solidity function name.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Approve { .. } => "approve",
            Self::Permit { .. } => "permit",
            Self::TransferFrom { .. } => "transferFrom",
            Self::Lockdown { .. } => "lockdown",
        }
    }

    fn addresses(&self) -> Vec<(Address, AddressRole)> {
        use AddressRole as R;
        match self {
            Self::Approve { token, spender, .. } => {
                vec![(*token, R::Token), (*spender, R::Spender)]
            }
            Self::Permit {
                owner,
                spender,
                tokens,
            } => {
                let mut out = vec![(*owner, R::PermitOwner), (*spender, R::Spender)];
                out.extend(tokens.iter().map(|(token, _)| (*token, R::Token)));
                out
            }
            Self::TransferFrom { transfers } => transfers
                .iter()
                .flat_map(|t| {
                    [
                        (t.from, R::Sender),
                        (t.recipient, R::Recipient),
                        (t.token, R::Token),
                    ]
                })
                .collect(),
            Self::Lockdown { pairs } => pairs
                .iter()
                .flat_map(|(token, spender)| [(*token, R::Token), (*spender, R::Spender)])
                .collect(),
        }
    }
}

impl SafeLibraryCall {
    /// The Solidity function name.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::SignMessage { .. } => "signMessage",
            Self::PerformCreate { .. } => "performCreate",
            Self::PerformCreate2 { .. } => "performCreate2",
            Self::MigrateSingleton => "migrateSingleton",
            Self::MigrateWithFallbackHandler => "migrateWithFallbackHandler",
            Self::MigrateL2Singleton => "migrateL2Singleton",
            Self::MigrateL2WithFallbackHandler => "migrateL2WithFallbackHandler",
        }
    }
}

impl ActionKind {
    /// The function this node calls, as an operator reads it.
    pub fn function_name(&self) -> &'static str {
        match self {
            Self::NativeTransfer => "transfer of ETH",
            Self::SafeConfig { call } => call.name(),
            Self::UnknownSelfCall { .. } | Self::Unknown { .. } => "unknown function",
            Self::Batch { .. } => "multiSend",
            Self::SafeTransaction { .. } => "execTransaction",
            Self::ForeignApproveHash { .. } => "approveHash",
            Self::SignatureCheck { .. } => "isValidSignature",
            Self::Token { call } => call.name(),
            Self::Permit2 { call } => call.name(),
            Self::SafeLibrary { call } => call.name(),
        }
    }

    /// The address arguments of this node's call (not its target, not its children).
    fn argument_addresses(&self) -> Vec<(Address, AddressRole)> {
        match self {
            Self::SafeConfig { call } => call.addresses(),
            Self::Token { call } => call.addresses(),
            Self::Permit2 { call } => call.addresses(),
            Self::SafeTransaction { settings, .. } => vec![
                (settings.gas_token, AddressRole::GasToken),
                (settings.refund_receiver, AddressRole::RefundReceiver),
            ]
            .into_iter()
            .filter(|(a, _)| !a.is_zero())
            .collect(),
            Self::ForeignApproveHash { .. } | Self::SignatureCheck { .. } => vec![],
            Self::NativeTransfer
            | Self::UnknownSelfCall { .. }
            | Self::Unknown { .. }
            | Self::Batch { .. }
            | Self::SafeLibrary { .. } => vec![],
        }
    }
}

impl Action {
    /// Every address in this node and its descendants. `path` is this node's own path; the
    /// target is listed under `caller` (`execTransaction` for the root, `multiSend` for an entry).
    pub fn involvements(&self, path: &ActionPath, caller: &'static str) -> Vec<Involvement> {
        let mut out = Vec::new();
        self.collect(path, caller, &mut out);
        out
    }

    fn collect(&self, path: &ActionPath, caller: &'static str, out: &mut Vec<Involvement>) {
        let role = match self.operation {
            Operation::Call => AddressRole::CallTarget,
            Operation::DelegateCall => AddressRole::DelegatecallTarget,
        };
        out.push(Involvement {
            address: self.to,
            role,
            path: path.clone(),
            function: caller,
        });
        let function = self.kind.function_name();
        out.extend(
            self.kind
                .argument_addresses()
                .into_iter()
                .map(|(address, role)| Involvement {
                    address,
                    role,
                    path: path.clone(),
                    function,
                }),
        );
        let caller = self.kind.function_name();
        for (step, child) in self.kind.children() {
            child.collect(&path.child(step), caller, out);
        }
    }
}

impl DecodedTransaction {
    /// Every address the transaction involves: the whole action tree plus the refund receiver and
    /// gas token when they are set.
    pub fn involvements(&self) -> Vec<Involvement> {
        let root = ActionPath::default();
        let mut out = self.root.involvements(&root, "execTransaction");
        for (address, role) in [
            (self.tx.refund_receiver, AddressRole::RefundReceiver),
            (self.tx.gas_token, AddressRole::GasToken),
        ] {
            if !address.is_zero() {
                out.push(Involvement {
                    address,
                    role,
                    path: root.clone(),
                    function: "execTransaction",
                });
            }
        }
        out
    }
}
