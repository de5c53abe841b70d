//! ERC-7730 descriptor parsing on arbitrary bytes, and a parsed descriptor showing arbitrary
//! calldata: never a panic, and the words never hold a control character.
#![no_main]

use alloy_primitives::{Address, U256};
use libfuzzer_sys::fuzz_target;
use signgate_simulator::render::{AssetBook, ClearSign, Descriptor, Descriptors};

fuzz_target!(|input: &[u8]| {
    // The first byte splits the input: a descriptor, then calldata for every format it has.
    let Some((&split, rest)) = input.split_first() else {
        return;
    };
    let at = (usize::from(split) * rest.len()) / 256;
    let (json, calldata) = rest.split_at(at.min(rest.len()));
    let Ok(d) = Descriptor::parse("fuzz.json", json) else {
        return;
    };
    let mut all = Descriptors::default();
    all.add(d);
    let book = AssetBook::default();
    let Some((selector, arguments)) = calldata.split_first_chunk::<4>() else {
        return;
    };
    for contract in [Address::ZERO, Address::repeat_byte(0x87)] {
        if let ClearSign::Words(w) = all.describe(1, contract, *selector, arguments, &book) {
            assert!(!w.chars().any(char::is_control), "{w:?}");
        }
    }
    let _ = book.amount(Address::ZERO, U256::from(u64::from(split)));
});
