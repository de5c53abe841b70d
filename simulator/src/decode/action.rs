//! The typed action tree a Safe transaction's calldata decodes into.
//!
//! Every node records how it is executed (CALL or DELEGATECALL), its target, and every address it
//! involves with a typed [`AddressRole`], so that screening walks [`Action::involvements`] and
//! cannot miss an address hidden in a batch or a token argument.

use std::fmt;

use alloy_primitives::{Address, B256, Bytes, U256};
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
    SafeConfig {
        /// The decoded configuration function and its arguments.
        call: SafeConfigCall,
    },
    /// A self-call whose selector is not a known configuration function.
    UnknownSelfCall {
        /// The first four bytes of the calldata, when it has four.
        selector: Option<[u8; 4]>,
    },
    /// A `multiSend(bytes)` batch, decoded recursively.
    Batch {
        /// The canonical deployment, when `to` is one; `None` is a batch-shaped call to an
        /// unknown contract, decoded only so that every address in it gets screened.
        deployment: Option<Deployment>,
        /// The batch's entries in order, each decoded like a top-level call.
        actions: Vec<Action>,
    },
    /// An ERC-20, ERC-721 or ERC-1155 call.
    Token {
        /// The decoded token function and its arguments.
        call: TokenCall,
    },
    /// A Permit2 allowance call.
    Permit2 {
        /// The decoded Permit2 function and its arguments.
        call: Permit2Call,
    },
    /// A call of a Safe library meant for DELEGATECALL (SignMessageLib, CreateCall, SafeMigration).
    SafeLibrary {
        /// The decoded library function and its arguments.
        call: SafeLibraryCall,
    },
    /// `execTransaction` on another Safe: this Safe executes that Safe's transaction (and, as
    /// one of its owners calling, signs it: an owner's `v = 1` signature needs no stored
    /// approval when the owner is `msg.sender`). The inner transaction is decoded as that Safe's.
    SafeTransaction {
        /// The inner transaction's gas, refund and signature fields.
        settings: Box<NestedSafeTx>,
        /// The inner transaction, its self-calls decoded against the other Safe.
        inner: Box<Action>,
    },
    /// `approveHash` on another Safe: as an owner there, this Safe signs the transaction of that
    /// Safe with this hash, which anyone may then execute.
    ForeignApproveHash {
        /// The hash approved.
        hash: B256,
    },
    /// An EIP-1271 `isValidSignature(bytes32, bytes)` call: asks the target whether it signed
    /// `hash` (a read; a Safe answers from its owners' signatures or its signed messages).
    SignatureCheck {
        /// The hash asked about.
        hash: B256,
    },
    /// Anything else: the selector (if the calldata has four bytes) and nothing more.
    Unknown {
        /// The first four bytes of the calldata, when it has four.
        selector: Option<[u8; 4]>,
        /// The calldata after the selector (within the decoder's bounds): kept only so a
        /// clear-signing descriptor can show the call; nothing decides on it.
        #[serde(default, skip_serializing_if = "<[u8]>::is_empty")]
        arguments: alloy_primitives::Bytes,
    },
}

/// The fields of a nested Safe transaction besides its call (which is the inner [`Action`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NestedSafeTx {
    /// Gas the inner Safe forwards to its call.
    pub safe_tx_gas: U256,
    /// Gas paid for outside the call, for the refund.
    pub base_gas: U256,
    /// Refund price per gas; non-zero pays a refund out of the inner Safe.
    pub gas_price: U256,
    /// The refund's token (zero for ETH).
    pub gas_token: Address,
    /// Who receives the refund (zero for `tx.origin`).
    pub refund_receiver: Address,
    /// The signatures passed, as given.
    pub signatures: Bytes,
}

impl ActionKind {
    /// The actions this node runs, each with the step it adds to the path: a batch's entries
    /// by index, a nested Safe transaction's inner call as [`ActionPath::NESTED`].
    pub fn children(&self) -> Vec<(usize, &Action)> {
        match self {
            Self::Batch { actions, .. } => actions.iter().enumerate().collect(),
            Self::SafeTransaction { inner, .. } => vec![(ActionPath::NESTED, inner.as_ref())],
            _ => Vec::new(),
        }
    }
}

