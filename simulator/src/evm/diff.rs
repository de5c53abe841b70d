//! Turns the inspector's record and revm's journaled state into a [`SimulationReport`].
//!
//! "Before" values are read from the state source itself, never from revm's `original_value`,
//! which includes the approved-hash overrides: the report compares against the real pre-state.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::OnceLock,
};

use alloy_primitives::{Address, B256, Log, U256};
use alloy_sol_types::SolEvent;
use revm::{
    context_interface::result::ExecutionResult, database_interface::DatabaseRef,
    primitives::KECCAK_EMPTY, state::EvmState,
};

use super::{
    inspector::{CallFact, CallGrant, EffectsInspector, FrameEnd, GrantCall},
    source::{BlockInfo, StateError},
};
use crate::{
    abi::{IERC20, IERC721, IERC1155, IPermit2, ISafe},
    constants::{SENTINEL, slots},
    deployments::{self, SafeContract},
    report::{
        BalanceChange, CallFrame, CallKind, CreatedContract, EmbeddedAddress, EmbeddedSite,
        EthTransfer, FrameFailure, Grant, GrantKind, ImplementationSlot, InnerSafeTx, MutableCode,
        MutableWhy, Outcome, ProxySlot, ProxyUpgrade, ReachedSafe, RefundPayment, RevertReason,
        SafeSlot, SafeStorageChange, SelfDestruct, SignatureMode, SimulationReport, StateOverride,
        StatePin, StateSourceKind, StorageChange, StorageWord, TokenEvent, TokenEventKind,
    },
    version::SafeVersion,
};

/// The hashed fixed slots, computed once per process rather than per storage change.
struct FixedSlots {
    guard: U256,
    module_guard: U256,
    fallback_handler: U256,
    eip1967: U256,
}

fn fixed_slots() -> &'static FixedSlots {
    static SLOTS: OnceLock<FixedSlots> = OnceLock::new();
    SLOTS.get_or_init(|| FixedSlots {
        guard: slots::guard(),
        module_guard: slots::module_guard(),
        fallback_handler: slots::fallback_handler(),
        eip1967: slots::eip1967_implementation(),
    })
}

/// What the runner knows that the EVM result does not.
#[derive(Debug)]
pub(crate) struct RunFacts {
    pub(crate) safe: Address,
    pub(crate) chain_id: u64,
    pub(crate) version: SafeVersion,
    pub(crate) singleton: Address,
    pub(crate) safe_tx_hash: B256,
    pub(crate) executor: Address,
    pub(crate) mode: SignatureMode,
    pub(crate) overrides: Vec<StateOverride>,
    pub(crate) owners: Vec<Address>,
    pub(crate) modules: Vec<Address>,
    pub(crate) block: BlockInfo,
    pub(crate) kind: StateSourceKind,
    /// `gasToken` and `refundReceiver` of the SafeTx, to name the refund the Safe's event reports.
    pub(crate) gas_token: Address,
    pub(crate) refund_receiver: Address,
}

