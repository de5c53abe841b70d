//! Import of Safe Transaction Service multisig-transaction JSON (research §6.2).
//!
//! Custody feeds hand signgate what the service returns. Only the ten SafeTx fields and the raw
//! signatures are used; everything the service *derived* (`safeTxHash`, `dataDecoded`, each
//! confirmation's `owner` and `signatureType`) is a hint that [`ServiceTransaction::check_hints`]
//! recomputes and compares. In the Bybit theft the service held confirmations that did not even
//! validate for the transaction they were attached to.
//!
//! Both API shapes are accepted: v1 gives `nonce`, `safeTxGas` and `baseGas` as JSON numbers, v2
//! as decimal strings. `data: null` is empty calldata.

use std::fmt;

use alloy_primitives::{Address, B256, Bytes, U256};
use serde::{Deserialize, Deserializer, Serialize};

use crate::{
    decode::{ActionKind, DecodedTransaction, Involvement},
    hash::{SafeContext, safe_tx_hash},
    signature::{SignatureKind, SignaturePart},
    tx::{Operation, SafeTx},
};

/// An unsigned integer the service writes either as a JSON number or as a decimal string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Quantity(pub U256);

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Number(n) => Ok(Self(U256::from(n))),
            Raw::Text(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
                U256::from_str_radix(&s, 10)
                    .map(Self)
                    .map_err(serde::de::Error::custom)
            }
            Raw::Text(s) => Err(serde::de::Error::custom(format!(
                "expected a non-negative decimal integer, got {s:?}"
            ))),
        }
    }
}

/// One multisig transaction as the service serialises it. Unknown fields are ignored: the
/// service adds fields over time, and none of them is trusted anyway.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceTransaction {
    /// The Safe the service files the transaction under; checked against the caller's context.
    pub safe: Address,
    /// SafeTx `to`: the address the Safe calls (or delegatecalls).
    pub to: Address,
    /// SafeTx `value`: wei the Safe sends with the call.
    pub value: Quantity,
    /// SafeTx `data`: the calldata; `null` is empty.
    pub data: Option<Bytes>,
    /// SafeTx `operation`: 0 CALL, 1 DELEGATECALL; anything else is rejected on import.
    pub operation: u8,
    /// SafeTx `gasToken`: the token refunds are paid in; zero is ETH.
    pub gas_token: Address,
    /// SafeTx `safeTxGas`: gas reserved for the inner call (see [`SafeTx::safe_tx_gas`]).
    pub safe_tx_gas: Quantity,
    /// SafeTx `baseGas`: gas outside the inner call that the refund also pays for.
    pub base_gas: Quantity,
    /// SafeTx `gasPrice`: the refund's price per gas in `gas_token`; 0 means no refund.
    pub gas_price: Quantity,
    /// SafeTx `refundReceiver`: who is paid the refund; zero pays `tx.origin`.
    pub refund_receiver: Address,
    /// SafeTx `nonce`: the Safe nonce the transaction executes at.
    pub nonce: Quantity,
    /// Hint: recomputed by [`Self::check_hints`].
    #[serde(default)]
    pub safe_tx_hash: Option<B256>,
    /// Hint: the service's own decoding, compared with signgate's.
    #[serde(default)]
    pub data_decoded: Option<DataDecoded>,
    /// How many confirmations the service says the Safe needed when it was proposed; unchecked.
    #[serde(default)]
    pub confirmations_required: Option<u64>,
    /// The owner confirmations the service collected, each checked by [`Self::check_hints`].
    #[serde(default)]
    pub confirmations: Vec<ServiceConfirmation>,
    /// The blob submitted on chain, once executed.
    #[serde(default)]
    pub signatures: Option<Bytes>,
    /// Who sent `execTransaction`, once executed (the approved-hash executor).
    #[serde(default)]
    pub executor: Option<Address>,
    /// Whether the service says the transaction was executed on chain; unchecked.
    #[serde(default)]
    pub is_executed: Option<bool>,
}

