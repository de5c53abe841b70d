//! What a simulated Safe transaction really does: the [`SimulationReport`].
//!
//! These types are EVM-independent on purpose: `policy` reads reports with
//! `default-features = false` (no revm), and the gateway stores them. Everything is plain data
//! with serde, sorted deterministically so that a report can be snapshotted and compared.
//!
//! The report is written from the *effects* of execution (call frames, storage diff, logs), never
//! from the calldata: Bybit's payload decoded as `transfer(address,uint256)`, and only the
//! DELEGATECALL frame and the Safe's slot-0 change tell the truth.

use std::fmt;

use alloy_primitives::{Address, B256, Bytes, Selector, U256};
use serde::{Deserialize, Serialize};

use crate::version::SafeVersion;

/// The result of simulating one `execTransaction` on one Safe at one pinned state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SimulationReport {
    /// The Safe proxy the transaction ran on.
    pub safe: Address,
    /// Chain id the EVM ran with (also the `chainid()` the 1.3.0+ domain uses).
    pub chain_id: u64,
    /// Safe version the caller declared; the singleton actually found is in `singleton`.
    pub version: SafeVersion,
    /// The singleton (slot 0) of the Safe in the real pre-state.
    pub singleton: Address,
    /// The safeTxHash the simulation used (recomputed, never taken from a caller).
    pub safe_tx_hash: B256,
    /// Where the pre-state came from, so a decision can be reproduced.
    pub state: StatePin,
    /// `tx.origin` / `msg.sender` of the outer transaction.
    pub executor: Address,
    /// Whether real signatures were used or approved-hash overrides.
    pub signatures: SignatureMode,
    /// The state overrides applied before execution: approved hashes when no signatures were
    /// supplied, and the nonce of a queued transaction (whatever the signatures). Empty when
    /// real signatures ran at the Safe's current nonce. "Before" values elsewhere in the report
    /// are always the real pre-state.
    pub overrides: Vec<StateOverride>,
    /// How execution ended, including the Safe's own `ExecutionFailure`.
    pub outcome: Outcome,
    /// Gas used by the outer transaction (intrinsic gas included, refunds applied).
    pub gas_used: u64,
    /// Every call frame in execution order (frame 0 is the call into the Safe proxy).
    pub calls: Vec<CallFrame>,
    /// Writes to the Safe's own storage, classified in Safe terms, sorted by slot.
    pub safe_storage: Vec<SafeStorageChange>,
    /// Implementation-slot changes (EIP-1967 or slot 0) of any other contract, sorted.
    pub proxy_upgrades: Vec<ProxyUpgrade>,
    /// Every other storage write outside the Safe, sorted by address and slot.
    pub other_storage: Vec<StorageChange>,
    /// ETH moved by successful value-carrying frames and self-destructs, in execution order.
    pub eth_transfers: Vec<EthTransfer>,
    /// Net ETH balance changes, sorted by address (the source of truth for ETH movement).
    pub balance_changes: Vec<BalanceChange>,
    /// Token events that survived execution, in log order.
    pub token_events: Vec<TokenEvent>,
    /// Contracts created by successful frames.
    pub created: Vec<CreatedContract>,
    /// SELFDESTRUCTs executed by successful frames.
    pub self_destructed: Vec<SelfDestruct>,
    /// Every address the EVM loaded (accounts, code and storage reads), sorted.
    pub accessed: Vec<Address>,
    /// Read from reports stored before [`SimulationReport::mutable_code`] existed (accounts a
    /// DELEGATECALL ran whose code is an EIP-7702 delegation designator); never written: the
    /// same fact is now a [`MutableWhy::Delegation`] entry of `mutable_code`.
    #[serde(default, skip_serializing)]
    pub delegated_code: Vec<Address>,
    /// Code that ran in a Safe's storage (by DELEGATECALL or CALLCODE, in the proposing Safe or
    /// a reached one) and that can be other code when the transaction executes, whatever its
    /// code hash is now: see [`MutableWhy`] for the three ways. One entry per frame and reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mutable_code: Vec<MutableCode>,
    /// Every `execTransaction` the run executed besides the outer one (a Safe the proposing
    /// Safe owns, at any depth), with its refund fields: its gas refund is paid on chain at the
    /// executor's gas price, which the run does not know, so the policy judges its worst case.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inner_safe_txs: Vec<InnerSafeTx>,
    /// Address-shaped words in the input of every call frame (known function or not, failed or
    /// not) and in the topics and data of every surviving log, so that screening sees a
    /// recipient that only an unknown function's argument or an event names. See
    /// [`address_in_word`] for what counts as address-shaped.
    #[serde(default)]
    pub embedded_addresses: Vec<EmbeddedAddress>,
    /// Allowances and operator rights the Safe granted during the run, from the events the
    /// tokens emitted (whatever call made them) and from the input of every successful granting
    /// call it made at any depth (`approve`, `increaseAllowance`, `setApprovalForAll`, Permit2
    /// `approve` and `permit`), event or not, the larger winning; with the Safe's balance of the
    /// asset after the run when the token answers `balanceOf`.
    #[serde(default)]
    pub grants: Vec<Grant>,
    /// The gas refund the Safe paid in this run (`handlePayment`), when it paid one. The run's
    /// `gasUsed` is one possible value; the policy judges the worst case the SafeTx allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund: Option<RefundPayment>,
    /// Every other Safe whose code ran during the simulation (a Safe the proposing Safe owns and
    /// executes a transaction on, approves a hash for, …), with its storage writes classified
    /// like the proposing Safe's own. See [`ReachedSafe`] for how one is recognised.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reached_safes: Vec<ReachedSafe>,
    /// What each token the run touched says about itself (`decimals()`, `symbol()`) in the
    /// state simulated against, before the transaction: only to show amounts in units people
    /// count when the policy's asset table does not know the token. Never used to decide.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tokens: Vec<TokenMetadata>,
}

/// A token's own answer to `decimals()` and `symbol()`; either is `None` when the call fails
/// or answers something else. The symbol is the token's claim, not its identity: it is kept to
/// [`TokenMetadata::MAX_SYMBOL_CHARS`] characters with control and bidirectional-override
/// characters removed, and a symbol a policy asset uses at another address is an impersonation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenMetadata {
    /// The token contract.
    pub token: Address,
    /// `decimals()`, when it answered a number up to 77.
    pub decimals: Option<u8>,
    /// `symbol()` (an ABI string, or a `bytes32` as older tokens return), cleaned.
    pub symbol: Option<String>,
}

