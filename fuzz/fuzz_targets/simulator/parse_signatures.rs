//! Signature blobs on arbitrary bytes: splitting and the full `checkNSignatures` mirror never
//! panic, whatever the offsets, lengths and `v` bytes say.
#![no_main]

use alloy_primitives::{Address, B256, U256};
use libfuzzer_sys::fuzz_target;
use signgate_simulator::{
    SafeVersion,
    signature::{SignatureCheck, check_signatures, split_signatures},
};

fuzz_target!(|input: &[u8]| {
    let Some((&control, blob)) = input.split_first() else {
        return;
    };
    let required = usize::from(control & 0x0f);
    let version = SafeVersion::ALL[usize::from(control >> 4) % SafeVersion::ALL.len()];
    let _ = split_signatures(blob, required);
    let owners = [
        Address::repeat_byte(1),
        Address::repeat_byte(2),
        Address::repeat_byte(0xff),
    ];
    let check = SignatureCheck {
        version,
        data_hash: B256::repeat_byte(0x42),
        data: &[0x19, 0x01],
        signatures: blob,
        owners: &owners,
        executor: Address::repeat_byte(2),
    };
    let report = check_signatures(
        &check,
        U256::from(required),
        |a| a == owners[0],
        |c| c.signature.first() == Some(&1),
    );
    assert!(report.signatures.len() <= required);
    if report.accepted() {
        assert_eq!(report.valid_signers().count(), required);
    }
});
