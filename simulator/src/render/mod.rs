//! The words an approver reads, in one place: the CLI prints them, the API carries them in its
//! `description` fields, and a console can reuse them, so all say the same thing.
//!
//! - [`units`]: amounts in the asset's units with its symbol ([`AssetBook`]), impersonating
//!   tokens flagged ([`DisplayWarning`]);
//! - [`changes`]: Safe storage changes named ([`SafeChangeWords`]);
//! - [`clear_sign`]: calls of known protocols in the words of ERC-7730 descriptors;
//! - the action tree's words are [`crate::decode::Action::words`].

pub mod changes;
pub mod clear_sign;
pub mod units;

pub use changes::{CodeName, Hook, SafeChangeWords};
pub use clear_sign::{ClearSign, Descriptor, DescriptorError, Descriptors};
pub use units::{
    AssetBook, AssetLabel, DisplayWarning, PolicyAsset, format_units, format_units_plain,
};
