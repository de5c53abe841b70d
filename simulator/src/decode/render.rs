//! Plain words: the action tree as an indented list a treasury operator can check line by line.
//!
//! Addresses are always printed in full (checksummed): a shortened address is exactly what an
//! address-poisoning attack counts on.

use std::fmt::{self, Write as _};

use alloy_primitives::{Address, U256};

use super::{
    action::{Action, ActionKind, Permit2Call, SafeConfigCall, SafeLibraryCall, TokenCall},
    transaction::DecodedTransaction,
};
use crate::{
    deployments,
    render::{AssetBook, ClearSign, DisplayWarning, format_units},
    tx::Operation,
};

/// An amount of wei as exact ETH: `30,000 ETH`, `0.5 ETH`, `1 wei` stays
/// `0.000000000000000001 ETH`.
pub fn format_eth(wei: U256) -> String {
    format!("{} ETH", format_units(wei, 18))
}

impl Action {
    /// This node and its children as indented lines; `safe` names self-calls "this Safe".
    /// Token amounts are in base units ("decimals unknown"): see [`Self::words`].
    pub fn plain_words(&self, safe: Option<Address>) -> String {
        self.words(safe, &AssetBook::default())
    }

    /// This node and its children as indented lines, token amounts in the units `book` knows.
    pub fn words(&self, safe: Option<Address>, book: &AssetBook) -> String {
        let mut out = String::new();
        self.render(safe, book, 0, None, &mut out);
        out
    }

    fn render(
        &self,
        safe: Option<Address>,
        book: &AssetBook,
        depth: usize,
        index: Option<usize>,
        out: &mut String,
    ) {
        let indent = "  ".repeat(depth);
        let _ = write!(out, "{indent}");
        if let Some(index) = index {
            let _ = write!(out, "[{index}] ");
        }
        let _ = write!(
            out,
            "{} {}: {}",
            self.operation.as_str(),
            target_label(self.to, safe),
            describe(&self.kind, self.to, book)
        );
        if !self.value.is_zero() {
            let _ = write!(out, ", sending {}", book.native(self.value));
        }
        if self.operation == Operation::DelegateCall {
            out.push_str(" — code runs in the Safe's storage");
        }
        out.push('\n');
        match &self.kind {
            ActionKind::Batch { actions, .. } => {
                for (i, child) in actions.iter().enumerate() {
                    child.render(safe, book, depth + 1, Some(i), out);
                }
            }
            // "this Safe" stays the proposing Safe; the other Safe's self-calls show its address.
            ActionKind::SafeTransaction { inner, .. } => {
                inner.render(safe, book, depth + 1, None, out);
            }
            _ => {}
        }
    }
}

impl Action {
    /// Warnings about how this node and its children are shown: clear-signing descriptors
    /// ignored because they disagree with the call.
    pub fn display_warnings(&self, book: &AssetBook) -> Vec<DisplayWarning> {
        let mut out = Vec::new();
        if let ActionKind::Unknown {
            selector: Some(selector),
            arguments,
        } = &self.kind
            && let ClearSign::Ignored(w) = book.clear_sign(self.to, *selector, arguments)
        {
            out.push(w);
        }
        for (_, child) in self.kind.children() {
            out.extend(child.display_warnings(book));
        }
        out
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.plain_words(None))
    }
}

fn target_label(to: Address, safe: Option<Address>) -> String {
    if Some(to) == safe {
        return format!("this Safe ({to})");
    }
    match deployments::lookup(to) {
        Some(d) => format!("{to} ({:?} {})", d.contract, d.version),
        None => to.to_string(),
    }
}