impl TokenMetadata {
    /// The longest symbol kept, in characters.
    pub const MAX_SYMBOL_CHARS: usize = 32;

    /// `raw` as a symbol someone can read safely: control, zero-width and bidirectional
    /// formatting characters removed, at most [`Self::MAX_SYMBOL_CHARS`] characters; `None`
    /// when nothing is left.
    pub fn clean_symbol(raw: &str) -> Option<String> {
        let s: String = raw
            .chars()
            .filter(|c| {
                !c.is_control()
                    && !matches!(
                        *c,
                        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}'
                    )
            })
            .take(Self::MAX_SYMBOL_CHARS)
            .collect();
        let s = s.trim().to_owned();
        (!s.is_empty()).then_some(s)
    }
}

/// Code run in a Safe's storage whose behaviour is not fixed by its code hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MutableCode {
    /// The Safe whose storage the code ran against.
    pub safe: Address,
    /// The DELEGATECALL or CALLCODE frame that ran it.
    pub frame: usize,
    /// The account whose code ran.
    pub code: Address,
    /// Why what runs there can change.
    pub why: MutableWhy,
}

/// Why code run in a Safe's storage can change after the decision.
///
/// A code hash vouches for bytes, not for what they do next. Code that delegates its behaviour
/// to state (a slot, another contract's answer) or to its own key is as good as unvetted: the
/// state can be changed between the decision and the execution by whoever controls it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum MutableWhy {
    /// The code is an EIP-7702 delegation designator (`0xef0100 ‖ delegate`): it runs whatever
    /// the account delegates to at execution, which its key can change at any moment.
    Delegation {
        /// The account it delegates to now.
        delegate: Address,
    },
    /// The code's own account holds a proxy slot (EIP-1967 implementation, beacon or admin, or
    /// the EIP-1822 logic slot) in the pre-state: it is a proxy, whose logic its admin or
    /// beacon can point elsewhere.
    ProxySlot {
        /// Which slot.
        slot: ProxySlot,
        /// What it holds.
        value: B256,
    },
    /// The frame's code address was chosen at run time: its 20 bytes are neither in the signed
    /// transaction (the outer `execTransaction` input) nor in the code of the frame that made
    /// the call, so they came from state (a storage slot, another contract's answer), which can
    /// change; or they are, but a storage word the run read also holds them, so the code may
    /// as well have read them there (an address written into the transaction as a decoy does
    /// not vouch for a target read from state). A delegatecall target written in the
    /// transaction (MultiSend's entries, the SafeTx's `to`) or compiled into the calling code,
    /// and held in no storage the run read, is fixed by the signature or the allowlisted code
    /// hash; a Safe proxy's hop into its own singleton is the Safe's singleton, judged by its
    /// own rules.
    ChosenAtRunTime {
        /// The frame that made the DELEGATECALL or CALLCODE.
        by_frame: usize,
        /// The code that made it.
        by_code: Address,
        /// A storage word the run read that holds the address (a named proxy slot first), when
        /// one does: where the choice came from.
        held_in: Option<StorageWord>,
        /// Whether the address is also written in the signed transaction or the calling code
        /// (then `held_in` is what makes it a run-time choice).
        #[serde(default)]
        written: bool,
    },
}

/// A storage word of some account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StorageWord {
    /// The account.
    pub address: Address,
    /// The slot.
    pub slot: U256,
    /// The slot's standard name, when it is a proxy slot.
    pub name: Option<ProxySlot>,
}

/// The standard slots a proxy keeps its logic, beacon or admin in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProxySlot {
    /// `keccak256("eip1967.proxy.implementation") - 1`.
    Eip1967Implementation,
    /// `keccak256("eip1967.proxy.beacon") - 1`.
    Eip1967Beacon,
    /// `keccak256("eip1967.proxy.admin") - 1`.
    Eip1967Admin,
    /// `keccak256("PROXIABLE")` (EIP-1822, UUPS).
    Eip1822Proxiable,
}

impl ProxySlot {
    /// Every proxy slot, in the order they are looked at.
    pub const ALL: [Self; 4] = [
        Self::Eip1967Implementation,
        Self::Eip1967Beacon,
        Self::Eip1967Admin,
        Self::Eip1822Proxiable,
    ];

    /// The slot number.
    pub fn slot(self) -> U256 {
        use crate::constants::slots;
        match self {
            Self::Eip1967Implementation => slots::eip1967_implementation(),
            Self::Eip1967Beacon => slots::eip1967_beacon(),
            Self::Eip1967Admin => slots::eip1967_admin(),
            Self::Eip1822Proxiable => slots::eip1822_proxiable(),
        }
    }

    /// The name an operator reads.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Eip1967Implementation => "EIP-1967 implementation slot",
            Self::Eip1967Beacon => "EIP-1967 beacon slot",
            Self::Eip1967Admin => "EIP-1967 admin slot",
            Self::Eip1822Proxiable => "EIP-1822 (UUPS) logic slot",
        }
    }
}

impl fmt::Display for MutableWhy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Delegation { delegate } => write!(
                f,
                "its code is an EIP-7702 delegation (now to {delegate}), which its key can point at other code at any moment"
            ),
            Self::ProxySlot { slot, value } => write!(
                f,
                "it is a proxy: its {} holds {value}, so its admin or beacon can swap the logic",
                slot.as_str()
            ),
            Self::ChosenAtRunTime {
                by_frame,
                by_code,
                held_in,
                written,
            } => {
                write!(
                    f,
                    "the code of {by_code} (call {by_frame}) chose it at run time: {}",
                    if *written {
                        "the address is written in the transaction or that code, but also held in state the run read"
                    } else {
                        "the address is neither in the signed transaction nor in that code"
                    }
                )?;
                if let Some(w) = held_in {
                    match w.name {
                        Some(name) => write!(
                            f,
                            "; it is read from the {} of {}",
                            name.as_str(),
                            w.address
                        )?,
                        None => write!(f, "; it is read from slot {:#x} of {}", w.slot, w.address)?,
                    }
                }
                f.write_str(", and whoever can change that state can change what runs")
            }
        }
    }
}

