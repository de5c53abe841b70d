//! Warnings computed from the decoded transaction alone, before any simulation.
//!
//! Each names a pattern behind a real loss: a DELEGATECALL to code the Safe project did not write
//! (Bybit, WazirX), a delegatecall hidden inside a batch (the 2021 mastercopy swap), a self-call
//! that hands over control, and a refund that quietly pays someone. A warning is a fact for the
//! policy to weigh, not a verdict.

use std::fmt;

use alloy_primitives::{Address, U256};
use serde::Serialize;

use crate::{
    decode::{Action, ActionKind, ActionPath, SafeConfigCall, known_function},
    deployments::{self, SafeContract},
    tx::{Operation, SafeTx},
};

/// One statically detected risk, with where it sits in the action tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "warning")]
pub enum Warning {
    /// DELEGATECALL to anything but a canonical MultiSendCallOnly, SignMessageLib, CreateCall or
    /// SafeMigration: the target's code runs with full control of the Safe's storage.
    UntrustedDelegatecall {
        /// Which call of the tree delegatecalls.
        path: ActionPath,
        /// The delegatecall target, whose code runs on the Safe's storage.
        target: Address,
        /// The Safe deployment at `target`, when it is one but not a delegate-safe library (e.g.
        /// plain MultiSend, a singleton).
        known_as: Option<SafeContract>,
    },
    /// A DELEGATECALL entry inside a batch, which single-level delegatecall checks miss.
    NestedDelegatecall {
        /// The batch entry that delegatecalls.
        path: ActionPath,
        /// The delegatecall target, whose code runs on the Safe's storage.
        target: Address,
    },
    /// A self-call that changes who controls the Safe.
    SafeConfigChange {
        /// Which call of the tree is the self-call.
        path: ActionPath,
        /// The configuration change it makes.
        call: SafeConfigCall,
    },
    /// A call of the Safe on itself with a function signgate does not know.
    UnknownSelfCall {
        /// Which call of the tree is the self-call.
        path: ActionPath,
        /// The first four bytes of its calldata, when it has four.
        selector: Option<[u8; 4]>,
    },
    /// A batch-shaped call to a contract that is not a canonical MultiSend deployment.
    UnknownBatchContract {
        /// Which call of the tree is the batch-shaped call.
        path: ActionPath,
        /// The contract called; its code, not MultiSend's, decides what the batch does.
        target: Address,
    },
    /// A MultiSendCallOnly batch with a DELEGATECALL entry: the library reverts on it.
    DelegatecallInCallOnlyBatch {
        /// The batch entry with the DELEGATECALL.
        path: ActionPath,
    },
    /// A known function selector whose arguments do not decode; its addresses went unscreened.
    UndecodableArguments {
        /// Which call of the tree holds the calldata.
        path: ActionPath,
        /// The contract called.
        target: Address,
        /// The selector that matched a known function.
        selector: [u8; 4],
        /// The interface the selector belongs to (`ERC-20`, `Permit2`, `Safe library`, …).
        interface: &'static str,
    },
    /// Non-zero gasPrice with a custom gas token or refund receiver.
    HiddenRefundChannel {
        /// The refund's price per gas unit, in `gas_token` units.
        gas_price: U256,
        /// The token the refund is paid in; zero is ETH.
        gas_token: Address,
        /// Who receives the refund; zero pays `tx.origin`.
        refund_receiver: Address,
    },
}

impl Warning {
    /// A stable identifier for policies and audit records.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::UntrustedDelegatecall { .. } => "untrusted_delegatecall",
            Self::NestedDelegatecall { .. } => "nested_delegatecall",
            Self::SafeConfigChange { .. } => "safe_config_change",
            Self::UnknownSelfCall { .. } => "unknown_self_call",
            Self::UnknownBatchContract { .. } => "unknown_batch_contract",
            Self::DelegatecallInCallOnlyBatch { .. } => "delegatecall_in_call_only_batch",
            Self::UndecodableArguments { .. } => "undecodable_arguments",
            Self::HiddenRefundChannel { .. } => "hidden_refund_channel",
        }
    }
}