/// Configuration self-calls of the Safe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "function")]
pub enum SafeConfigCall {
    /// `addOwnerWithThreshold`: adds an owner and sets the threshold in the same call.
    AddOwnerWithThreshold {
        /// The owner added.
        owner: Address,
        /// The threshold after the call; the Safe reverts unless 1 ≤ threshold ≤ owner count.
        threshold: U256,
    },
    /// `removeOwner`: removes an owner and sets the threshold in the same call.
    RemoveOwner {
        /// The owner before `owner` in the owners linked list (the sentinel 0x…01 for the first).
        prev_owner: Address,
        /// The owner removed.
        owner: Address,
        /// The threshold after the call; the Safe reverts unless 1 ≤ threshold ≤ owner count.
        threshold: U256,
    },
    /// `swapOwner`: replaces one owner by another, threshold unchanged.
    SwapOwner {
        /// The owner before `old_owner` in the owners linked list (the sentinel 0x…01 for the first).
        prev_owner: Address,
        /// The owner removed.
        old_owner: Address,
        /// The owner put in its place.
        new_owner: Address,
    },
    /// `changeThreshold`: sets how many owner signatures a transaction needs.
    ChangeThreshold {
        /// The new threshold; the Safe reverts unless 1 ≤ threshold ≤ owner count.
        threshold: U256,
    },
    /// `enableModule`: lets a contract execute transactions from the Safe without signatures.
    EnableModule {
        /// The module enabled.
        module: Address,
    },
    /// `disableModule`: removes a module.
    DisableModule {
        /// The module before `module` in the modules linked list (the sentinel 0x…01 for the first).
        prev_module: Address,
        /// The module disabled.
        module: Address,
    },
    /// `setGuard` (1.3.0+): sets the contract checked before and after every `execTransaction`.
    SetGuard {
        /// The new guard; zero removes it.
        guard: Address,
    },
    /// `setModuleGuard` (1.5.0): sets the contract checked around every module transaction.
    SetModuleGuard {
        /// The new module guard; zero removes it.
        guard: Address,
    },
    /// `setFallbackHandler`: sets the contract called for any selector the Safe does not have.
    SetFallbackHandler {
        /// The new handler; zero removes it.
        handler: Address,
    },
    /// ≤1.2.0 only: replaces the singleton (slot 0).
    ChangeMasterCopy {
        /// The new singleton, whose code the Safe will run from then on.
        master_copy: Address,
    },
    /// Pre-approves a hash for this Safe's own owners list (approved-hash signatures).
    ApproveHash {
        /// The hash approved; any hash, not only a safeTxHash of this Safe.
        hash: alloy_primitives::B256,
    },
}

/// Token calls. ERC-20 `transferFrom`/`approve` share selectors with ERC-721; the decoder cannot
/// tell them apart from calldata and names the ambiguity in `amount_or_token_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "function")]
pub enum TokenCall {
    /// ERC-20 `transfer`.
    Transfer {
        /// Who receives the tokens.
        recipient: Address,
        /// Amount in the token's smallest unit (no decimals applied).
        amount: U256,
    },
    /// `transferFrom`: ERC-20, or ERC-721 with the same selector.
    TransferFrom {
        /// The holder the tokens are taken from.
        from: Address,
        /// Who receives them.
        recipient: Address,
        /// An ERC-20 amount or an ERC-721 token id; the calldata cannot tell which.
        amount_or_token_id: U256,
    },
    /// `approve`: ERC-20, or ERC-721 with the same selector.
    Approve {
        /// Who may spend (ERC-20) or move the token (ERC-721).
        spender: Address,
        /// An ERC-20 allowance or an ERC-721 token id; the calldata cannot tell which.
        amount_or_token_id: U256,
    },
    /// ERC-20 `increaseAllowance` (OpenZeppelin extension, not in the standard).
    IncreaseAllowance {
        /// Who may spend.
        spender: Address,
        /// Amount added to the current allowance, in the token's smallest unit.
        added: U256,
    },
    /// ERC-721 `safeTransferFrom` (with or without data).
    Erc721SafeTransferFrom {
        /// The holder the token is taken from.
        from: Address,
        /// Who receives it.
        recipient: Address,
        /// The token id.
        token_id: U256,
    },
    /// ERC-1155 `safeTransferFrom`.
    Erc1155SafeTransferFrom {
        /// The holder the tokens are taken from.
        from: Address,
        /// Who receives them.
        recipient: Address,
        /// The token id.
        id: U256,
        /// Amount of that id.
        amount: U256,
    },
    /// ERC-1155 `safeBatchTransferFrom`.
    Erc1155SafeBatchTransferFrom {
        /// The holder the tokens are taken from.
        from: Address,
        /// Who receives them.
        recipient: Address,
        /// The token ids, in calldata order.
        ids: Vec<U256>,
        /// The amount of each id, index for index with `ids`.
        amounts: Vec<U256>,
    },
    /// ERC-721 / ERC-1155 `setApprovalForAll`.
    SetApprovalForAll {
        /// Who is given or denied control of all the caller's tokens of the contract.
        operator: Address,
        /// `true` grants, `false` revokes.
        approved: bool,
    },
}