/// An `execTransaction` the run executed on a Safe besides the outer one, with the fields that
/// decide its gas refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InnerSafeTx {
    /// The Safe whose `execTransaction` ran (the call's target).
    pub safe: Address,
    /// The frame of the call.
    pub frame: usize,
    /// `safeTxGas`.
    pub safe_tx_gas: U256,
    /// `baseGas`.
    pub base_gas: U256,
    /// `gasPrice`: anything but zero pays a refund.
    pub gas_price: U256,
    /// `gasToken`; zero is ETH.
    pub gas_token: Address,
    /// `refundReceiver`; zero is `tx.origin`, whoever executes the outer transaction.
    pub refund_receiver: Address,
    /// The refund the Safe reported paying in this run (its `ExecutionSuccess`/`Failure`
    /// `payment`), when the call succeeded and paid one. An ETH refund pays
    /// `min(gasPrice, tx.gasprice)`, and the run's `tx.gasprice` is the outer transaction's.
    pub paid: Option<U256>,
}

/// A Safe other than the proposing one that the simulation reached.
///
/// An account is a Safe here when Safe singleton code, recognised by code hash (any version,
/// L1 or L2 flavour, canonical address or a copy), ran in its storage context (a DELEGATECALL
/// or CALLCODE from it into that code), or when its slot 0 held or now holds the address of such
/// code. Neither can be dodged by a Safe that acts: a Safe proxy cannot execute, approve or
/// change anything without running its singleton in its own context, and a copy of the
/// singleton at another address has the same code hash. A contract running code that is not
/// Safe code is not a Safe; its writes stay in `other_storage` and a slot-0 change of it is a
/// proxy upgrade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReachedSafe {
    /// The Safe proxy.
    pub address: Address,
    /// Its singleton (slot 0) in the real pre-state.
    pub singleton: Address,
    /// The first frame that ran Safe code for it: where in the call tree it was reached.
    pub frame: Option<usize>,
    /// Writes to its storage, classified in Safe terms, sorted by slot.
    pub storage: Vec<SafeStorageChange>,
    /// Allowances and operator rights it granted during the run, found like the proposing
    /// Safe's (`SimulationReport::grants`), with its balance after the run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<Grant>,
}

/// The address a 32-byte word holds, when it is address-shaped.
///
/// ABI encoding puts an `address` in the low 20 bytes of a word with 12 zero bytes above it,
/// and a `bytes20` in the high 20 bytes with 12 zero bytes below. A word of either shape is an
/// address here when its 20 bytes are not tiny: the top 8 of them are not all zero, i.e. the
/// value is at least 2^96 (right-aligned) or the word at least 2^192 (left-aligned). Small
/// integers (amounts below 2^96 base units, lengths, offsets, booleans, enum values) and the
/// precompiles and Safe sentinel are thereby left out; a real account's address has 8 leading
/// zero bytes with probability 2^-64, and no listed address is that small, so nothing a
/// screening list can name is lost. Screening is an exact match, so a word that only looks like
/// an address (an amount between 2^96 and 2^160) costs a lookup, never a false hit.
///
/// Only word-aligned words are read (after the 4-byte selector for call input). An address
/// packed at an arbitrary byte offset (`abi.encodePacked`, a custom encoding) is not found
/// here; it is found as soon as the contract acts on it (a call to it, a token event naming
/// it, an event word holding it), not when the contract only stores it.
pub fn address_in_word(word: &[u8; 32]) -> Option<Address> {
    let zero = |r: std::ops::Range<usize>| word.get(r).is_some_and(|b| b.iter().all(|x| *x == 0));
    if zero(0..12) && !zero(12..20) {
        return word.get(12..32).map(Address::from_slice);
    }
    if zero(20..32) && !zero(0..8) {
        return word.get(0..20).map(Address::from_slice);
    }
    None
}

/// An address-shaped word found inside a call's input or a log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmbeddedAddress {
    /// The address the word holds.
    pub address: Address,
    /// The frame whose input holds it, or that emitted the log.
    pub frame: usize,
    /// Where in that input or log.
    pub site: EmbeddedSite,
}

/// Where an embedded address sits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum EmbeddedSite {
    /// Argument word `word` (0 for the first word after the selector) of the frame's input.
    Input {
        /// Index of the 32-byte word after the selector.
        word: usize,
    },
    /// Topic `topic` (1 for the first indexed argument) of a surviving log.
    LogTopic {
        /// Index of the log among the transaction's surviving logs.
        log_index: usize,
        /// The topic number.
        topic: usize,
    },
    /// Data word `word` of a surviving log.
    LogData {
        /// Index of the log among the transaction's surviving logs.
        log_index: usize,
        /// Index of the 32-byte word in the log's data.
        word: usize,
    },
}

/// An allowance or operator right the Safe granted, as the token's event states it or, when the
/// token emits none, as the granting call's input states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Grant {
    /// The asset's contract (for Permit2, the token the allowance is over, not Permit2).
    pub token: Address,
    /// Who may now move the Safe's tokens.
    pub spender: Address,
    /// What was granted.
    pub kind: GrantKind,
    /// The contract that emitted the event, or that the granting call went to (the token, or
    /// Permit2).
    pub emitter: Address,
    /// Index of the event among the transaction's surviving logs (the last one per token and
    /// spender: the allowance the run leaves in place); `None` when no event told it and the
    /// grant was read from the granting call's input (a token that grants silently).
    pub log_index: Option<usize>,
    /// The frame that emitted the event, or that made the granting call.
    pub frame: usize,
    /// `token.balanceOf(safe)` after the run, when the token answered it.
    pub holder_balance: Option<U256>,
}

/// The kinds of grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum GrantKind {
    /// An ERC-20 (or Permit2) allowance; `U256::MAX` (or Permit2's `uint160` max) is unlimited.
    Allowance {
        /// The allowance left in place, in base units.
        value: U256,
    },
    /// ERC-721 `Approval` of one token id.
    Token {
        /// The token id.
        token_id: U256,
    },
    /// `ApprovalForAll(true)`: every token of the contract the Safe holds, now and later.
    All,
}

/// The refund `execTransaction` paid, from the `payment` of the Safe's own `ExecutionSuccess`
/// or `ExecutionFailure` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefundPayment {
    /// The token paid (`gasToken`); the zero address is ETH.
    pub gas_token: Address,
    /// Who was paid: `refundReceiver`, or `tx.origin` (the run's executor) when that is zero.
    pub paid_to: Address,
    /// The amount, in base units of the gas token.
    pub amount: U256,
}