/// The service's decoding of `data`: its method name and top-level parameters.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DataDecoded {
    /// The function name the service decoded (`transfer`, `multiSend`, …).
    pub method: String,
    /// The top-level parameters in calldata order.
    #[serde(default)]
    pub parameters: Vec<DecodedParameter>,
}

/// One parameter of [`DataDecoded`]; `value` is kept as raw JSON.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DecodedParameter {
    /// The parameter's name in the ABI the service used.
    pub name: String,
    /// The Solidity type as the service writes it (`address`, `uint256`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// The value as the service rendered it (strings for addresses and integers).
    pub value: serde_json::Value,
}

/// One owner confirmation. `owner` and `signature_type` are hints.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceConfirmation {
    /// Hint: the owner the service attributes the signature to; compared with the signer signgate
    /// recovers.
    pub owner: Address,
    /// `null` for some on-chain `approveHash` confirmations, which only chain state can confirm.
    #[serde(default)]
    pub signature: Option<Bytes>,
    /// Hint: the service's name for the signature kind (`EOA`, `ETH_SIGN`, `APPROVED_HASH`,
    /// `CONTRACT_SIGNATURE`); compared with the kind the `v` byte gives.
    #[serde(default)]
    pub signature_type: Option<String>,
    /// When the confirmation reached the service (its ISO 8601 text, not parsed).
    #[serde(default)]
    pub submission_date: Option<String>,
}

/// Why a document could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum TxServiceError {
    /// The document is not JSON, or not the shape of a service transaction or page of them.
    #[error("not Transaction Service JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A transaction's `operation` is neither 0 nor 1; `execTransaction` would revert on it.
    #[error("transaction {index} has operation {value}, neither CALL (0) nor DELEGATECALL (1)")]
    InvalidOperation {
        /// Position of the transaction in the document (0 for a single transaction).
        index: usize,
        /// The operation byte found.
        value: u8,
    },
}

/// Parses a single multisig transaction or a paginated `{"results": [...]}` list.
pub fn parse_document(json: &str) -> Result<Vec<ServiceTransaction>, TxServiceError> {
    #[derive(Deserialize)]
    struct Page {
        results: Vec<ServiceTransaction>,
    }
    let value: serde_json::Value = serde_json::from_str(json)?;
    if value.get("results").is_some() {
        Ok(serde_json::from_value::<Page>(value)?.results)
    } else {
        Ok(vec![serde_json::from_value(value)?])
    }
}

impl ServiceTransaction {
    /// The ten signed fields. `index` names the transaction in errors.
    pub fn to_safe_tx(&self, index: usize) -> Result<SafeTx, TxServiceError> {
        let operation =
            Operation::from_u8(self.operation).map_err(|_| TxServiceError::InvalidOperation {
                index,
                value: self.operation,
            })?;
        Ok(SafeTx {
            to: self.to,
            value: self.value.0,
            data: self.data.clone().unwrap_or_default(),
            operation,
            safe_tx_gas: self.safe_tx_gas.0,
            base_gas: self.base_gas.0,
            gas_price: self.gas_price.0,
            gas_token: self.gas_token,
            refund_receiver: self.refund_receiver,
            nonce: self.nonce.0,
        })
    }

    /// Recomputes what the service claims and reports every disagreement. `decoded` is
    /// signgate's decoding of this transaction under `ctx`.
    pub fn check_hints(&self, ctx: &SafeContext, decoded: &DecodedTransaction) -> HintReport {
        let computed = safe_tx_hash(ctx, &decoded.tx);
        let mut mismatches = Vec::new();
        if self.safe != ctx.safe {
            mismatches.push(HintMismatch::Safe {
                claimed: self.safe,
                context: ctx.safe,
            });
        }
        if let Some(claimed) = self.safe_tx_hash
            && claimed != computed
        {
            mismatches.push(HintMismatch::SafeTxHash { claimed, computed });
        }
        if let Some(dd) = &self.data_decoded {
            check_data_decoded(dd, decoded, &mut mismatches);
        }
        let confirmations = self
            .confirmations
            .iter()
            .enumerate()
            .map(|(index, c)| {
                let checked = check_confirmation(index, c, computed, ctx);
                mismatches.extend(checked.mismatches.iter().cloned());
                checked
            })
            .collect();
        HintReport {
            safe_tx_hash: computed,
            mismatches,
            confirmations,
        }
    }
}

