//! One-way conversions from the simulator's types into [`crate::evidence`] facts.
//!
//! Kept thin on purpose: each adapter only selects and renames, so a reviewer can check it
//! against the source type at a glance, and `policy` never depends on how the simulator
//! computes anything.

use alloy_primitives::{Address, U256};
use signgate_simulator::decode::{
    Action, ActionKind, ActionPath, Permit2Call, SafeConfigCall, TokenCall,
};

use signgate_simulator::report::{
    CallFrame, CallKind, Grant, GrantKind, Outcome, OverrideReason, SafeSlot, SimulationReport,
    TokenEventKind,
};

use crate::{
    evidence::{
        ActionFact, ActionFactKind, DelegatecallFact, InnerRefundFact, MutableCodeFact,
        OutflowFact, ProxyUpgradeFact, QueuedNonce, ReachedSafeFacts, RefundPaidFact,
        RefundSettings, SafeChangeFact, SafeChangeKind, SanctionsHit, Screening, SimulationFacts,
        SimulationOutcome,
    },
    sanctions::{ListAction, ScreeningOutcome},
    wallets::Asset,
};

/// Flattens a decoded action tree (root first, batch entries depth-first) into facts.
/// `safe` is needed to tell a `transferFrom` out of the Safe (a transfer) from any other.
pub fn action_facts(root: &Action, safe: Address) -> Vec<ActionFact> {
    let mut out = Vec::new();
    push_action(root, ActionPath::default(), safe, &mut out);
    out
}

