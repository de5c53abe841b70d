//! Issue 13: transactions shaped around the policy. Each file of
//! `tests/fixtures/attacks/decisions/` (format in its README) is one transaction submitted through
//! the real gRPC API to its own demo gateway (real Safe bytecode in the demo state), with the
//! decision it must get: the attack denied, or under the tier its direct form gets; the benign
//! controls still passing.

use std::path::{Path, PathBuf};

use alloy_dyn_abi::{DynSolType, DynSolValue, JsonAbiExt as _};
use alloy_primitives::{Address, Bytes, U256};
use serde_json::Value;
use signgate_proto::v1 as pb;
use signgate_simulator::{
    Operation, SafeTx,
    abi::IMultiSend,
    decode::{BatchEntry, encode_batch},
};

use crate::{
    attacks::{apply, edited_policy, str_field},
    demo,
    support::{Options, deny_codes, start, state, submission, submit_request},
};

fn folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/attacks/decisions")
}

/// An owner's approval as a Safe signature: `r` = the owner, `s` = 0, `v` = 1. The Safe accepts
/// it without a stored approval when the owner is the caller of `execTransaction`.
fn approval_of(owner: Address) -> String {
    format!("0x{:0>64}{:064}01", hex::encode(owner), 0)
}

/// The addresses a fixture may name by placeholder.
fn placeholders(text: &str) -> String {
    text.replace("$APPROVAL_OF_DEMO_SAFE", &approval_of(demo::DEMO_SAFE))
        .replace("$APPROVAL_OF_NESTED_SAFE", &approval_of(demo::NESTED_SAFE))
        .replace("$NESTED_SAFE", &demo::NESTED_SAFE.to_string())
        .replace("$INNER_SAFE", &demo::INNER_SAFE.to_string())
        .replace("$SNEAKY_LIB", &demo::SNEAKY_LIB.to_string())
        .replace("$DEMO_SAFE", &demo::DEMO_SAFE.to_string())
        .replace("$DEMO_TOKEN", &demo::DEMO_TOKEN.to_string())
        .replace("$PAYEE", &demo::PAYEE.to_string())
        .replace("$SANCTIONED", &demo::SANCTIONED.to_string())
        .replace("$BYBIT_SAFE", &demo::BYBIT_SAFE.to_string())
        .replace("$BRIDGE", &demo::BRIDGE.to_string())
        .replace("$RELAY", &demo::RELAY.to_string())
        .replace("$GRANTER", &demo::GRANTER.to_string())
        .replace(
            "$NOOP_LIB_CODE_HASH",
            &demo::code_hash(demo::NOOP_LIB).to_string(),
        )
        .replace(
            "$FIXED_LIB_CODE_HASH",
            &demo::code_hash(demo::FIXED_LIB).to_string(),
        )
        .replace(
            "$BEACON_LIB_CODE_HASH",
            &demo::code_hash(demo::BEACON_LIB).to_string(),
        )
        .replace(
            "$PROXY_LIB_CODE_HASH",
            &demo::code_hash(demo::PROXY_LIB).to_string(),
        )
        .replace("$NOOP_LIB", &demo::NOOP_LIB.to_string())
        .replace("$FIXED_LIB", &demo::FIXED_LIB.to_string())
        .replace("$BEACON_LIB", &demo::BEACON_LIB.to_string())
        .replace("$BEACON", &demo::BEACON.to_string())
        .replace("$PROXY_LIB", &demo::PROXY_LIB.to_string())
        .replace("$SILENT_TOKEN", &demo::SILENT_TOKEN.to_string())
}

fn address(v: &Value, file: &str) -> Address {
    placeholders(
        v.as_str()
            .unwrap_or_else(|| panic!("{file}: address expected: {v}")),
    )
    .parse()
    .unwrap_or_else(|e| panic!("{file}: {v}: {e}"))
}

fn quantity(v: Option<&Value>, file: &str) -> U256 {
    match v {
        None => U256::ZERO,
        Some(Value::String(s)) => {
            let s = placeholders(s);
            s.parse()
                .unwrap_or_else(|e| panic!("{file}: quantity {s}: {e}"))
        }
        Some(Value::Number(n)) => U256::from(n.as_u64().unwrap()),
        Some(other) => panic!("{file}: quantity expected: {other}"),
    }
}

/// Calldata: hex, `{"function": "transfer(address,uint256)", "args": [...]}` (ABI-encoded; a
/// `bytes` argument may itself be such an object), or
/// `{"multisend": [call, ...]}` (a `multiSend(bytes)` call packing each entry).
fn calldata(v: Option<&Value>, file: &str) -> Bytes {
    match v {
        None => Bytes::new(),
        Some(Value::String(hex)) => placeholders(hex).parse().unwrap(),
        Some(Value::Object(o)) if o.contains_key("function") => {
            let sig = o["function"].as_str().unwrap();
            let func = alloy_json_abi_function(sig, file);
            let args: Vec<DynSolValue> = func
                .inputs
                .iter()
                .zip(o["args"].as_array().unwrap())
                .map(|(param, arg)| {
                    let ty: DynSolType = param.ty.parse().unwrap();
                    let text = match arg {
                        Value::String(s) => placeholders(s),
                        // A `bytes` argument given as calldata (a nested transaction's data).
                        Value::Object(_) => calldata(Some(arg), file).to_string(),
                        other => other.to_string(),
                    };
                    ty.coerce_str(&text)
                        .unwrap_or_else(|e| panic!("{file}: {sig} argument {text}: {e}"))
                })
                .collect();
            func.abi_encode_input(&args).unwrap().into()
        }
        Some(Value::Object(o)) if o.contains_key("multisend") => {
            let entries: Vec<(Operation, Address, U256, Bytes)> = o["multisend"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    (
                        operation(e.get("operation"), file),
                        address(&e["to"], file),
                        quantity(e.get("value"), file),
                        calldata(e.get("data"), file),
                    )
                })
                .collect();
            let packed =
                encode_batch(
                    entries
                        .iter()
                        .map(|(operation, to, value, data)| BatchEntry {
                            operation: *operation,
                            to: *to,
                            value: *value,
                            data,
                        }),
                );
            use alloy_sol_types::SolCall as _;
            IMultiSend::multiSendCall {
                transactions: packed.into(),
            }
            .abi_encode()
            .into()
        }
        Some(other) => panic!("{file}: data must be hex or an object: {other}"),
    }
}

