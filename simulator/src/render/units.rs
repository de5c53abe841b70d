//! Amounts in units people count: `1,000 DEMO`, never `1000000000000000000000`.
//!
//! An [`AssetBook`] knows each asset's symbol and decimals from, in this order: the policy's
//! asset table, the token's own `decimals()`/`symbol()` read at the simulated state (see
//! [`TokenMetadata`]), or nothing — then the amount is shown in base units with "decimals
//! unknown". A token whose own symbol is one the policy gives to another asset is an
//! impersonation: its amounts say so, and [`AssetBook::warnings`] lists it.

use std::{fmt, sync::Arc};

use alloy_primitives::{Address, U256};
use serde::{Deserialize, Serialize};

use super::clear_sign::{ClearSign, Descriptors};
use crate::report::TokenMetadata;

/// `amount` base units at `decimals` decimals, with thousands separators and trailing zeros
/// trimmed: `1000000000000000000000` at 18 is `1,000`; `1500000` at 6 is `1.5`.
pub fn format_units(amount: U256, decimals: u8) -> String {
    let plain = format_units_plain(amount, decimals);
    match plain.split_once('.') {
        Some((int, frac)) => format!("{}.{frac}", group_thousands(int)),
        None => group_thousands(&plain),
    }
}

/// [`format_units`] without separators (`1000.5`): the machine-readable form, as policy files
/// write amounts.
pub fn format_units_plain(amount: U256, decimals: u8) -> String {
    let digits = amount.to_string();
    let d = usize::from(decimals);
    let padded = if digits.len() <= d {
        format!("{}{digits}", "0".repeat(d + 1 - digits.len()))
    } else {
        digits
    };
    let (int, frac) = padded.split_at(padded.len() - d);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        int.to_owned()
    } else {
        format!("{int}.{frac}")
    }
}

/// `1234567` → `1,234,567`.
fn group_thousands(int: &str) -> String {
    let mut out = String::with_capacity(int.len() + int.len() / 3);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// An asset the policy declares: its symbol and decimals are the policy author's, trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyAsset {
    /// The token contract; `None` for the chain's native coin.
    pub token: Option<Address>,
    /// The symbol the policy uses.
    pub symbol: String,
    /// Its decimals.
    pub decimals: u8,
}

/// What is known about one token, and from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssetLabel {
    /// The policy's asset table names it.
    Policy {
        /// The policy's symbol.
        symbol: String,
        /// The policy's decimals.
        decimals: u8,
    },
    /// The token told its decimals (and maybe its symbol) at the simulated state.
    TokenSays {
        /// Its own symbol, if it gave one.
        symbol: Option<String>,
        /// Its own decimals.
        decimals: u8,
    },
    /// The token's symbol is one the policy gives to another asset.
    Impersonates {
        /// The symbol it claims.
        symbol: String,
        /// Its own decimals, if it gave them.
        decimals: Option<u8>,
        /// The policy asset with that symbol (`None`: the native coin).
        genuine: Option<Address>,
    },
    /// Nothing is known: amounts are shown in base units.
    Unknown,
}

/// A warning about how the proposal is shown (not a deny reason: the policy decides on the
/// addresses, never on names). Carried in the API as typed data beside the words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "warning")]
pub enum DisplayWarning {
    /// A token calls itself by a symbol the policy gives to another asset.
    TokenImpersonation {
        /// The impersonating token.
        token: Address,
        /// The symbol it claims.
        symbol: String,
        /// The genuine asset's token (`None`: the native coin).
        genuine: Option<Address>,
    },
    /// A clear-signing descriptor was not used because it disagrees with the decoded call.
    DescriptorIgnored {
        /// The contract called.
        contract: Address,
        /// The descriptor's file or name.
        descriptor: String,
        /// How it disagrees.
        why: String,
    },
}

impl DisplayWarning {
    /// Stable code.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::TokenImpersonation { .. } => "display.token_impersonation",
            Self::DescriptorIgnored { .. } => "display.descriptor_ignored",
        }
    }
}

impl fmt::Display for DisplayWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TokenImpersonation {
                token,
                symbol,
                genuine,
            } => {
                let genuine = genuine.map_or_else(
                    || "the native coin".to_owned(),
                    |g| format!("the token at {g}"),
                );
                write!(
                    f,
                    "token {token} calls itself {symbol}, but the policy's {symbol} is {genuine}: this is not {symbol}"
                )
            }
            Self::DescriptorIgnored {
                contract,
                descriptor,
                why,
            } => write!(
                f,
                "clear-signing descriptor {descriptor} for {contract} ignored: {why}; the call is shown as decoded"
            ),
        }
    }
}