fn push_action(a: &Action, path: ActionPath, safe: Address, out: &mut Vec<ActionFact>) {
    let fact = |kind| ActionFact {
        path: path.clone(),
        operation: a.operation,
        to: a.to,
        value: a.value,
        kind,
    };
    let grant = |token: Address, spender: Address, amount: U256| ActionFactKind::TokenGrant {
        token,
        spender,
        amount,
    };
    let kind = match &a.kind {
        ActionKind::NativeTransfer => ActionFactKind::NativeTransfer,
        ActionKind::SafeConfig { call } => ActionFactKind::SafeConfig {
            change: config_kind(call),
        },
        ActionKind::UnknownSelfCall { .. } => ActionFactKind::SafeConfig {
            change: SafeChangeKind::Other,
        },
        ActionKind::Batch { .. } => ActionFactKind::Batch,
        // Judged by what it runs: the inner transaction is a fact of its own (below), and the
        // simulation judges that Safe like the proposing one.
        ActionKind::SafeTransaction { .. } => ActionFactKind::NestedSafeTransaction { safe: a.to },
        ActionKind::Token {
            call: TokenCall::Transfer { recipient, amount },
        } => ActionFactKind::TokenTransfer {
            recipient: *recipient,
            amount: *amount,
        },
        ActionKind::Token {
            call:
                TokenCall::TransferFrom {
                    from,
                    recipient,
                    amount_or_token_id,
                },
        } if *from == safe => ActionFactKind::TokenTransfer {
            recipient: *recipient,
            amount: *amount_or_token_id,
        },
        // ERC-721 and ERC-1155 transfers out of the Safe move assets like any other: the
        // amount is one token, or the units of the id(s) moved.
        ActionKind::Token {
            call:
                TokenCall::Erc721SafeTransferFrom {
                    from, recipient, ..
                },
        } if *from == safe => ActionFactKind::TokenTransfer {
            recipient: *recipient,
            amount: U256::from(1u8),
        },
        ActionKind::Token {
            call:
                TokenCall::Erc1155SafeTransferFrom {
                    from,
                    recipient,
                    amount,
                    ..
                },
        } if *from == safe => ActionFactKind::TokenTransfer {
            recipient: *recipient,
            amount: *amount,
        },
        ActionKind::Token {
            call:
                TokenCall::Erc1155SafeBatchTransferFrom {
                    from,
                    recipient,
                    amounts,
                    ..
                },
        } if *from == safe => ActionFactKind::TokenTransfer {
            recipient: *recipient,
            amount: amounts
                .iter()
                .fold(U256::ZERO, |sum, a| sum.saturating_add(*a)),
        },
        // Grants are transfers to the spender (see `ActionFactKind::TokenGrant`); a zero amount
        // or a revocation grants nothing and stays a contract call.
        ActionKind::Token {
            call:
                TokenCall::Approve {
                    spender,
                    amount_or_token_id,
                },
        } if *spender != Address::ZERO && !amount_or_token_id.is_zero() => {
            grant(a.to, *spender, *amount_or_token_id)
        }
        ActionKind::Token {
            call: TokenCall::IncreaseAllowance { spender, added },
        } if !added.is_zero() => grant(a.to, *spender, *added),
        ActionKind::Token {
            call:
                TokenCall::SetApprovalForAll {
                    operator,
                    approved: true,
                },
        } => grant(a.to, *operator, U256::MAX),
        ActionKind::Permit2 {
            call:
                Permit2Call::Approve {
                    token,
                    spender,
                    amount,
                    ..
                },
        } if !amount.is_zero() => grant(*token, *spender, *amount),
        ActionKind::Permit2 {
            call:
                Permit2Call::Permit {
                    owner,
                    spender,
                    tokens,
                },
        } if *owner == safe && !tokens.is_empty() => match tokens.first() {
            Some((token, amount)) => grant(*token, *spender, *amount),
            None => ActionFactKind::ContractCall,
        },
        ActionKind::SafeLibrary { .. } => ActionFactKind::SafeLibrary,
        ActionKind::Token { .. }
        | ActionKind::Permit2 { .. }
        | ActionKind::ForeignApproveHash { .. }
        | ActionKind::SignatureCheck { .. }
        | ActionKind::Unknown { .. } => ActionFactKind::ContractCall,
    };
    let mut extra = Vec::new();
    // A Permit2 `permit` of the Safe's own allowance grants one allowance per token: every
    // token but the first becomes a fact of its own at the same path.
    if let ActionKind::Permit2 {
        call:
            Permit2Call::Permit {
                owner,
                spender,
                tokens,
            },
    } = &a.kind
        && *owner == safe
    {
        for (token, amount) in tokens.iter().skip(1) {
            extra.push(fact(ActionFactKind::TokenGrant {
                token: *token,
                spender: *spender,
                amount: *amount,
            }));
        }
    }
    out.push(fact(kind));
    out.extend(extra);
    for (step, child) in a.kind.children() {
        // A nested Safe transaction moves that Safe's assets: its `transferFrom(from = it)` is
        // the transfer out.
        let holder = if step == ActionPath::NESTED {
            a.to
        } else {
            safe
        };
        push_action(child, path.child(step), holder, out);
    }
}

/// Which part of the Safe's configuration a self-call changes.
pub const fn config_kind(call: &SafeConfigCall) -> SafeChangeKind {
    match call {
        SafeConfigCall::AddOwnerWithThreshold { .. }
        | SafeConfigCall::RemoveOwner { .. }
        | SafeConfigCall::SwapOwner { .. } => SafeChangeKind::Owners,
        SafeConfigCall::ChangeThreshold { .. } => SafeChangeKind::Threshold,
        SafeConfigCall::EnableModule { .. } | SafeConfigCall::DisableModule { .. } => {
            SafeChangeKind::Modules
        }
        SafeConfigCall::SetGuard { .. } => SafeChangeKind::Guard,
        SafeConfigCall::SetModuleGuard { .. } => SafeChangeKind::ModuleGuard,
        SafeConfigCall::SetFallbackHandler { .. } => SafeChangeKind::FallbackHandler,
        SafeConfigCall::ChangeMasterCopy { .. } => SafeChangeKind::Singleton,
        SafeConfigCall::ApproveHash { .. } => SafeChangeKind::ApprovedHash,
    }
}

