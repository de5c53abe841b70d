//! The Safe's gas refund is a payment: with a non-zero `gasPrice`, `execTransaction` pays
//! `(gasUsed + baseGas) × gasPrice` of the gas token to the refund receiver, or to whoever
//! executes the transaction. It counts as a transfer everywhere else (see
//! [`crate::movements`]); this rule adds that no refund passes without an explicit
//! `[[refund_cap]]` for its wallet and asset, and none above it.

use alloy_primitives::Address;

use crate::{
    compile::Policy, evidence::Evidence, movements::refund, reasons::Reason, wallets::Wallet,
};

/// Appends a reason when the proposal pays a refund the policy does not allow.
pub fn check(policy: &Policy, wallet: &Wallet, evidence: &Evidence, out: &mut Vec<Reason>) {
    let Some(r) = refund(evidence) else {
        return;
    };
    let settings = &evidence.proposal.refund;
    let cap = policy
        .refund_caps()
        .iter()
        .find(|c| c.wallet == wallet.name && c.asset.asset == r.asset);
    let Some(cap) = cap else {
        out.push(Reason::HiddenRefund {
            gas_price: settings.gas_price,
            gas_token: settings.gas_token,
            refund_receiver: settings.refund_receiver,
            worst_case: r.amount,
        });
        return;
    };
    let Ok(max) = cap.max.to_base_units(cap.asset.decimals) else {
        out.push(Reason::ArithmeticOverflow {
            context: format!("the refund cap of {}", cap.asset.symbol),
        });
        return;
    };
    if r.amount > max {
        out.push(Reason::RefundAboveCap {
            wallet: wallet.name.clone(),
            asset: cap.asset.symbol.clone(),
            decimals: cap.asset.decimals,
            refund_receiver: r.receiver.unwrap_or(Address::ZERO),
            worst_case: r.amount,
            cap: max,
        });
    }
}