pub(crate) fn build_report<D: DatabaseRef<Error = StateError>>(
    src: &D,
    f: RunFacts,
    insp: &EffectsInspector,
    result: &ExecutionResult,
    state: &EvmState,
) -> Result<SimulationReport, StateError> {
    let calls = call_tree(insp);
    let effective = |frame: usize| calls.get(frame).is_some_and(|c| c.effective);

    // Logs that survived, numbered as the receipt would number them.
    let surviving: Vec<(usize, &Log)> = insp
        .logs
        .iter()
        .filter(|l| effective(l.frame))
        .map(|l| (l.frame, &l.log))
        .collect();

    let outcome = outcome(&f, result, &calls, &surviving);
    let embedded_addresses = embedded_addresses(insp, &surviving);
    let refund = refund_payment(&f, &surviving);
    let token_events = surviving
        .iter()
        .enumerate()
        .filter_map(|(log_index, (frame, log))| {
            token_event(log).map(|event| TokenEvent {
                token: log.address,
                log_index,
                frame: *frame,
                event,
            })
        })
        .collect::<Vec<TokenEvent>>();
    let call_grants: Vec<(usize, &CallGrant)> = insp
        .frames
        .iter()
        .enumerate()
        .filter(|(id, _)| effective(*id))
        .filter_map(|(id, r)| match &r.call_fact {
            Some(CallFact::Grants(g)) => Some(g.iter().map(move |g| (id, g))),
            _ => None,
        })
        .flatten()
        .collect();
    let grants = grants(f.safe, &surviving, &token_events, &call_grants);

    let reached = reached_safe_addresses(src, &f, &calls, state)?;
    let mutable_code = mutable_code(src, &f, insp, &calls, &reached, state)?;
    let inner_safe_txs = inner_safe_txs(insp, &calls, &surviving, |a| {
        a == f.safe || reached.contains_key(&a)
    });
    let mut reached_storage: BTreeMap<Address, Vec<SafeStorageChange>> = BTreeMap::new();
    let mut safe_storage = Vec::new();
    let mut other_storage = Vec::new();
    let mut proxy_upgrades = Vec::new();
    let mut balance_changes = Vec::new();
    // Sorted iteration keeps the report deterministic.
    let accounts: BTreeMap<&Address, _> = state.iter().collect();
    for (address, acc) in &accounts {
        let address = **address;
        let mut slots: Vec<_> = acc.changed_storage_slots().collect();
        slots.sort_by_key(|(k, _)| **k);
        for (slot, value) in slots {
            let before = src.storage_ref(address, *slot)?;
            let after = value.present_value();
            if before == after {
                continue;
            }
            let (before, after) = (B256::from(before), B256::from(after));
            if address == f.safe {
                safe_storage.push(SafeStorageChange {
                    slot: *slot,
                    meaning: SafeSlot::Other,
                    before,
                    after,
                    new_code_hash: None,
                });
                continue;
            }
            other_storage.push(StorageChange {
                address,
                slot: *slot,
                before,
                after,
            });
            if reached.contains_key(&address) {
                // A reached Safe's slot 0 is its singleton: judged as a Safe change, not as a
                // proxy upgrade.
                reached_storage
                    .entry(address)
                    .or_default()
                    .push(SafeStorageChange {
                        slot: *slot,
                        meaning: SafeSlot::Other,
                        before,
                        after,
                        new_code_hash: None,
                    });
                continue;
            }
            if let Some(kind) = implementation_slot(src, state, *slot, before, after)? {
                proxy_upgrades.push(ProxyUpgrade {
                    proxy: address,
                    slot: kind,
                    before: Address::from_word(before),
                    after: Address::from_word(after),
                });
            }
        }
        if acc.is_touched() {
            let before = src
                .basic_ref(address)?
                .map(|i| i.balance)
                .unwrap_or_default();
            if before != acc.info.balance {
                balance_changes.push(BalanceChange {
                    address,
                    before,
                    after: acc.info.balance,
                });
            }
        }
    }
    let own_candidates: Vec<Address> = f.owners.iter().chain(&f.modules).copied().collect();
    classify(
        &own_candidates,
        &[f.safe_tx_hash],
        &calls,
        state,
        &mut safe_storage,
    );
    code_hashes_of_code_slots(src, state, &mut safe_storage)?;
    let mut reached_safes = Vec::with_capacity(reached.len());
    for (address, (singleton, frame)) in reached {
        let mut storage = reached_storage.remove(&address).unwrap_or_default();
        // Hashes it approved in this run: the only approved-hash keys its writes can have.
        let hashes: Vec<B256> = surviving
            .iter()
            .filter(|(_, l)| {
                l.address == address
                    && l.topics().first() == Some(&ISafe::ApproveHash::SIGNATURE_HASH)
            })
            .filter_map(|(_, l)| l.topics().get(1).copied())
            .collect();
        classify(&[], &hashes, &calls, state, &mut storage);
        code_hashes_of_code_slots(src, state, &mut storage)?;
        reached_safes.push(ReachedSafe {
            address,
            singleton,
            frame,
            storage,
            grants: self::grants(address, &surviving, &token_events, &call_grants),
        });
    }

    let mut eth_transfers = Vec::new();
    let mut created = Vec::new();
    let mut self_destructed = Vec::new();
    for c in calls.iter().filter(|c| c.effective) {
        let moves = matches!(
            c.kind,
            CallKind::Call | CallKind::Create | CallKind::Create2 | CallKind::SelfDestruct
        );
        if moves && !c.value.is_zero() {
            eth_transfers.push(EthTransfer {
                from: c.caller,
                to: c.target,
                value: c.value,
                frame: c.id,
            });
        }
        match c.kind {
            CallKind::Create | CallKind::Create2 if c.target != Address::ZERO => {
                let code_hash = state
                    .get(&c.target)
                    .map(|a| a.info.code_hash)
                    .unwrap_or(KECCAK_EMPTY);
                created.push(CreatedContract {
                    address: c.target,
                    creator: c.caller,
                    kind: c.kind,
                    code_hash,
                    frame: c.id,
                });
            }
            CallKind::SelfDestruct => self_destructed.push(SelfDestruct {
                address: c.caller,
                beneficiary: c.target,
                value: c.value,
                frame: c.id,
            }),
            _ => {}
        }
    }

    let precompile_limit = Address::with_last_byte(0xff);
    let accessed = accounts
        .keys()
        .map(|a| **a)
        .filter(|a| *a > precompile_limit && *a != f.block.beneficiary)
        .collect();

    Ok(SimulationReport {
        safe: f.safe,
        chain_id: f.chain_id,
        version: f.version,
        singleton: f.singleton,
        safe_tx_hash: f.safe_tx_hash,
        state: StatePin {
            source: f.kind,
            block_number: f.block.number,
            block_hash: f.block.hash,
            timestamp: f.block.timestamp.saturating_add(12),
        },
        executor: f.executor,
        signatures: f.mode,
        overrides: f.overrides,
        outcome,
        gas_used: result.tx_gas_used(),
        calls,
        safe_storage,
        proxy_upgrades,
        other_storage,
        eth_transfers,
        balance_changes,
        token_events,
        tokens: Vec::new(),
        created,
        self_destructed,
        accessed,
        embedded_addresses,
        grants,
        refund,
        reached_safes,
        delegated_code: Vec::new(),
        mutable_code,
        inner_safe_txs,
    })
}

/// Every successful `execTransaction` CALL into a Safe (`is_safe`: the proposing Safe or a
/// reached one; another contract with that selector pays no Safe refund) other than the outer
/// one, with its refund fields and the payment its Safe reported (the last word of the Safe's
/// `ExecutionSuccess`/`Failure` emitted inside that call).
fn inner_safe_txs(
    insp: &EffectsInspector,
    calls: &[CallFrame],
    logs: &[(usize, &Log)],
    is_safe: impl Fn(Address) -> bool,
) -> Vec<InnerSafeTx> {
    let topics = [
        ISafe::ExecutionSuccess::SIGNATURE_HASH,
        ISafe::ExecutionFailure::SIGNATURE_HASH,
    ];
    let within = |frame: usize, ancestor: usize| {
        let mut cur = Some(frame);
        let mut steps = 0;
        while let Some(id) = cur {
            if id == ancestor {
                return true;
            }
            steps += 1;
            if steps > calls.len() {
                return false;
            }
            cur = calls.get(id).and_then(|c| c.parent);
        }
        false
    };
    let mut out = Vec::new();
    for (id, r) in insp.frames.iter().enumerate().skip(1) {
        let Some(CallFact::SafeTx(t)) = &r.call_fact else {
            continue;
        };
        if !calls.get(id).is_some_and(|c| c.effective) || !is_safe(r.target) {
            continue;
        }
        let paid = logs
            .iter()
            .rev()
            .filter(|(frame, l)| l.address == r.target && within(*frame, id))
            .find(|(_, l)| l.topics().first().is_some_and(|t| topics.contains(t)))
            .and_then(|(_, l)| {
                let data = l.data.data.as_ref();
                let start = data.len().checked_sub(32)?;
                data.get(start..).map(U256::from_be_slice)
            })
            .filter(|a| !a.is_zero());
        out.push(InnerSafeTx {
            safe: r.target,
            frame: id,
            safe_tx_gas: t.safe_tx_gas,
            base_gas: t.base_gas,
            gas_price: t.gas_price,
            gas_token: t.gas_token,
            refund_receiver: t.refund_receiver,
            paid,
        });
    }
    out
}