/// Permit2 calls that grant or use allowances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "function")]
pub enum Permit2Call {
    /// `approve`: sets an allowance of `spender` over the caller's tokens held through Permit2.
    Approve {
        /// The token contract.
        token: Address,
        /// Who may spend.
        spender: Address,
        /// Maximum amount, in the token's smallest unit (a `uint160` on chain).
        amount: U256,
        /// Unix time (seconds) the allowance expires at; 0 means at the end of the current block.
        expiration: u64,
    },
    /// `permit` with a single or batched permit; one entry per token.
    Permit {
        /// The token holder whose signature grants the allowance.
        owner: Address,
        /// Who may spend.
        spender: Address,
        /// Each token with its allowance amount, in the token's smallest unit.
        tokens: Vec<(Address, U256)>,
    },
    /// `transferFrom`: moves tokens under existing allowances (single or batched).
    TransferFrom {
        /// Each transfer, in calldata order.
        transfers: Vec<Permit2Transfer>,
    },
    /// `lockdown`: revokes allowances.
    Lockdown {
        /// The (token, spender) pairs whose allowance is set to zero.
        pairs: Vec<(Address, Address)>,
    },
}

/// One transfer of a Permit2 `transferFrom`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Permit2Transfer {
    /// The holder the tokens are taken from.
    pub from: Address,
    /// Who receives them.
    pub recipient: Address,
    /// Amount in the token's smallest unit (a `uint160` on chain).
    pub amount: U256,
    /// The token contract.
    pub token: Address,
}

/// Calls of Safe libraries meant for DELEGATECALL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "function")]
pub enum SafeLibraryCall {
    /// SignMessageLib `signMessage`: marks a message as signed by the Safe (EIP-1271).
    SignMessage {
        /// The message as given; the library hashes it with the Safe's message domain.
        data: Bytes,
    },
    /// CreateCall `performCreate`: deploys a contract with CREATE from the calling account.
    PerformCreate {
        /// ETH sent to the new contract, in wei.
        value: U256,
        /// Length of the init code in bytes; the code itself is not kept.
        init_code_len: usize,
    },
    /// CreateCall `performCreate2`: deploys a contract with CREATE2 from the calling account.
    PerformCreate2 {
        /// ETH sent to the new contract, in wei.
        value: U256,
        /// Length of the init code in bytes; the code itself is not kept.
        init_code_len: usize,
        /// The CREATE2 salt.
        salt: alloy_primitives::B256,
    },
    /// SafeMigration `migrateSingleton`: points the Safe at the singleton the migration
    /// contract was deployed with.
    MigrateSingleton,
    /// SafeMigration `migrateWithFallbackHandler`: the singleton and the fallback handler.
    MigrateWithFallbackHandler,
    /// SafeMigration `migrateL2Singleton`: points the Safe at the migration contract's L2
    /// singleton.
    MigrateL2Singleton,
    /// SafeMigration `migrateL2WithFallbackHandler`: the L2 singleton and the fallback handler.
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
    /// The path step of a nested Safe transaction's inner call (never a batch index: a batch
    /// that large cannot be decoded).
    pub const NESTED: usize = usize::MAX;

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
    /// `tx` for the root, `multiSend[2]` for an entry, `multiSend[2] → multiSend[0]` when nested,
    /// `execTransaction` for the inner call of another Safe's transaction.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("tx");
        }
        for (n, index) in self.0.iter().enumerate() {
            if n > 0 {
                f.write_str(" → ")?;
            }
            if *index == Self::NESTED {
                f.write_str("execTransaction")?;
            } else {
                write!(f, "multiSend[{index}]")?;
            }
        }
        Ok(())
    }
}

/// One address found in the action tree: where, in which role, inside which call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Involvement {
    /// The address found.
    pub address: Address,
    /// The part it plays in the call.
    pub role: AddressRole,
    /// Which call of the tree it is in (root or batch entry).
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