fn describe(kind: &ActionKind, to: Address, book: &AssetBook) -> String {
    match kind {
        ActionKind::NativeTransfer => "plain ETH transfer, no calldata".to_owned(),
        ActionKind::SafeConfig { call } => describe_config(call),
        ActionKind::Unknown {
            selector: Some(selector),
            arguments,
        } => match book.clear_sign(to, *selector, arguments) {
            ClearSign::Words(w) => w,
            ClearSign::None | ClearSign::Ignored(_) => format!(
                "unknown function 0x{}",
                alloy_primitives::hex::encode(selector)
            ),
        },
        ActionKind::UnknownSelfCall { selector } | ActionKind::Unknown { selector, .. } => {
            match selector {
                Some(s) => format!("unknown function 0x{}", alloy_primitives::hex::encode(s)),
                None => "calldata too short to name a function".to_owned(),
            }
        }
        ActionKind::Batch {
            deployment,
            actions,
        } => {
            let what = if deployment.is_some() {
                "batch"
            } else {
                "batch to a NON-CANONICAL contract"
            };
            format!(
                "{what} of {} action{}",
                actions.len(),
                if actions.len() == 1 { "" } else { "s" }
            )
        }
        ActionKind::SafeTransaction { settings, .. } => {
            let mut words = format!(
                "execTransaction: this Safe executes a transaction of that Safe (below), with {} bytes of signatures",
                settings.signatures.len()
            );
            if !settings.gas_price.is_zero() {
                let token = (settings.gas_token != Address::ZERO).then_some(settings.gas_token);
                let _ = write!(
                    words,
                    ", paying a refund at gasPrice {} per gas to {}",
                    book.asset_amount(token, settings.gas_price),
                    settings.refund_receiver
                );
            }
            words
        }
        ActionKind::ForeignApproveHash { hash } => format!(
            "approveHash {hash}: as an owner of that Safe, sign its transaction with this hash, which anyone may then execute"
        ),
        ActionKind::SignatureCheck { hash } => {
            format!("isValidSignature: ask whether it signed {hash} (EIP-1271, a read)")
        }
        ActionKind::Token { call } => describe_token(call, to, book),
        ActionKind::Permit2 { call } => describe_permit2(call, book),
        ActionKind::SafeLibrary { call } => describe_library(call),
    }
}

fn describe_config(call: &SafeConfigCall) -> String {
    match call {
        SafeConfigCall::AddOwnerWithThreshold { owner, threshold } => {
            format!("addOwnerWithThreshold(new owner {owner}, threshold {threshold})")
        }
        SafeConfigCall::RemoveOwner {
            prev_owner,
            owner,
            threshold,
        } => {
            format!(
                "removeOwner(owner {owner}, threshold {threshold}; list predecessor {prev_owner})"
            )
        }
        SafeConfigCall::SwapOwner {
            prev_owner,
            old_owner,
            new_owner,
        } => {
            format!("swapOwner(old {old_owner} → new {new_owner}; list predecessor {prev_owner})")
        }
        SafeConfigCall::ChangeThreshold { threshold } => {
            format!("changeThreshold(threshold {threshold})")
        }
        SafeConfigCall::EnableModule { module } => format!("enableModule(module {module})"),
        SafeConfigCall::DisableModule {
            prev_module,
            module,
        } => {
            format!("disableModule(module {module}; list predecessor {prev_module})")
        }
        SafeConfigCall::SetGuard { guard } => format!("setGuard(guard {guard})"),
        SafeConfigCall::SetModuleGuard { guard } => format!("setModuleGuard(module guard {guard})"),
        SafeConfigCall::SetFallbackHandler { handler } => {
            format!("setFallbackHandler(handler {handler})")
        }
        SafeConfigCall::ChangeMasterCopy { master_copy } => {
            format!("changeMasterCopy(new code {master_copy})")
        }
        SafeConfigCall::ApproveHash { hash } => format!("approveHash(hash {hash})"),
    }
}

