//! Leaf calls: the calldata of one call, decoded through the `sol!` interfaces of [`crate::abi`].
//!
//! Dispatch is by selector through each interface's generated `…Calls` enum, so no selector is
//! written here. A selector that matches but whose arguments do not decode is kept as an unknown
//! call; the warnings pass names it (see [`known_function`]), since its addresses went unscreened.

use alloy_primitives::{Address, B256, U256};
use alloy_sol_types::{SolCall, SolInterface, abi::AbiDecoderConfig};

use super::action::{
    ActionKind, Permit2Call, Permit2Transfer, SafeConfigCall, SafeLibraryCall, TokenCall,
};
use crate::abi::{
    ICreateCall::ICreateCallCalls, IERC20, IERC20::IERC20Calls, IERC721::IERC721Calls,
    IERC1155::IERC1155Calls, IERC1271, IPermit2::IPermit2Calls, ISafe, ISafe::ISafeCalls,
    ISafeMigration::ISafeMigrationCalls, ISignMessageLib::ISignMessageLibCalls,
};
use crate::{deployments::PERMIT2, tx::Operation};

/// The first four bytes of `data`, if it has them.
pub fn selector(data: &[u8]) -> Option<[u8; 4]> {
    data.get(..4).and_then(|s| s.try_into().ok())
}

/// Decodes `data` with interface `I` when its selector belongs to `I`: `None` for a foreign
/// selector, `Some(Err)` for a matching selector with arguments that do not decode.
fn decode_with<I: SolInterface>(data: &[u8]) -> Option<Result<I, alloy_sol_types::Error>> {
    let sel = selector(data)?;
    I::valid_selector(sel)
        .then(|| I::abi_decode_with_config(data, AbiDecoderConfig::new().validate(true)))
}

/// Which interface `external_call` would decode `sel` with at `to`, for the "arguments do not
/// decode" warning: `None` when the selector is not one the decoder knows there (so an unknown
/// call with it is simply unknown). `balanceOf` decodes to nothing and is left out.
pub fn known_function(to: Address, sel: [u8; 4]) -> Option<&'static str> {
    if sel == IERC20::balanceOfCall::SELECTOR {
        None
    } else if IERC20Calls::valid_selector(sel) {
        Some("ERC-20")
    } else if IERC721Calls::valid_selector(sel) {
        Some("ERC-721")
    } else if IERC1155Calls::valid_selector(sel) {
        Some("ERC-1155")
    } else if to == PERMIT2 && IPermit2Calls::valid_selector(sel) {
        Some("Permit2")
    } else if sel == ISafe::execTransactionCall::SELECTOR
        || sel == ISafe::approveHashCall::SELECTOR
        || sel == IERC1271::isValidSignatureCall::SELECTOR
    {
        Some("Safe")
    } else if ISignMessageLibCalls::valid_selector(sel)
        || ICreateCallCalls::valid_selector(sel)
        || ISafeMigrationCalls::valid_selector(sel)
    {
        Some("Safe library")
    } else {
        None
    }
}

/// A call into another Safe that the decoder shows as such.
pub(crate) enum NestedSafeCall {
    /// `execTransaction(...)`, decoded.
    Exec(Box<NestedExec>),
    /// `approveHash(hash)`.
    ApproveHash(B256),
    /// EIP-1271 `isValidSignature(bytes32, bytes)`.
    SignatureCheck(B256),
}

/// The fields of a decoded `execTransaction`.
pub(crate) struct NestedExec {
    pub(crate) to: Address,
    pub(crate) value: U256,
    pub(crate) data: alloy_primitives::Bytes,
    pub(crate) operation: Operation,
    pub(crate) safe_tx_gas: U256,
    pub(crate) base_gas: U256,
    pub(crate) gas_price: U256,
    pub(crate) gas_token: Address,
    pub(crate) refund_receiver: Address,
    pub(crate) signatures: alloy_primitives::Bytes,
}

