//! `checkSignatures` / `checkNSignatures`, reproduced exactly.
//!
//! The checker takes the same inputs as the contract (data hash, data, blob, owners, threshold,
//! executor) plus two callbacks for the state it cannot see itself: whether an owner approved the
//! hash on chain (`approvedHashes`), and whether a signer contract accepts an EIP-1271 signature.
//! Its verdict ([`SignatureCheckReport::accepted`]) must equal the contract's revert-or-not; the
//! differential tests hold it to that against the real singletons. Unlike the contract it does not
//! stop at the first failure: it reports a fault for every signature, and the first one as the
//! revert reason.

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use serde::Serialize;

use super::{SIGNATURE_PART_LEN, SignatureKind, SignaturePart, contract_signature_data};
use crate::{
    constants::SENTINEL, hash::SafeTxHashes, limits::MAX_SIGNATURES, version::SafeVersion,
};

/// The inputs `checkNSignatures` reads, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct SignatureCheck<'a> {
    /// The Safe version whose rules apply (eth_sign, EIP-1271 form, approval consumption).
    pub version: SafeVersion,
    /// The hash the owners sign (the safeTxHash for a transaction).
    pub data_hash: B256,
    /// What pre-1.5.0 contract signatures are checked over: for `execTransaction`, the 66-byte
    /// `encodeTransactionData` preimage.
    pub data: &'a [u8],
    /// The signature blob.
    pub signatures: &'a [u8],
    /// The Safe's owners (`owners[a] != 0`, excluding the sentinel).
    pub owners: &'a [Address],
    /// Who submits the transaction: `msg.sender` up to 1.4.1, the `executor` argument in 1.5.0.
    /// An approved-hash signature by this owner needs no on-chain approval.
    pub executor: Address,
}

impl<'a> SignatureCheck<'a> {
    /// The check `execTransaction` performs for a Safe transaction with these hashes.
    pub fn for_safe_tx(
        version: SafeVersion,
        hashes: &'a SafeTxHashes,
        signatures: &'a [u8],
        owners: &'a [Address],
        executor: Address,
    ) -> Self {
        Self {
            version,
            data_hash: hashes.safe_tx_hash,
            data: &hashes.preimage,
            signatures,
            owners,
            executor,
        }
    }
}

/// What the contract-signature callback is asked: does `signer` accept `signature`?
///
/// Up to 1.4.1 the Safe calls `isValidSignature(bytes data, bytes signature)` and expects
/// `0x20c13b0b`; 1.5.0 calls `isValidSignature(bytes32 dataHash, bytes signature)` and expects
/// `0x1626ba7e` ([`SafeVersion::uses_bytes32_eip1271`]).
#[derive(Debug, Clone, Copy)]
pub struct ContractSignatureCheck<'a> {
    /// The contract in the signature's `r`, asked through `isValidSignature`.
    pub signer: Address,
    /// The hash the owners sign; what the 1.5.0 bytes32 form passes.
    pub data_hash: B256,
    /// The signed data the pre-1.5.0 bytes form passes (the 66-byte preimage for a transaction).
    pub data: &'a [u8],
    /// The dynamic-part bytes the signature's `s` offset points to.
    pub signature: &'a [u8],
    /// Whether to ask the 1.5.0 `isValidSignature(bytes32, bytes)` form instead of the bytes form.
    pub bytes32_form: bool,
}

