//! The ten SafeTx fields as an approver reads them, for every client the gateway ships (the
//! CLI's `status`, the console): the same words everywhere, and the refund fields said to move
//! value too, since a gas refund is paid by the Safe.

use signgate_proto::v1 as pb;

/// The zero address: "ETH" as a gas token, "whoever executes it" as a refund receiver.
const ZERO: &str = "0x0000000000000000000000000000000000000000";

/// One field: its name as the Safe contracts spell it, and its value with what it means when
/// the value alone does not say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownField {
    /// `to`, `value`, …, `nonce`.
    pub name: &'static str,
    /// The value, in words where it needs them.
    pub value: String,
}

fn or_zero(s: &str) -> String {
    if s.is_empty() {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

fn address(s: &str, meaning: &str) -> String {
    if s.is_empty() || s == ZERO {
        format!("{ZERO} ({meaning})")
    } else {
        s.to_owned()
    }
}

/// All ten fields in the order the Safe hashes them. `data_shown` bounds how many bytes of the
/// calldata are written out (`None`: all; the decoded actions say what it does either way).
pub fn safe_tx_fields(t: &pb::SafeTransaction, data_shown: Option<usize>) -> Vec<ShownField> {
    let data = match data_shown.and_then(|n| t.data.get(..n)) {
        Some(head) if head.len() < t.data.len() => {
            format!("0x{}…", alloy_primitives::hex::encode(head))
        }
        _ => format!("0x{}", alloy_primitives::hex::encode(&t.data)),
    };
    let operation = match t.operation {
        0 => "CALL",
        1 => "DELEGATECALL",
        _ => "invalid",
    };
    let gas_price = or_zero(&t.gas_price);
    let refund = if gas_price.trim_start_matches('0').is_empty() {
        " (no gas refund)"
    } else {
        " (the Safe pays a gas refund: see the asset movements)"
    };
    let field = |name, value| ShownField { name, value };
    vec![
        field("to", t.to.clone()),
        field("value", format!("{} wei", or_zero(&t.value))),
        field("data", format!("{data} ({} bytes)", t.data.len())),
        field("operation", format!("{} ({operation})", t.operation)),
        field("safeTxGas", or_zero(&t.safe_tx_gas)),
        field("baseGas", or_zero(&t.base_gas)),
        field("gasPrice", format!("{gas_price}{refund}")),
        field("gasToken", address(&t.gas_token, "ETH")),
        field(
            "refundReceiver",
            address(&t.refund_receiver, "whoever executes it"),
        ),
        field("nonce", t.nonce.clone()),
    ]
}
