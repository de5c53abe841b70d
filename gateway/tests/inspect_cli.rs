//! `signgate inspect` as an operator runs it: the real binary, real Transaction Service JSON.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly"
)]

use std::process::{Command, Output};

const BYBIT_71: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../simulator/tests/fixtures/vectors/bybit-safe-tx-71.json"
);

fn signgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_signgate"))
        .args(args)
        .output()
        .expect("signgate runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn bybit_malicious_transaction_shows_the_delegatecall_and_its_real_signers() {
    let owners = "0x1F4EB0a903619ac168b19A82F1a6e2e426522211,\
                  0x3Cc3A225769900e003E264dd4CB43E90896BC21A,\
                  0xe3dF2cCEAc61B1aFA311372ecC5B40A3A6585a9E";
    let out = signgate(&[
        "inspect",
        "--tx-service",
        BYBIT_71,
        "--pick",
        "0",
        "--safe-version",
        "1.1.1",
        "--owners",
        owners,
        "--threshold",
        "3",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("0xb3476d061aeb8fc1d605a873c483a2402d88a68a9cdd1a8b47655dd55ba004f8"));
    assert!(text.contains("0xb3ded2bdbff5db1a87f6d551fa256e9f2bd6517a3bb84f4c2ea863fb3a559622"));
    assert!(text.contains("DELEGATECALL 0x96221423681A6d52E184D440a8eFCEbB105C7242"));
    assert!(text.contains("not a known Safe library"), "{text}");
    for owner in owners.split(',') {
        assert!(
            text.contains(&format!("eth_sign (v=31): {owner}")),
            "{owner} missing:\n{text}"
        );
    }
    assert!(
        text.contains("the Safe would accept these signatures"),
        "{text}"
    );
}

#[test]
fn confirmations_that_do_not_belong_to_the_transaction_fail_the_command() {
    // Bybit's legitimate nonce-71 proposal carried the malicious transaction's signatures.
    let out = signgate(&[
        "inspect",
        "--tx-service",
        BYBIT_71,
        "--pick",
        "1",
        "--safe-version",
        "1.1.1",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("0x9d89e67333f99c136537be74029c44592985a4855172f4c2d0d942029868f98e"));
    assert!(text.contains("MISMATCH"), "{text}");
    assert!(
        text.contains(
            "is attributed to 0x1F4EB0a903619ac168b19A82F1a6e2e426522211 but recovers to"
        ),
        "{text}"
    );
}

#[test]
fn a_page_with_several_transactions_asks_which_one() {
    let out = signgate(&[
        "inspect",
        "--tx-service",
        BYBIT_71,
        "--safe-version",
        "1.1.1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("--pick 0 to 1"), "{err}");
}

/// The Safe 1.3.0 vector with a chainId domain (research/safe.md §7.5), given as flags.
fn usdc_transfer(extra: &[&str]) -> Output {
    let mut args = vec![
        "inspect",
        "--safe",
        "0x1c694Fc3006D81ff4a56F97E1b99529066a23725",
        "--chain-id",
        "1",
        "--safe-version",
        "1.3.0",
        "--to",
        "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
        "--data",
        "0xa9059cbb00000000000000000000000092d0ebaf7eb707f0650f9471e61348f4656c29bc\
         00000000000000000000000000000000000000000000000000000005d21dba00",
        "--nonce",
        "63",
    ];
    args.extend_from_slice(extra);
    signgate(&args)
}

#[test]
fn flags_compute_the_chain_id_domain_of_safe_1_3_0() {
    let out = usdc_transfer(&[
        "--expect-safe-tx-hash",
        "0xad06b099fca34e51e4886643d95d9a19ace2cd024065efb66662a876e8c40343",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("0x1655e94a9bcc5a957daa1acae692b4c22e7aaf146b4deb9194f8221d2f09d8c3"));
    assert!(text.contains("0xf22754eba5a2b230714534b4657195268f00dc0031296de4b835d82e7aa1e574"));
    assert!(text.contains("transfer"), "{text}");
}

#[test]
fn a_supplied_hash_that_differs_exits_non_zero_and_says_so() {
    let out = usdc_transfer(&[
        "--expect-safe-tx-hash",
        "0x00816067000000000000000000000000000000000000000000000000000000e1",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("is not the hash of this transaction"),
        "{text}"
    );
}

#[test]
fn json_output_is_one_machine_readable_document() {
    let out = usdc_transfer(&["--json"]);
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        doc["decoded"]["hashes"]["safeTxHash"],
        "0xad06b099fca34e51e4886643d95d9a19ace2cd024065efb66662a876e8c40343"
    );
    assert!(doc["mismatches"].as_array().unwrap().is_empty());
}

#[test]
fn unreadable_input_is_a_clear_error() {
    let dir = std::env::temp_dir().join(format!("signgate-inspect-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("not-json.json");
    std::fs::write(&bad, "{\"safe\": ").unwrap();
    let out = signgate(&[
        "inspect",
        "--tx-service",
        bad.to_str().unwrap(),
        "--safe-version",
        "1.3.0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("is not Safe Transaction Service JSON"),
        "{err}"
    );

    let out = signgate(&[
        "inspect",
        "--safe-version",
        "1.4.0",
        "--to",
        "0x0000000000000000000000000000000000000001",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("unsupported Safe version")
    );
}