/// Symbols compared the way a reader would: case-insensitive, with look-alike letters of other
/// scripts folded onto Latin (`USDС` with a Cyrillic `С` is `USDC`).
fn skeleton(symbol: &str) -> String {
    symbol
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            'А' | 'а' | 'Α' | 'α' => 'A',
            'В' | 'в' | 'Β' | 'β' => 'B',
            'С' | 'с' | 'Ϲ' | 'ϲ' => 'C',
            'Е' | 'е' | 'Ε' | 'ε' => 'E',
            'Н' | 'н' | 'Η' => 'H',
            'І' | 'і' | 'Ι' | 'ι' | 'Ӏ' => 'I',
            'К' | 'к' | 'Κ' | 'κ' => 'K',
            'М' | 'м' | 'Μ' => 'M',
            'О' | 'о' | 'Ο' | 'ο' | '0' => 'O',
            'Р' | 'р' | 'Ρ' | 'ρ' => 'P',
            'Ѕ' | 'ѕ' => 'S',
            'Т' | 'т' | 'Τ' | 'τ' => 'T',
            'Х' | 'х' | 'Χ' | 'χ' => 'X',
            'У' | 'у' | 'Υ' => 'Y',
            'Ζ' => 'Z',
            'Ѡ' | 'ѡ' => 'W',
            other => other.to_ascii_uppercase(),
        })
        .collect()
}

/// Every asset's symbol and decimals for one proposal: the policy's table first, then what the
/// tokens said at the simulated state.
#[derive(Debug, Clone)]
pub struct AssetBook {
    policy: Vec<PolicyAsset>,
    read: Vec<TokenMetadata>,
    native_symbol: String,
    /// Clear-signing descriptors and the chain they are looked up on.
    clear_signing: Option<(u64, Arc<Descriptors>)>,
}

impl Default for AssetBook {
    /// A book that knows no asset but the native coin (`ETH`, 18 decimals).
    fn default() -> Self {
        Self::new(Vec::new(), Vec::new())
    }
}

impl AssetBook {
    /// A book from the policy's assets and the tokens' own metadata. The native coin is `ETH`
    /// with 18 decimals unless the policy names it otherwise.
    pub fn new(policy: Vec<PolicyAsset>, read: Vec<TokenMetadata>) -> Self {
        let native_symbol = policy
            .iter()
            .find(|a| a.token.is_none())
            .map_or_else(|| "ETH".to_owned(), |a| a.symbol.clone());
        Self {
            policy,
            read,
            native_symbol,
            clear_signing: None,
        }
    }

    /// The same book, showing calls of contracts on `chain_id` that `descriptors` cover in
    /// their words.
    pub fn with_clear_signing(mut self, chain_id: u64, descriptors: Arc<Descriptors>) -> Self {
        self.clear_signing = Some((chain_id, descriptors));
        self
    }

    /// A call the decoder does not know, in a descriptor's words (see
    /// [`super::clear_sign`]).
    pub fn clear_sign(&self, contract: Address, selector: [u8; 4], arguments: &[u8]) -> ClearSign {
        match &self.clear_signing {
            Some((chain_id, d)) => d.describe(*chain_id, contract, selector, arguments, self),
            None => ClearSign::None,
        }
    }

    /// What is known about `token`.
    pub fn label(&self, token: Address) -> AssetLabel {
        if let Some(a) = self.policy.iter().find(|a| a.token == Some(token)) {
            return AssetLabel::Policy {
                symbol: a.symbol.clone(),
                decimals: a.decimals,
            };
        }
        let Some(m) = self.read.iter().find(|m| m.token == token) else {
            return AssetLabel::Unknown;
        };
        if let Some(symbol) = &m.symbol {
            let s = skeleton(symbol);
            if let Some(genuine) = self
                .policy
                .iter()
                .find(|a| skeleton(&a.symbol) == s && a.token != Some(token))
            {
                return AssetLabel::Impersonates {
                    symbol: symbol.clone(),
                    decimals: m.decimals,
                    genuine: genuine.token,
                };
            }
        }
        match m.decimals {
            Some(decimals) => AssetLabel::TokenSays {
                symbol: m.symbol.clone(),
                decimals,
            },
            None => AssetLabel::Unknown,
        }
    }