/// Why one signature does not count. Each maps to the contract's revert code ([`Self::code`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(rename_all = "camelCase", tag = "fault")]
pub enum SignatureFault {
    /// The signed data does not hash to the data hash; 1.4.1 checks this before any contract
    /// signature (GS027).
    #[error("the signed data does not hash to the data hash (1.4.1 contract signatures)")]
    DataHashMismatch,
    /// A contract signature's offset `s` points into the static part, where the 65-byte parts are
    /// (GS021).
    #[error(
        "contract signature data offset {offset} points inside the first {static_len} bytes, \
         where the signatures themselves are"
    )]
    OffsetInsideStaticPart {
        /// The offset `s` the signature gives.
        offset: U256,
        /// Length of the static part: 65 bytes times the required signature count.
        static_len: U256,
    },
    /// A contract signature's length word does not fit in the blob (GS022).
    #[error("contract signature length word at offset {offset} lies past the {blob_len}-byte blob")]
    LengthOutOfBounds {
        /// The offset `s` the signature gives.
        offset: U256,
        /// Length of the whole signature blob in bytes.
        blob_len: usize,
    },
    /// A contract signature's data runs past the end of the blob (GS023).
    #[error(
        "contract signature at offset {offset} claims {data_len} bytes, past the {blob_len}-byte blob"
    )]
    DataOutOfBounds {
        /// The offset `s` the signature gives.
        offset: U256,
        /// The length the length word claims, in bytes.
        data_len: U256,
        /// Length of the whole signature blob in bytes.
        blob_len: usize,
    },
    /// The signer contract's `isValidSignature` did not return the magic value (GS024).
    #[error("contract {signer} does not accept the signature")]
    ContractRejected {
        /// The contract in the signature's `r`.
        signer: Address,
    },
    /// An approved-hash signature (v = 1) whose owner is not the executor and has not called
    /// `approveHash` for this hash (GS025).
    #[error("{owner} neither executes the transaction nor approved its hash on chain")]
    HashNotApproved {
        /// The owner in the signature's `r`.
        owner: Address,
    },
    /// ECDSA recovery failed: bad `v`, or `r`/`s` that sign nothing (GS026 via the zero signer).
    #[error("the signature does not recover to any address (bad v, r or s, or another hash)")]
    Unrecoverable,
    /// An eth_sign signature (v > 30) given to a Safe version before 1.1.1, which does not know
    /// the form.
    #[error("Safe {version} does not accept eth_sign signatures (v = 31/32)")]
    WrongKindForVersion {
        /// The Safe version checked against.
        version: SafeVersion,
    },
    /// The signature names or recovers to the zero address (GS026).
    #[error("the signer is the zero address")]
    ZeroSigner,
    /// The same signer appears twice among the required signatures (GS026).
    #[error("{signer} signed twice")]
    Duplicate {
        /// The signer seen twice.
        signer: Address,
    },
    /// A signer is lower than the one before it; the contract demands strictly ascending owners
    /// (GS026).
    #[error(
        "{signer} comes after {previous}: signatures must be sorted by owner address, ascending"
    )]
    NotAscending {
        /// The signer out of order.
        signer: Address,
        /// The signer of the previous counted signature.
        previous: Address,
    },
    /// The signer is the owners-list sentinel `0x…0001`, which `owners` maps but is no owner
    /// (GS026).
    #[error("the signer is the owners-list sentinel 0x…0001, never an owner")]
    Sentinel,
    /// The signer is not in the Safe's owners list (GS026).
    #[error("{signer} is not an owner of this Safe")]
    NotOwner {
        /// The signer found.
        signer: Address,
    },
}

impl SignatureFault {
    /// The contract's revert code (`GSxxx`; ≤1.2.0 revert with an equivalent message).
    pub const fn code(&self) -> &'static str {
        match self {
            Self::OffsetInsideStaticPart { .. } => "GS021",
            Self::LengthOutOfBounds { .. } => "GS022",
            Self::DataOutOfBounds { .. } => "GS023",
            Self::ContractRejected { .. } => "GS024",
            Self::DataHashMismatch => "GS027",
            Self::HashNotApproved { .. } => "GS025",
            Self::Unrecoverable
            | Self::WrongKindForVersion { .. }
            | Self::ZeroSigner
            | Self::Duplicate { .. }
            | Self::NotAscending { .. }
            | Self::Sentinel
            | Self::NotOwner { .. } => "GS026",
        }
    }
}

/// Why the whole check reverts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(rename_all = "camelCase", tag = "failure")]
pub enum CheckFailure {
    /// The Safe's threshold is zero, so it has never been set up (GS001, 1.1.1+).
    #[error("the Safe's threshold is zero (GS001)")]
    ZeroThreshold,
    /// The blob is shorter than 65 bytes times the required count (GS020).
    #[error("signature data is {len} bytes but {required} signatures need {needed} (GS020)")]
    SignaturesTooShort {
        /// Length of the blob in bytes.
        len: usize,
        /// The number of signatures required.
        required: U256,
        /// Bytes the static part needs: 65 times `required`.
        needed: U256,
    },
    /// More signatures are required than signgate checks ([`MAX_SIGNATURES`]); not a contract
    /// revert.
    #[error("{required} signatures required, more than the {max} signgate checks")]
    TooManyRequired {
        /// The number of signatures required.
        required: U256,
        /// signgate's bound.
        max: usize,
    },
    /// A signature does not count; the first such one is the contract's revert.
    #[error("signature {index}: {fault} ({code})", code = fault.code())]
    Signature {
        /// Position of the signature in the blob (part `index` starts at byte `index * 65`).
        index: usize,
        /// Why it does not count.
        fault: SignatureFault,
    },
}

