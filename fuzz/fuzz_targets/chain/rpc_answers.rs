//! A JSON-RPC node's answer to a batch, on arbitrary bytes: never a panic; an accepted envelope
//! has exactly one result per call; every value the strict readers accept reads back the same
//! when written again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use signgate_chain::rpc::{Call, parse_batch_answer, read};

const METHODS: [&str; 5] = [
    "eth_getStorageAt",
    "eth_getBalance",
    "eth_getCode",
    "eth_getBlockByNumber",
    "eth_call",
];

fuzz_target!(|input: &[u8]| {
    let Some((&control, body)) = input.split_first() else {
        return;
    };
    let n = usize::from(control % 8) + 1;
    let calls: Vec<Call> = (0..n)
        .map(|i| {
            Call::new(
                METHODS[(usize::from(control) + i) % METHODS.len()],
                json!([]),
            )
        })
        .collect();
    let Ok(answers) = parse_batch_answer(&calls, body) else {
        return;
    };
    assert_eq!(answers.len(), calls.len(), "one result per call");
    for value in answers.iter().flatten() {
        check(value);
        if let Value::Object(fields) = value {
            for v in fields.values() {
                check(v);
            }
        }
    }
});

fn check(v: &Value) {
    if let Ok(n) = read::u64("m", v) {
        assert_eq!(read::u64("m", &json!(format!("{n:#x}"))).ok(), Some(n));
    }
    if let Ok(n) = read::u256("m", v) {
        assert_eq!(read::u256("m", &json!(format!("{n:#x}"))).ok(), Some(n));
    }
    if let Ok(w) = read::word("m", v) {
        assert_eq!(read::word("m", &json!(format!("{w:#066x}"))).ok(), Some(w));
    }
    if let Ok(b) = read::bytes("m", v) {
        assert_eq!(read::bytes("m", &json!(b.to_string())).ok(), Some(b));
    }
    let _ = read::b256("m", v);
    let _ = read::field("m", v, "hash");
}