/// The state a simulation ran against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatePin {
    /// `snapshot` or `rpc`.
    pub source: StateSourceKind,
    /// The block the state is taken at (the simulated block is this + 1).
    pub block_number: u64,
    /// The pinned block hash, when the source has one.
    pub block_hash: Option<B256>,
    /// Timestamp of the simulated block.
    pub timestamp: u64,
}

/// Kinds of state source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateSourceKind {
    /// A snapshot file (tests, air-gapped use, the embedded demo).
    Snapshot,
    /// A JSON-RPC fork pinned to one block.
    Rpc,
}

/// How the signature check of `execTransaction` was satisfied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureMode {
    /// The caller's signatures were passed unmodified; no signature state was overridden
    /// (only the nonce of a queued transaction may be, see [`OverrideReason::QueuedNonce`]).
    Supplied,
    /// `threshold` real owners' `approvedHashes[owner][safeTxHash]` were set to 1 and v=1
    /// signatures passed. Owners, threshold and the guard were left untouched.
    ApprovedHashOverrides,
}

/// One storage slot set before execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StateOverride {
    /// The contract whose storage was set (the Safe, for both override kinds).
    pub address: Address,
    /// The storage slot written.
    pub slot: U256,
    /// The real value before the override.
    pub real: B256,
    /// The value written for the run.
    pub value: B256,
    /// Why it was written.
    pub reason: OverrideReason,
}

/// Why an override was applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum OverrideReason {
    /// `approvedHashes[owner][safeTxHash] = 1` so that a v=1 signature of `owner` validates.
    ApprovedHash {
        /// The owner whose approval was set; a real owner of the Safe.
        owner: Address,
        /// The recomputed safeTxHash being approved.
        safe_tx_hash: B256,
    },
    /// The Safe's nonce was set from `current` to the transaction's `assumed` nonce: the
    /// transaction is queued behind `assumed - current` others, and the run assumes they
    /// executed first without replaying them. What they do is not in this report; the Safe
    /// hashes and checks signatures with its own nonce, so without this the run could only
    /// revert.
    QueuedNonce {
        /// The Safe's real nonce at the pinned state.
        current: U256,
        /// The transaction's nonce, written into the nonce slot for the run.
        assumed: U256,
    },
}

/// How the simulated transaction ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Outcome {
    /// `execTransaction` returned and the Safe emitted `ExecutionSuccess`.
    Success,
    /// `execTransaction` returned but the Safe emitted `ExecutionFailure`: the inner call failed
    /// without reverting the transaction (non-zero safeTxGas or gasPrice). The nonce still
    /// increments and refunds are still paid; the intended action did not happen.
    ExecutionFailure {
        /// Why the inner call failed, when the call tree shows it.
        inner: Option<FrameFailure>,
    },
    /// The outer transaction reverted; nothing happened on chain.
    Revert {
        /// The decoded revert data of the outer call.
        reason: RevertReason,
    },
    /// The EVM halted (out of gas, invalid opcode, stack overflow …); nothing happened.
    Halt {
        /// revm's halt reason, in its debug form (e.g. `OutOfGas(Basic)`).
        reason: String,
    },
}

impl Outcome {
    /// Whether the Safe transaction did what it was asked to do.
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Success)
    }
}

/// A decoded revert payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum RevertReason {
    /// No revert data (`revert()` or a failed `require` without message, e.g. Safe 1.1.1 paths).
    Empty,
    /// `Error(string)`; Safe ≥ 1.3.0 uses short codes such as `GS013`.
    Error {
        /// The revert string, verbatim (a `GS0xx` code on Safe 1.3.0+).
        message: String,
    },
    /// `Panic(uint256)` with its code.
    Panic {
        /// The Solidity panic code (0x11 overflow, 0x32 out-of-bounds index, …).
        code: U256,
    },
    /// Anything else: a custom error or raw bytes.
    Custom {
        /// The first four bytes, when the data has four (a custom error's selector).
        selector: Option<Selector>,
        /// The whole revert data, selector included.
        data: Bytes,
    },
}

impl RevertReason {
    /// Decodes revert data: `Error(string)`, `Panic(uint256)`, or anything else as raw bytes.
    pub fn decode(data: &[u8]) -> Self {
        use alloy_sol_types::{Panic, Revert, SolError};
        if data.is_empty() {
            return Self::Empty;
        }
        if let Ok(r) = Revert::abi_decode(data) {
            return Self::Error { message: r.reason };
        }
        if let Ok(p) = Panic::abi_decode(data) {
            return Self::Panic { code: p.code };
        }
        let selector = data.get(..4).map(Selector::from_slice);
        Self::Custom {
            selector,
            data: Bytes::copy_from_slice(data),
        }
    }
}

impl fmt::Display for RevertReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("reverted without data"),
            Self::Error { message } => write!(f, "reverted: {message}"),
            Self::Panic { code } => write!(f, "panicked with code {code:#x}"),
            Self::Custom { data, .. } => write!(f, "reverted with data {data}"),
        }
    }
}

/// The EVM call kinds, as opcodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CallKind {
    /// A plain call: the callee runs on its own storage and may receive ETH.
    #[serde(rename = "CALL")]
    Call,
    /// The callee's code runs on the caller's storage and balance; how a Safe runs a library.
    #[serde(rename = "DELEGATECALL")]
    DelegateCall,
    /// A read-only call: any state change in it or below it reverts.
    #[serde(rename = "STATICCALL")]
    StaticCall,
    /// Legacy DELEGATECALL ancestor: the callee's code on the caller's storage, `msg.sender` the
    /// caller.
    #[serde(rename = "CALLCODE")]
    CallCode,
    /// Contract creation at an address from the creator and its nonce.
    #[serde(rename = "CREATE")]
    Create,
    /// Contract creation at an address from the creator, a salt and the init code hash.
    #[serde(rename = "CREATE2")]
    Create2,
    /// Not a call: a self-destruct, recorded as a frame so the ETH it sends has one.
    #[serde(rename = "SELFDESTRUCT")]
    SelfDestruct,
}

impl CallKind {
    /// Whether the callee's code runs against the *caller's* storage and balance.
    pub fn runs_in_caller_context(self) -> bool {
        matches!(self, Self::DelegateCall | Self::CallCode)
    }
}

