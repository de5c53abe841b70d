//! The effects inspector: records every call frame, log, creation and self-destruct while
//! `execTransaction` runs, and stops execution at the deadline.
//!
//! It implements only frame-level hooks (no per-opcode `step`), so its cost is per call, not per
//! instruction; storage effects come from the journaled state diff afterwards, not from SSTORE
//! tracing. Frames that later revert are still recorded (with `success = false`): a reverted
//! DELEGATECALL still shows intent.

use std::time::Instant;

use alloy_primitives::{Address, B256, Log, Selector, U256};
use revm::{
    context::ContextTr,
    context_interface::CreateScheme,
    inspector::Inspector,
    interpreter::{
        CallInputs, CallOutcome, CallScheme, CreateInputs, CreateOutcome, InterpreterResult,
        interpreter::EthInterpreter,
    },
    primitives::KECCAK_EMPTY,
};

use crate::report::{CallKind, RevertReason};

/// How a recorded frame ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FrameEnd {
    Running,
    Ok,
    Revert(RevertReason),
    Halt(String),
}

/// A frame as recorded; turned into a [`crate::report::CallFrame`] by the report builder.
#[derive(Debug, Clone)]
pub(crate) struct RawFrame {
    pub(crate) parent: Option<usize>,
    pub(crate) depth: usize,
    pub(crate) kind: CallKind,
    pub(crate) caller: Address,
    pub(crate) target: Address,
    pub(crate) code_address: Address,
    pub(crate) value: U256,
    pub(crate) selector: Option<Selector>,
    pub(crate) input_len: usize,
    pub(crate) code_hash: Option<B256>,
    pub(crate) end: FrameEnd,
    /// Address-shaped argument words of the input (word index after the selector, address),
    /// one per distinct address: the input itself is not kept.
    pub(crate) input_addresses: Vec<(usize, Address)>,
    /// What a CALL's input says it does, for the calls whose effect the run cannot otherwise
    /// be trusted to show: grants (a token may grant without an event) and another Safe's
    /// `execTransaction` (whose refund the run's gas price hides).
    pub(crate) call_fact: Option<CallFact>,
    /// For a DELEGATECALL or CALLCODE: whether the 20 bytes of the code address occur anywhere
    /// in the outer transaction's input, i.e. the signed SafeTx chose it.
    pub(crate) code_in_tx: bool,
}

/// What a call's input states, decoded at the call.
#[derive(Debug, Clone)]
pub(crate) enum CallFact {
    /// The call grants rights over a holder's tokens.
    Grants(Vec<CallGrant>),
    /// `execTransaction` on a Safe, with its refund fields.
    SafeTx(Box<SafeTxRefund>),
}

/// One grant as a call's input states it.
#[derive(Debug, Clone)]
pub(crate) struct CallGrant {
    /// Whose tokens: the caller, or a Permit2 `permit`'s owner.
    pub(crate) holder: Address,
    /// The token (for Permit2, the token the allowance is over).
    pub(crate) token: Address,
    /// Who may move them.
    pub(crate) spender: Address,
    /// The contract called: the token, or Permit2.
    pub(crate) via: Address,
    /// What the call does to the right.
    pub(crate) how: GrantCall,
}

/// How a granting call changes a right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GrantCall {
    /// `approve`: sets the allowance (or, for ERC-721, approves a token id).
    Set(U256),
    /// `increaseAllowance`: adds to it.
    Add(U256),
    /// `setApprovalForAll`.
    All(bool),
    /// Permit2 `approve` or `permit`: sets Permit2's own allowance.
    Permit2(U256),
}

/// The refund fields of an `execTransaction` input.
#[derive(Debug, Clone)]
pub(crate) struct SafeTxRefund {
    pub(crate) safe_tx_gas: U256,
    pub(crate) base_gas: U256,
    pub(crate) gas_price: U256,
    pub(crate) gas_token: Address,
    pub(crate) refund_receiver: Address,
}

/// The selectors whose input [`call_fact`] decodes: everything else costs one comparison.
fn decoded_selector(sel: Selector) -> bool {
    use alloy_sol_types::SolCall;

    use crate::abi::{IERC20, IERC721, IPermit2, ISafe};
    let sel = sel.0;
    sel == IERC20::approveCall::SELECTOR
        || sel == IERC20::increaseAllowanceCall::SELECTOR
        || sel == IERC721::setApprovalForAllCall::SELECTOR
        || sel == IPermit2::approveCall::SELECTOR
        || sel == IPermit2::permit_0Call::SELECTOR
        || sel == IPermit2::permit_1Call::SELECTOR
        || sel == ISafe::execTransactionCall::SELECTOR
}