/// The runtime code at `a` as the run left it (a contract created in the run included).
fn code_at<D: DatabaseRef<Error = StateError>>(
    src: &D,
    state: &EvmState,
    a: Address,
) -> Result<Option<revm::bytecode::Bytecode>, StateError> {
    if let Some(code) = state.get(&a).and_then(|acc| acc.info.code.clone()) {
        return Ok(Some(code));
    }
    let Some(info) = src.basic_ref(a)? else {
        return Ok(None);
    };
    if let Some(code) = info.code {
        return Ok(Some(code));
    }
    if info.code_hash == KECCAK_EMPTY || info.code_hash == B256::ZERO {
        return Ok(None);
    }
    src.code_by_hash_ref(info.code_hash).map(Some)
}

/// Code run in a Safe's storage that can be other code when the transaction executes (see
/// [`MutableWhy`]). Every DELEGATECALL and CALLCODE frame is looked at, except a Safe proxy's
/// hop into its own singleton (the code a CALL into the proxy runs: slot 0, judged as the
/// Safe's singleton). An EIP-7702 designator is found in any context; the other two reasons in
/// the storage of the proposing Safe and of every reached Safe, where the code acts as the Safe.
fn mutable_code<D: DatabaseRef<Error = StateError>>(
    src: &D,
    f: &RunFacts,
    insp: &EffectsInspector,
    calls: &[CallFrame],
    reached: &BTreeMap<Address, (Address, Option<usize>)>,
    state: &EvmState,
) -> Result<Vec<MutableCode>, StateError> {
    // Each Safe with the singletons its proxy may hop into (before and after the run).
    let mut safes: BTreeMap<Address, Vec<Address>> = BTreeMap::new();
    safes.insert(f.safe, vec![f.singleton]);
    for (a, (singleton, _)) in reached {
        safes.insert(*a, vec![*singleton]);
    }
    for (a, singletons) in &mut safes {
        if let Some(v) = state
            .get(a)
            .and_then(|acc| acc.storage.get(&slots::SINGLETON))
        {
            singletons.push(Address::from_word(B256::from(v.present_value())));
        }
    }
    let proxy_hop = |c: &CallFrame| {
        safes
            .get(&c.target)
            .is_some_and(|s| s.contains(&c.code_address))
            && c.parent.and_then(|p| calls.get(p)).is_some_and(|p| {
                matches!(p.kind, CallKind::Call | CallKind::StaticCall)
                    && p.target == c.target
                    && p.code_address == c.target
            })
    };
    let mut out: Vec<MutableCode> = Vec::new();
    let mut proxies_read: HashMap<Address, Option<(ProxySlot, B256)>> = HashMap::new();
    let mut designators: HashMap<Address, Option<Address>> = HashMap::new();
    for c in calls.iter().filter(|c| c.kind.runs_in_caller_context()) {
        if proxy_hop(c) {
            continue;
        }
        let delegate = match designators.get(&c.code_address) {
            Some(d) => *d,
            None => {
                let d = src.basic_ref(c.code_address)?.and_then(|info| {
                    let code = info.code?;
                    let bytes = code.original_byte_slice();
                    (bytes.len() == 23 && bytes.starts_with(&[0xef, 0x01, 0x00]))
                        .then(|| bytes.get(3..).map(Address::from_slice))
                        .flatten()
                });
                designators.insert(c.code_address, d);
                d
            }
        };
        if let Some(delegate) = delegate {
            out.push(MutableCode {
                safe: c.target,
                frame: c.id,
                code: c.code_address,
                why: MutableWhy::Delegation { delegate },
            });
        }
        if !safes.contains_key(&c.target) {
            continue;
        }
        let proxy = match proxies_read.get(&c.code_address) {
            Some(p) => *p,
            None => {
                let mut found = None;
                for slot in ProxySlot::ALL {
                    let value = src.storage_ref(c.code_address, slot.slot())?;
                    if !value.is_zero() {
                        found = Some((slot, B256::from(value)));
                        break;
                    }
                }
                proxies_read.insert(c.code_address, found);
                found
            }
        };
        if let Some((slot, value)) = proxy {
            out.push(MutableCode {
                safe: c.target,
                frame: c.id,
                code: c.code_address,
                why: MutableWhy::ProxySlot { slot, value },
            });
        }
        let Some(parent) = c.parent.and_then(|p| calls.get(p)) else {
            continue;
        };
        // The zero address is in every run of zero bytes: never "written" anywhere, it is what
        // an unset slot reads as.
        let named = c.code_address != Address::ZERO;
        let in_tx = named && insp.frames.get(c.id).is_some_and(|r| r.code_in_tx);
        let in_code = named
            && code_at(src, state, parent.code_address)?.is_some_and(|code| {
                code.original_byte_slice()
                    .windows(20)
                    .any(|w| w == c.code_address.as_slice())
            });
        let written = in_tx || in_code;
        let held = held_in(state, c.code_address);
        if !written || held.is_some() {
            out.push(MutableCode {
                safe: c.target,
                frame: c.id,
                code: c.code_address,
                why: MutableWhy::ChosenAtRunTime {
                    by_frame: parent.id,
                    by_code: parent.code_address,
                    held_in: held,
                    written,
                },
            });
        }
    }
    Ok(out)
}