/// The simulation facts of a [`SimulationReport`].
///
/// Delegatecalls are those that ran code in the Safe's own storage context, minus the proxy's
/// hop into its pre-state singleton (at depth 1, which every Safe call makes, and again under
/// any later CALL or STATICCALL into the Safe proxy, such as a `swapOwner` self-call). Outflows are the
/// Safe's net ETH decrease and every ERC-20 `Transfer` out of the Safe, and the same out of
/// every other Safe the run reached (see [`ReachedSafeFacts`]). The new singleton's
/// code hash is taken from a frame that ran it, when one did.
pub fn simulation_facts(report: &SimulationReport) -> SimulationFacts {
    let outcome = match &report.outcome {
        Outcome::Success => SimulationOutcome::Success,
        Outcome::ExecutionFailure { .. } => SimulationOutcome::Reverted {
            reason: "the Safe reported ExecutionFailure".to_owned(),
        },
        Outcome::Revert { reason } => SimulationOutcome::Reverted {
            reason: reason.to_string(),
        },
        Outcome::Halt { reason } => SimulationOutcome::Failed {
            reason: reason.clone(),
        },
    };
    let code_hash_of = |address: Address| {
        report
            .calls
            .iter()
            .find(|c| c.code_address == address)
            .and_then(|c| c.code_hash)
    };
    let delegatecalls = delegatecalls_in(report, report.safe, report.singleton, true);
    let safe_changes = report
        .safe_storage
        .iter()
        .map(|c| safe_change_fact(report, &c.meaning, c.slot, c.before, c.after))
        .collect();
    let proxy_upgrades = report
        .proxy_upgrades
        .iter()
        .map(|u| ProxyUpgradeFact {
            proxy: u.proxy,
            before: u.before,
            after: u.after,
            new_code_hash: code_hash_of(u.after),
        })
        .collect();
    let mut outflows = holder_outflows(report, report.safe, None);
    outflows.extend(grant_outflows(report));
    let (reached_safes, reached_outflows) = reached_safe_facts(report);
    outflows.extend(reached_outflows);
    // The refund the run paid is taken out of the outflows (one movement of exactly that amount
    // to the party paid) and carried on its own: the policy judges it at its worst case.
    let refund = report.refund.as_ref().map(|r| {
        let asset = if r.gas_token == Address::ZERO {
            Asset::Native
        } else {
            Asset::Token(r.gas_token)
        };
        if let Some(i) = outflows
            .iter()
            .rposition(|o| o.asset == asset && o.to == r.paid_to && o.amount == r.amount)
        {
            outflows.remove(i);
        }
        RefundPaidFact {
            asset,
            paid_to: r.paid_to,
            amount: r.amount,
        }
    });
    let inner_refunds = inner_refund_facts(report, &mut outflows);
    let mutable_code = mutable_code_facts(report);
    // Overrides are facts of the run, not of the transaction: approved hashes stand in for
    // signatures and say nothing the policy decides on; a queued nonce is carried as what the
    // run assumed.
    let queued_nonce = report.overrides.iter().find_map(|o| match o.reason {
        OverrideReason::QueuedNonce { current, assumed } => Some(QueuedNonce { current, assumed }),
        OverrideReason::ApprovedHash { .. } => None,
    });
    SimulationFacts {
        outcome,
        safe_tx_hash: Some(report.safe_tx_hash),
        delegatecalls,
        safe_changes,
        proxy_upgrades,
        outflows,
        queued_nonce,
        refund,
        reached_safes,
        delegated_code: report.delegated_code.clone(),
        mutable_code,
        inner_refunds,
    }
}

/// The mutable code the run found (see [`signgate_simulator::report::MutableWhy`]), with the
/// frame's call path.
fn mutable_code_facts(report: &SimulationReport) -> Vec<MutableCodeFact> {
    report
        .mutable_code
        .iter()
        .map(|m| MutableCodeFact {
            target: m.code,
            safe: m.safe,
            location: format!(
                "simulation call {}, call path {}",
                m.frame,
                frame_path(report, m.frame)
            ),
            why: m.why.to_string(),
        })
        .collect()
}