fn describe_token(call: &TokenCall, token: Address, book: &AssetBook) -> String {
    match call {
        TokenCall::Transfer { recipient, amount } => {
            format!("transfer {} to {recipient}", book.amount(token, *amount))
        }
        TokenCall::TransferFrom {
            from,
            recipient,
            amount_or_token_id,
        } => {
            format!(
                "transferFrom: move {} (or NFT id {amount_or_token_id}) from {from} to {recipient}",
                book.amount(token, *amount_or_token_id)
            )
        }
        TokenCall::Approve {
            spender,
            amount_or_token_id,
        } if *amount_or_token_id == U256::MAX => format!(
            "approve: allow {spender} to spend {} of this Safe",
            book.amount(token, *amount_or_token_id)
        ),
        TokenCall::Approve {
            spender,
            amount_or_token_id,
        } => {
            format!(
                "approve: allow {spender} to spend {} of this Safe (or NFT id {amount_or_token_id})",
                book.amount(token, *amount_or_token_id)
            )
        }
        TokenCall::IncreaseAllowance { spender, added } => {
            format!(
                "increaseAllowance: allow {spender} to spend {} more of this Safe",
                book.amount(token, *added)
            )
        }
        TokenCall::Erc721SafeTransferFrom {
            from,
            recipient,
            token_id,
        } => {
            format!("safeTransferFrom(from {from}, to {recipient}, NFT id {token_id})")
        }
        TokenCall::Erc1155SafeTransferFrom {
            from,
            recipient,
            id,
            amount,
        } => {
            format!("safeTransferFrom(from {from}, to {recipient}, id {id}, amount {amount})")
        }
        TokenCall::Erc1155SafeBatchTransferFrom {
            from,
            recipient,
            ids,
            amounts,
        } => format!(
            "safeBatchTransferFrom(from {from}, to {recipient}, {} ids, amounts {amounts:?})",
            ids.len()
        ),
        TokenCall::SetApprovalForAll { operator, approved } => {
            let verb = if *approved { "grants" } else { "revokes" };
            format!(
                "setApprovalForAll({verb} operator {operator} control of ALL tokens of this collection)"
            )
        }
    }
}

fn describe_permit2(call: &Permit2Call, book: &AssetBook) -> String {
    match call {
        Permit2Call::Approve {
            token,
            spender,
            amount,
            expiration,
        } => format!(
            "Permit2 approve: allow {spender} to spend {} of this Safe, expires {expiration}",
            book.amount(*token, *amount)
        ),
        Permit2Call::Permit {
            owner,
            spender,
            tokens,
        } => {
            let list: Vec<String> = tokens.iter().map(|(t, a)| book.amount(*t, *a)).collect();
            format!(
                "Permit2 permit(owner {owner}, spender {spender}, {})",
                list.join(", ")
            )
        }
        Permit2Call::TransferFrom { transfers } => {
            let list: Vec<String> = transfers
                .iter()
                .map(|t| {
                    format!(
                        "{} from {} to {}",
                        book.amount(t.token, t.amount),
                        t.from,
                        t.recipient
                    )
                })
                .collect();
            format!("Permit2 transferFrom({})", list.join("; "))
        }
        Permit2Call::Lockdown { pairs } => {
            format!("Permit2 lockdown({} allowances revoked)", pairs.len())
        }
    }
}

fn describe_library(call: &SafeLibraryCall) -> String {
    match call {
        SafeLibraryCall::SignMessage { data } => {
            format!(
                "signMessage({} bytes): marks a message as signed by the Safe",
                data.len()
            )
        }
        SafeLibraryCall::PerformCreate {
            value,
            init_code_len,
        } => {
            format!(
                "performCreate(value {value}, {init_code_len} bytes of init code): deploys a contract"
            )
        }
        SafeLibraryCall::PerformCreate2 {
            value,
            init_code_len,
            salt,
        } => format!(
            "performCreate2(value {value}, {init_code_len} bytes of init code, salt {salt}): deploys a contract"
        ),
        other => format!("{}(): migrates the Safe to another singleton", other.name()),
    }
}

impl fmt::Display for DecodedTransaction {
    /// What a signer should read before approving: the hashes their device shows, the action
    /// tree, the refund settings and every warning.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ctx = &self.context;
        writeln!(
            f,
            "Safe {} (version {}, chain {}), nonce {}",
            ctx.safe, ctx.version, ctx.chain_id, self.tx.nonce
        )?;
        writeln!(f, "domain hash:  {}", self.hashes.domain_separator)?;
        writeln!(f, "message hash: {}", self.hashes.struct_hash)?;
        writeln!(f, "safeTxHash:   {}", self.hashes.safe_tx_hash)?;
        writeln!(f, "actions:")?;
        for line in self.root.plain_words(Some(ctx.safe)).lines() {
            writeln!(f, "  {line}")?;
        }
        if self.tx.pays_refund() {
            writeln!(
                f,
                "refund: gasPrice {}, baseGas {}, token {}, receiver {}",
                self.tx.gas_price, self.tx.base_gas, self.tx.gas_token, self.tx.refund_receiver
            )?;
        }
        if self.warnings.is_empty() {
            writeln!(f, "warnings: none")?;
        } else {
            writeln!(f, "warnings:")?;
            for warning in &self.warnings {
                writeln!(f, "  - {warning}")?;
            }
        }
        Ok(())
    }
}
