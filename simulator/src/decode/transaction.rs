//! [`decode_transaction`]: a [`SafeTx`] into its hashes, its action tree and its warnings.

use alloy_primitives::{Address, U256};
use alloy_sol_types::{SolCall, abi::AbiDecoderConfig};
use serde::Serialize;

use super::{
    action::{Action, ActionKind, ActionPath, NestedSafeTx},
    batch::{BatchError, parse_batch},
    calls,
};
use crate::{
    abi::IMultiSend,
    deployments,
    hash::{SafeContext, SafeTxHashes, safe_tx_hashes},
    limits::{MAX_BATCH_DEPTH, MAX_CALLDATA_BYTES, MAX_TOTAL_ACTIONS},
    tx::{Operation, SafeTx},
    warnings::{Warning, warnings},
};

/// Everything signgate derives from a Safe transaction without executing it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DecodedTransaction {
    /// The Safe, chain and version the transaction was decoded for.
    pub context: SafeContext,
    /// The ten signed fields, as given.
    pub tx: SafeTx,
    /// Recomputed here, never taken from a UI or the Transaction Service.
    pub hashes: SafeTxHashes,
    /// The transaction itself as the root of the action tree.
    pub root: Action,
    /// The statically detected risks, in tree order, for the policy to weigh.
    pub warnings: Vec<Warning>,
}

/// Why calldata could not be decoded. Every variant is a refusal: a transaction signgate cannot
/// decode completely is one it cannot screen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The calldata is larger than [`MAX_CALLDATA_BYTES`].
    #[error("calldata is {len} bytes, more than the {max} signgate decodes")]
    CalldataTooLarge {
        /// Length of the calldata in bytes.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// Batches nest deeper than [`MAX_BATCH_DEPTH`].
    #[error("batch at {path} nests deeper than {max} levels")]
    BatchTooDeep {
        /// The batch entry that would open one level too many.
        path: ActionPath,
        /// The bound.
        max: usize,
    },
    /// The whole tree holds more than [`MAX_TOTAL_ACTIONS`] calls.
    #[error("the transaction decodes into more than {max} actions")]
    TooManyActions {
        /// The bound.
        max: usize,
    },
    /// A call with the `multiSend(bytes)` selector whose calldata does not decode strictly.
    #[error("batch at {path} is not a well-formed multiSend(bytes) call: {reason}")]
    MalformedBatchCall {
        /// Which call of the tree it is.
        path: ActionPath,
        /// The ABI decoder's complaint.
        reason: String,
    },
    /// The `transactions` bytes of a `multiSend` call are not a well-formed packed batch.
    #[error("batch at {path}: {source}")]
    MalformedBatch {
        /// Which call of the tree it is.
        path: ActionPath,
        /// What is wrong with the packed bytes.
        #[source]
        source: BatchError,
    },
}

/// Decodes `tx` for the Safe in `ctx`: hashes, action tree and warnings.
pub fn decode_transaction(
    ctx: &SafeContext,
    tx: &SafeTx,
) -> Result<DecodedTransaction, DecodeError> {
    if tx.data.len() > MAX_CALLDATA_BYTES {
        return Err(DecodeError::CalldataTooLarge {
            len: tx.data.len(),
            max: MAX_CALLDATA_BYTES,
        });
    }
    let root = decode_calldata(ctx.safe, tx.operation, tx.to, tx.value, &tx.data)?;
    let warnings = warnings(tx, &root);
    Ok(DecodedTransaction {
        context: *ctx,
        tx: tx.clone(),
        hashes: safe_tx_hashes(ctx, tx),
        root,
        warnings,
    })
}

/// Decodes one call made by `safe` into an action tree, without hashes or warnings. This is the
/// entry point the `decode_calldata` fuzz target drives.
pub fn decode_calldata(
    safe: Address,
    operation: Operation,
    to: Address,
    value: U256,
    data: &[u8],
) -> Result<Action, DecodeError> {
    if data.len() > MAX_CALLDATA_BYTES {
        return Err(DecodeError::CalldataTooLarge {
            len: data.len(),
            max: MAX_CALLDATA_BYTES,
        });
    }
    let mut decoder = Decoder { safe, actions: 0 };
    decoder.action(operation, to, value, data, &ActionPath::default(), safe)
}

struct Decoder {
    safe: Address,
    actions: usize,
}

