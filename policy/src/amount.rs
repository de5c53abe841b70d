//! Amounts: base units on chain (`U256`), human units in policy files (`"250000.5"`).
//!
//! Policy authors write limits in whole tokens; evidence carries base units. The two meet only
//! through [`HumanAmount::to_base_units`], which uses checked arithmetic: an overflow is an
//! error the caller turns into a deny, never a wrapped number.

use std::{fmt, str::FromStr};

use alloy_primitives::U256;
use serde::{Deserialize, Serialize};

/// Largest number of decimals an asset may declare; 10^77 still fits in a `U256`.
pub const MAX_DECIMALS: u8 = 77;

/// A non-negative decimal written by a person: `mantissa / 10^scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanAmount {
    mantissa: U256,
    scale: u8,
}

/// Why a decimal amount could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a non-negative decimal amount such as 250000 or 0.5")]
pub struct AmountError {
    /// The text that was refused.
    pub input: String,
}

/// A base-unit conversion that does not fit in 256 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("amount does not fit in 256 bits at {decimals} decimals")]
pub struct AmountOverflow {
    /// The decimals the conversion used.
    pub decimals: u8,
}

impl HumanAmount {
    /// The amount in base units of an asset with `decimals` decimals, rounded down when the
    /// author wrote more fractional digits than the asset has (a limit never grows by rounding).
    pub fn to_base_units(&self, decimals: u8) -> Result<U256, AmountOverflow> {
        let overflow = AmountOverflow { decimals };
        if decimals >= self.scale {
            let factor = pow10(decimals - self.scale).ok_or(overflow)?;
            self.mantissa.checked_mul(factor).ok_or(overflow)
        } else {
            let factor = pow10(self.scale - decimals).ok_or(overflow)?;
            Ok(self.mantissa / factor)
        }
    }
}

impl HumanAmount {
    /// Compares two amounts at the finer of their scales; `None` if either overflows there.
    pub fn checked_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        let scale = self.scale.max(other.scale);
        let a = self.to_base_units(scale).ok()?;
        let b = other.to_base_units(scale).ok()?;
        Some(a.cmp(&b))
    }
}

/// `10^n` if it fits.
pub fn pow10(n: u8) -> Option<U256> {
    U256::from(10u8).checked_pow(U256::from(n))
}

impl FromStr for HumanAmount {
    type Err = AmountError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || AmountError {
            input: s.to_owned(),
        };
        let clean: String = s.chars().filter(|c| *c != '_').collect();
        let (int, frac) = clean.split_once('.').unwrap_or((clean.as_str(), ""));
        if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        if !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let scale = u8::try_from(frac.len())
            .ok()
            .filter(|s| *s <= MAX_DECIMALS)
            .ok_or_else(err)?;
        let digits = format!("{int}{frac}");
        let mantissa = U256::from_str_radix(&digits, 10).map_err(|_| err())?;
        Ok(Self { mantissa, scale })
    }
}

impl fmt::Display for HumanAmount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&signgate_simulator::render::format_units_plain(
            self.mantissa,
            self.scale,
        ))
    }
}

impl Serialize for HumanAmount {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HumanAmount {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// `amount` base units printed with `decimals` decimals, thousands separated, trailing zeros
/// trimmed (`1500000` at 6 → `1.5`): the simulator's one formatting, so reasons and the
/// rendered proposal write amounts alike.
pub use signgate_simulator::render::format_units;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_and_prints() {
        let a: HumanAmount = "250000.5".parse().unwrap();
        assert_eq!(a.to_base_units(6).unwrap(), U256::from(250_000_500_000u64));
        assert_eq!(a.to_base_units(0).unwrap(), U256::from(250_000u64));
        assert_eq!(format_units(U256::from(1_500_000u64), 6), "1.5");
        assert_eq!(format_units(U256::from(5u64), 3), "0.005");
        assert_eq!(a.to_string(), "250000.5");
    }

    #[test]
    fn refuses_and_overflows() {
        for s in ["", "-1", "1e5", "1.2.3", ".5"] {
            assert!(s.parse::<HumanAmount>().is_err(), "{s}");
        }
        let big: HumanAmount =
            "1000000000000000000000000000000000000000000000000000000000000000000"
                .parse()
                .unwrap();
        assert!(big.to_base_units(18).is_err());
    }
}