/// A storage word the run loaded that holds `a` (before or after the run): a named proxy slot
/// first, then any slot, lowest address and slot first. The zero address is only looked for in
/// proxy slots (zero is every unset slot).
fn held_in(state: &EvmState, a: Address) -> Option<StorageWord> {
    let word = U256::from_be_slice(a.as_slice());
    let accounts: BTreeMap<&Address, _> = state.iter().collect();
    let holds =
        |v: &revm::state::EvmStorageSlot| v.original_value() == word || v.present_value() == word;
    for (address, acc) in &accounts {
        for name in ProxySlot::ALL {
            if acc.storage.get(&name.slot()).is_some_and(holds) {
                return Some(StorageWord {
                    address: **address,
                    slot: name.slot(),
                    name: Some(name),
                });
            }
        }
    }
    if a == Address::ZERO {
        return None;
    }
    for (address, acc) in &accounts {
        let mut slots: Vec<_> = acc.storage.iter().filter(|(_, v)| holds(v)).collect();
        slots.sort_by_key(|(k, _)| **k);
        if let Some((slot, _)) = slots.first() {
            return Some(StorageWord {
                address: **address,
                slot: **slot,
                name: None,
            });
        }
    }
    None
}

/// The refund the Safe reports paying: the `payment` word (the last data word in every version,
/// whether or not `txHash` is indexed) of its own `ExecutionSuccess`/`ExecutionFailure`.
fn refund_payment(f: &RunFacts, logs: &[(usize, &Log)]) -> Option<RefundPayment> {
    let topics = [
        ISafe::ExecutionSuccess::SIGNATURE_HASH,
        ISafe::ExecutionFailure::SIGNATURE_HASH,
    ];
    let amount = logs
        .iter()
        .rev()
        .filter(|(_, l)| l.address == f.safe)
        .find(|(_, l)| l.topics().first().is_some_and(|t| topics.contains(t)))
        .and_then(|(_, l)| {
            let data = l.data.data.as_ref();
            let start = data.len().checked_sub(32)?;
            data.get(start..).map(U256::from_be_slice)
        })?;
    (!amount.is_zero()).then(|| RefundPayment {
        gas_token: f.gas_token,
        paid_to: if f.refund_receiver == Address::ZERO {
            f.executor
        } else {
            f.refund_receiver
        },
        amount,
    })
}

/// The code hashes of every known Safe singleton (all versions, L1 and L2, every flavour).
fn singleton_code_hashes() -> &'static HashSet<B256> {
    static HASHES: OnceLock<HashSet<B256>> = OnceLock::new();
    HASHES.get_or_init(|| {
        deployments::of(SafeContract::Singleton)
            .chain(deployments::of(SafeContract::SingletonL2))
            .filter_map(|d| d.code_hash)
            .collect()
    })
}

/// Fills `new_code_hash` of every write to a slot that holds code the Safe runs or calls.
fn code_hashes_of_code_slots<D: DatabaseRef<Error = StateError>>(
    src: &D,
    state: &EvmState,
    changes: &mut [SafeStorageChange],
) -> Result<(), StateError> {
    for c in changes.iter_mut() {
        if matches!(
            c.meaning,
            SafeSlot::Singleton
                | SafeSlot::Guard
                | SafeSlot::ModuleGuard
                | SafeSlot::FallbackHandler
        ) {
            c.new_code_hash = Some(code_hash_at(src, state, c.after_address())?);
        }
    }
    Ok(())
}

fn code_hash_at<D: DatabaseRef<Error = StateError>>(
    src: &D,
    state: &EvmState,
    a: Address,
) -> Result<B256, StateError> {
    Ok(match state.get(&a) {
        Some(acc) => acc.info.code_hash,
        None => src
            .basic_ref(a)?
            .map(|i| i.code_hash)
            .unwrap_or(KECCAK_EMPTY),
    })
}

/// The Safes other than the proposing one that the run reached (see [`ReachedSafe`] for the
/// rule), each with its pre-state singleton and the first frame that ran Safe code for it.
/// Slot 0 is only read for accounts whose storage was written, so a remote state source is not
/// asked about every account the run loaded.
fn reached_safe_addresses<D: DatabaseRef<Error = StateError>>(
    src: &D,
    f: &RunFacts,
    calls: &[CallFrame],
    state: &EvmState,
) -> Result<BTreeMap<Address, (Address, Option<usize>)>, StateError> {
    let safe_code = singleton_code_hashes();
    let mut found: BTreeMap<Address, Option<usize>> = BTreeMap::new();
    for c in calls {
        if c.kind.runs_in_caller_context()
            && c.target != f.safe
            && c.code_hash.is_some_and(|h| safe_code.contains(&h))
        {
            found.entry(c.target).or_insert(Some(c.id));
        }
    }
    for (address, acc) in state {
        if *address == f.safe || found.contains_key(address) {
            continue;
        }
        if acc.changed_storage_slots().next().is_none() {
            continue;
        }
        let before = B256::from(src.storage_ref(*address, slots::SINGLETON)?);
        let after = acc
            .storage
            .get(&slots::SINGLETON)
            .map_or(before, |v| B256::from(v.present_value()));
        for w in [before, after] {
            if word_is_address(w)
                && safe_code.contains(&code_hash_at(src, state, Address::from_word(w))?)
            {
                found.insert(*address, None);
                break;
            }
        }
    }
    let mut out = BTreeMap::new();
    for (address, frame) in found {
        let singleton = Address::from_word(B256::from(src.storage_ref(address, slots::SINGLETON)?));
        out.insert(address, (singleton, frame));
    }
    Ok(out)
}

