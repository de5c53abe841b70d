//! Issue 13, item 2: the gas refund moves in the simulation, and never above the bound the
//! policy judges (`SafeTx::max_refund`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test loudly"
)]

use alloy_primitives::{Bytes, U256};
use alloy_sol_types::SolCall;
use signgate_simulator::{
    Operation,
    abi::IERC20,
    report::{Outcome, TokenEventKind},
};

use crate::support::{Lab, RECIPIENT, RECIPIENT_2, RELEASES};

fn transfer(amount: u64) -> Bytes {
    IERC20::transferCall {
        to: RECIPIENT,
        amount: U256::from(amount),
    }
    .abi_encode()
    .into()
}

#[test]
fn an_eth_refund_to_the_executor_moves_and_stays_within_the_bound() {
    for release in RELEASES {
        let mut lab = Lab::new(release, 2, 1);
        let mut tx = lab.tx(lab.token, U256::ZERO, transfer(10), Operation::Call);
        tx.safe_tx_gas = U256::from(100_000);
        tx.base_gas = U256::from(999_000_000u64) / U256::from(1_000);
        tx.gas_price = U256::from(10_000_000_000u64);
        let report = lab.simulate(&tx);
        assert_eq!(report.outcome, Outcome::Success, "{release:?}: {report:#?}");
        let refund = report.refund.clone().expect("the refund is paid");
        assert_eq!(refund.gas_token, alloy_primitives::Address::ZERO);
        assert_eq!(refund.paid_to, report.executor, "tx.origin is paid");
        assert!(refund.amount >= tx.base_gas * tx.gas_price);
        assert!(refund.amount <= tx.max_refund(), "{release:?}: {refund:?}");
        let safe = report
            .balance_changes
            .iter()
            .find(|b| b.address == lab.safe)
            .expect("the Safe pays ETH");
        assert_eq!(safe.before - safe.after, refund.amount);
        assert!(
            report
                .eth_transfers
                .iter()
                .any(|t| t.from == lab.safe && t.to == report.executor && t.value == refund.amount)
        );
    }
}

#[test]
fn a_token_refund_to_a_named_receiver_is_a_token_movement_within_the_bound() {
    for release in RELEASES {
        let mut lab = Lab::new(release, 2, 1);
        let mut tx = lab.tx(lab.token, U256::ZERO, transfer(10), Operation::Call);
        tx.safe_tx_gas = U256::from(100_000);
        tx.base_gas = U256::from(1_000);
        tx.gas_price = U256::from(1);
        tx.gas_token = lab.token;
        tx.refund_receiver = RECIPIENT_2;
        let report = lab.simulate(&tx);
        assert_eq!(report.outcome, Outcome::Success, "{release:?}: {report:#?}");
        let refund = report.refund.clone().expect("the refund is paid");
        assert_eq!((refund.gas_token, refund.paid_to), (lab.token, RECIPIENT_2));
        assert!(refund.amount <= tx.max_refund(), "{release:?}: {refund:?}");
        assert!(report.token_events.iter().any(|e| e.event
            == TokenEventKind::Erc20Transfer {
                from: lab.safe,
                to: RECIPIENT_2,
                value: refund.amount,
            }));
    }
}

#[test]
fn no_gas_price_no_refund() {
    let mut lab = Lab::new(RELEASES[2], 2, 1);
    let mut tx = lab.tx(lab.token, U256::ZERO, transfer(10), Operation::Call);
    tx.base_gas = U256::from(999_000_000u64);
    let report = lab.simulate(&tx);
    assert_eq!(report.outcome, Outcome::Success);
    assert_eq!(report.refund, None);
    assert_eq!(tx.max_refund(), U256::ZERO);
}