fn alloy_json_abi_function(signature: &str, file: &str) -> alloy_json_abi::Function {
    alloy_json_abi::Function::parse(signature)
        .unwrap_or_else(|e| panic!("{file}: function {signature}: {e}"))
}

fn operation(v: Option<&Value>, file: &str) -> Operation {
    match v.and_then(Value::as_str) {
        None | Some("call") => Operation::Call,
        Some("delegate_call") => Operation::DelegateCall,
        Some(other) => panic!("{file}: operation {other}"),
    }
}

/// The transaction of a fixture: its fields, or `{"file": "<repo path>", "pointer": "/tx"}`.
fn transaction(v: &Value, file: &str) -> SafeTx {
    if let Some(path) = v.get("file").and_then(Value::as_str) {
        let full = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&full).unwrap()).unwrap();
        let tx = doc
            .pointer(v["pointer"].as_str().unwrap_or(""))
            .unwrap_or_else(|| panic!("{file}: no {v} in {path}"));
        return serde_json::from_value(tx.clone()).unwrap();
    }
    SafeTx {
        to: address(&v["to"], file),
        value: quantity(v.get("value"), file),
        data: calldata(v.get("data"), file),
        operation: operation(v.get("operation"), file),
        safe_tx_gas: quantity(v.get("safeTxGas"), file),
        base_gas: quantity(v.get("baseGas"), file),
        gas_price: quantity(v.get("gasPrice"), file),
        gas_token: v
            .get("gasToken")
            .map_or(Address::ZERO, |a| address(a, file)),
        refund_receiver: v
            .get("refundReceiver")
            .map_or(Address::ZERO, |a| address(a, file)),
        nonce: quantity(v.get("nonce"), file),
    }
}

fn proposal_state(name: &str, file: &str) -> pb::ProposalState {
    pb::ProposalState::from_str_name(name).unwrap_or_else(|| panic!("{file}: state {name}"))
}

/// The tier names and missing approvals of a NeedsApprovals decision, as `group:need`.
fn missing(p: &pb::Proposal) -> Vec<String> {
    match p.decision.as_ref().and_then(|d| d.outcome.as_ref()) {
        Some(pb::decision::Outcome::NeedsApprovals(n)) => n
            .missing
            .iter()
            .map(|m| format!("{}:{}", m.group, m.need))
            .collect(),
        _ => Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shaped_transaction_in_the_fixtures_gets_its_decision() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    // `SIGNGATE_DECISIONS_ONLY=nested-` walks only the files whose name starts so.
    if let Ok(prefix) = std::env::var("SIGNGATE_DECISIONS_ONLY") {
        files.retain(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&prefix))
        });
    }
    assert!(!files.is_empty());
    for path in &files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let case: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        str_field(&case, "description", &file);
        let dir = tempfile::tempdir().unwrap();
        let gw = start(dir.path(), Options::demo()).await;
        let edits = case["policy_edits"].as_array().cloned().unwrap_or_default();
        if !edits.is_empty() {
            // Edits may name the demo's contracts and their code hashes by placeholder.
            apply(gw.addr, &placeholders(&edited_policy(&edits, &file))).await;
        }
        let mut c = gw.client().await;
        let safe = case
            .get("safe")
            .map_or(demo::DEMO_SAFE, |s| address(s, &file));
        let tx = transaction(&case["transaction"], &file);
        let initiator = case
            .get("initiator")
            .and_then(Value::as_str)
            .unwrap_or("alice");
        let p = c
            .submit_proposal(submit_request(
                &submission(safe, &tx),
                &demo::operator(initiator),
            ))
            .await
            .unwrap_or_else(|e| panic!("{file}: submission refused: {e:?}"))
            .into_inner();
        let expect = &case["expect"];
        eprintln!(
            "{file}: {:?} deny {:?} missing {:?}",
            state(&p),
            deny_codes(&p),
            missing(&p)
        );
        if std::env::var("SIGNGATE_DECISIONS_VERBOSE").is_ok() {
            eprintln!("{:#?}", p.decision);
        }
        assert_eq!(
            state(&p),
            proposal_state(str_field(expect, "state", &file), &file),
            "{file}: {:?}",
            p.decision
        );
        let codes = deny_codes(&p);
        for code in expect["deny_codes"].as_array().cloned().unwrap_or_default() {
            let code = code.as_str().unwrap();
            assert!(
                codes.iter().any(|c| c == code),
                "{file}: {code} not in {codes:?}"
            );
        }
        let need = missing(&p);
        for m in expect["missing"].as_array().cloned().unwrap_or_default() {
            let m = m.as_str().unwrap();
            assert!(need.iter().any(|n| n == m), "{file}: {m} not in {need:?}");
        }
        for m in expect["not_missing"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let m = m.as_str().unwrap();
            assert!(!need.iter().any(|n| n == m), "{file}: {m} in {need:?}");
        }
        gw.stop().await;
    }
}