impl CheckFailure {
    /// The contract's revert code, or `SG-LIMIT` for signgate's own bound.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::ZeroThreshold => "GS001",
            Self::SignaturesTooShort { .. } => "GS020",
            Self::TooManyRequired { .. } => "SG-LIMIT",
            Self::Signature { fault, .. } => fault.code(),
        }
    }
}

/// One of the first `required` signatures, as the contract sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckedSignature {
    /// Position in the blob: the part starts at byte `index * 65`.
    pub index: usize,
    /// What its `v` byte makes it.
    pub kind: SignatureKind,
    /// The raw `v` byte (0 contract, 1 approved hash, 27/28 ECDSA, 31/32 eth_sign).
    pub v: u8,
    /// The recovered signer (ECDSA, eth_sign) or the address in `r` (contract, approved hash);
    /// `None` where recovery fails.
    pub signer: Option<Address>,
    /// The EIP-1271 signature bytes, when the offset was in bounds.
    pub contract_signature: Option<Bytes>,
    /// `None` when this signature counts.
    pub fault: Option<SignatureFault>,
}

impl CheckedSignature {
    /// Whether this signature counts (it has no fault).
    pub fn is_valid(&self) -> bool {
        self.fault.is_none()
    }
}

/// The verdict on a blob, with the reason for every signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignatureCheckReport {
    /// How many signatures were required (the threshold, or `checkNSignatures`' argument).
    pub required: U256,
    /// The first `required` signatures, or as many as the blob holds when it is too short.
    pub signatures: Vec<CheckedSignature>,
    /// The revert the contract raises; `None` means the contract accepts the blob.
    pub failure: Option<CheckFailure>,
    /// Before 1.3.0, `execTransaction` clears the on-chain approvals it uses
    /// (`approvedHashes[owner][hash] = 0`) unless the owner is the executor. Empty when rejected.
    pub consumed_approvals: Vec<Address>,
}

impl SignatureCheckReport {
    /// Whether the contract would accept the blob.
    pub fn accepted(&self) -> bool {
        self.failure.is_none()
    }

    /// The signers whose signatures count, in blob order.
    pub fn valid_signers(&self) -> impl Iterator<Item = Address> + '_ {
        self.signatures
            .iter()
            .filter(|s| s.is_valid())
            .filter_map(|s| s.signer)
    }
}