/// The inner `execTransaction`s that pay a refund; the refunds they paid in the run are taken
/// out of `outflows` (one movement of exactly that amount to the party paid), as the outer
/// refund is: the policy judges each at its worst case.
fn inner_refund_facts(
    report: &SimulationReport,
    outflows: &mut Vec<OutflowFact>,
) -> Vec<InnerRefundFact> {
    let mut out = Vec::new();
    for t in report
        .inner_safe_txs
        .iter()
        .filter(|t| !t.gas_price.is_zero())
    {
        if let Some(paid) = t.paid {
            let asset = if t.gas_token == Address::ZERO {
                Asset::Native
            } else {
                Asset::Token(t.gas_token)
            };
            let paid_to = if t.refund_receiver == Address::ZERO {
                report.executor
            } else {
                t.refund_receiver
            };
            if let Some(i) = outflows.iter().rposition(|o| {
                o.asset == asset && o.to == paid_to && o.amount == paid && o.from == Some(t.safe)
            }) {
                outflows.remove(i);
            }
        }
        out.push(InnerRefundFact {
            safe: t.safe,
            location: format!("call path {}", frame_path(report, t.frame)),
            settings: RefundSettings {
                safe_tx_gas: t.safe_tx_gas,
                base_gas: t.base_gas,
                gas_price: t.gas_price,
                gas_token: t.gas_token,
                refund_receiver: t.refund_receiver,
            },
            paid: t.paid,
        });
    }
    out
}

/// The Safe's movements of ETH and tokens out of `holder`: the net ETH decrease (recipients are
/// the value-carrying frames from `holder`) and every ERC-20, ERC-721 and ERC-1155 transfer
/// out of it (an NFT counts one unit). `source` names the holder when it is not the proposing
/// Safe.
fn holder_outflows(
    report: &SimulationReport,
    holder: Address,
    source: Option<&str>,
) -> Vec<OutflowFact> {
    let mut outflows = Vec::new();
    let source = || source.map(str::to_owned);
    let other_safe = (holder != report.safe).then_some(holder);
    for b in report
        .balance_changes
        .iter()
        .filter(|b| b.address == holder && b.after < b.before)
    {
        let mut left = b.before - b.after;
        for t in report.eth_transfers.iter().filter(|t| t.from == holder) {
            let amount = t.value.min(left);
            if amount.is_zero() {
                break;
            }
            outflows.push(OutflowFact {
                asset: Asset::Native,
                to: t.to,
                amount,
                source: source(),
                from: other_safe,
            });
            left -= amount;
        }
        if !left.is_zero() {
            outflows.push(OutflowFact {
                asset: Asset::Native,
                to: Address::ZERO,
                amount: left,
                source: source(),
                from: other_safe,
            });
        }
    }
    for e in &report.token_events {
        let moved = match &e.event {
            TokenEventKind::Erc20Transfer { from, to, value } => Some((*from, *to, *value)),
            TokenEventKind::Erc721Transfer { from, to, .. } => Some((*from, *to, U256::from(1u8))),
            TokenEventKind::Erc1155TransferSingle {
                from, to, value, ..
            } => Some((*from, *to, *value)),
            TokenEventKind::Erc1155TransferBatch {
                from, to, values, ..
            } => Some((
                *from,
                *to,
                values
                    .iter()
                    .fold(U256::ZERO, |sum, v| sum.saturating_add(*v)),
            )),
            _ => None,
        };
        if let Some((from, to, amount)) = moved
            && from == holder
        {
            outflows.push(OutflowFact {
                asset: Asset::Token(e.token),
                to,
                amount,
                source: source(),
                from: other_safe,
            });
        }
    }
    outflows
}

