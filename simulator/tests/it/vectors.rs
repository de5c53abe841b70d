//! Real Safe transactions (fixtures/vectors, see PROVENANCE.md): hashes, signatures, decoding and
//! the Transaction Service hints, end to end.

#![expect(
    clippy::panic,
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns: a broken fixture must fail loudly"
)]

use alloy_primitives::{Address, U256, address, b256};
use signgate_simulator::{
    Operation, SafeContext, SafeVersion,
    decode::{ActionKind, AddressRole, TokenCall, decode_transaction},
    hash::safe_tx_hashes,
    signature::{CheckFailure, SignatureCheck, SignatureFault, SignatureKind, check_signatures},
    tx::SafeTx,
    tx_service::{HintMismatch, ServiceTransaction, parse_document},
    warnings::Warning,
};

pub fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/vectors/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

pub const BYBIT_SAFE: Address = address!("0x1Db92e2EeBC8E0c075a02BeA49a2935BcD2dFCF4");
const OWNER_1F4E: Address = address!("0x1F4EB0a903619ac168b19A82F1a6e2e426522211");
const OWNER_3CC3: Address = address!("0x3Cc3A225769900e003E264dd4CB43E90896BC21A");
const OWNER_E3DF: Address = address!("0xe3dF2cCEAc61B1aFA311372ecC5B40A3A6585a9E");
const OWNER_8284: Address = address!("0x828424517F9F04015db02169f4026D57B2B07229");
/// Owners seen signing in the public Transaction Service data of the Bybit Safe.
const BYBIT_OWNERS: [Address; 6] = [
    OWNER_1F4E,
    OWNER_3CC3,
    OWNER_E3DF,
    OWNER_8284,
    address!("0x2cDD560058D5ac32dc416AAa09Eaf93230c0B7B3"),
    address!("0xD367f8322b64F29faF71dDB5c1877dC9ED6EC644"),
];
const BYBIT_ATTACKER_EXECUTOR: Address = address!("0x0fa09C3A328792253f8dee7116848723b72a6d2e");

pub fn bybit_ctx() -> SafeContext {
    SafeContext {
        chain_id: 1,
        safe: BYBIT_SAFE,
        version: SafeVersion::V1_1_1,
    }
}

fn bybit_71() -> Vec<ServiceTransaction> {
    parse_document(&fixture("bybit-safe-tx-71.json")).unwrap()
}

pub fn bybit_malicious() -> (SafeTx, ServiceTransaction) {
    let service = bybit_71().into_iter().next().unwrap();
    (service.to_safe_tx(0).unwrap(), service)
}

#[test]
fn bybit_malicious_hash_signatures_and_decoding() {
    let ctx = bybit_ctx();
    let (tx, service) = bybit_malicious();
    let decoded = decode_transaction(&ctx, &tx).unwrap();
    assert_eq!(
        decoded.hashes.safe_tx_hash,
        b256!("0xb3476d061aeb8fc1d605a873c483a2402d88a68a9cdd1a8b47655dd55ba004f8")
    );

    let blob = service.signatures.clone().unwrap();
    let check = SignatureCheck::for_safe_tx(
        ctx.version,
        &decoded.hashes,
        &blob,
        &BYBIT_OWNERS,
        BYBIT_ATTACKER_EXECUTOR,
    );
    let report = check_signatures(&check, U256::from(3), |_| false, |_| false);
    assert!(report.accepted(), "{:?}", report.failure);
    assert!(
        report
            .signatures
            .iter()
            .all(|s| s.kind == SignatureKind::EthSign)
    );
    assert_eq!(
        report.valid_signers().collect::<Vec<_>>(),
        vec![OWNER_1F4E, OWNER_3CC3, OWNER_E3DF]
    );

    // The same blob under a version without eth_sign is refused, as 1.0.0 does.
    let check_100 = SignatureCheck {
        version: SafeVersion::V1_0_0,
        ..check
    };
    let report = check_signatures(&check_100, U256::from(3), |_| false, |_| false);
    assert_eq!(
        report.failure,
        Some(CheckFailure::Signature {
            index: 0,
            fault: SignatureFault::WrongKindForVersion {
                version: SafeVersion::V1_0_0
            }
        })
    );

    // What the signers should have seen.
    assert_eq!(decoded.root.operation, Operation::DelegateCall);
    assert_eq!(
        decoded.root.kind,
        ActionKind::Token {
            call: TokenCall::Transfer {
                recipient: address!("0xbDd077f651EBe7f7b3cE16fe5F2b025BE2969516"),
                amount: U256::ZERO
            }
        }
    );
    assert!(matches!(
        decoded.warnings.as_slice(),
        [Warning::UntrustedDelegatecall { target, known_as: None, .. }] if *target == tx.to
    ));
    let involvements = decoded.involvements();
    assert!(
        involvements
            .iter()
            .any(|i| i.address == tx.to && i.role == AddressRole::DelegatecallTarget)
    );
    assert!(involvements.iter().any(|i| {
        i.address == address!("0xbDd077f651EBe7f7b3cE16fe5F2b025BE2969516")
            && i.role == AddressRole::Recipient
    }));
    let words = decoded.to_string();
    assert!(
        words.contains(
            "DELEGATECALL 0x96221423681A6d52E184D440a8eFCEbB105C7242: transfer 0 base units of \
             token 0x96221423681A6d52E184D440a8eFCEbB105C7242 (decimals unknown) to \
             0xbDd077f651EBe7f7b3cE16fe5F2b025BE2969516 — code runs in the Safe's storage"
        ),
        "{words}"
    );
    assert!(words.contains(
        "safeTxHash:   0xb3476d061aeb8fc1d605a873c483a2402d88a68a9cdd1a8b47655dd55ba004f8"
    ));

    let hints = service.check_hints(&ctx, &decoded);
    assert!(hints.consistent(), "{:?}", hints.mismatches);
}