/// `checkSignatures`: refuses a zero threshold from 1.1.1 on (GS001), then checks the first
/// `threshold` signatures like [`check_n_signatures`].
///
/// `approved(owner)` answers `approvedHashes[owner][dataHash] != 0`; `contract_valid` answers the
/// EIP-1271 call. Before 1.1.1 a zero threshold checks nothing and accepts, as the contract does.
pub fn check_signatures(
    check: &SignatureCheck<'_>,
    threshold: U256,
    approved: impl FnMut(Address) -> bool,
    contract_valid: impl FnMut(&ContractSignatureCheck<'_>) -> bool,
) -> SignatureCheckReport {
    if threshold.is_zero() && check.version.checks_zero_threshold() {
        return SignatureCheckReport {
            required: threshold,
            signatures: Vec::new(),
            failure: Some(CheckFailure::ZeroThreshold),
            consumed_approvals: Vec::new(),
        };
    }
    check_n_signatures(check, threshold, approved, contract_valid)
}

/// `checkNSignatures`: the first `required` signatures must each be valid and come from owners in
/// strictly ascending address order.
pub fn check_n_signatures(
    check: &SignatureCheck<'_>,
    required: U256,
    mut approved: impl FnMut(Address) -> bool,
    mut contract_valid: impl FnMut(&ContractSignatureCheck<'_>) -> bool,
) -> SignatureCheckReport {
    let blob = check.signatures;
    let static_len = required.saturating_mul(U256::from(SIGNATURE_PART_LEN));
    let mut failure = None;
    if static_len > U256::from(blob.len()) {
        failure = Some(CheckFailure::SignaturesTooShort {
            len: blob.len(),
            required,
            needed: static_len,
        });
    }
    let available = blob.len() / SIGNATURE_PART_LEN;
    let count = usize::try_from(required)
        .unwrap_or(usize::MAX)
        .min(available);
    if count > MAX_SIGNATURES {
        return SignatureCheckReport {
            required,
            signatures: Vec::new(),
            failure: Some(CheckFailure::TooManyRequired {
                required,
                max: MAX_SIGNATURES,
            }),
            consumed_approvals: Vec::new(),
        };
    }

    let mut last = Address::ZERO;
    let mut signatures = Vec::with_capacity(count);
    let mut consumed = Vec::new();
    for part in (0..count).filter_map(|i| SignaturePart::at(blob, i)) {
        let mut checked = CheckedSignature {
            index: part.index,
            kind: part.kind(),
            v: part.v,
            signer: None,
            contract_signature: None,
            fault: None,
        };
        let kind_fault = match part.kind() {
            SignatureKind::Contract => {
                let signer = part.r_address();
                checked.signer = Some(signer);
                // 1.4.1 alone ties `data` to `dataHash` before anything else (GS027); 1.5.0 no
                // longer reads `data`, older versions never compared them.
                let data_mismatch = check.version == SafeVersion::V1_4_1
                    && keccak256(check.data) != check.data_hash;
                if data_mismatch {
                    Err(SignatureFault::DataHashMismatch)
                } else {
                    contract_signature_data(blob, part.s_offset(), static_len)
                }
                .map_or_else(Some, |signature| {
                    checked.contract_signature = Some(Bytes::copy_from_slice(signature));
                    let request = ContractSignatureCheck {
                        signer,
                        data_hash: check.data_hash,
                        data: check.data,
                        signature,
                        bytes32_form: check.version.uses_bytes32_eip1271(),
                    };
                    (!contract_valid(&request))
                        .then_some(SignatureFault::ContractRejected { signer })
                })
            }
            SignatureKind::ApprovedHash => {
                let owner = part.r_address();
                checked.signer = Some(owner);
                if owner == check.executor || approved(owner) {
                    if owner != check.executor && !check.version.has_public_check_signatures() {
                        consumed.push(owner);
                    }
                    None
                } else {
                    Some(SignatureFault::HashNotApproved { owner })
                }
            }
            SignatureKind::Ecdsa | SignatureKind::EthSign | SignatureKind::Invalid => {
                let eth_sign_allowed = check.version.accepts_eth_sign();
                checked.signer = part.recover(check.data_hash, eth_sign_allowed);
                match checked.signer {
                    Some(_) => None,
                    None if part.kind() == SignatureKind::EthSign && !eth_sign_allowed => {
                        Some(SignatureFault::WrongKindForVersion {
                            version: check.version,
                        })
                    }
                    None => Some(SignatureFault::Unrecoverable),
                }
            }
        };
        let current = checked.signer.unwrap_or(Address::ZERO);
        checked.fault = kind_fault.or_else(|| owner_fault(current, last, check.owners));
        if !current.is_zero() {
            last = current;
        }
        if failure.is_none()
            && let Some(fault) = &checked.fault
        {
            failure = Some(CheckFailure::Signature {
                index: checked.index,
                fault: fault.clone(),
            });
        }
        signatures.push(checked);
    }
    if failure.is_some() {
        consumed.clear();
    }
    SignatureCheckReport {
        required,
        signatures,
        failure,
        consumed_approvals: consumed,
    }
}

/// `require(currentOwner > lastOwner && owners[currentOwner] != 0 && currentOwner != SENTINEL)`,
/// split into the reason an operator needs.
fn owner_fault(current: Address, last: Address, owners: &[Address]) -> Option<SignatureFault> {
    if current.is_zero() {
        Some(SignatureFault::ZeroSigner)
    } else if current == last {
        Some(SignatureFault::Duplicate { signer: current })
    } else if current < last {
        Some(SignatureFault::NotAscending {
            signer: current,
            previous: last,
        })
    } else if current == SENTINEL {
        Some(SignatureFault::Sentinel)
    } else if !owners.contains(&current) {
        Some(SignatureFault::NotOwner { signer: current })
    } else {
        None
    }
}