/// `execTransaction`, `approveHash` or `isValidSignature(bytes32,bytes)` called on another
/// contract. `execTransaction` and `approveHash` exist only on Safes (their selectors are the
/// Safe's); whether the target really is a Safe the simulation tells. Arguments that do not
/// decode (or an operation other than 0 and 1) leave the call unknown, and the warnings name it.
pub(crate) fn nested_safe_call(data: &[u8]) -> Option<NestedSafeCall> {
    let sel = selector(data)?;
    let config = AbiDecoderConfig::new().validate(true);
    if sel == ISafe::execTransactionCall::SELECTOR {
        let c = ISafe::execTransactionCall::abi_decode_with_config(data, config).ok()?;
        let operation = match c.operation {
            0 => Operation::Call,
            1 => Operation::DelegateCall,
            _ => return None,
        };
        return Some(NestedSafeCall::Exec(Box::new(NestedExec {
            to: c.to,
            value: c.value,
            data: c.data,
            operation,
            safe_tx_gas: c.safeTxGas,
            base_gas: c.baseGas,
            gas_price: c.gasPrice,
            gas_token: c.gasToken,
            refund_receiver: c.refundReceiver,
            signatures: c.signatures,
        })));
    }
    if sel == ISafe::approveHashCall::SELECTOR {
        let c = ISafe::approveHashCall::abi_decode_with_config(data, config).ok()?;
        return Some(NestedSafeCall::ApproveHash(c.hashToApprove));
    }
    if sel == IERC1271::isValidSignatureCall::SELECTOR {
        let c = IERC1271::isValidSignatureCall::abi_decode_with_config(data, config).ok()?;
        return Some(NestedSafeCall::SignatureCheck(c.hash));
    }
    None
}

/// A call of the Safe on itself.
pub(crate) fn self_call(data: &[u8]) -> ActionKind {
    let unknown = ActionKind::UnknownSelfCall {
        selector: selector(data),
    };
    let Some(Ok(call)) = decode_with::<ISafeCalls>(data) else {
        return unknown;
    };
    let config = match call {
        ISafeCalls::addOwnerWithThreshold(c) => SafeConfigCall::AddOwnerWithThreshold {
            owner: c.owner,
            threshold: c._threshold,
        },
        ISafeCalls::removeOwner(c) => SafeConfigCall::RemoveOwner {
            prev_owner: c.prevOwner,
            owner: c.owner,
            threshold: c._threshold,
        },
        ISafeCalls::swapOwner(c) => SafeConfigCall::SwapOwner {
            prev_owner: c.prevOwner,
            old_owner: c.oldOwner,
            new_owner: c.newOwner,
        },
        ISafeCalls::changeThreshold(c) => SafeConfigCall::ChangeThreshold {
            threshold: c._threshold,
        },
        ISafeCalls::enableModule(c) => SafeConfigCall::EnableModule { module: c.module },
        ISafeCalls::disableModule(c) => SafeConfigCall::DisableModule {
            prev_module: c.prevModule,
            module: c.module,
        },
        ISafeCalls::setGuard(c) => SafeConfigCall::SetGuard { guard: c.guard },
        ISafeCalls::setModuleGuard(c) => SafeConfigCall::SetModuleGuard {
            guard: c.moduleGuard,
        },
        ISafeCalls::setFallbackHandler(c) => {
            SafeConfigCall::SetFallbackHandler { handler: c.handler }
        }
        ISafeCalls::changeMasterCopy(c) => SafeConfigCall::ChangeMasterCopy {
            master_copy: c._masterCopy,
        },
        ISafeCalls::approveHash(c) => SafeConfigCall::ApproveHash {
            hash: c.hashToApprove,
        },
        _ => return unknown,
    };
    ActionKind::SafeConfig { call: config }
}

/// A call of any other contract: token, Permit2 (only at its canonical address, so that a
/// look-alike contract is never shown as Permit2), Safe library, or unknown.
pub(crate) fn external_call(to: Address, data: &[u8]) -> ActionKind {
    token(data)
        .map(|call| ActionKind::Token { call })
        .or_else(|| {
            (to == PERMIT2)
                .then(|| permit2(data))
                .flatten()
                .map(|call| ActionKind::Permit2 { call })
        })
        .or_else(|| library(data).map(|call| ActionKind::SafeLibrary { call }))
        .unwrap_or_else(|| ActionKind::Unknown {
            selector: selector(data),
            arguments: data.get(4..).map(|a| a.to_vec().into()).unwrap_or_default(),
        })
}