/// The signer signgate recovers from one confirmation, next to what the service claimed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfirmationCheck {
    /// Position of the confirmation in the service's list.
    pub index: usize,
    /// The owner the service attributes it to.
    pub claimed_owner: Address,
    /// What the `v` byte makes the signature; `None` when there is no signature or it is malformed.
    pub kind: Option<SignatureKind>,
    /// Recovered (ECDSA, eth_sign) or read from `r` (approved hash, contract signature).
    pub signer: Option<Address>,
    /// Whether the signature was checked against the claim. A confirmation without a signature
    /// cannot be, and counts for nothing until chain state (`approvedHashes`) confirms it.
    pub verified: bool,
    /// Every disagreement found in this confirmation.
    pub mismatches: Vec<HintMismatch>,
}

/// The outcome of checking a service document's hints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HintReport {
    /// The recomputed safeTxHash.
    pub safe_tx_hash: B256,
    /// Every disagreement, confirmations' included.
    pub mismatches: Vec<HintMismatch>,
    /// One check per service confirmation, in the service's order.
    pub confirmations: Vec<ConfirmationCheck>,
}

impl HintReport {
    /// Whether every hint agreed with what signgate recomputed.
    pub fn consistent(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// One service claim that signgate's own computation contradicts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "mismatch")]
pub enum HintMismatch {
    /// The document names another Safe than the one being checked.
    Safe {
        /// The Safe the document names.
        claimed: Address,
        /// The Safe the check is for.
        context: Address,
    },
    /// The service's safeTxHash is not the one recomputed from the ten fields: do not sign.
    SafeTxHash {
        /// The hash the service gave.
        claimed: B256,
        /// The hash signgate recomputed.
        computed: B256,
    },
    /// The service's method name differs from signgate's decoding of the calldata.
    DecodedMethod {
        /// The service's method name.
        claimed: String,
        /// The function signgate decoded.
        decoded: &'static str,
    },
    /// The service shows an address parameter that is not in the calldata signgate decoded.
    DecodedAddressMissing {
        /// The parameter's name in the service's decoding.
        parameter: String,
        /// The address it shows; zero when its value is not an address at all.
        address: Address,
    },
    /// A confirmation's signature is too short to hold one 65-byte signature part.
    ConfirmationMalformed {
        /// Position of the confirmation in the service's list.
        index: usize,
        /// Length of its signature in bytes.
        len: usize,
    },
    /// A confirmation does not verify for the owner the service attributes it to.
    ConfirmationOwner {
        /// Position of the confirmation in the service's list.
        index: usize,
        /// The owner the service claims.
        claimed: Address,
        /// The signer recovered or read from `r`; `None` when recovery failed.
        recovered: Option<Address>,
    },
    /// A confirmation's claimed signature type is not the one its `v` byte gives.
    ConfirmationType {
        /// Position of the confirmation in the service's list.
        index: usize,
        /// The service's type name.
        claimed: String,
        /// The kind the `v` byte gives.
        actual: SignatureKind,
    },
}

impl fmt::Display for HintMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Safe { claimed, context } => {
                write!(
                    f,
                    "the service names Safe {claimed}, but this check is for {context}"
                )
            }
            Self::SafeTxHash { claimed, computed } => write!(
                f,
                "the service's safeTxHash {claimed} differs from the recomputed {computed}: do not sign"
            ),
            Self::DecodedMethod { claimed, decoded } => {
                write!(
                    f,
                    "the service decodes the call as {claimed}, signgate as {decoded}"
                )
            }
            Self::DecodedAddressMissing { parameter, address } => write!(
                f,
                "the service shows {parameter} = {address}, an address not in the calldata signgate decoded"
            ),
            Self::ConfirmationMalformed { index, len } => {
                write!(f, "confirmation {index} is {len} bytes, not a signature")
            }
            Self::ConfirmationOwner {
                index,
                claimed,
                recovered,
            } => match recovered {
                Some(r) => write!(
                    f,
                    "confirmation {index} is attributed to {claimed} but recovers to {r} over this transaction"
                ),
                None => write!(
                    f,
                    "confirmation {index} is attributed to {claimed} but recovers to no address over this transaction"
                ),
            },
            Self::ConfirmationType {
                index,
                claimed,
                actual,
            } => write!(
                f,
                "confirmation {index} is labelled {claimed} but its v byte makes it {}",
                actual.tx_service_name()
            ),
        }
    }
}

