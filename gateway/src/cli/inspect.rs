//! `signgate inspect`: what a Safe transaction really asks for, recomputed offline.
//!
//! The command trusts nothing it is given: the safeTxHash, the Transaction Service's decoding
//! and its confirmation owners are recomputed and compared, and any disagreement makes the command
//! exit with status 1 so that a script can stop a signing ceremony on it.

use std::{fs, io::Read as _, path::PathBuf, process::ExitCode, str::FromStr};

use alloy_primitives::{Address, B256, Bytes, U256};
use anyhow::{Context as _, bail};
use clap::Args;
use serde::Serialize;
use signgate_simulator::{
    DecodedTransaction, Operation, SafeContext, SafeTx, SafeVersion, decode_transaction,
    signature::{
        SIGNATURE_PART_LEN, SignatureCheck, SignatureCheckReport, SignatureKind, SignaturePart,
        check_signatures,
    },
    tx_service::{self, HintReport, ServiceTransaction},
};

use super::out::Stdout;

/// Arguments of `signgate inspect`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    signgate inspect --tx-service tx.json --safe-version 1.1.1\n  \
    signgate inspect --safe 0x1Db9…FCF4 --safe-version 1.3.0 --to 0xA0b8…eB48 --data 0xa9059cbb… --nonce 63")]
pub struct InspectArgs {
    /// A Safe Transaction Service multisig-transaction JSON file (one transaction or a page of
    /// `results`); `-` reads standard input.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["to", "value", "data", "operation"])]
    pub tx_service: Option<PathBuf>,
    /// Which transaction of a page to inspect (0-based), when the page holds several.
    #[arg(long, value_name = "N", requires = "tx_service")]
    pub pick: Option<usize>,

    /// The Safe's address (taken from the Transaction Service JSON when omitted there).
    #[arg(long)]
    pub safe: Option<Address>,
    /// The chain id; it is part of the hash from Safe 1.3.0 on.
    #[arg(long, default_value_t = 1)]
    pub chain_id: u64,
    /// The Safe's singleton version (for example 1.1.1, 1.3.0, 1.4.1, 1.5.0). Never guessed: it
    /// decides how the hash is computed.
    #[arg(long, value_parser = SafeVersion::from_str)]
    pub safe_version: SafeVersion,

    /// Destination of the transaction.
    #[arg(long)]
    pub to: Option<Address>,
    /// ETH value in wei.
    #[arg(long, default_value = "0")]
    pub value: U256,
    /// Calldata as hex.
    #[arg(long, default_value = "0x")]
    pub data: Bytes,
    /// `call` (0) or `delegatecall` (1).
    #[arg(long, default_value = "call", value_parser = parse_operation)]
    pub operation: Operation,
    /// Gas the Safe forwards to the inner call (`safeTxGas`); 0: all that is left.
    #[arg(long, default_value = "0")]
    pub safe_tx_gas: U256,
    /// Gas added to what the transaction used when the refund is computed (`baseGas`).
    #[arg(long, default_value = "0")]
    pub base_gas: U256,
    /// Price per gas of the refund the Safe pays from its own funds (`gasPrice`); 0: no refund.
    #[arg(long, default_value = "0")]
    pub gas_price: U256,
    /// Token the refund is paid in; the zero address: ETH.
    #[arg(long, default_value_t = Address::ZERO)]
    pub gas_token: Address,
    /// Who receives the refund; the zero address: the account that executes the transaction.
    #[arg(long, default_value_t = Address::ZERO)]
    pub refund_receiver: Address,
    /// The Safe nonce the transaction is meant for.
    #[arg(long)]
    pub nonce: Option<U256>,

    /// A signature blob to parse and recover (from the JSON's `signatures` when omitted there).
    #[arg(long)]
    pub signatures: Option<Bytes>,
    /// The safeTxHash you were shown (by a UI, a hardware wallet, a colleague); the command exits
    /// with status 1 if it differs from the recomputed one.
    #[arg(long, value_name = "HASH")]
    pub expect_safe_tx_hash: Option<B256>,
    /// The Safe's owners, comma-separated: with `--threshold`, the signatures get the exact
    /// verdict `execTransaction` would give.
    #[arg(long, value_delimiter = ',', requires = "threshold")]
    pub owners: Vec<Address>,
    /// The Safe's threshold.
    #[arg(long, requires = "owners")]
    pub threshold: Option<U256>,
    /// Who sends `execTransaction` (an approved-hash signature by this owner needs no on-chain
    /// approval).
    #[arg(long, default_value_t = Address::ZERO)]
    pub executor: Address,