/// Address-shaped words of every frame's input (failed frames too: intent shows) and of every
/// surviving log's topics and data.
fn embedded_addresses(insp: &EffectsInspector, logs: &[(usize, &Log)]) -> Vec<EmbeddedAddress> {
    let mut out = Vec::new();
    for (frame, r) in insp.frames.iter().enumerate() {
        for (word, address) in &r.input_addresses {
            out.push(EmbeddedAddress {
                address: *address,
                frame,
                site: EmbeddedSite::Input { word: *word },
            });
        }
    }
    for (log_index, (frame, log)) in logs.iter().enumerate() {
        for (topic, t) in log.topics().iter().enumerate().skip(1) {
            if let Some(address) = crate::report::address_in_word(&t.0) {
                out.push(EmbeddedAddress {
                    address,
                    frame: *frame,
                    site: EmbeddedSite::LogTopic { log_index, topic },
                });
            }
        }
        for (word, address) in super::inspector::address_words(&log.data.data) {
            out.push(EmbeddedAddress {
                address,
                frame: *frame,
                site: EmbeddedSite::LogData { log_index, word },
            });
        }
    }
    out
}

/// The grants the Safe leaves in place: ERC-20 and ERC-721 `Approval`, `ApprovalForAll` and
/// Permit2 `Approval`/`Permit` events whose owner is the Safe, the last event per token and
/// spender (per token id for ERC-721) winning, revocations removing the grant. The holder's
/// balance is filled in by the run, which can still call the token.
fn grants(
    safe: Address,
    logs: &[(usize, &Log)],
    events: &[TokenEvent],
    calls: &[(usize, &CallGrant)],
) -> Vec<Grant> {
    // key: (token, spender or token id word, kind tag) → grant or revocation
    let mut last: BTreeMap<(Address, B256, u8), Option<Grant>> = BTreeMap::new();
    let grant = |token, spender, kind, emitter, log_index, frame| Grant {
        token,
        spender,
        kind,
        emitter,
        log_index,
        frame,
        holder_balance: None,
    };
    for e in events {
        let (key, g) = match &e.event {
            TokenEventKind::Erc20Approval {
                owner,
                spender,
                value,
            } if *owner == safe => (
                (e.token, spender.into_word(), 0),
                (!value.is_zero()).then(|| {
                    grant(
                        e.token,
                        *spender,
                        GrantKind::Allowance { value: *value },
                        e.token,
                        Some(e.log_index),
                        e.frame,
                    )
                }),
            ),
            TokenEventKind::Erc721Approval {
                owner,
                approved,
                token_id,
            } if *owner == safe => (
                (e.token, B256::from(*token_id), 1),
                (*approved != Address::ZERO).then(|| {
                    grant(
                        e.token,
                        *approved,
                        GrantKind::Token {
                            token_id: *token_id,
                        },
                        e.token,
                        Some(e.log_index),
                        e.frame,
                    )
                }),
            ),
            TokenEventKind::ApprovalForAll {
                owner,
                operator,
                approved,
            } if *owner == safe => (
                (e.token, operator.into_word(), 2),
                approved.then(|| {
                    grant(
                        e.token,
                        *operator,
                        GrantKind::All,
                        e.token,
                        Some(e.log_index),
                        e.frame,
                    )
                }),
            ),
            _ => continue,
        };
        last.insert(key, g);
    }
    for (log_index, (frame, log)) in logs.iter().enumerate() {
        let topics = log.topics();
        let is_permit2 = topics.first().is_some_and(|t| {
            *t == IPermit2::Approval::SIGNATURE_HASH || *t == IPermit2::Permit::SIGNATURE_HASH
        });
        if !is_permit2 || topics.len() != 4 || topic_address(log, 1) != Some(safe) {
            continue;
        }
        let (Some(token), Some(spender), Some(value)) = (
            topic_address(log, 2),
            topic_address(log, 3),
            data_u256(log, 0),
        ) else {
            continue;
        };
        // Permit2 keeps its own allowance per (owner, token, spender): keyed apart from the
        // token's own allowance by the emitter.
        let key = (token, spender.into_word(), 3);
        let g = (!value.is_zero()).then(|| {
            grant(
                token,
                spender,
                GrantKind::Allowance { value },
                log.address,
                Some(log_index),
                *frame,
            )
        });
        last.insert(key, g);
    }
    // The same from the granting calls' input, in call order: what the Safe asked for, whether
    // or not the token said anything. Keyed like the events (Permit2 apart).
    let mut stated: BTreeMap<(Address, B256, u8), Option<Grant>> = BTreeMap::new();
    for (frame, c) in calls.iter().filter(|(_, c)| c.holder == safe) {
        let (key, kind) = match c.how {
            GrantCall::Set(value) => {
                // An ERC-721 `approve` (same selector) that the token's own event in this very
                // call tells as one token id is that event's grant, not an allowance.
                let nft = events.iter().any(|e| {
                    e.frame == *frame
                        && matches!(e.event, TokenEventKind::Erc721Approval { approved, token_id, .. }
                            if approved == c.spender && token_id == value)
                });
                if nft {
                    continue;
                }
                (
                    (c.token, c.spender.into_word(), 0),
                    (!value.is_zero()).then_some(GrantKind::Allowance { value }),
                )
            }
            GrantCall::Add(added) => {
                let key = (c.token, c.spender.into_word(), 0);
                let before = match stated.get(&key) {
                    Some(Some(Grant {
                        kind: GrantKind::Allowance { value },
                        ..
                    })) => *value,
                    _ => U256::ZERO,
                };
                let value = before.saturating_add(added);
                (
                    key,
                    (!value.is_zero()).then_some(GrantKind::Allowance { value }),
                )
            }
            GrantCall::All(approved) => (
                (c.token, c.spender.into_word(), 2),
                approved.then_some(GrantKind::All),
            ),
            GrantCall::Permit2(value) => (
                (c.token, c.spender.into_word(), 3),
                (!value.is_zero()).then_some(GrantKind::Allowance { value }),
            ),
        };
        stated.insert(
            key,
            kind.map(|kind| Grant {
                token: c.token,
                spender: c.spender,
                kind,
                emitter: c.via,
                log_index: None,
                frame: *frame,
                holder_balance: None,
            }),
        );
    }
    // Whichever of event and input grants more stands: a token that lies in its event (or
    // stays silent) does not shrink what the Safe asked for, and an event granting more than
    // asked is what the token did.
    for (key, from_call) in stated {
        let Some(from_call) = from_call else { continue };
        let slot = last.entry(key).or_insert(None);
        let replace = match slot {
            None => true,
            Some(g) => grant_size(&from_call.kind) > grant_size(&g.kind),
        };
        if replace {
            *slot = Some(from_call);
        }
    }
    let mut out: Vec<Grant> = last.into_values().flatten().collect();
    out.sort_by_key(|g| (g.log_index.unwrap_or(usize::MAX), g.frame));
    out
}