/// Decodes a CALL's input into a [`CallFact`] when it grants or executes a Safe transaction.
fn call_fact(caller: Address, target: Address, input: &[u8]) -> Option<CallFact> {
    use crate::decode::{ActionKind, Permit2Call, TokenCall};
    if let Some(crate::decode::NestedSafeCall::Exec(e)) = crate::decode::nested_safe_call(input) {
        return Some(CallFact::SafeTx(Box::new(SafeTxRefund {
            safe_tx_gas: e.safe_tx_gas,
            base_gas: e.base_gas,
            gas_price: e.gas_price,
            gas_token: e.gas_token,
            refund_receiver: e.refund_receiver,
        })));
    }
    let one = |token, spender, how| {
        Some(CallFact::Grants(vec![CallGrant {
            holder: caller,
            token,
            spender,
            via: target,
            how,
        }]))
    };
    match crate::decode::external_call(target, input) {
        ActionKind::Token {
            call:
                TokenCall::Approve {
                    spender,
                    amount_or_token_id,
                },
        } => one(target, spender, GrantCall::Set(amount_or_token_id)),
        ActionKind::Token {
            call: TokenCall::IncreaseAllowance { spender, added },
        } => one(target, spender, GrantCall::Add(added)),
        ActionKind::Token {
            call: TokenCall::SetApprovalForAll { operator, approved },
        } => one(target, operator, GrantCall::All(approved)),
        ActionKind::Permit2 {
            call:
                Permit2Call::Approve {
                    token,
                    spender,
                    amount,
                    ..
                },
        } => one(token, spender, GrantCall::Permit2(amount)),
        ActionKind::Permit2 {
            call:
                Permit2Call::Permit {
                    owner,
                    spender,
                    tokens,
                },
        } => Some(CallFact::Grants(
            tokens
                .into_iter()
                .map(|(token, amount)| CallGrant {
                    holder: owner,
                    token,
                    spender,
                    via: target,
                    how: GrantCall::Permit2(amount),
                })
                .collect(),
        )),
        _ => None,
    }
}

/// A log with the frame that emitted it.
#[derive(Debug, Clone)]
pub(crate) struct RawLog {
    pub(crate) frame: usize,
    pub(crate) log: Log,
}

/// Records effects; see the module docs.
#[derive(Debug)]
pub struct EffectsInspector {
    pub(crate) frames: Vec<RawFrame>,
    pub(crate) logs: Vec<RawLog>,
    stack: Vec<usize>,
    /// The outer transaction's input (the signed SafeTx inside `execTransaction`), kept to tell
    /// a delegatecall target the transaction names from one chosen at run time.
    tx_input: Vec<u8>,
    deadline: Instant,
    pub(crate) deadline_hit: bool,
}

impl EffectsInspector {
    pub(crate) fn new(deadline: Instant) -> Self {
        Self {
            frames: Vec::with_capacity(16),
            logs: Vec::with_capacity(8),
            stack: Vec::with_capacity(8),
            tx_input: Vec::new(),
            deadline,
            deadline_hit: false,
        }
    }

    fn open(&mut self, frame: RawFrame) -> usize {
        let id = self.frames.len();
        self.frames.push(frame);
        self.stack.push(id);
        id
    }

    fn close(&mut self, result: &InterpreterResult) {
        let Some(id) = self.stack.pop() else { return };
        let end = frame_end(result);
        if let Some(f) = self.frames.get_mut(id) {
            f.end = end;
        }
    }

    /// The deadline is checked at every frame start: a transaction can only burn time between
    /// frames within its gas cap, which bounds the rest.
    fn past_deadline(&mut self) -> bool {
        if Instant::now() >= self.deadline {
            self.deadline_hit = true;
        }
        self.deadline_hit
    }
}

/// The distinct address-shaped 32-byte words of `bytes` (see
/// [`crate::report::address_in_word`]), each with the index of its first word.
pub(crate) fn address_words(bytes: &[u8]) -> Vec<(usize, Address)> {
    let mut out: Vec<(usize, Address)> = Vec::new();
    for (i, chunk) in bytes.chunks_exact(32).enumerate() {
        let Ok(word) = <&[u8; 32]>::try_from(chunk) else {
            continue;
        };
        if let Some(a) = crate::report::address_in_word(word)
            && !out.iter().any(|(_, seen)| *seen == a)
        {
            out.push((i, a));
        }
    }
    out
}

fn frame_end(result: &InterpreterResult) -> FrameEnd {
    if result.result.is_ok() {
        FrameEnd::Ok
    } else if result.result.is_revert() {
        FrameEnd::Revert(RevertReason::decode(&result.output))
    } else {
        FrameEnd::Halt(format!("{:?}", result.result))
    }
}