impl fmt::Display for CallKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Call => "CALL",
            Self::DelegateCall => "DELEGATECALL",
            Self::StaticCall => "STATICCALL",
            Self::CallCode => "CALLCODE",
            Self::Create => "CREATE",
            Self::Create2 => "CREATE2",
            Self::SelfDestruct => "SELFDESTRUCT",
        })
    }
}

/// One frame of the call tree.
///
/// Frames are stored flat in execution order; `parent` and `children` give the tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CallFrame {
    /// Index of this frame in [`SimulationReport::calls`].
    pub id: usize,
    /// Index of the frame that made this call; `None` for frame 0.
    pub parent: Option<usize>,
    /// Indices of the frames this one made, in execution order.
    pub children: Vec<usize>,
    /// 0 for the outer call into the Safe.
    pub depth: usize,
    /// How the frame was entered.
    pub kind: CallKind,
    /// `msg.sender` of the frame (for a DELEGATECALL: the delegating frame's `msg.sender`).
    pub caller: Address,
    /// Whose storage and balance the code runs against (the Safe, for a Safe DELEGATECALL;
    /// the new contract, for a CREATE; the beneficiary, for a SELFDESTRUCT).
    pub target: Address,
    /// Whose code runs (differs from `target` for DELEGATECALL and CALLCODE).
    pub code_address: Address,
    /// ETH moved by the frame (for DELEGATECALL: the apparent `msg.value`, nothing moves).
    pub value: U256,
    /// First four bytes of the input, when it has four.
    pub selector: Option<Selector>,
    /// Length of the input (init code for CREATE).
    pub input_len: usize,
    /// `keccak256` of the code at `code_address` before the frame ran (`None`: no code).
    pub code_hash: Option<B256>,
    /// Whether this frame returned successfully.
    pub success: bool,
    /// Whether this frame's effects survived: it and every ancestor succeeded.
    pub effective: bool,
    /// Why the frame failed (`None` when it succeeded).
    pub failure: Option<FrameFailure>,
}

/// Why a frame failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum FrameFailure {
    /// The frame executed REVERT.
    Revert {
        /// The frame's decoded revert data.
        reason: RevertReason,
    },
    /// The frame halted: out of gas, invalid opcode, stack or depth limits.
    Halt {
        /// The interpreter's halt reason in its debug form (e.g. `OutOfGas(Basic)`), or
        /// `did not finish` for a frame the run never closed.
        reason: String,
    },
}

impl FrameFailure {
    /// Whether the frame ran out of gas.
    pub fn is_out_of_gas(&self) -> bool {
        matches!(self, Self::Halt { reason } if reason.contains("OutOfGas") || reason.contains("OOG"))
    }
}

/// What a slot of the Safe's storage means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum SafeSlot {
    /// Slot 0: the code the proxy delegates to.
    Singleton,
    /// `owners[owner]` (the linked list entry; `owner` may be the sentinel 0x…01).
    Owner {
        /// The key of the owners mapping the slot belongs to.
        owner: Address,
    },
    /// `ownerCount`: how many owners the linked list holds.
    OwnerCount,
    /// `threshold`: how many owner signatures `execTransaction` requires.
    Threshold,
    /// `nonce`: the next transaction the Safe will execute.
    Nonce,
    /// `modules[module]` (linked list entry; `module` may be the sentinel).
    Module {
        /// The key of the modules mapping the slot belongs to.
        module: Address,
    },
    /// The transaction guard slot (1.3.0+).
    Guard,
    /// The module guard slot (1.5.0).
    ModuleGuard,
    /// The fallback handler slot (1.1.1+), called for any selector the Safe does not have.
    FallbackHandler,
    /// `approvedHashes[owner][hash]`.
    ApprovedHash {
        /// The owner the approval is recorded for.
        owner: Address,
        /// The approved safeTxHash (or any hash an owner approved).
        hash: B256,
    },
    /// Any slot not recognised above. Fail closed: treated as a permission change.
    Other,
}

impl SafeSlot {
    /// Whether a write to this slot changes who controls the Safe or what code it runs.
    pub fn is_permission(&self) -> bool {
        !matches!(self, Self::Nonce | Self::ApprovedHash { .. })
    }
}

/// One write to the Safe's storage, with the real before value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SafeStorageChange {
    /// The slot number written.
    pub slot: U256,
    /// What the slot holds in Safe terms.
    pub meaning: SafeSlot,
    /// The real value before execution (not an override).
    pub before: B256,
    /// The value after execution.
    pub after: B256,
    /// For a slot holding code the Safe runs or calls (singleton, guard, module guard, fallback
    /// handler): `keccak256` of the code at the new address in the state simulated against
    /// (the empty-code hash when there is none). `None` for other slots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_code_hash: Option<B256>,
}

impl SafeStorageChange {
    /// `before` as an address (the low 20 bytes), for address-valued slots.
    pub fn before_address(&self) -> Address {
        Address::from_word(self.before)
    }

    /// `after` as an address (the low 20 bytes), for address-valued slots.
    pub fn after_address(&self) -> Address {
        Address::from_word(self.after)
    }
}

/// Which implementation slot a proxy upgrade wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImplementationSlot {
    /// `keccak256("eip1967.proxy.implementation") - 1`.
    Eip1967,
    /// Slot 0, as Safe-style proxies keep it.
    Slot0,
}

/// An implementation change of a contract other than the Safe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProxyUpgrade {
    /// The contract whose implementation changed.
    pub proxy: Address,
    /// Which slot held the implementation.
    pub slot: ImplementationSlot,
    /// The implementation before execution.
    pub before: Address,
    /// The implementation after execution.
    pub after: Address,
}

/// A raw storage write outside the Safe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StorageChange {
    /// The contract whose storage was written.
    pub address: Address,
    /// The slot number written.
    pub slot: U256,
    /// The real value before execution.
    pub before: B256,
    /// The value after execution.
    pub after: B256,
}

/// ETH moved by one frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EthTransfer {
    /// The account the ETH left (for a SELFDESTRUCT, the destroyed contract).
    pub from: Address,
    /// The account the ETH reached (the new contract, for a CREATE; the beneficiary, for a
    /// SELFDESTRUCT).
    pub to: Address,
    /// Amount in wei.
    pub value: U256,
    /// The frame that moved it (a CALL, CALLCODE, CREATE or SELFDESTRUCT).
    pub frame: usize,
}

