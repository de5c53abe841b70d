//! Transaction Service import: both API shapes, null data, pagination, and hints that lie.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns: a broken fixture must fail loudly"
)]

use alloy_primitives::{Address, U256, b256};
use signgate_simulator::{
    decode::decode_transaction,
    tx_service::{HintMismatch, TxServiceError, parse_document},
};

use crate::vectors::{bybit_ctx, fixture};

fn nonce_67() -> serde_json::Value {
    serde_json::from_str(&fixture("bybit-nonce-67.json")).unwrap()
}

#[test]
fn v1_and_v2_shapes_import_to_the_same_transaction() {
    let v1 = nonce_67();
    let mut v2 = v1.clone();
    for key in ["nonce", "safeTxGas", "baseGas"] {
        v2[key] = serde_json::Value::String(v1[key].to_string());
    }
    assert!(v2["nonce"].is_string());
    let a = parse_document(&v1.to_string())
        .unwrap()
        .remove(0)
        .to_safe_tx(0)
        .unwrap();
    let b = parse_document(&v2.to_string())
        .unwrap()
        .remove(0)
        .to_safe_tx(0)
        .unwrap();
    assert_eq!(a, b);
    assert_eq!(a.nonce, U256::from(67));
    assert_eq!(a.safe_tx_gas, U256::from(58814));
}

#[test]
fn null_data_is_empty_calldata_and_pages_are_lists() {
    let page = parse_document(&fixture("bybit-safe-tx-71.json")).unwrap();
    assert_eq!(page.len(), 2);
    assert!(page[1].data.is_none());
    assert!(page[1].to_safe_tx(1).unwrap().data.is_empty());
}

#[test]
fn malformed_documents_are_typed_errors() {
    let mut bad = nonce_67();
    bad["operation"] = 2.into();
    let doc = parse_document(&bad.to_string()).unwrap();
    assert!(matches!(
        doc[0].to_safe_tx(0),
        Err(TxServiceError::InvalidOperation { value: 2, .. })
    ));
    for value in ["-1", "1.5", "0x10", ""] {
        let mut bad = nonce_67();
        bad["nonce"] = value.into();
        assert!(
            matches!(
                parse_document(&bad.to_string()),
                Err(TxServiceError::Json(_))
            ),
            "{value}"
        );
    }
    assert!(parse_document("[1, 2]").is_err());
}

#[test]
fn lying_hints_are_reported() {
    let ctx = bybit_ctx();
    let mut doc = nonce_67();
    doc["safeTxHash"] = "0x00000000000000000000000000000000000000000000000000000000000000aa".into();
    doc["confirmations"][0]["owner"] = "0x0000000000000000000000000000000000000bad".into();
    doc["confirmations"][1]["signatureType"] = "EOA".into();
    doc["dataDecoded"]["parameters"][0]["value"] =
        "0x0000000000000000000000000000000000000bad".into();
    let service = parse_document(&doc.to_string()).unwrap().remove(0);
    let decoded = decode_transaction(&ctx, &service.to_safe_tx(0).unwrap()).unwrap();
    let hints = service.check_hints(&ctx, &decoded);
    assert_eq!(
        hints.safe_tx_hash,
        b256!("0xad245c7f3218995cb1e6a723dce14910d23a5105d997650704b82d8e005efcf7")
    );
    let bad: Address = "0x0000000000000000000000000000000000000bad"
        .parse()
        .unwrap();
    assert!(
        hints
            .mismatches
            .iter()
            .any(|m| matches!(m, HintMismatch::SafeTxHash { .. }))
    );
    assert!(hints.mismatches.iter().any(|m| matches!(m, HintMismatch::ConfirmationOwner { index: 0, claimed, .. } if *claimed == bad)));
    assert!(
        hints
            .mismatches
            .iter()
            .any(|m| matches!(m, HintMismatch::ConfirmationType { index: 1, .. }))
    );
    assert!(hints.mismatches.iter().any(
        |m| matches!(m, HintMismatch::DecodedAddressMissing { address, .. } if *address == bad)
    ));
    assert_eq!(hints.mismatches.len(), 4, "{:?}", hints.mismatches);
    assert!(hints.mismatches[0].to_string().contains("do not sign"));
}

#[test]
fn confirmations_without_signature_are_unverified_not_trusted() {
    let ctx = bybit_ctx();
    let mut doc = nonce_67();
    doc["confirmations"][2]["signature"] = serde_json::Value::Null;
    let service = parse_document(&doc.to_string()).unwrap().remove(0);
    let decoded = decode_transaction(&ctx, &service.to_safe_tx(0).unwrap()).unwrap();
    let hints = service.check_hints(&ctx, &decoded);
    assert!(hints.consistent(), "{:?}", hints.mismatches);
    assert!(!hints.confirmations[2].verified);
    assert_eq!(hints.confirmations[2].signer, None);
    assert!(hints.confirmations[0].verified);
}