    /// `amount` of `token` in words: `1,000 DEMO`; `12.5 XYZ (symbol and decimals as the token
    /// reports them)`; `1000 base units of 0x… (decimals unknown)`; an impersonation says so.
    pub fn amount(&self, token: Address, amount: U256) -> String {
        let unlimited = amount == U256::MAX;
        let qty = |decimals: u8| {
            if unlimited {
                "UNLIMITED (2^256-1)".to_owned()
            } else {
                format_units(amount, decimals)
            }
        };
        match self.label(token) {
            AssetLabel::Policy { symbol, decimals } => format!("{} {symbol}", qty(decimals)),
            AssetLabel::TokenSays {
                symbol: Some(symbol),
                decimals,
            } => format!(
                "{} {symbol} (as token {token} reports its symbol and decimals)",
                qty(decimals)
            ),
            AssetLabel::TokenSays {
                symbol: None,
                decimals,
            } => format!("{} of token {token} (no symbol)", qty(decimals)),
            AssetLabel::Impersonates {
                symbol,
                decimals,
                genuine,
            } => {
                let genuine =
                    genuine.map_or_else(|| "the native coin".to_owned(), |g| g.to_string());
                let qty = match decimals {
                    Some(d) => qty(d),
                    None if unlimited => qty(0),
                    None => format!("{amount} base units"),
                };
                format!(
                    "{qty} of FAKE {symbol} at {token} (NOT the policy's {symbol}, which is {genuine})"
                )
            }
            AssetLabel::Unknown if unlimited => {
                format!("UNLIMITED (2^256-1) base units of token {token}")
            }
            AssetLabel::Unknown => {
                format!("{amount} base units of token {token} (decimals unknown)")
            }
        }
    }

    /// `wei` of the native coin: `1.5 ETH`.
    pub fn native(&self, wei: U256) -> String {
        let decimals = self
            .policy
            .iter()
            .find(|a| a.token.is_none())
            .map_or(18, |a| a.decimals);
        format!("{} {}", format_units(wei, decimals), self.native_symbol)
    }

    /// `amount` of `asset` (`None`: the native coin).
    pub fn asset_amount(&self, asset: Option<Address>, amount: U256) -> String {
        match asset {
            None => self.native(amount),
            Some(token) => self.amount(token, amount),
        }
    }

    /// The symbol to show beside a token address: the policy's, or the token's own (flagged
    /// when it imitates a policy asset); empty when neither is known.
    pub fn symbol(&self, token: Address) -> String {
        match self.label(token) {
            AssetLabel::Policy { symbol, .. }
            | AssetLabel::TokenSays {
                symbol: Some(symbol),
                ..
            } => symbol,
            AssetLabel::Impersonates { symbol, .. } => format!("FAKE {symbol}"),
            AssetLabel::TokenSays { symbol: None, .. } | AssetLabel::Unknown => String::new(),
        }
    }

    /// Every token the run read whose symbol imitates a policy asset.
    pub fn warnings(&self) -> Vec<DisplayWarning> {
        self.read
            .iter()
            .filter_map(|m| match self.label(m.token) {
                AssetLabel::Impersonates {
                    symbol, genuine, ..
                } => Some(DisplayWarning::TokenImpersonation {
                    token: m.token,
                    symbol,
                    genuine,
                }),
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::address;

    use super::*;

    #[test]
    fn amounts_get_thousands_separators_and_keep_every_digit() {
        let e18 = U256::from(10u64).pow(U256::from(18u64));
        assert_eq!(format_units(U256::from(1000u64) * e18, 18), "1,000");
        assert_eq!(format_units(U256::from(1_500_000u64), 6), "1.5");
        assert_eq!(format_units(U256::from(123_456_789u64), 8), "1.23456789");
        assert_eq!(format_units(U256::from(1u64), 18), "0.000000000000000001");
        assert_eq!(format_units(U256::from(1_234_567u64), 0), "1,234,567");
        assert_eq!(format_units(U256::ZERO, 6), "0");
        assert_eq!(format_units(U256::from(100u64), 0), "100");
    }

    #[test]
    fn a_look_alike_symbol_at_another_address_is_an_impersonation() {
        let usdc = address!("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48");
        let fake = address!("0x0000000000000000000000000000000000000bad");
        let book = AssetBook::new(
            vec![PolicyAsset {
                token: Some(usdc),
                symbol: "USDC".into(),
                decimals: 6,
            }],
            vec![TokenMetadata {
                token: fake,
                decimals: Some(6),
                symbol: Some("usdс".into()),
            }],
        );
        assert!(matches!(book.label(fake), AssetLabel::Impersonates { .. }));
        assert!(book.amount(fake, U256::from(5_000_000u64)).contains("FAKE"));
        assert_eq!(book.warnings().len(), 1);
        assert_eq!(book.amount(usdc, U256::from(5_000_000u64)), "5 USDC");
    }
}