/// Net balance change of one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BalanceChange {
    /// The account whose balance changed.
    pub address: Address,
    /// Balance in wei before execution.
    pub before: U256,
    /// Balance in wei after execution.
    pub after: U256,
}

/// A token standard event that survived execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenEvent {
    /// The emitting contract.
    pub token: Address,
    /// Index among the surviving logs of the transaction.
    pub log_index: usize,
    /// The frame that emitted the log.
    pub frame: usize,
    /// The event and its decoded fields.
    pub event: TokenEventKind,
}

/// The token events signgate understands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum TokenEventKind {
    /// ERC-20 `Transfer` (3 topics + 32-byte data).
    Erc20Transfer {
        /// Sender (topic 1); zero for a mint.
        from: Address,
        /// Recipient (topic 2); zero for a burn.
        to: Address,
        /// Amount in the token's smallest unit (no decimals applied).
        value: U256,
    },
    /// ERC-20 `Approval`.
    Erc20Approval {
        /// The token holder (topic 1).
        owner: Address,
        /// Who may spend (topic 2).
        spender: Address,
        /// The new allowance in the token's smallest unit; `U256::MAX` is unlimited for most tokens.
        value: U256,
    },
    /// ERC-721 `Transfer` (4 topics).
    Erc721Transfer {
        /// Previous holder (topic 1); zero for a mint.
        from: Address,
        /// New holder (topic 2); zero for a burn.
        to: Address,
        /// The token id (topic 3).
        token_id: U256,
    },
    /// ERC-721 `Approval` (4 topics).
    Erc721Approval {
        /// The token holder (topic 1).
        owner: Address,
        /// The address approved for this one token (topic 2); zero clears the approval.
        approved: Address,
        /// The token id (topic 3).
        token_id: U256,
    },
    /// ERC-721 / ERC-1155 `ApprovalForAll`.
    ApprovalForAll {
        /// The token holder (topic 1).
        owner: Address,
        /// The operator given or denied control of all the holder's tokens (topic 2).
        operator: Address,
        /// `true` grants, `false` revokes.
        approved: bool,
    },
    /// ERC-1155 `TransferSingle`.
    Erc1155TransferSingle {
        /// Who made the transfer (topic 1): the holder or an approved operator.
        operator: Address,
        /// Previous holder (topic 2); zero for a mint.
        from: Address,
        /// New holder (topic 3); zero for a burn.
        to: Address,
        /// The token id.
        id: U256,
        /// Amount of that id moved.
        value: U256,
    },
    /// ERC-1155 `TransferBatch`.
    Erc1155TransferBatch {
        /// Who made the transfer (topic 1): the holder or an approved operator.
        operator: Address,
        /// Previous holder (topic 2); zero for a mint.
        from: Address,
        /// New holder (topic 3); zero for a burn.
        to: Address,
        /// The token ids, in event order.
        ids: Vec<U256>,
        /// The amount of each id, index for index with `ids`.
        values: Vec<U256>,
    },
}

/// A contract created during execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreatedContract {
    /// Address of the new contract.
    pub address: Address,
    /// The frame's `target` that ran CREATE or CREATE2.
    pub creator: Address,
    /// [`CallKind::Create`] or [`CallKind::Create2`].
    pub kind: CallKind,
    /// `keccak256` of the deployed runtime code.
    pub code_hash: B256,
    /// Index of the creating frame in [`SimulationReport::calls`].
    pub frame: usize,
}

/// A SELFDESTRUCT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SelfDestruct {
    /// The contract that self-destructed.
    pub address: Address,
    /// Who received its balance.
    pub beneficiary: Address,
    /// ETH sent to the beneficiary, in wei.
    pub value: U256,
    /// Index of the SELFDESTRUCT frame in [`SimulationReport::calls`].
    pub frame: usize,
}