impl Decoder {
    /// Decodes one node. `executing` is the account whose code context the call is made from:
    /// the Safe, or a batch contract that was CALLed rather than DELEGATECALLed.
    fn action(
        &mut self,
        operation: Operation,
        to: Address,
        value: U256,
        data: &[u8],
        path: &ActionPath,
        executing: Address,
    ) -> Result<Action, DecodeError> {
        self.actions += 1;
        if self.actions > MAX_TOTAL_ACTIONS {
            return Err(DecodeError::TooManyActions {
                max: MAX_TOTAL_ACTIONS,
            });
        }
        let kind = if data.is_empty() {
            ActionKind::NativeTransfer
        } else if to == self.safe {
            calls::self_call(data)
        } else if calls::selector(data) == Some(IMultiSend::multiSendCall::SELECTOR) {
            self.batch(operation, to, data, path, executing)?
        } else if let Some(nested) = calls::nested_safe_call(data) {
            self.nested(to, nested, path)?
        } else {
            calls::external_call(to, data)
        };
        Ok(Action {
            operation,
            to,
            value,
            data_len: data.len(),
            kind,
        })
    }

    /// Another Safe's call: its `execTransaction` inner call decoded as that Safe's own (its
    /// self-calls are configuration calls of that Safe), or its `approveHash` / EIP-1271 check.
    fn nested(
        &mut self,
        to: Address,
        call: calls::NestedSafeCall,
        path: &ActionPath,
    ) -> Result<ActionKind, DecodeError> {
        let tx = match call {
            calls::NestedSafeCall::Exec(tx) => tx,
            calls::NestedSafeCall::ApproveHash(hash) => {
                return Ok(ActionKind::ForeignApproveHash { hash });
            }
            calls::NestedSafeCall::SignatureCheck(hash) => {
                return Ok(ActionKind::SignatureCheck { hash });
            }
        };
        if path.depth() >= MAX_BATCH_DEPTH {
            return Err(DecodeError::BatchTooDeep {
                path: path.clone(),
                max: MAX_BATCH_DEPTH,
            });
        }
        let outer = std::mem::replace(&mut self.safe, to);
        let inner = self.action(
            tx.operation,
            tx.to,
            tx.value,
            &tx.data,
            &path.child(ActionPath::NESTED),
            to,
        );
        self.safe = outer;
        Ok(ActionKind::SafeTransaction {
            settings: Box::new(NestedSafeTx {
                safe_tx_gas: tx.safe_tx_gas,
                base_gas: tx.base_gas,
                gas_price: tx.gas_price,
                gas_token: tx.gas_token,
                refund_receiver: tx.refund_receiver,
                signatures: tx.signatures,
            }),
            inner: Box::new(inner?),
        })
    }

    fn batch(
        &mut self,
        operation: Operation,
        to: Address,
        data: &[u8],
        path: &ActionPath,
        executing: Address,
    ) -> Result<ActionKind, DecodeError> {
        if path.depth() >= MAX_BATCH_DEPTH {
            return Err(DecodeError::BatchTooDeep {
                path: path.clone(),
                max: MAX_BATCH_DEPTH,
            });
        }
        // Strict: canonical offsets, zero padding, no trailing bytes. A non-canonical encoding of
        // the batch bytes only serves to make tools disagree about what is inside.
        let call = IMultiSend::multiSendCall::abi_decode_with_config(
            data,
            AbiDecoderConfig::new().strict(true),
        )
        .map_err(|e| DecodeError::MalformedBatchCall {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let entries =
            parse_batch(&call.transactions).map_err(|source| DecodeError::MalformedBatch {
                path: path.clone(),
                source,
            })?;
        let deployment = deployments::lookup(to)
            .filter(|d| d.contract.is_batch())
            .copied();
        // A DELEGATECALLed batch runs in the caller's context; a CALLed one in its own.
        let inner = match operation {
            Operation::DelegateCall => executing,
            Operation::Call => to,
        };
        let zero_is_self = deployment.is_some_and(|d| d.batch_zero_to_is_self());
        let mut actions = Vec::with_capacity(entries.len());
        for (index, entry) in entries.iter().enumerate() {
            let target = if zero_is_self && entry.to.is_zero() {
                inner
            } else {
                entry.to
            };
            actions.push(self.action(
                entry.operation,
                target,
                entry.value,
                entry.data,
                &path.child(index),
                inner,
            )?);
        }
        Ok(ActionKind::Batch {
            deployment,
            actions,
        })
    }
}
