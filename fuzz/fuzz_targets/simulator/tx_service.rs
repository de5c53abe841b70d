//! Safe Transaction Service JSON, as any initiator may submit it, through the import the gateway
//! runs (`parse_document`, `to_safe_tx`) and the hint check `signgate inspect` runs
//! (`decode_transaction`, `check_hints`): never a panic; a refused operation is an error naming
//! the transaction and its byte, never a default; the ten signed fields, written back as JSON in
//! the v2 shape, import to the same `SafeTx`; every confirmation gets exactly one check.
#![no_main]

use alloy_primitives::hex;
use libfuzzer_sys::fuzz_target;
use signgate_simulator::{
    SafeContext, SafeTx, SafeVersion, decode_transaction, safe_tx_hash,
    tx_service::{HintMismatch, TxServiceError, parse_document},
};

fuzz_target!(|input: &[u8]| {
    let Some((&control, body)) = input.split_first() else {
        return;
    };
    let Ok(json) = std::str::from_utf8(body) else {
        return;
    };
    let version = SafeVersion::ALL[usize::from(control) % SafeVersion::ALL.len()];
    let Ok(docs) = parse_document(json) else {
        return;
    };
    for (index, doc) in docs.iter().enumerate() {
        let tx = match doc.to_safe_tx(index) {
            Ok(tx) => {
                assert!(doc.operation <= 1, "operation {} accepted", doc.operation);
                tx
            }
            Err(TxServiceError::InvalidOperation { index: i, value }) => {
                assert_eq!((i, value), (index, doc.operation));
                assert!(doc.operation > 1);
                continue;
            }
            Err(other) => panic!("to_safe_tx refused with {other}"),
        };
        assert_eq!(tx.to, doc.to);
        assert_eq!(tx.data, doc.data.clone().unwrap_or_default());
        assert_eq!(tx.nonce, doc.nonce.0);
        round_trip(doc.safe, &tx);

        let ctx = SafeContext {
            chain_id: u64::from(control) + 1,
            safe: doc.safe,
            version,
        };
        let Ok(decoded) = decode_transaction(&ctx, &tx) else {
            continue;
        };
        let report = doc.check_hints(&ctx, &decoded);
        assert_eq!(report.safe_tx_hash, safe_tx_hash(&ctx, &tx));
        assert_eq!(report.confirmations.len(), doc.confirmations.len());
        assert_eq!(report.consistent(), report.mismatches.is_empty());
        let hash_flagged = report
            .mismatches
            .iter()
            .any(|m| matches!(m, HintMismatch::SafeTxHash { .. }));
        assert_eq!(
            hash_flagged,
            doc.safe_tx_hash.is_some_and(|h| h != report.safe_tx_hash)
        );
        for (check, claimed) in report.confirmations.iter().zip(&doc.confirmations) {
            assert_eq!(check.claimed_owner, claimed.owner);
            assert_eq!(check.verified, claimed.signature.is_some());
            if check.verified && check.mismatches.is_empty() {
                assert_eq!(check.signer, Some(claimed.owner));
            }
        }
        for m in &report.mismatches {
            let _ = m.to_string();
        }
    }
});

/// Writes the signed fields back in the service's v2 shape (decimal strings) and imports them.
fn round_trip(safe: alloy_primitives::Address, tx: &SafeTx) {
    let json = format!(
        r#"{{"safe":"{safe}","to":"{}","value":"{}","data":"0x{}","operation":{},"gasToken":"{}","safeTxGas":"{}","baseGas":"{}","gasPrice":"{}","refundReceiver":"{}","nonce":"{}"}}"#,
        tx.to,
        tx.value,
        hex::encode(&tx.data),
        tx.operation.as_u8(),
        tx.gas_token,
        tx.safe_tx_gas,
        tx.base_gas,
        tx.gas_price,
        tx.refund_receiver,
        tx.nonce,
    );
    let again = parse_document(&json).map(|docs| {
        docs.into_iter()
            .map(|d| d.to_safe_tx(0))
            .collect::<Vec<_>>()
    });
    match again.as_deref() {
        Ok([Ok(back)]) => assert_eq!(back, tx, "a written-back transaction imports differently"),
        other => panic!("the written-back transaction does not import: {other:?}\n{json}"),
    }
}