/// Where in a report an address appears, for screening messages
/// ("simulation: Transfer log topic 2").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Location {
    /// The outer transaction's sender (`tx.origin`).
    Executor,
    /// The `msg.sender` of a call frame.
    CallCaller {
        /// Index of the frame in [`SimulationReport::calls`].
        frame: usize,
        /// Call depth of the frame (0: the call into the Safe).
        depth: usize,
    },
    /// The storage and balance a call frame ran against.
    CallTarget {
        /// Index of the frame in [`SimulationReport::calls`].
        frame: usize,
        /// Call depth of the frame (0: the call into the Safe).
        depth: usize,
    },
    /// The code a call frame ran (differs from the target for DELEGATECALL and CALLCODE).
    CallCode {
        /// Index of the frame in [`SimulationReport::calls`].
        frame: usize,
        /// Call depth of the frame (0: the call into the Safe).
        depth: usize,
    },
    /// An address in the Safe's storage (owner, module, guard, handler, singleton).
    SafeStorage {
        /// The Safe slot holding the address.
        slot: SafeSlot,
        /// `true` for the value after execution, `false` for the value before.
        after: bool,
    },
    /// The old or new implementation of a proxy upgraded outside the Safe.
    ProxyImplementation {
        /// The upgraded proxy.
        proxy: Address,
        /// `true` for the new implementation, `false` for the old.
        after: bool,
    },
    /// The recipient of an ETH transfer.
    EthRecipient {
        /// Index of the frame that moved the ETH.
        frame: usize,
    },
    /// The sender of an ETH transfer.
    EthSender {
        /// Index of the frame that moved the ETH.
        frame: usize,
    },
    /// An account whose net ETH balance changed.
    BalanceChange,
    /// The contract that emitted a token event.
    LogEmitter {
        /// Index of the log among the transaction's surviving logs.
        log_index: usize,
    },
    /// An indexed address of a token event, with the topic number as the event defines it.
    LogTopic {
        /// Index of the log among the transaction's surviving logs.
        log_index: usize,
        /// The event's name (`Transfer`, `Approval`, …).
        event: String,
        /// The topic the address is in (1 for the first indexed argument).
        topic: usize,
    },
    /// A contract created during execution.
    Created {
        /// Index of the creating frame.
        frame: usize,
    },
    /// The beneficiary of a SELFDESTRUCT.
    SelfDestructBeneficiary {
        /// Index of the SELFDESTRUCT frame.
        frame: usize,
    },
    /// An address the EVM loaded, whatever it did with it.
    Accessed,
    /// An address-shaped argument word in a call frame's input (any function, known or not).
    CallInput {
        /// Index of the frame in [`SimulationReport::calls`].
        frame: usize,
        /// The frames from the root to this one.
        path: Vec<usize>,
        /// The contract called (whose storage the code ran against).
        target: Address,
        /// The input's first four bytes.
        selector: Option<Selector>,
        /// Index of the 32-byte word after the selector.
        word: usize,
    },
    /// An address-shaped topic or data word of any surviving log (known event or not).
    LogWord {
        /// Index of the log among the transaction's surviving logs.
        log_index: usize,
        /// The emitting contract.
        emitter: Address,
        /// `true` for a data word, `false` for a topic.
        data: bool,
        /// The topic number or data word index.
        index: usize,
    },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("simulation: ")?;
        match self {
            Self::Executor => f.write_str("executor"),
            Self::CallCaller { frame, depth } => {
                write!(f, "caller of call {frame} at depth {depth}")
            }
            Self::CallTarget { frame, depth } => {
                write!(f, "call target of call {frame} at depth {depth}")
            }
            Self::CallCode { frame, depth } => {
                write!(f, "code run by call {frame} at depth {depth}")
            }
            Self::SafeStorage { slot, after } => {
                let when = if *after { "new" } else { "old" };
                write!(f, "{when} value of Safe slot {slot:?}")
            }
            Self::ProxyImplementation { proxy, after } => {
                let when = if *after { "new" } else { "old" };
                write!(f, "{when} implementation of proxy {proxy}")
            }
            Self::EthRecipient { frame } => write!(f, "ETH recipient in call {frame}"),
            Self::EthSender { frame } => write!(f, "ETH sender in call {frame}"),
            Self::BalanceChange => f.write_str("balance change"),
            Self::LogEmitter { log_index } => write!(f, "emitter of log {log_index}"),
            Self::LogTopic {
                event,
                topic,
                log_index,
            } => {
                write!(f, "{event} log {log_index} topic {topic}")
            }
            Self::Created { frame } => write!(f, "contract created in call {frame}"),
            Self::SelfDestructBeneficiary { frame } => {
                write!(f, "self-destruct beneficiary in call {frame}")
            }
            Self::Accessed => f.write_str("account accessed"),
            Self::CallInput {
                frame,
                path,
                target,
                selector,
                word,
            } => {
                let path: Vec<String> = path.iter().map(ToString::to_string).collect();
                write!(f, "argument word {word} of call {frame} to {target}")?;
                if let Some(s) = selector {
                    write!(f, " (selector {s})")?;
                }
                write!(f, ", call path {}", path.join("→"))
            }
            Self::LogWord {
                log_index,
                emitter,
                data,
                index,
            } => {
                let what = if *data { "data word" } else { "topic" };
                write!(f, "log {log_index} of {emitter}, {what} {index}")
            }
        }
    }
}

/// One appearance of an address in a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TouchedAddress {
    /// The address.
    pub address: Address,
    /// Where in the report it appears.
    pub location: Location,
}

impl SimulationReport {
    /// Writes to the Safe's own storage, classified.
    pub fn safe_changes(&self) -> &[SafeStorageChange] {
        &self.safe_storage
    }

    /// Safe storage writes other than the nonce and approved hashes.
    pub fn permission_changes(&self) -> impl Iterator<Item = &SafeStorageChange> {
        self.safe_storage
            .iter()
            .filter(|c| c.meaning.is_permission())
    }

    /// Whether the transaction changes who controls the Safe or the code it runs: singleton,
    /// owners, owner count, threshold, modules, guards, fallback handler, or any unrecognised
    /// Safe slot (fail closed).
    pub fn is_permission_change(&self) -> bool {
        self.permission_changes().next().is_some()
    }

    /// The singleton change, if slot 0 of the Safe was written.
    pub fn singleton_change(&self) -> Option<(Address, Address)> {
        self.safe_storage
            .iter()
            .find(|c| c.meaning == SafeSlot::Singleton)
            .map(|c| (c.before_address(), c.after_address()))
    }

    /// Every DELEGATECALL and CALLCODE frame, including failed ones (intent matters too).
    pub fn delegatecalls(&self) -> impl Iterator<Item = &CallFrame> {
        self.calls
            .iter()
            .filter(|c| c.kind.runs_in_caller_context())
    }

    /// DELEGATECALLs whose code ran against the Safe's own storage.
    pub fn safe_context_delegatecalls(&self) -> impl Iterator<Item = &CallFrame> {
        self.delegatecalls().filter(|c| c.target == self.safe)
    }

    /// The ids of the frames from the root down to `frame` (its path in the call tree).
    pub fn path_to(&self, frame: usize) -> Vec<usize> {
        let mut path = Vec::new();
        let mut cur = Some(frame);
        while let Some(id) = cur {
            if path.len() > self.calls.len() {
                break; // malformed parent links: never loop forever
            }
            path.push(id);
            cur = self.calls.get(id).and_then(|c| c.parent);
        }
        path.reverse();
        path
    }

    /// The contract whose code ran the frame that emitted a log: the frame's target (a
    /// DELEGATECALL emits as the delegating contract).
    fn log_emitter(&self, frame: usize) -> Address {
        self.calls.get(frame).map_or(Address::ZERO, |c| c.target)
    }