/// The call path of `frame` as the reasons show it (`0→3→4`).
fn frame_path(report: &SimulationReport, frame: usize) -> String {
    report
        .path_to(frame)
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("→")
}

/// The DELEGATECALLs that ran code against `safe`'s storage, less the proxy's own hop into its
/// pre-state `singleton` whenever the proxy is CALLed (a self-call such as `swapOwner`, a guard
/// reading the Safe: a frame running the proxy's code) and, for the proposing Safe
/// (`top_level`), the hop of the transaction itself at depth 1. One rule for the proposing Safe
/// and every Safe it reaches.
fn delegatecalls_in(
    report: &SimulationReport,
    safe: Address,
    singleton: Address,
    top_level: bool,
) -> Vec<DelegatecallFact> {
    let proxy_hop = |c: &CallFrame| {
        c.code_address == singleton
            && ((top_level && c.depth <= 1)
                || c.parent.and_then(|p| report.calls.get(p)).is_some_and(|p| {
                    matches!(p.kind, CallKind::Call | CallKind::StaticCall)
                        && p.target == safe
                        && p.code_address == safe
                }))
    };
    report
        .delegatecalls()
        .filter(|c| c.target == safe && !proxy_hop(c))
        .map(|c| DelegatecallFact {
            depth: c.depth,
            caller: c.caller,
            target: c.code_address,
            code_hash: c.code_hash,
        })
        .collect()
}

/// Facts of every other Safe the run reached, and the assets it moved, which join the
/// proposal's outflows: what a Safe the proposing Safe controls pays out is judged as if the
/// proposing Safe had paid it.
fn reached_safe_facts(report: &SimulationReport) -> (Vec<ReachedSafeFacts>, Vec<OutflowFact>) {
    let mut facts = Vec::new();
    let mut outflows = Vec::new();
    for r in &report.reached_safes {
        let location = match r.frame {
            Some(frame) => format!("call path {} in the simulation", frame_path(report, frame)),
            None => "the simulation".to_owned(),
        };
        let delegatecalls = delegatecalls_in(report, r.address, r.singleton, false);
        let safe_changes = r
            .storage
            .iter()
            .map(|c| safe_change_fact(report, &c.meaning, c.slot, c.before, c.after))
            .collect();
        let source = format!(
            "simulation: out of Safe {} (reached at {location})",
            r.address
        );
        outflows.extend(holder_outflows(report, r.address, Some(&source)));
        outflows.extend(grants_as_outflows(
            report,
            &r.grants,
            &source,
            Some(r.address),
        ));
        facts.push(ReachedSafeFacts {
            safe: r.address,
            location,
            delegatecalls,
            safe_changes,
        });
    }
    (facts, outflows)
}

/// One storage write of a Safe in policy terms; a new singleton's code hash is taken from a
/// frame that ran it, when one did.
fn safe_change_fact(
    report: &SimulationReport,
    meaning: &SafeSlot,
    slot: U256,
    before: alloy_primitives::B256,
    after: alloy_primitives::B256,
) -> SafeChangeFact {
    let kind = match meaning {
        SafeSlot::Singleton => SafeChangeKind::Singleton,
        SafeSlot::Owner { .. } | SafeSlot::OwnerCount => SafeChangeKind::Owners,
        SafeSlot::Threshold => SafeChangeKind::Threshold,
        SafeSlot::Nonce => SafeChangeKind::Nonce,
        SafeSlot::Module { .. } => SafeChangeKind::Modules,
        SafeSlot::Guard => SafeChangeKind::Guard,
        SafeSlot::ModuleGuard => SafeChangeKind::ModuleGuard,
        SafeSlot::FallbackHandler => SafeChangeKind::FallbackHandler,
        SafeSlot::ApprovedHash { .. } => SafeChangeKind::ApprovedHash,
        _ => SafeChangeKind::Other,
    };
    let new_code_hash = if kind == SafeChangeKind::Singleton {
        let to = Address::from_word(after);
        report
            .calls
            .iter()
            .find(|c| c.code_address == to)
            .and_then(|c| c.code_hash)
    } else {
        None
    };
    SafeChangeFact {
        kind,
        slot,
        before,
        after,
        new_code_hash,
    }
}