impl<CTX: ContextTr> Inspector<CTX, EthInterpreter> for EffectsInspector {
    fn call(&mut self, ctx: &mut CTX, inputs: &mut CallInputs) -> Option<CallOutcome> {
        let kind = match inputs.scheme {
            CallScheme::Call => CallKind::Call,
            CallScheme::CallCode => CallKind::CallCode,
            CallScheme::DelegateCall => CallKind::DelegateCall,
            CallScheme::StaticCall => CallKind::StaticCall,
        };
        let input_len = inputs.input.len();
        // Borrow, never copy, the input: only the selector, address-shaped words and the facts
        // of granting and Safe-executing calls are kept (and the outer input, once).
        let mut call_fact_found = None;
        let (selector, input_addresses) = if input_len >= 4 {
            let bytes = inputs.input.as_bytes(ctx);
            let selector = bytes.get(..4).map(Selector::from_slice);
            if self.stack.is_empty() {
                self.tx_input = bytes.to_vec();
            } else if kind == CallKind::Call && selector.is_some_and(decoded_selector) {
                call_fact_found = call_fact(inputs.caller, inputs.target_address, &bytes);
            }
            (
                selector,
                bytes.get(4..).map(address_words).unwrap_or_default(),
            )
        } else {
            (None, Vec::new())
        };
        let code_in_tx = kind.runs_in_caller_context()
            && self
                .tx_input
                .windows(20)
                .any(|w| w == inputs.bytecode_address.as_slice());
        let hash = inputs.known_bytecode.0;
        let code_hash = (hash != KECCAK_EMPTY && hash != B256::ZERO).then_some(hash);
        let parent = self.stack.last().copied();
        self.open(RawFrame {
            parent,
            depth: self.stack.len(),
            kind,
            caller: inputs.caller,
            target: inputs.target_address,
            code_address: inputs.bytecode_address,
            value: inputs.call_value(),
            selector,
            input_len,
            code_hash,
            end: FrameEnd::Running,
            input_addresses,
            call_fact: call_fact_found,
            code_in_tx,
        });
        if self.past_deadline() {
            return Some(CallOutcome::new_oog(
                inputs.gas_limit,
                inputs.return_memory_offset.clone(),
                inputs.reservoir,
            ));
        }
        None
    }

    fn call_end(&mut self, _ctx: &mut CTX, _inputs: &CallInputs, outcome: &mut CallOutcome) {
        self.close(&outcome.result);
    }

    fn create(&mut self, ctx: &mut CTX, inputs: &mut CreateInputs) -> Option<CreateOutcome> {
        let kind = match inputs.scheme() {
            CreateScheme::Create2 { .. } => CallKind::Create2,
            CreateScheme::Create | CreateScheme::Custom { .. } => CallKind::Create,
        };
        let _ = ctx;
        let parent = self.stack.last().copied();
        self.open(RawFrame {
            parent,
            depth: self.stack.len(),
            kind,
            caller: inputs.caller(),
            // Filled in at `create_end`, when the address is known.
            target: Address::ZERO,
            code_address: Address::ZERO,
            value: inputs.value(),
            selector: None,
            input_len: inputs.init_code().len(),
            code_hash: None,
            end: FrameEnd::Running,
            input_addresses: Vec::new(),
            call_fact: None,
            code_in_tx: false,
        });
        if self.past_deadline() {
            return Some(CreateOutcome::new_oog(
                inputs.gas_limit(),
                inputs.reservoir(),
            ));
        }
        None
    }

    fn create_end(&mut self, _ctx: &mut CTX, _inputs: &CreateInputs, outcome: &mut CreateOutcome) {
        if let Some(f) = self.stack.last().and_then(|id| self.frames.get_mut(*id)) {
            let address = outcome.address.unwrap_or_default();
            f.target = address;
            f.code_address = address;
        }
        self.close(&outcome.result);
    }

    fn log(&mut self, _ctx: &mut CTX, log: Log) {
        let frame = self.stack.last().copied().unwrap_or_default();
        self.logs.push(RawLog { frame, log });
    }

    fn selfdestruct(&mut self, contract: Address, target: Address, value: U256) {
        let parent = self.stack.last().copied();
        self.frames.push(RawFrame {
            parent,
            depth: self.stack.len(),
            kind: CallKind::SelfDestruct,
            caller: contract,
            target,
            code_address: contract,
            value,
            selector: None,
            input_len: 0,
            code_hash: None,
            end: FrameEnd::Ok,
            input_addresses: Vec::new(),
            call_fact: None,
            code_in_tx: false,
        });
    }
}