    /// Every address in the report with where it appears. An address appears once per location;
    /// the zero address and the sentinel are left out (they are list markers, not parties).
    pub fn touched_addresses(&self) -> Vec<TouchedAddress> {
        let mut out = Vec::new();
        let mut push = |address: Address, location: Location| {
            if address != Address::ZERO && address != crate::constants::SENTINEL {
                out.push(TouchedAddress { address, location });
            }
        };
        push(self.executor, Location::Executor);
        for c in &self.calls {
            let (frame, depth) = (c.id, c.depth);
            push(c.caller, Location::CallCaller { frame, depth });
            push(c.target, Location::CallTarget { frame, depth });
            if c.code_address != c.target {
                push(c.code_address, Location::CallCode { frame, depth });
            }
        }
        for s in &self.safe_storage {
            let slot = &s.meaning;
            let address_valued = match slot {
                SafeSlot::Owner { owner } => {
                    push(
                        *owner,
                        Location::SafeStorage {
                            slot: slot.clone(),
                            after: true,
                        },
                    );
                    true
                }
                SafeSlot::Module { module } => {
                    push(
                        *module,
                        Location::SafeStorage {
                            slot: slot.clone(),
                            after: true,
                        },
                    );
                    true
                }
                SafeSlot::Singleton
                | SafeSlot::Guard
                | SafeSlot::ModuleGuard
                | SafeSlot::FallbackHandler
                | SafeSlot::Other => true,
                SafeSlot::OwnerCount
                | SafeSlot::Threshold
                | SafeSlot::Nonce
                | SafeSlot::ApprovedHash { .. } => false,
            };
            if address_valued {
                push(
                    s.before_address(),
                    Location::SafeStorage {
                        slot: slot.clone(),
                        after: false,
                    },
                );
                push(
                    s.after_address(),
                    Location::SafeStorage {
                        slot: slot.clone(),
                        after: true,
                    },
                );
            }
        }
        for u in &self.proxy_upgrades {
            push(
                u.before,
                Location::ProxyImplementation {
                    proxy: u.proxy,
                    after: false,
                },
            );
            push(
                u.after,
                Location::ProxyImplementation {
                    proxy: u.proxy,
                    after: true,
                },
            );
        }
        for t in &self.eth_transfers {
            push(t.from, Location::EthSender { frame: t.frame });
            push(t.to, Location::EthRecipient { frame: t.frame });
        }
        for b in &self.balance_changes {
            push(b.address, Location::BalanceChange);
        }
        for e in &self.token_events {
            let log_index = e.log_index;
            push(e.token, Location::LogEmitter { log_index });
            let topic = |event: &str, topic: usize| Location::LogTopic {
                log_index,
                event: event.to_owned(),
                topic,
            };
            match &e.event {
                TokenEventKind::Erc20Transfer { from, to, .. }
                | TokenEventKind::Erc721Transfer { from, to, .. } => {
                    push(*from, topic("Transfer", 1));
                    push(*to, topic("Transfer", 2));
                }
                TokenEventKind::Erc20Approval {
                    owner,
                    spender: other,
                    ..
                }
                | TokenEventKind::Erc721Approval {
                    owner,
                    approved: other,
                    ..
                } => {
                    push(*owner, topic("Approval", 1));
                    push(*other, topic("Approval", 2));
                }
                TokenEventKind::ApprovalForAll {
                    owner, operator, ..
                } => {
                    push(*owner, topic("ApprovalForAll", 1));
                    push(*operator, topic("ApprovalForAll", 2));
                }
                TokenEventKind::Erc1155TransferSingle {
                    operator, from, to, ..
                } => {
                    push(*operator, topic("TransferSingle", 1));
                    push(*from, topic("TransferSingle", 2));
                    push(*to, topic("TransferSingle", 3));
                }
                TokenEventKind::Erc1155TransferBatch {
                    operator, from, to, ..
                } => {
                    push(*operator, topic("TransferBatch", 1));
                    push(*from, topic("TransferBatch", 2));
                    push(*to, topic("TransferBatch", 3));
                }
            }
        }
        for c in &self.created {
            push(c.address, Location::Created { frame: c.frame });
        }
        for s in &self.self_destructed {
            push(
                s.beneficiary,
                Location::SelfDestructBeneficiary { frame: s.frame },
            );
        }
        for a in &self.accessed {
            push(*a, Location::Accessed);
        }
        for e in &self.embedded_addresses {
            let frame = e.frame;
            let location = match e.site {
                EmbeddedSite::Input { word } => {
                    let call = self.calls.get(frame);
                    Location::CallInput {
                        frame,
                        path: self.path_to(frame),
                        target: call.map_or(Address::ZERO, |c| c.target),
                        selector: call.and_then(|c| c.selector),
                        word,
                    }
                }
                EmbeddedSite::LogTopic { log_index, topic } => Location::LogWord {
                    log_index,
                    emitter: self.log_emitter(frame),
                    data: false,
                    index: topic,
                },
                EmbeddedSite::LogData { log_index, word } => Location::LogWord {
                    log_index,
                    emitter: self.log_emitter(frame),
                    data: true,
                    index: word,
                },
            };
            push(e.address, location);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_safe_slots_count_as_permission_changes() {
        assert!(SafeSlot::Other.is_permission());
        assert!(SafeSlot::Singleton.is_permission());
        assert!(!SafeSlot::Nonce.is_permission());
    }

    #[test]
    fn decodes_safe_error_strings() {
        use alloy_sol_types::{Revert, SolError};
        let data = Revert {
            reason: "GS013".into(),
        }
        .abi_encode();
        assert_eq!(
            RevertReason::decode(&data),
            RevertReason::Error {
                message: "GS013".into()
            }
        );
        assert_eq!(RevertReason::decode(&[]), RevertReason::Empty);
    }

    #[test]
    fn address_shaped_words_are_addresses_of_either_alignment_and_never_small_integers() {
        let listed = Address::from_slice(&[0x09; 20]);
        let mut right = [0u8; 32];
        right[12..].copy_from_slice(listed.as_slice());
        assert_eq!(address_in_word(&right), Some(listed));
        let mut left = [0u8; 32];
        left[..20].copy_from_slice(listed.as_slice());
        assert_eq!(address_in_word(&left), Some(listed));
        // amounts below 2^96, booleans, offsets, the sentinel: not addresses
        for small in [
            U256::ZERO,
            U256::from(1),
            U256::from(0x40),
            U256::from(1u128 << 95),
        ] {
            assert_eq!(address_in_word(&small.to_be_bytes()), None, "{small}");
        }
        // a full 256-bit value (a hash) is neither shape
        assert_eq!(address_in_word(&[0xff; 32]), None);
        // an address with 8 leading zero bytes is below the threshold: documented, unlisted
        let mut tiny = [0u8; 32];
        tiny[31] = 1;
        tiny[24] = 1;
        assert_eq!(address_in_word(&tiny), None);
    }

    #[test]
    fn locations_read_as_sentences() {
        let l = Location::LogTopic {
            log_index: 0,
            event: "Transfer".into(),
            topic: 2,
        };
        assert_eq!(l.to_string(), "simulation: Transfer log 0 topic 2");
        let c = Location::CallTarget { frame: 3, depth: 2 };
        assert_eq!(
            c.to_string(),
            "simulation: call target of call 3 at depth 2"
        );
    }
}
