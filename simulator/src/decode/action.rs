//! The typed action tree a Safe transaction's calldata decodes into.
//!
//! Every node records how it is executed (CALL or DELEGATECALL), its target, and every address it
//! involves with a typed [`AddressRole`], so that screening walks [`Action::involvements`] and
//! cannot miss an address hidden in a batch or a token argument.

use std::fmt;

use alloy_primitives::{Address, Bytes, U256};
use serde::{Deserialize, Serialize};

use crate::{deployments::Deployment, tx::Operation};

/// One decoded call: the root transaction or an entry of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    /// CALL or DELEGATECALL, as the Safe (or the batch library) executes it.
    pub operation: Operation,
    /// The address called; for a 1.5.0 batch entry with `to = 0` this is already the Safe.
    pub to: Address,
    /// ETH sent with the call.
    pub value: U256,
    /// Length of the calldata, kept even when the body is not decoded.
    pub data_len: usize,
    /// What the calldata asks for.
    pub kind: ActionKind,
}

/// What a call does, as far as its calldata tells.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum ActionKind {
    /// No calldata: a plain ETH transfer (or a call of the target's receive/fallback).
    NativeTransfer,
    /// A call of the Safe on itself that changes its configuration.
    SafeConfig { call: SafeConfigCall },
    /// A self-call whose selector is not a known configuration function.
    UnknownSelfCall { selector: Option<[u8; 4]> },
    /// A `multiSend(bytes)` batch, decoded recursively.
    Batch {
        /// The canonical deployment, when `to` is one; `None` is a batch-shaped call to an
        /// unknown contract, decoded only so that every address in it gets screened.
        deployment: Option<Deployment>,
        actions: Vec<Action>,
    },
    /// An ERC-20, ERC-721 or ERC-1155 call.
    Token { call: TokenCall },
    /// A Permit2 allowance call.
    Permit2 { call: Permit2Call },
    /// A call of a Safe library meant for DELEGATECALL (SignMessageLib, CreateCall, SafeMigration).
    SafeLibrary { call: SafeLibraryCall },
    /// Anything else: the selector (if the calldata has four bytes) and nothing more.
    Unknown { selector: Option<[u8; 4]> },
}

/// Configuration self-calls of the Safe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "function")]
pub enum SafeConfigCall {
    AddOwnerWithThreshold {
        owner: Address,
        threshold: U256,
    },
    RemoveOwner {
        prev_owner: Address,
        owner: Address,
        threshold: U256,
    },
    SwapOwner {
        prev_owner: Address,
        old_owner: Address,
        new_owner: Address,
    },
    ChangeThreshold {
        threshold: U256,
    },
    EnableModule {
        module: Address,
    },
    DisableModule {
        prev_module: Address,
        module: Address,
    },
    SetGuard {
        guard: Address,
    },
    SetModuleGuard {
        guard: Address,
    },
    SetFallbackHandler {
        handler: Address,
    },
    /// ≤1.2.0 only: replaces the singleton (slot 0).
    ChangeMasterCopy {
        master_copy: Address,
    },
    /// Pre-approves a hash for this Safe's own owners list (approved-hash signatures).
    ApproveHash {
        hash: alloy_primitives::B256,
    },
}

/// Token calls. ERC-20 `transferFrom`/`approve` share selectors with ERC-721; the decoder cannot
/// tell them apart from calldata and names the ambiguity in `amount_or_token_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "function")]
pub enum TokenCall {
    Transfer {
        recipient: Address,
        amount: U256,
    },
    TransferFrom {
        from: Address,
        recipient: Address,
        amount_or_token_id: U256,
    },
    Approve {
        spender: Address,
        amount_or_token_id: U256,
    },
    IncreaseAllowance {
        spender: Address,
        added: U256,
    },
    /// ERC-721 `safeTransferFrom` (with or without data).
    Erc721SafeTransferFrom {
        from: Address,
        recipient: Address,
        token_id: U256,
    },
    /// ERC-1155 `safeTransferFrom`.
    Erc1155SafeTransferFrom {
        from: Address,
        recipient: Address,
        id: U256,
        amount: U256,
    },
    /// ERC-1155 `safeBatchTransferFrom`.
    Erc1155SafeBatchTransferFrom {
        from: Address,
        recipient: Address,
        ids: Vec<U256>,
        amounts: Vec<U256>,
    },
    /// ERC-721 / ERC-1155 `setApprovalForAll`.
    SetApprovalForAll {
        operator: Address,
        approved: bool,
    },
}