/// Every grant the run leaves in place, as an outflow to the spender: whoever holds an
/// allowance can take the tokens without the owners, so it is judged as the transfer it
/// permits. An allowance counts up to the Safe's balance after the run (an unlimited one is
/// the whole balance); an ERC-721 approval is one token; an operator right is the whole
/// balance. When the token did not answer `balanceOf`, the allowance as stated counts, and an
/// operator right counts as unlimited (`U256::MAX`), which no bounded tier or limit admits.
pub fn grant_outflows(report: &SimulationReport) -> Vec<OutflowFact> {
    grants_as_outflows(report, &report.grants, "simulation", None)
}

/// `grants` as outflows to their spenders (see [`grant_outflows`]); `origin` starts each
/// source (`simulation`, or which other Safe granted).
fn grants_as_outflows(
    report: &SimulationReport,
    grants: &[Grant],
    origin: &str,
    from: Option<Address>,
) -> Vec<OutflowFact> {
    grants
        .iter()
        .map(|g| {
            let amount = match (&g.kind, g.holder_balance) {
                (GrantKind::Allowance { value }, Some(balance)) => (*value).min(balance),
                (GrantKind::Allowance { value }, None) => *value,
                (GrantKind::Token { .. }, _) => U256::from(1u8),
                (GrantKind::All, Some(balance)) => balance,
                (GrantKind::All, None) => U256::MAX,
            };
            let what = match &g.kind {
                GrantKind::Allowance { value } if *value == U256::MAX => {
                    "unlimited allowance".to_owned()
                }
                GrantKind::Allowance { value } => format!("allowance of {value}"),
                GrantKind::Token { token_id } => format!("approval of token id {token_id}"),
                GrantKind::All => "operator right over every token".to_owned(),
            };
            let path: Vec<String> = report
                .path_to(g.frame)
                .iter()
                .map(ToString::to_string)
                .collect();
            let told = match g.log_index {
                Some(log) => format!("in log {log} of {}", g.emitter),
                None => format!(
                    "stated by the call to {} (the token emitted no event for it)",
                    g.emitter
                ),
            };
            OutflowFact {
                asset: Asset::Token(g.token),
                to: g.spender,
                amount,
                source: Some(format!(
                    "{origin}: grant ({what}) {told}, call path {}",
                    path.join("→")
                )),
                from,
            }
        })
        .collect()
}

/// The screening evidence of a [`ScreeningOutcome`]. `Escalate` lists are treated as deny
/// until tiers can name a sanctions escalation; `Flag` lists are carried but never deny.
pub fn screening(outcome: &ScreeningOutcome) -> Screening {
    match outcome {
        ScreeningOutcome::CannotScreen { problems, .. } => Screening::CannotScreen {
            reason: problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        },
        ScreeningOutcome::Screened { hits, .. } => Screening::Screened {
            hits: hits
                .iter()
                .flat_map(|h| {
                    h.matches.iter().map(move |m| SanctionsHit {
                        address: h.address,
                        // The jurisdiction travels with the list's name into every hit and
                        // reason: `ofac-sdn (US-OFAC)`.
                        list: match &m.jurisdiction {
                            Some(j) => format!("{} ({j})", m.list),
                            None => m.list.to_string(),
                        },
                        entry: [m.uid.as_deref(), m.name.as_deref()]
                            .into_iter()
                            .flatten()
                            .collect::<Vec<_>>()
                            .join(" "),
                        location: h.location.to_string(),
                        deny: m.action >= ListAction::Escalate,
                    })
                })
                .collect(),
        },
    }
}
