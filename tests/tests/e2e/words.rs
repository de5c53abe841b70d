//! Issue 20: golden files of what an approver reads. Each case is submitted to a real gateway
//! over gRPC and printed exactly as `signgate propose` prints it (the CLI prints the API's
//! words); the text must equal `tests/fixtures/words/<case>.txt`. `SIGNGATE_BLESS=1` rewrites
//! the files (review every change).
//!
//! The demo state gains three tokens with real `decimals()`/`symbol()` code: a 6-decimal
//! `EURC`, an 8-decimal `WBTC` and a fake `DEMO` at another address than the policy's.

use std::path::PathBuf;

use alloy_dyn_abi::{DynSolValue, JsonAbiExt as _};
use alloy_json_abi::Function;
use alloy_primitives::{Address, Bytes, U256, address};
use alloy_sol_types::SolCall as _;
use signgate_proto::v1 as pb;
use signgate_simulator::{SafeTx, abi::ISafe, constants::SENTINEL, evm::Snapshot};

use crate::{
    demo,
    support::{Options, erc20_transfer, start, submission, submit, submit_request},
};

/// A 6-decimal token that says it is `EURC`.
const EURC: Address = address!("0x0000000000000000000000000000000000e0c006");
/// An 8-decimal token that says it is `WBTC`.
const WBTC: Address = address!("0x0000000000000000000000000000000000b7c008");
/// An 18-decimal token that says it is `DEMO`, at another address than the policy's DEMO.
const FAKE_DEMO: Address = address!("0x0000000000000000000000000000000000fa4e18");
/// Aave v3's Pool on Ethereum, which the bundled ERC-7730 descriptor covers.
const AAVE_POOL: Address = address!("0x87870Bca3F3fD6335C3F4ce8392D69350B4fA4E2");
/// An owner or module the cases add.
const NEWCOMER: Address = address!("0x00000000000000000000000000000000000A11cE");

/// Runtime code of a token with metadata: `decimals()` answers storage slot 0x10, `symbol()`
/// answers slot 0x11 as a `bytes32` (as early tokens do), and every other call is
/// DELEGATECALLed to the demo token's code, so balances and events are a real ERC-20's.
/// Assembled by hand (30 instructions); see the comment of each part below.
fn metadata_token_code() -> Bytes {
    // selector = calldataload(0) >> 224
    // if selector == decimals() jump DEC; if selector == symbol() jump SYM
    // calldatacopy(0, 0, calldatasize); ok = delegatecall(gas, DEMO_TOKEN, 0, calldatasize, 0, 0)
    // returndatacopy(0, 0, returndatasize); if ok return(0, returndatasize) else revert
    // DEC: mstore(0, sload(0x10)) return(0, 32); SYM: mstore(0, sload(0x11)) return(0, 32)
    "0x60003560e01c8063313ce56714605057806395d89b4114605c57366000600037600060003660007370707070707070707070707070707070707070705af43d600060003e604b573d6000fd5b3d6000f35b60105460005260206000f35b60115460005260206000f3"
        .parse()
        .unwrap()
}

fn symbol_word(symbol: &str) -> U256 {
    let mut w = [0u8; 32];
    w[..symbol.len()].copy_from_slice(symbol.as_bytes());
    U256::from_be_bytes(w)
}

/// The demo state with the three metadata tokens, the demo Safe holding a million of each.
fn state() -> Snapshot {
    let mut s = crate::support::demo_state();
    for (token, decimals, symbol) in [
        (EURC, 6u8, "EURC"),
        (WBTC, 8, "WBTC"),
        (FAKE_DEMO, 18, "DEMO"),
    ] {
        s.set_account(token, U256::ZERO, 1, metadata_token_code());
        s.set_storage(token, U256::from(0x10), U256::from(decimals));
        s.set_storage(token, U256::from(0x11), symbol_word(symbol));
        s.set_storage(
            token,
            demo::balance_slot(demo::DEMO_SAFE),
            U256::from(1_000_000u64) * U256::from(10u64).pow(U256::from(decimals)),
        );
    }
    s
}

fn units(whole: u64, decimals: u8) -> U256 {
    U256::from(whole) * U256::from(10u64).pow(U256::from(decimals))
}

fn self_call(data: Vec<u8>, nonce: u64) -> SafeTx {
    SafeTx::call(demo::DEMO_SAFE, U256::ZERO, data.into(), U256::from(nonce))
}

fn aave_supply(amount: U256) -> Vec<u8> {
    let f = Function::parse(
        "supply(address asset, uint256 amount, address onBehalfOf, uint16 referralCode)",
    )
    .unwrap();
    f.abi_encode_input(&[
        DynSolValue::Address(demo::DEMO_TOKEN),
        DynSolValue::Uint(amount, 256),
        DynSolValue::Address(demo::DEMO_SAFE),
        DynSolValue::Uint(U256::ZERO, 16),
    ])
    .unwrap()
}