fn check_data_decoded(dd: &DataDecoded, decoded: &DecodedTransaction, out: &mut Vec<HintMismatch>) {
    // A call signgate cannot decode gives nothing to compare against: the service's claim stays
    // unverified (and the decoder's own warnings cover the unknown call), not contradicted.
    if matches!(
        decoded.root.kind,
        ActionKind::Unknown { .. } | ActionKind::UnknownSelfCall { .. }
    ) {
        return;
    }
    let ours = decoded.root.kind.function_name();
    if dd.method != ours {
        out.push(HintMismatch::DecodedMethod {
            claimed: dd.method.clone(),
            decoded: ours,
        });
    }
    let root_addresses: Vec<Address> = decoded
        .involvements()
        .iter()
        .filter(|i| i.path.depth() == 0)
        .map(|i: &Involvement| i.address)
        .collect();
    for p in dd.parameters.iter().filter(|p| p.kind == "address") {
        let address = p.value.as_str().and_then(|s| s.parse::<Address>().ok());
        match address {
            Some(a) if root_addresses.contains(&a) => {}
            Some(a) => out.push(HintMismatch::DecodedAddressMissing {
                parameter: p.name.clone(),
                address: a,
            }),
            None => out.push(HintMismatch::DecodedAddressMissing {
                parameter: p.name.clone(),
                address: Address::ZERO,
            }),
        }
    }
}

fn check_confirmation(
    index: usize,
    c: &ServiceConfirmation,
    safe_tx_hash: B256,
    ctx: &SafeContext,
) -> ConfirmationCheck {
    let mut check = ConfirmationCheck {
        index,
        claimed_owner: c.owner,
        kind: None,
        signer: None,
        verified: false,
        mismatches: Vec::new(),
    };
    let Some(signature) = &c.signature else {
        return check;
    };
    check.verified = true;
    let Some(part) = SignaturePart::at(signature, 0) else {
        check.mismatches.push(HintMismatch::ConfirmationMalformed {
            index,
            len: signature.len(),
        });
        return check;
    };
    let kind = part.kind();
    check.kind = Some(kind);
    check.signer = match kind {
        SignatureKind::Contract | SignatureKind::ApprovedHash => Some(part.r_address()),
        SignatureKind::Ecdsa | SignatureKind::EthSign | SignatureKind::Invalid => {
            part.recover(safe_tx_hash, ctx.version.accepts_eth_sign())
        }
    };
    if check.signer != Some(c.owner) {
        check.mismatches.push(HintMismatch::ConfirmationOwner {
            index,
            claimed: c.owner,
            recovered: check.signer,
        });
    }
    if let Some(claimed) = &c.signature_type
        && claimed != kind.tx_service_name()
    {
        check.mismatches.push(HintMismatch::ConfirmationType {
            index,
            claimed: claimed.clone(),
            actual: kind,
        });
    }
    check
}
