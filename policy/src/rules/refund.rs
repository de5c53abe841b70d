//! A Safe's gas refund is a payment: with a non-zero `gasPrice`, `execTransaction` pays
//! `(gasUsed + baseGas) × gasPrice` of the gas token to the refund receiver, or to whoever
//! executes the transaction. It counts as a transfer everywhere else (see
//! [`crate::movements`]); this rule adds that no refund passes without an explicit
//! `[[refund_cap]]` for its wallet and asset, and none above it. That holds for the proposal's
//! own refund and for every inner `execTransaction` the simulation reaches, at any depth.

use alloy_primitives::Address;

use crate::{
    compile::Policy, evidence::Evidence, movements::refunds, reasons::Reason, wallets::Wallet,
};

/// Appends a reason for every refund the proposal pays (its own, and every inner
/// `execTransaction`'s, see [`refunds`]) that the policy does not allow. An inner Safe's refund
/// takes that Safe's wallet's cap when the policy governs it, else the proposing wallet's: the
/// proposing Safe controls it, and what it pays counts as the proposal's.
pub fn check(policy: &Policy, wallet: &Wallet, evidence: &Evidence, out: &mut Vec<Reason>) {
    for r in refunds(evidence) {
        let payer_wallet = r
            .paid_by
            .as_ref()
            .and_then(|p| policy.wallet_for(evidence.proposal.chain_id, p.safe))
            .unwrap_or(wallet);
        let settings = &r.settings;
        let cap = policy
            .refund_caps()
            .iter()
            .find(|c| c.wallet == payer_wallet.name && c.asset.asset == r.asset);
        let Some(cap) = cap else {
            out.push(Reason::HiddenRefund {
                gas_price: settings.gas_price,
                gas_token: settings.gas_token,
                refund_receiver: settings.refund_receiver,
                worst_case: r.amount,
                paid_by: r.paid_by.clone(),
                units: payer_wallet
                    .asset(r.asset)
                    .map(|a| (a.symbol.clone(), a.decimals)),
            });
            continue;
        };
        let Ok(max) = cap.max.to_base_units(cap.asset.decimals) else {
            out.push(Reason::ArithmeticOverflow {
                context: format!("the refund cap of {}", cap.asset.symbol),
            });
            continue;
        };
        if r.amount > max {
            out.push(Reason::RefundAboveCap {
                wallet: payer_wallet.name.clone(),
                asset: cap.asset.symbol.clone(),
                decimals: cap.asset.decimals,
                refund_receiver: r.receiver.unwrap_or(Address::ZERO),
                worst_case: r.amount,
                cap: max,
                paid_by: r.paid_by.clone(),
            });
        }
    }
}