/// Every case: its file name and the transaction (on the demo Safe unless it is Bybit's).
fn cases() -> Vec<(&'static str, SafeTx)> {
    let e18 = |n: u64| units(n, 18);
    let mut refund = crate::support::token_transfer(demo::PAYEE, e18(1_000), 4);
    refund.safe_tx_gas = U256::from(100_000u64);
    refund.base_gas = U256::from(50_000u64);
    refund.gas_price = U256::from(20_000_000_000u64);
    let mut trailing = aave_supply(e18(1_000));
    trailing.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    vec![
        (
            "readme-demo-transfer",
            crate::support::token_transfer(demo::PAYEE, e18(1_000), 0),
        ),
        (
            "token-6-decimals",
            SafeTx::call(
                EURC,
                U256::ZERO,
                erc20_transfer(demo::PAYEE, U256::from(1_234_500_000u64)),
                U256::from(1u64),
            ),
        ),
        (
            "token-8-decimals",
            SafeTx::call(
                WBTC,
                U256::ZERO,
                erc20_transfer(demo::PAYEE, U256::from(50_000_000u64)),
                U256::from(2u64),
            ),
        ),
        (
            "unlimited-approval",
            SafeTx::call(
                demo::DEMO_TOKEN,
                U256::ZERO,
                signgate_simulator::abi::IERC20::approveCall {
                    spender: NEWCOMER,
                    amount: U256::MAX,
                }
                .abi_encode()
                .into(),
                U256::from(3u64),
            ),
        ),
        ("refund", refund),
        (
            "owner-swap",
            self_call(
                ISafe::swapOwnerCall {
                    prevOwner: SENTINEL,
                    oldOwner: demo::owners()[0].address(),
                    newOwner: NEWCOMER,
                }
                .abi_encode(),
                5,
            ),
        ),
        (
            "module-enable",
            self_call(ISafe::enableModuleCall { module: NEWCOMER }.abi_encode(), 6),
        ),
        (
            "token-impersonating-a-policy-asset",
            SafeTx::call(
                FAKE_DEMO,
                U256::ZERO,
                erc20_transfer(demo::PAYEE, e18(1_000)),
                U256::from(7u64),
            ),
        ),
        (
            "erc7730-aave-supply",
            SafeTx::call(
                AAVE_POOL,
                U256::ZERO,
                aave_supply(e18(1_000)).into(),
                U256::from(8u64),
            ),
        ),
        (
            "erc7730-descriptor-disagrees",
            SafeTx::call(AAVE_POOL, U256::ZERO, trailing.into(), U256::from(9u64)),
        ),
    ]
}

fn golden(case: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/words")
        .join(format!("{case}.txt"))
}

/// Compares `text` with the case's file (or writes it when blessing); returns a mismatch.
fn check(case: &str, text: &str) -> Option<String> {
    let path = golden(case);
    if std::env::var_os("SIGNGATE_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        return None;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    (want != text).then(|| format!("--- {} differs; got:\n{text}", path.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_an_approver_reads_matches_the_golden_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = Options::demo();
    opts.state = state();
    let gw = start(dir.path(), opts).await;
    let mut c = gw.client().await;
    let mut failures = Vec::new();
    for (case, tx) in cases() {
        let p = submit(&mut c, demo::DEMO_SAFE, &tx, "alice").await;
        let text = signgate_gateway::cli::client::render(&p);
        failures.extend(check(case, &text));
    }
    // The Bybit transaction, exactly as the Safe Transaction Service served it.
    let page: serde_json::Value = serde_json::from_str(include_str!(
        "../../../simulator/tests/fixtures/vectors/bybit-safe-tx-71.json"
    ))
    .unwrap();
    let mut s = submission(
        demo::BYBIT_SAFE,
        &SafeTx::call(Address::ZERO, U256::ZERO, Bytes::new(), U256::ZERO),
    );
    s.tx = Some(pb::proposal_submission::Tx::TransactionServiceJson(
        page["results"][0].to_string(),
    ));
    s.request_id = "bybit".into();
    let p = c
        .submit_proposal(submit_request(&s, &demo::operator("alice")))
        .await
        .unwrap()
        .into_inner();
    failures.extend(check("bybit", &signgate_gateway::cli::client::render(&p)));
    gw.stop().await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The golden files say what the issue asks, so a blessed regression cannot hide.
#[test]
fn the_golden_files_say_what_the_issue_asks() {
    let read = |case: &str| std::fs::read_to_string(golden(case)).unwrap();
    let demo = read("readme-demo-transfer");
    assert!(demo.contains("transfer 1,000 DEMO to"), "{demo}");
    assert!(demo.contains("moves 1,000 DEMO from"), "{demo}");
    assert!(demo.contains("eligible: bob, carol)"), "{demo}");
    assert!(!demo.contains("1000000000000000000000"), "{demo}");
    assert!(read("token-6-decimals").contains("1,234.5 EURC"));
    assert!(read("token-8-decimals").contains("0.5 WBTC"));
    assert!(read("unlimited-approval").contains("UNLIMITED"));
    let bybit = read("bybit");
    assert!(bybit.contains("SINGLETON CHANGED"), "{bybit}");
    assert!(bybit.contains("(Safe 1.1.1)"), "{bybit}");
    assert!(bybit.contains("nonce 71 → 72"), "{bybit}");
    let swap = read("owner-swap");
    assert!(
        swap.contains("owner added: 0x00000000000000000000000000000000000A11cE"),
        "{swap}"
    );
    assert!(swap.contains("owner removed:"), "{swap}");
    assert!(
        read("module-enable")
            .contains("MODULE ENABLED: 0x00000000000000000000000000000000000A11cE")
    );
    let fake = read("token-impersonating-a-policy-asset");
    assert!(fake.contains("FAKE DEMO"), "{fake}");
    assert!(fake.contains("WARNING: token"), "{fake}");
    assert!(read("erc7730-aave-supply").contains("Lend to Aave [Aave]: Lends 1,000 DEMO"));
    let ignored = read("erc7730-descriptor-disagrees");
    assert!(ignored.contains("unknown function 0x617ba037"), "{ignored}");
    assert!(
        ignored.contains("WARNING: clear-signing descriptor"),
        "{ignored}"
    );
    assert!(read("refund").contains("gas refund"));
}