fn token(data: &[u8]) -> Option<TokenCall> {
    if let Some(Ok(call)) = decode_with::<IERC20Calls>(data) {
        return match call {
            IERC20Calls::transfer(c) => Some(TokenCall::Transfer {
                recipient: c.to,
                amount: c.amount,
            }),
            IERC20Calls::transferFrom(c) => Some(TokenCall::TransferFrom {
                from: c.from,
                recipient: c.to,
                amount_or_token_id: c.amount,
            }),
            IERC20Calls::approve(c) => Some(TokenCall::Approve {
                spender: c.spender,
                amount_or_token_id: c.amount,
            }),
            IERC20Calls::increaseAllowance(c) => Some(TokenCall::IncreaseAllowance {
                spender: c.spender,
                added: c.addedValue,
            }),
            IERC20Calls::balanceOf(_) => None,
        };
    }
    if let Some(Ok(call)) = decode_with::<IERC721Calls>(data) {
        return Some(match call {
            IERC721Calls::safeTransferFrom_0(c) => TokenCall::Erc721SafeTransferFrom {
                from: c.from,
                recipient: c.to,
                token_id: c.tokenId,
            },
            IERC721Calls::safeTransferFrom_1(c) => TokenCall::Erc721SafeTransferFrom {
                from: c.from,
                recipient: c.to,
                token_id: c.tokenId,
            },
            IERC721Calls::setApprovalForAll(c) => TokenCall::SetApprovalForAll {
                operator: c.operator,
                approved: c.approved,
            },
        });
    }
    match decode_with::<IERC1155Calls>(data)? {
        Ok(IERC1155Calls::safeTransferFrom(c)) => Some(TokenCall::Erc1155SafeTransferFrom {
            from: c.from,
            recipient: c.to,
            id: c.id,
            amount: c.value,
        }),
        Ok(IERC1155Calls::safeBatchTransferFrom(c)) => {
            Some(TokenCall::Erc1155SafeBatchTransferFrom {
                from: c.from,
                recipient: c.to,
                ids: c.ids,
                amounts: c.values,
            })
        }
        Err(_) => None,
    }
}

/// Widens a Permit2 `uint160` amount; it always fits.
fn widen(amount: alloy_primitives::aliases::U160) -> U256 {
    U256::from_be_slice(&amount.to_be_bytes::<20>())
}

fn permit2(data: &[u8]) -> Option<Permit2Call> {
    let call = decode_with::<IPermit2Calls>(data)?.ok()?;
    Some(match call {
        IPermit2Calls::approve(c) => Permit2Call::Approve {
            token: c.token,
            spender: c.spender,
            amount: widen(c.amount),
            expiration: c.expiration.to::<u64>(),
        },
        IPermit2Calls::permit_0(c) => Permit2Call::Permit {
            owner: c.owner,
            spender: c.permitSingle.spender,
            tokens: vec![(
                c.permitSingle.details.token,
                widen(c.permitSingle.details.amount),
            )],
        },
        IPermit2Calls::permit_1(c) => Permit2Call::Permit {
            owner: c.owner,
            spender: c.permitBatch.spender,
            tokens: c
                .permitBatch
                .details
                .iter()
                .map(|d| (d.token, widen(d.amount)))
                .collect(),
        },
        IPermit2Calls::transferFrom_0(c) => Permit2Call::TransferFrom {
            transfers: vec![Permit2Transfer {
                from: c.from,
                recipient: c.to,
                amount: widen(c.amount),
                token: c.token,
            }],
        },
        IPermit2Calls::transferFrom_1(c) => Permit2Call::TransferFrom {
            transfers: c
                .transferDetails
                .iter()
                .map(|t| Permit2Transfer {
                    from: t.from,
                    recipient: t.to,
                    amount: widen(t.amount),
                    token: t.token,
                })
                .collect(),
        },
        IPermit2Calls::lockdown(c) => Permit2Call::Lockdown {
            pairs: c
                .approvals
                .iter()
                .map(|p| (p.token, p.spender))
                .collect::<Vec<(Address, Address)>>(),
        },
    })
}

fn library(data: &[u8]) -> Option<SafeLibraryCall> {
    if let Some(Ok(ISignMessageLibCalls::signMessage(c))) =
        decode_with::<ISignMessageLibCalls>(data)
    {
        return Some(SafeLibraryCall::SignMessage { data: c._data });
    }
    if let Some(Ok(call)) = decode_with::<ICreateCallCalls>(data) {
        return Some(match call {
            ICreateCallCalls::performCreate(c) => SafeLibraryCall::PerformCreate {
                value: c.value,
                init_code_len: c.deploymentData.len(),
            },
            ICreateCallCalls::performCreate2(c) => SafeLibraryCall::PerformCreate2 {
                value: c.value,
                init_code_len: c.deploymentData.len(),
                salt: c.salt,
            },
        });
    }
    Some(match decode_with::<ISafeMigrationCalls>(data)?.ok()? {
        ISafeMigrationCalls::migrateSingleton(_) => SafeLibraryCall::MigrateSingleton,
        ISafeMigrationCalls::migrateWithFallbackHandler(_) => {
            SafeLibraryCall::MigrateWithFallbackHandler
        }
        ISafeMigrationCalls::migrateL2Singleton(_) => SafeLibraryCall::MigrateL2Singleton,
        ISafeMigrationCalls::migrateL2WithFallbackHandler(_) => {
            SafeLibraryCall::MigrateL2WithFallbackHandler
        }
    })
}