    /// Print one JSON document instead of plain words.
    #[arg(long)]
    pub json: bool,
}

fn parse_operation(s: &str) -> Result<Operation, String> {
    match s.to_ascii_lowercase().as_str() {
        "call" | "0" => Ok(Operation::Call),
        "delegatecall" | "1" => Ok(Operation::DelegateCall),
        other => Err(format!(
            "{other:?} is neither call (0) nor delegatecall (1)"
        )),
    }
}

/// Everything the command found, as printed with `--json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Inspection {
    decoded: DecodedTransaction,
    signatures: Vec<SignatureLine>,
    /// The exact `checkSignatures` verdict, when owners and threshold were given.
    signature_check: Option<SignatureCheckReport>,
    /// Signatures out of the strictly ascending order `checkNSignatures` requires.
    order_problems: Vec<String>,
    /// The Transaction Service's claims checked against the recomputation.
    service_hints: Option<HintReport>,
    /// Every claim that disagreed with what signgate recomputed.
    mismatches: Vec<String>,
}

/// One 65-byte signature part, recovered without knowing the owners.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SignatureLine {
    index: usize,
    kind: SignatureKind,
    v: u8,
    /// Recovered (ECDSA, eth_sign) or read from `r` (approved hash, contract signature).
    signer: Option<Address>,
}

