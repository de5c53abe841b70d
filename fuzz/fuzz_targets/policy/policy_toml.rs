//! The policy TOML an operator loads (and admins sign), through `Policy::compile`, the one
//! function the gateway compiles a stored or proposed policy with: never a panic; a refused
//! file is an error value; an accepted one carries the hash of exactly its source text and
//! compiles to the same policy again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signgate_policy::{Policy, PolicyHash};

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(policy) = Policy::compile(source) else {
        return;
    };
    assert_eq!(policy.hash(), PolicyHash::of(source));
    assert_eq!(
        Policy::compile(source).ok().as_ref(),
        Some(&policy),
        "compiling is not deterministic"
    );
    for wallet in policy.wallets() {
        assert!(policy.wallet_for(wallet.chain_id, wallet.safe).is_some());
    }
});