/// How much a grant puts within reach, to compare an event's grant with a call's.
fn grant_size(kind: &GrantKind) -> U256 {
    match kind {
        GrantKind::Allowance { value } => *value,
        GrantKind::Token { .. } => U256::from(1u8),
        GrantKind::All => U256::MAX,
    }
}

/// The flat frame list with children, effectiveness and failures filled in.
fn call_tree(insp: &EffectsInspector) -> Vec<CallFrame> {
    let mut calls: Vec<CallFrame> = Vec::with_capacity(insp.frames.len());
    for (id, r) in insp.frames.iter().enumerate() {
        let (success, failure) = match &r.end {
            FrameEnd::Ok => (true, None),
            FrameEnd::Revert(reason) => (
                false,
                Some(FrameFailure::Revert {
                    reason: reason.clone(),
                }),
            ),
            FrameEnd::Halt(reason) => (
                false,
                Some(FrameFailure::Halt {
                    reason: reason.clone(),
                }),
            ),
            FrameEnd::Running => (
                false,
                Some(FrameFailure::Halt {
                    reason: "did not finish".to_owned(),
                }),
            ),
        };
        // Parents always precede their children, so the parent's flag is final here.
        let parent_effective = match r.parent {
            Some(p) => calls.get(p).is_some_and(|c| c.effective),
            None => true,
        };
        if let Some(p) = r.parent.and_then(|p| calls.get_mut(p)) {
            p.children.push(id);
        }
        calls.push(CallFrame {
            id,
            parent: r.parent,
            children: Vec::new(),
            depth: r.depth,
            kind: r.kind,
            caller: r.caller,
            target: r.target,
            code_address: r.code_address,
            value: r.value,
            selector: r.selector,
            input_len: r.input_len,
            code_hash: r.code_hash,
            success,
            effective: success && parent_effective,
            failure,
        });
    }
    calls
}

/// Decides the outcome; a top-level success without the Safe's `ExecutionSuccess` is not a
/// success (fail closed).
fn outcome(
    f: &RunFacts,
    result: &ExecutionResult,
    calls: &[CallFrame],
    logs: &[(usize, &Log)],
) -> Outcome {
    match result {
        ExecutionResult::Success { .. } => {
            let safe_topic = |topic: B256| {
                logs.iter()
                    .any(|(_, l)| l.address == f.safe && l.topics().first() == Some(&topic))
            };
            if safe_topic(ISafe::ExecutionSuccess::SIGNATURE_HASH) {
                Outcome::Success
            } else {
                let inner = calls.iter().find_map(|c| c.failure.clone());
                Outcome::ExecutionFailure { inner }
            }
        }
        ExecutionResult::Revert { output, .. } => Outcome::Revert {
            reason: RevertReason::decode(output),
        },
        ExecutionResult::Halt { reason, .. } => Outcome::Halt {
            reason: format!("{reason:?}"),
        },
    }
}

fn word_is_address(w: B256) -> bool {
    w.get(..12).is_some_and(|hi| hi.iter().all(|b| *b == 0))
}

/// Whether a non-Safe slot write is an implementation change: always for the EIP-1967 slot; for
/// slot 0 only when both values are addresses and one of them holds code (a Safe-style proxy),
/// so that ordinary contracts using slot 0 for data are not misreported.
fn implementation_slot<D: DatabaseRef<Error = StateError>>(
    src: &D,
    state: &EvmState,
    slot: U256,
    before: B256,
    after: B256,
) -> Result<Option<ImplementationSlot>, StateError> {
    if slot == fixed_slots().eip1967 {
        return Ok(Some(ImplementationSlot::Eip1967));
    }
    if slot != slots::SINGLETON || !word_is_address(before) || !word_is_address(after) {
        return Ok(None);
    }
    for w in [before, after] {
        let a = Address::from_word(w);
        let code_hash = match state.get(&a) {
            Some(acc) => acc.info.code_hash,
            None => src
                .basic_ref(a)?
                .map(|i| i.code_hash)
                .unwrap_or(KECCAK_EMPTY),
        };
        if code_hash != KECCAK_EMPTY && code_hash != B256::ZERO {
            return Ok(Some(ImplementationSlot::Slot0));
        }
    }
    Ok(None)
}

