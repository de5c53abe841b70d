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
    deadline: Instant,
    pub(crate) deadline_hit: bool,
}

impl EffectsInspector {
    pub(crate) fn new(deadline: Instant) -> Self {
        Self {
            frames: Vec::with_capacity(16),
            logs: Vec::with_capacity(8),
            stack: Vec::with_capacity(8),
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
        // Borrow, never copy, the input: only the selector and address-shaped words are kept.
        let (selector, input_addresses) = if input_len >= 4 {
            let bytes = inputs.input.as_bytes(ctx);
            (
                bytes.get(..4).map(Selector::from_slice),
                bytes.get(4..).map(address_words).unwrap_or_default(),
            )
        } else {
            (None, Vec::new())
        };
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
        });
    }
}
