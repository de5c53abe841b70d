//! Calldata and MultiSend batch decoding on arbitrary bytes: never a panic, and a batch that
//! parses re-encodes to exactly the bytes it came from.
#![no_main]

use alloy_primitives::{Address, Bytes, U256};
use libfuzzer_sys::fuzz_target;
use signgate_simulator::{
    Operation, SafeContext, SafeTx, SafeVersion,
    decode::{decode_transaction, encode_batch, parse_batch},
    deployments::{self, SafeContract},
};

const SAFE: Address = Address::repeat_byte(0x5a);

fuzz_target!(|input: &[u8]| {
    let Some((&control, data)) = input.split_first() else {
        return;
    };
    // The control byte picks the operation, the Safe version and which kind of target to call,
    // so that canonical batch libraries (and the 1.5.0 `to = 0` rule) are reached often.
    let operation = if control & 1 == 0 {
        Operation::Call
    } else {
        Operation::DelegateCall
    };
    let version = SafeVersion::ALL[usize::from(control >> 1) % SafeVersion::ALL.len()];
    let to = match (control >> 4) % 4 {
        0 => deployments::canonical(SafeContract::MultiSendCallOnly, SafeVersion::V1_5_0),
        1 => deployments::canonical(SafeContract::MultiSend, SafeVersion::V1_3_0),
        2 => Some(SAFE),
        _ => Some(Address::repeat_byte(control)),
    }
    .unwrap_or(SAFE);
    let ctx = SafeContext {
        chain_id: 1,
        safe: SAFE,
        version,
    };
    let tx = SafeTx {
        operation,
        ..SafeTx::call(to, U256::ZERO, Bytes::copy_from_slice(data), U256::ZERO)
    };
    if let Ok(decoded) = decode_transaction(&ctx, &tx) {
        let _ = decoded.to_string();
        let _ = decoded.involvements();
    }
    if let Ok(entries) = parse_batch(data) {
        assert_eq!(
            encode_batch(entries),
            data,
            "a parsed batch must re-encode to its bytes"
        );
    }
});