fn config_effect(call: &SafeConfigCall) -> Option<&'static str> {
    Some(match call {
        SafeConfigCall::AddOwnerWithThreshold { .. } => "adds an owner and sets the threshold",
        SafeConfigCall::RemoveOwner { .. } => "removes an owner and sets the threshold",
        SafeConfigCall::SwapOwner { .. } => "replaces an owner",
        SafeConfigCall::ChangeThreshold { .. } => "changes how many owners must sign",
        SafeConfigCall::EnableModule { .. } => {
            "enables a module, which can then move funds without any owner signature"
        }
        SafeConfigCall::DisableModule { .. } => "disables a module",
        SafeConfigCall::SetGuard { .. } => {
            "replaces the transaction guard that checks every transaction"
        }
        SafeConfigCall::SetModuleGuard { .. } => {
            "replaces the guard that checks module transactions"
        }
        SafeConfigCall::SetFallbackHandler { .. } => {
            "replaces the fallback handler, which answers every call the Safe does not know"
        }
        SafeConfigCall::ChangeMasterCopy { .. } => "replaces the Safe's code (its master copy)",
        SafeConfigCall::ApproveHash { .. } => return None,
    })
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UntrustedDelegatecall {
                path,
                target,
                known_as,
            } => {
                write!(f, "{path}: DELEGATECALL to {target}")?;
                if let Some(contract) = known_as {
                    write!(
                        f,
                        " ({contract:?}, not a library that is safe to delegatecall)"
                    )?;
                } else {
                    f.write_str(", which is not a known Safe library")?;
                }
                f.write_str(": its code runs with full control of the Safe's storage and can replace its owners or its code")
            }
            Self::NestedDelegatecall { path, target } => write!(
                f,
                "{path}: a DELEGATECALL to {target} is hidden inside a batch; check it as if it were the transaction itself"
            ),
            Self::SafeConfigChange { path, call } => {
                let effect = config_effect(call).unwrap_or("changes the Safe's configuration");
                write!(f, "{path}: {} {effect}", call.name())
            }
            Self::UnknownSelfCall { path, selector } => match selector {
                Some(s) => write!(
                    f,
                    "{path}: the Safe calls itself with unknown function 0x{}; it may change the Safe's configuration",
                    alloy_primitives::hex::encode(s)
                ),
                None => write!(
                    f,
                    "{path}: the Safe calls itself with calldata too short to name a function"
                ),
            },
            Self::UnknownBatchContract { path, target } => write!(
                f,
                "{path}: {target} is called like MultiSend but is not a canonical MultiSend deployment; its batch was decoded, but the contract may execute something else"
            ),
            Self::DelegatecallInCallOnlyBatch { path } => write!(
                f,
                "{path}: this MultiSendCallOnly batch contains a DELEGATECALL, on which the library reverts"
            ),
            Self::UndecodableArguments {
                path,
                target,
                selector,
                interface,
            } => write!(
                f,
                "{path}: the call to {target} names {interface} function 0x{} but its arguments do not decode, so the addresses in it could not be checked",
                alloy_primitives::hex::encode(selector)
            ),
            Self::HiddenRefundChannel {
                gas_price,
                gas_token,
                refund_receiver,
            } => {
                write!(f, "tx: the Safe pays a gas refund at gasPrice {gas_price}")?;
                if !gas_token.is_zero() {
                    write!(f, " in token {gas_token}")?;
                }
                if !refund_receiver.is_zero() {
                    write!(f, " to {refund_receiver}")?;
                }
                f.write_str(": the refund settings can move value out of the Safe")
            }
        }
    }
}

/// All warnings for `tx` with decoded tree `root`, in tree order (refund last).
pub fn warnings(tx: &SafeTx, root: &Action) -> Vec<Warning> {
    let mut out = Vec::new();
    walk(root, &ActionPath::default(), false, &mut out);
    if tx.has_hidden_refund_channel() {
        out.push(Warning::HiddenRefundChannel {
            gas_price: tx.gas_price,
            gas_token: tx.gas_token,
            refund_receiver: tx.refund_receiver,
        });
    }
    out
}

fn walk(action: &Action, path: &ActionPath, in_batch: bool, out: &mut Vec<Warning>) {
    if action.operation == Operation::DelegateCall {
        let known = deployments::lookup(action.to).map(|d| d.contract);
        if !known.is_some_and(SafeContract::is_trusted_delegate_target) {
            out.push(Warning::UntrustedDelegatecall {
                path: path.clone(),
                target: action.to,
                known_as: known,
            });
        }
        if in_batch {
            out.push(Warning::NestedDelegatecall {
                path: path.clone(),
                target: action.to,
            });
        }
    }
    match &action.kind {
        ActionKind::SafeConfig { call } if config_effect(call).is_some() => {
            out.push(Warning::SafeConfigChange {
                path: path.clone(),
                call: call.clone(),
            });
        }
        ActionKind::UnknownSelfCall { selector } => {
            out.push(Warning::UnknownSelfCall {
                path: path.clone(),
                selector: *selector,
            });
        }
        ActionKind::Unknown {
            selector: Some(selector),
            ..
        } => {
            if let Some(interface) = known_function(action.to, *selector) {
                out.push(Warning::UndecodableArguments {
                    path: path.clone(),
                    target: action.to,
                    selector: *selector,
                    interface,
                });
            }
        }
        ActionKind::Batch {
            deployment,
            actions,
        } => {
            match deployment {
                None => out.push(Warning::UnknownBatchContract {
                    path: path.clone(),
                    target: action.to,
                }),
                Some(d)
                    if d.contract == SafeContract::MultiSendCallOnly
                        && actions
                            .iter()
                            .any(|a| a.operation == Operation::DelegateCall) =>
                {
                    out.push(Warning::DelegatecallInCallOnlyBatch { path: path.clone() });
                }
                Some(_) => {}
            }
            for (index, child) in actions.iter().enumerate() {
                walk(child, &path.child(index), true, out);
            }
        }
        // The inner call runs in the other Safe's context: a DELEGATECALL there is as nested as
        // one in a batch.
        ActionKind::SafeTransaction { inner, .. } => {
            walk(inner, &path.child(ActionPath::NESTED), true, out);
        }
        _ => {}
    }
}
