//! EVM address text as sanctions lists publish it.
//!
//! Lists are keyed by the 20 address bytes, never by the published spelling: OFAC publishes about
//! half of its addresses in lower case and has re-published the same address in different casing.
//! The spelling still matters for integrity: a mixed-case value whose EIP-55 checksum is wrong
//! was mistyped somewhere, so it is indexed (an address that may be the listed one is still
//! screened) but marked and reported.

use alloy_primitives::Address;
use serde::Serialize;

/// What the published spelling of an address says about its EIP-55 checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChecksumStatus {
    /// Mixed case with a correct EIP-55 checksum.
    Valid,
    /// All lower case (or no letters at all): carries no checksum.
    Lowercase,
    /// All upper case: carries no checksum.
    Uppercase,
    /// Mixed case whose checksum does not match: a typo in the list or in its transcription.
    Invalid,
}

impl ChecksumStatus {
    /// True when the spelling contradicts its own checksum.
    pub const fn is_invalid(self) -> bool {
        matches!(self, Self::Invalid)
    }
}

/// Parses `0x` followed by exactly 40 hex digits (any case) into the address and its checksum
/// status. Anything else (missing prefix, wrong length, non-hex) is `None`: the caller decides
/// whether that is a non-EVM value or an error.
pub fn parse_evm_address(text: &str) -> Option<(Address, ChecksumStatus)> {
    let digits = text.strip_prefix("0x")?;
    if digits.len() != 40 {
        return None;
    }
    let mut bytes = [0u8; 20];
    hex::decode_to_slice(digits, &mut bytes).ok()?;
    let address = Address::from(bytes);
    let has_lower = digits.bytes().any(|b| b.is_ascii_lowercase());
    let has_upper = digits.bytes().any(|b| b.is_ascii_uppercase());
    let status = match (has_lower, has_upper) {
        (_, false) => ChecksumStatus::Lowercase,
        (false, true) => ChecksumStatus::Uppercase,
        (true, true) => {
            let expected = address.to_checksum(None);
            if expected.get(2..) == Some(digits) {
                ChecksumStatus::Valid
            } else {
                ChecksumStatus::Invalid
            }
        }
    };
    Some((address, status))
}

/// True when `text` looks like an attempt at an EVM address (`0x` + hex digits) without being
/// one; such values are reported instead of being filed as non-EVM values.
pub(crate) fn is_malformed_hex_address(text: &str) -> bool {
    text.strip_prefix("0x").is_some_and(|digits| {
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_hexdigit()) && digits.len() != 40
    })
}

/// Prints an address the way it would be published: checksummed for `Valid`, otherwise in the
/// case the status names (the exact spelling of an `Invalid` one is kept in the parse findings).
pub(crate) fn spell(address: &Address, status: ChecksumStatus) -> String {
    match status {
        ChecksumStatus::Valid | ChecksumStatus::Invalid => address.to_checksum(None),
        ChecksumStatus::Lowercase => format!("{address:#x}"),
        ChecksumStatus::Uppercase => format!("0x{}", hex::encode_upper(address.as_slice())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eip55_vectors_are_valid() {
        for text in [
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
            "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
            "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
        ] {
            assert_eq!(
                parse_evm_address(text).unwrap().1,
                ChecksumStatus::Valid,
                "{text}"
            );
        }
    }

    #[test]
    fn case_does_not_change_the_key() {
        let (a, s1) = parse_evm_address("0x098B716B8Aaf21512996dC57EB0615e2383E2f96").unwrap();
        let (b, s2) = parse_evm_address("0x098b716b8aaf21512996dc57eb0615e2383e2f96").unwrap();
        let (c, s3) = parse_evm_address("0x098B716B8AAF21512996DC57EB0615E2383E2F96").unwrap();
        assert_eq!((a, s1), (b, ChecksumStatus::Valid));
        assert_eq!(
            (a, s2, s3),
            (c, ChecksumStatus::Lowercase, ChecksumStatus::Uppercase)
        );
    }

    #[test]
    fn a_flipped_letter_is_invalid_not_rejected() {
        let (_, status) = parse_evm_address("0x098b716B8Aaf21512996dC57EB0615e2383E2f96").unwrap();
        assert_eq!(status, ChecksumStatus::Invalid);
    }

    #[test]
    fn non_addresses() {
        for text in [
            "",
            "0x",
            "098B716B8Aaf21512996dC57EB0615e2383E2f96",
            "0x098B71",
            "0xZZ8B716B8Aaf21512996dC57EB0615e2383E2f96",
            "TXEsK1sEsKjZ1xtHitnyAAoqw3WLdYdRNW",
        ] {
            assert!(parse_evm_address(text).is_none(), "{text}");
        }
        assert!(is_malformed_hex_address("0x098B71"));
        assert!(!is_malformed_hex_address("bnb1xyz"));
    }

    #[test]
    fn spelling_round_trips() {
        for text in [
            "0x098B716B8Aaf21512996dC57EB0615e2383E2f96",
            "0x4f47bc496083c727c5fbe3ce9cdf2b0f6496270c",
        ] {
            let (a, s) = parse_evm_address(text).unwrap();
            assert_eq!(spell(&a, s), text);
        }
    }
}