/// Names each Safe slot. Mapping slots are matched against the keys that could have produced
/// them: `known` (the pre-state owners and modules, when known), the sentinel, every address
/// seen in the run, and `hashes` for approved hashes.
fn classify(
    known: &[Address],
    hashes: &[B256],
    calls: &[CallFrame],
    state: &EvmState,
    changes: &mut [SafeStorageChange],
) {
    let f_slots = fixed_slots();
    let fixed = |slot: U256| -> Option<SafeSlot> {
        Some(match slot {
            s if s == slots::SINGLETON => SafeSlot::Singleton,
            s if s == slots::OWNER_COUNT => SafeSlot::OwnerCount,
            s if s == slots::THRESHOLD => SafeSlot::Threshold,
            s if s == slots::NONCE => SafeSlot::Nonce,
            s if s == f_slots.guard => SafeSlot::Guard,
            s if s == f_slots.module_guard => SafeSlot::ModuleGuard,
            s if s == f_slots.fallback_handler => SafeSlot::FallbackHandler,
            _ => return None,
        })
    };
    let mut unresolved = false;
    for c in changes.iter_mut() {
        match fixed(c.slot) {
            Some(m) => c.meaning = m,
            None => unresolved = true,
        }
    }
    if !unresolved {
        return; // the common case (nonce only): no hashing at all
    }
    let mut candidates: HashSet<Address> = HashSet::new();
    candidates.insert(SENTINEL);
    candidates.extend(known.iter().copied());
    candidates.extend(state.keys().copied());
    for c in calls {
        candidates.extend([c.caller, c.target, c.code_address]);
    }
    for c in changes.iter() {
        for w in [c.before, c.after] {
            if word_is_address(w) {
                candidates.insert(Address::from_word(w));
            }
        }
    }
    let mut table: HashMap<U256, SafeSlot> = HashMap::with_capacity(candidates.len() * 3);
    for a in candidates {
        table.insert(slots::owner(a), SafeSlot::Owner { owner: a });
        table.insert(slots::module(a), SafeSlot::Module { module: a });
        for hash in hashes {
            table.insert(
                slots::approved_hash(a, *hash),
                SafeSlot::ApprovedHash {
                    owner: a,
                    hash: *hash,
                },
            );
        }
    }
    for c in changes.iter_mut().filter(|c| c.meaning == SafeSlot::Other) {
        if let Some(m) = table.get(&c.slot) {
            c.meaning = m.clone();
        }
    }
}

fn topic_address(log: &Log, i: usize) -> Option<Address> {
    log.topics().get(i).map(|t| Address::from_word(*t))
}

fn topic_u256(log: &Log, i: usize) -> Option<U256> {
    log.topics().get(i).map(|t| U256::from_be_bytes(t.0))
}

fn data_u256(log: &Log, word: usize) -> Option<U256> {
    let start = word.checked_mul(32)?;
    log.data
        .data
        .get(start..start.checked_add(32)?)
        .map(U256::from_be_slice)
}