/// The legitimate nonce-71 proposal carried the malicious transaction's signatures; recomputing
/// them over the proposal shows they belong to someone else.
#[test]
fn bybit_proposal_confirmations_do_not_match_the_proposal() {
    let ctx = bybit_ctx();
    let service = bybit_71().into_iter().nth(1).unwrap();
    let tx = service.to_safe_tx(1).unwrap();
    assert!(tx.data.is_empty());
    let decoded = decode_transaction(&ctx, &tx).unwrap();
    assert_eq!(
        decoded.hashes.safe_tx_hash,
        b256!("0x9d89e67333f99c136537be74029c44592985a4855172f4c2d0d942029868f98e")
    );
    assert_eq!(decoded.root.kind, ActionKind::NativeTransfer);
    let hints = service.check_hints(&ctx, &decoded);
    let owner_mismatches = hints
        .mismatches
        .iter()
        .filter(|m| {
            matches!(
                m,
                HintMismatch::ConfirmationOwner {
                    recovered: Some(_),
                    ..
                }
            )
        })
        .count();
    assert_eq!(owner_mismatches, 3, "{:?}", hints.mismatches);
}

#[test]
fn bybit_nonce_67_mixes_three_signature_kinds() {
    let ctx = bybit_ctx();
    let service = parse_document(&fixture("bybit-nonce-67.json"))
        .unwrap()
        .remove(0);
    let tx = service.to_safe_tx(0).unwrap();
    let decoded = decode_transaction(&ctx, &tx).unwrap();
    assert_eq!(
        decoded.hashes.safe_tx_hash,
        b256!("0xad245c7f3218995cb1e6a723dce14910d23a5105d997650704b82d8e005efcf7")
    );
    assert!(decoded.warnings.is_empty());
    let hints = service.check_hints(&ctx, &decoded);
    assert!(hints.consistent(), "{:?}", hints.mismatches);

    let blob = service.signatures.clone().unwrap();
    let executor = service.executor.unwrap();
    assert_eq!(executor, OWNER_1F4E);
    let check =
        SignatureCheck::for_safe_tx(ctx.version, &decoded.hashes, &blob, &BYBIT_OWNERS, executor);
    let report = check_signatures(&check, U256::from(3), |_| false, |_| false);
    assert!(report.accepted(), "{:?}", report.failure);
    let kinds: Vec<_> = report
        .signatures
        .iter()
        .map(|s| (s.kind, s.signer.unwrap()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (SignatureKind::ApprovedHash, OWNER_1F4E),
            (SignatureKind::Ecdsa, OWNER_8284),
            (SignatureKind::EthSign, OWNER_E3DF),
        ]
    );
    assert!(
        report.consumed_approvals.is_empty(),
        "the executor's own approval is not stored"
    );

    // Anyone else executing needs 0x1F4E…'s on-chain approval (GS025)…
    let other = SignatureCheck {
        executor: BYBIT_ATTACKER_EXECUTOR,
        ..check
    };
    let report = check_signatures(&other, U256::from(3), |_| false, |_| false);
    assert_eq!(report.failure.as_ref().map(|f| f.code()), Some("GS025"));
    // …and 1.1.1 consumes that approval when it is used.
    let report = check_signatures(
        &other,
        U256::from(3),
        |owner| owner == OWNER_1F4E,
        |_| false,
    );
    assert!(report.accepted());
    assert_eq!(report.consumed_approvals, vec![OWNER_1F4E]);
    // 1.3.0 no longer consumes approvals.
    let v130 = SignatureCheck {
        version: SafeVersion::V1_3_0,
        ..other
    };
    let report = check_signatures(&v130, U256::from(3), |owner| owner == OWNER_1F4E, |_| false);
    assert!(report.consumed_approvals.is_empty());
}

/// research §7.5 (from the Cyfrin safe-hash-rs README): Safe 1.3.0 on chain 1, a USDC transfer.
#[test]
fn safe_1_3_0_chain_id_vector() {
    let vector: serde_json::Value =
        serde_json::from_str(&fixture("safe-1.3.0-chain-id.json")).unwrap();
    let ctx = SafeContext {
        chain_id: vector["chainId"].as_u64().unwrap(),
        safe: vector["safe"].as_str().unwrap().parse().unwrap(),
        version: vector["version"].as_str().unwrap().parse().unwrap(),
    };
    let tx = SafeTx::call(
        vector["to"].as_str().unwrap().parse().unwrap(),
        U256::ZERO,
        vector["data"].as_str().unwrap().parse().unwrap(),
        U256::from(vector["nonce"].as_u64().unwrap()),
    );
    let hashes = safe_tx_hashes(&ctx, &tx);
    let expect = |key: &str| {
        vector["expected"][key]
            .as_str()
            .unwrap()
            .parse::<alloy_primitives::B256>()
            .unwrap()
    };
    assert_eq!(hashes.domain_separator, expect("domainSeparator"));
    assert_eq!(hashes.struct_hash, expect("structHash"));
    assert_eq!(hashes.safe_tx_hash, expect("safeTxHash"));
    let decoded = decode_transaction(&ctx, &tx).unwrap();
    assert!(matches!(
        decoded.root.kind,
        ActionKind::Token {
            call: TokenCall::Transfer { .. }
        }
    ));
}