/// Permit2 calls that grant or use allowances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "function")]
pub enum Permit2Call {
    Approve {
        token: Address,
        spender: Address,
        amount: U256,
        expiration: u64,
    },
    /// `permit` with a single or batched permit; one entry per token.
    Permit {
        owner: Address,
        spender: Address,
        tokens: Vec<(Address, U256)>,
    },
    TransferFrom {
        transfers: Vec<Permit2Transfer>,
    },
    Lockdown {
        pairs: Vec<(Address, Address)>,
    },
}

/// One transfer of a Permit2 `transferFrom`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Permit2Transfer {
    pub from: Address,
    pub recipient: Address,
    pub amount: U256,
    pub token: Address,
}

/// Calls of Safe libraries meant for DELEGATECALL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "function")]
pub enum SafeLibraryCall {
    SignMessage {
        data: Bytes,
    },
    PerformCreate {
        value: U256,
        init_code_len: usize,
    },
    PerformCreate2 {
        value: U256,
        init_code_len: usize,
        salt: alloy_primitives::B256,
    },
    MigrateSingleton,
    MigrateWithFallbackHandler,
    MigrateL2Singleton,
    MigrateL2WithFallbackHandler,
}

/// The part an address plays in a transaction. Screening reports it with every hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressRole {
    /// The address a CALL goes to.
    CallTarget,
    /// The code a DELEGATECALL runs in the Safe's context.
    DelegatecallTarget,
    /// Receives ETH or tokens.
    Recipient,
    /// The token contract of a token call or allowance.
    Token,
    /// The account tokens are taken from (`transferFrom`).
    Sender,
    /// Receives an allowance.
    Spender,
    /// Receives operator rights over all of an owner's tokens.
    Operator,
    /// Becomes an owner of the Safe.
    NewOwner,
    /// Stops being an owner of the Safe.
    RemovedOwner,
    /// The linked-list predecessor argument of an owner or module removal.
    ListPredecessor,
    /// Becomes (or stops being) an enabled module.
    Module,
    /// Becomes the transaction guard.
    Guard,
    /// Becomes the module guard.
    ModuleGuard,
    /// Becomes the fallback handler.
    FallbackHandler,
    /// Becomes the singleton (≤1.2.0 `changeMasterCopy`).
    NewSingleton,
    /// Receives the gas refund.
    RefundReceiver,
    /// The token the gas refund is paid in.
    GasToken,
    /// The owner whose tokens a Permit2 permit covers.
    PermitOwner,
}

impl AddressRole {
    /// The word an operator reads in a path (`transfer.recipient`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::CallTarget => "target",
            Self::DelegatecallTarget => "delegatecall target",
            Self::Recipient => "recipient",
            Self::Token => "token",
            Self::Sender => "from",
            Self::Spender => "spender",
            Self::Operator => "operator",
            Self::NewOwner => "new owner",
            Self::RemovedOwner => "removed owner",
            Self::ListPredecessor => "list predecessor",
            Self::Module => "module",
            Self::Guard => "guard",
            Self::ModuleGuard => "module guard",
            Self::FallbackHandler => "fallback handler",
            Self::NewSingleton => "new singleton",
            Self::RefundReceiver => "refund receiver",
            Self::GasToken => "gas token",
            Self::PermitOwner => "permit owner",
        }
    }
}

/// Where a node sits in the tree: the indices of the batch entries leading to it, outermost
/// first. The root transaction has an empty path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ActionPath(pub Vec<usize>);

impl ActionPath {
    /// The path of the `index`-th entry of the batch at `self`.
    pub fn child(&self, index: usize) -> Self {
        let mut steps = self.0.clone();
        steps.push(index);
        Self(steps)
    }

    /// Nesting depth: 0 for the root transaction.
    pub fn depth(&self) -> usize {
        self.0.len()
    }
}

impl fmt::Display for ActionPath {
    /// `tx` for the root, `multiSend[2]` for an entry, `multiSend[2] → multiSend[0]` when nested.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("tx");
        }
        for (n, index) in self.0.iter().enumerate() {
            if n > 0 {
                f.write_str(" → ")?;
            }
            write!(f, "multiSend[{index}]")?;
        }
        Ok(())
    }
}

/// One address found in the action tree: where, in which role, inside which call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Involvement {
    pub address: Address,
    pub role: AddressRole,
    pub path: ActionPath,
    /// The function the address appears in (`transfer`, `swapOwner`, `execTransaction` …).
    pub function: &'static str,
}

impl fmt::Display for Involvement {
    /// `multiSend[2] → transfer.recipient 0x…`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} → {}.{} {}",
            self.path,
            self.function,
            self.role.as_str(),
            self.address
        )
    }
}