/// Runs `signgate inspect`. Returns exit status 1 when a supplied or claimed value disagrees
/// with the recomputation.
pub fn run(args: &InspectArgs) -> anyhow::Result<ExitCode> {
    let (tx, service, safe) = resolve_input(args)?;
    let ctx = SafeContext {
        chain_id: args.chain_id,
        safe,
        version: args.safe_version,
    };
    let decoded = decode_transaction(&ctx, &tx).context("the calldata cannot be decoded")?;

    let mut mismatches = Vec::new();
    if let Some(expected) = args.expect_safe_tx_hash
        && expected != decoded.hashes.safe_tx_hash
    {
        mismatches.push(format!(
            "the safeTxHash you supplied ({expected}) is not the hash of this transaction ({})",
            decoded.hashes.safe_tx_hash
        ));
    }
    let service_hints = service.as_ref().map(|s| s.check_hints(&ctx, &decoded));
    if let Some(hints) = &service_hints {
        mismatches.extend(
            hints
                .mismatches
                .iter()
                .map(|m| format!("Transaction Service: {m}")),
        );
    }

    let blob = args
        .signatures
        .clone()
        .or_else(|| service.as_ref().and_then(|s| s.signatures.clone()))
        .unwrap_or_default();
    let signatures = recover_all(&decoded, &blob);
    let order_problems = order_problems(&signatures);
    let signature_check = args.threshold.map(|threshold| {
        let check = SignatureCheck::for_safe_tx(
            ctx.version,
            &decoded.hashes,
            &blob,
            &args.owners,
            args.executor,
        );
        // Offline, no on-chain approval and no EIP-1271 answer is known: both count as "no",
        // so the verdict can only be stricter than the chain's.
        check_signatures(&check, threshold, |_| false, |_| false)
    });

    let inspection = Inspection {
        decoded,
        signatures,
        signature_check,
        order_problems,
        service_hints,
        mismatches,
    };
    let mut out = Stdout::lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&inspection)?)?;
    } else {
        write!(out, "{}", render(&inspection))?;
    }
    Ok(if inspection.mismatches.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The transaction to inspect, the service document it came from (if any) and the Safe address.
fn resolve_input(
    args: &InspectArgs,
) -> anyhow::Result<(SafeTx, Option<ServiceTransaction>, Address)> {
    if let Some(path) = &args.tx_service {
        let text = read_input(path)?;
        let mut txs = tx_service::parse_document(&text)
            .with_context(|| format!("{} is not Safe Transaction Service JSON", path.display()))?;
        let index = match (args.pick, txs.len()) {
            (_, 0) => bail!("{} holds no transaction", path.display()),
            (Some(i), n) if i >= n => {
                bail!(
                    "--pick {i}: {} holds only {n} transactions (0 to {})",
                    path.display(),
                    n - 1
                )
            }
            (Some(i), _) => i,
            (None, 1) => 0,
            (None, n) => bail!(
                "{} holds {n} transactions; choose one with --pick 0 to {}:\n{}",
                path.display(),
                n - 1,
                list_choices(&txs)
            ),
        };
        let service = txs.swap_remove(index);
        let tx = service.to_safe_tx(index)?;
        let safe = args.safe.unwrap_or(service.safe);
        return Ok((tx, Some(service), safe));
    }
    let to = args
        .to
        .context("give the transaction: --tx-service FILE, or --to with its fields")?;
    let nonce = args
        .nonce
        .context("--nonce is required: it is part of the signed hash")?;
    let safe = args
        .safe
        .context("--safe is required: the hash binds the Safe's address")?;
    let tx = SafeTx {
        to,
        value: args.value,
        data: args.data.clone(),
        operation: args.operation,
        safe_tx_gas: args.safe_tx_gas,
        base_gas: args.base_gas,
        gas_price: args.gas_price,
        gas_token: args.gas_token,
        refund_receiver: args.refund_receiver,
        nonce,
    };
    Ok((tx, None, safe))
}

fn read_input(path: &PathBuf) -> anyhow::Result<String> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read standard input")?;
        return Ok(text);
    }
    fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn list_choices(txs: &[ServiceTransaction]) -> String {
    txs.iter()
        .enumerate()
        .map(|(i, t)| {
            let executed = if t.is_executed == Some(true) {
                ", executed"
            } else {
                ""
            };
            format!(
                "  {i}: nonce {} to {} operation {}{executed}",
                t.nonce.0, t.to, t.operation
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every complete 65-byte part of `blob`, with the signer it names or recovers to.
fn recover_all(decoded: &DecodedTransaction, blob: &[u8]) -> Vec<SignatureLine> {
    let eth_sign = decoded.context.version.accepts_eth_sign();
    (0..blob.len() / SIGNATURE_PART_LEN)
        .filter_map(|i| SignaturePart::at(blob, i))
        .map(|part| {
            let kind = part.kind();
            let signer = match kind {
                SignatureKind::Contract | SignatureKind::ApprovedHash => Some(part.r_address()),
                SignatureKind::Ecdsa | SignatureKind::EthSign | SignatureKind::Invalid => {
                    part.recover(decoded.hashes.safe_tx_hash, eth_sign)
                }
            };
            SignatureLine {
                index: part.index,
                kind,
                v: part.v,
                signer,
            }
        })
        .collect()
}

/// `checkNSignatures` needs signers in strictly ascending order; say where they are not.
fn order_problems(signatures: &[SignatureLine]) -> Vec<String> {
    signatures
        .windows(2)
        .filter_map(|pair| match pair {
            [a, b] => match (a.signer, b.signer) {
                (Some(x), Some(y)) if y <= x => Some(format!(
                    "signature #{} ({y}) does not sort after #{} ({x}): the Safe rejects \
                     signers out of ascending order or repeated",
                    b.index, a.index
                )),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

fn render(inspection: &Inspection) -> String {
    use std::fmt::Write as _;
    let mut out = inspection.decoded.to_string();
    if inspection.signatures.is_empty() {
        out.push_str("signatures: none given\n");
    } else {
        let _ = writeln!(out, "signatures ({}):", inspection.signatures.len());
        for s in &inspection.signatures {
            let signer = s
                .signer
                .map_or_else(|| "does not recover".to_owned(), |a| a.to_string());
            let _ = writeln!(
                out,
                "  #{} {} (v={}): {signer}",
                s.index,
                s.kind.as_str(),
                s.v
            );
        }
    }
    for problem in &inspection.order_problems {
        let _ = writeln!(out, "  ! {problem}");
    }
    if let Some(report) = &inspection.signature_check {
        match &report.failure {
            None => out.push_str("verdict: the Safe would accept these signatures\n"),
            Some(failure) => {
                let _ = writeln!(
                    out,
                    "verdict: the Safe would reject these signatures: {failure}"
                );
            }
        }
        for s in report.signatures.iter().filter(|s| !s.is_valid()) {
            if let Some(fault) = &s.fault {
                let _ = writeln!(out, "  #{}: {fault}", s.index);
            }
        }
    }
    if let Some(hints) = &inspection.service_hints {
        for c in &hints.confirmations {
            let signer = c
                .signer
                .map_or_else(|| "nothing".to_owned(), |a| a.to_string());
            let _ = writeln!(
                out,
                "confirmation #{} claimed by {}: recovers to {signer}",
                c.index, c.claimed_owner
            );
        }
    }
    if inspection.mismatches.is_empty() {
        out.push_str("checks: every supplied hash and hint matches the recomputation\n");
    } else {
        out.push_str("MISMATCH — do not sign:\n");
        for m in &inspection.mismatches {
            let _ = writeln!(out, "  - {m}");
        }
    }
    out
}