/// Recognises the token standard events by topic0 and shape (ERC-20 and ERC-721 `Transfer` and
/// `Approval` share topic0 and differ in their number of indexed topics).
fn token_event(log: &Log) -> Option<TokenEventKind> {
    let topic0 = *log.topics().first()?;
    let n = log.topics().len();
    if topic0 == IERC20::Transfer::SIGNATURE_HASH {
        let (from, to) = (topic_address(log, 1)?, topic_address(log, 2)?);
        return match n {
            3 => Some(TokenEventKind::Erc20Transfer {
                from,
                to,
                value: data_u256(log, 0)?,
            }),
            4 => Some(TokenEventKind::Erc721Transfer {
                from,
                to,
                token_id: topic_u256(log, 3)?,
            }),
            _ => None,
        };
    }
    if topic0 == IERC20::Approval::SIGNATURE_HASH {
        let (owner, other) = (topic_address(log, 1)?, topic_address(log, 2)?);
        return match n {
            3 => Some(TokenEventKind::Erc20Approval {
                owner,
                spender: other,
                value: data_u256(log, 0)?,
            }),
            4 => Some(TokenEventKind::Erc721Approval {
                owner,
                approved: other,
                token_id: topic_u256(log, 3)?,
            }),
            _ => None,
        };
    }
    if topic0 == IERC721::ApprovalForAll::SIGNATURE_HASH && n == 3 {
        return Some(TokenEventKind::ApprovalForAll {
            owner: topic_address(log, 1)?,
            operator: topic_address(log, 2)?,
            approved: !data_u256(log, 0)?.is_zero(),
        });
    }
    if topic0 == IERC1155::TransferSingle::SIGNATURE_HASH && n == 4 {
        return Some(TokenEventKind::Erc1155TransferSingle {
            operator: topic_address(log, 1)?,
            from: topic_address(log, 2)?,
            to: topic_address(log, 3)?,
            id: data_u256(log, 0)?,
            value: data_u256(log, 1)?,
        });
    }
    if topic0 == IERC1155::TransferBatch::SIGNATURE_HASH && n == 4 {
        let decoded = IERC1155::TransferBatch::decode_log_data(&log.data).ok()?;
        return Some(TokenEventKind::Erc1155TransferBatch {
            operator: decoded.operator,
            from: decoded.from,
            to: decoded.to,
            ids: decoded.ids,
            values: decoded.values,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{Bytes, LogData, address};
    use alloy_sol_types::SolValue;

    use super::*;

    fn log(topics: Vec<B256>, data: Vec<u8>) -> Log {
        Log {
            address: address!("0x00000000000000000000000000000000000070c3"),
            data: LogData::new_unchecked(topics, Bytes::from(data)),
        }
    }

    #[test]
    fn erc20_and_erc721_transfers_are_told_apart_by_topic_count() {
        let (a, b) = (Address::repeat_byte(0xaa), Address::repeat_byte(0xbb));
        let t0 = IERC20::Transfer::SIGNATURE_HASH;
        let erc20 = log(
            vec![t0, a.into_word(), b.into_word()],
            U256::from(5).to_be_bytes_vec(),
        );
        assert_eq!(
            token_event(&erc20),
            Some(TokenEventKind::Erc20Transfer {
                from: a,
                to: b,
                value: U256::from(5)
            })
        );
        let erc721 = log(
            vec![t0, a.into_word(), b.into_word(), U256::from(9).into()],
            Vec::new(),
        );
        assert_eq!(
            token_event(&erc721),
            Some(TokenEventKind::Erc721Transfer {
                from: a,
                to: b,
                token_id: U256::from(9)
            })
        );
        // Malformed (data too short) is not a token event rather than a guess.
        assert_eq!(
            token_event(&log(vec![t0, a.into_word(), b.into_word()], vec![1])),
            None
        );
    }

    #[test]
    fn erc1155_and_approval_for_all_events() {
        let (op, a, b) = (
            Address::repeat_byte(1),
            Address::repeat_byte(2),
            Address::repeat_byte(3),
        );
        let mut data = U256::from(7).to_be_bytes_vec();
        data.extend(U256::from(8).to_be_bytes_vec());
        let single = log(
            vec![
                IERC1155::TransferSingle::SIGNATURE_HASH,
                op.into_word(),
                a.into_word(),
                b.into_word(),
            ],
            data,
        );
        assert_eq!(
            token_event(&single),
            Some(TokenEventKind::Erc1155TransferSingle {
                operator: op,
                from: a,
                to: b,
                id: U256::from(7),
                value: U256::from(8)
            })
        );
        let batch_data = (
            vec![U256::from(1), U256::from(2)],
            vec![U256::from(3), U256::from(4)],
        )
            .abi_encode_params();
        let batch = log(
            vec![
                IERC1155::TransferBatch::SIGNATURE_HASH,
                op.into_word(),
                a.into_word(),
                b.into_word(),
            ],
            batch_data,
        );
        assert_eq!(
            token_event(&batch),
            Some(TokenEventKind::Erc1155TransferBatch {
                operator: op,
                from: a,
                to: b,
                ids: vec![U256::from(1), U256::from(2)],
                values: vec![U256::from(3), U256::from(4)]
            })
        );
        let approval = log(
            vec![
                IERC721::ApprovalForAll::SIGNATURE_HASH,
                a.into_word(),
                op.into_word(),
            ],
            U256::from(1).to_be_bytes_vec(),
        );
        assert_eq!(
            token_event(&approval),
            Some(TokenEventKind::ApprovalForAll {
                owner: a,
                operator: op,
                approved: true
            })
        );
    }

    fn events(logs: &[(usize, &Log)]) -> Vec<TokenEvent> {
        logs.iter()
            .enumerate()
            .filter_map(|(log_index, (frame, log))| {
                token_event(log).map(|event| TokenEvent {
                    token: log.address,
                    log_index,
                    frame: *frame,
                    event,
                })
            })
            .collect()
    }

    #[test]
    fn grants_keep_the_last_allowance_per_spender_and_drop_revocations() {
        let safe = address!("0x5afe5afe5afe5afe5afe5afe5afe5afe5afe5afe");
        let (a, b) = (Address::repeat_byte(0xaa), Address::repeat_byte(0xbb));
        let approval = |owner: Address, spender: Address, value: U256| {
            log(
                vec![
                    IERC20::Approval::SIGNATURE_HASH,
                    owner.into_word(),
                    spender.into_word(),
                ],
                value.to_be_bytes_vec(),
            )
        };
        let logs = [
            approval(safe, a, U256::from(100)),
            approval(safe, a, U256::from(40)),
            approval(safe, b, U256::MAX),
            approval(safe, b, U256::ZERO),
            // someone else's approval is not the Safe's grant
            approval(a, b, U256::MAX),
        ];
        let with_frames: Vec<(usize, &Log)> = logs.iter().map(|l| (3, l)).collect();
        let g = grants(safe, &with_frames, &events(&with_frames), &[]);
        assert_eq!(g.len(), 1, "{g:?}");
        assert_eq!(g[0].spender, a);
        assert_eq!(
            g[0].kind,
            GrantKind::Allowance {
                value: U256::from(40)
            }
        );
        assert_eq!((g[0].log_index, g[0].frame), (Some(1), 3));
    }

    #[test]
    fn permit2_and_operator_grants_are_found() {
        let safe = address!("0x5afe5afe5afe5afe5afe5afe5afe5afe5afe5afe");
        let (token, spender) = (Address::repeat_byte(0x70), Address::repeat_byte(0xcc));
        let permit2 = log(
            vec![
                IPermit2::Approval::SIGNATURE_HASH,
                safe.into_word(),
                token.into_word(),
                spender.into_word(),
            ],
            [
                U256::from(5).to_be_bytes_vec(),
                U256::from(9).to_be_bytes_vec(),
            ]
            .concat(),
        );
        let for_all = log(
            vec![
                IERC721::ApprovalForAll::SIGNATURE_HASH,
                safe.into_word(),
                spender.into_word(),
            ],
            U256::from(1).to_be_bytes_vec(),
        );
        let with_frames: Vec<(usize, &Log)> = vec![(1, &permit2), (2, &for_all)];
        let g = grants(safe, &with_frames, &events(&with_frames), &[]);
        assert_eq!(g.len(), 2, "{g:?}");
        assert_eq!(g[0].token, token);
        assert_eq!(g[0].emitter, permit2.address);
        assert_eq!(
            g[0].kind,
            GrantKind::Allowance {
                value: U256::from(5)
            }
        );
        assert_eq!(g[1].kind, GrantKind::All);
    }
}
