//! Changes to a Safe's own storage in words: the nonce, the singleton with its Safe version or
//! "unknown code" and its code hash, owners and modules added and removed, the threshold, the
//! guards and the fallback handler. A raw slot is shown only for storage no Safe field names.

use std::fmt;

use alloy_primitives::{Address, B256, KECCAK256_EMPTY, U256};

use crate::{
    constants::SENTINEL,
    deployments::{self, Deployment, SafeContract},
    report::{SafeSlot, SafeStorageChange},
    version::SafeVersion,
};

/// Code at an address, as far as the gateway can name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeName {
    /// A canonical Safe singleton (by address, or by code hash at another address).
    Safe {
        /// Its release.
        version: SafeVersion,
        /// Whether it sits at a canonical deployment address.
        canonical_address: bool,
    },
    /// No code at all in the state simulated against.
    NoCode,
    /// Code the gateway cannot name.
    Unknown,
}

impl CodeName {
    /// Names the singleton at `address` whose code hashes to `code_hash` (when known).
    pub fn of_singleton(address: Address, code_hash: Option<B256>) -> Self {
        let singleton = |d: &Deployment| {
            matches!(
                d.contract,
                SafeContract::Singleton | SafeContract::SingletonL2
            )
        };
        if let Some(d) = deployments::lookup(address).filter(|d| singleton(d)) {
            // A canonical address whose code differs is not that Safe.
            if code_hash.is_none() || d.code_hash.is_none() || d.code_hash == code_hash {
                return Self::Safe {
                    version: d.version,
                    canonical_address: true,
                };
            }
        }
        match code_hash {
            Some(h) if h == KECCAK256_EMPTY => Self::NoCode,
            Some(h) => deployments::all()
                .iter()
                .find(|d| singleton(d) && d.code_hash == Some(h))
                .map_or(Self::Unknown, |d| Self::Safe {
                    version: d.version,
                    canonical_address: false,
                }),
            None => Self::Unknown,
        }
    }
}

impl fmt::Display for CodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Safe {
                version,
                canonical_address: true,
            } => write!(f, "Safe {version}"),
            Self::Safe {
                version,
                canonical_address: false,
            } => write!(f, "Safe {version} code at a non-canonical address"),
            Self::NoCode => f.write_str("no code"),
            Self::Unknown => f.write_str("unknown code"),
        }
    }
}

/// One change to a Safe's storage, named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SafeChangeWords {
    /// The nonce moved.
    Nonce {
        /// Before.
        before: U256,
        /// After.
        after: U256,
    },
    /// The singleton (the code every call runs) changed.
    Singleton {
        /// The old singleton.
        from: Address,
        /// What the old singleton is.
        from_code: CodeName,
        /// The new singleton.
        to: Address,
        /// What the new singleton is.
        to_code: CodeName,
        /// `keccak256` of the new singleton's code, when the run knew it.
        code_hash: Option<B256>,
    },
    /// A new owner.
    OwnerAdded {
        /// The owner.
        owner: Address,
    },
    /// An owner removed.
    OwnerRemoved {
        /// The owner.
        owner: Address,
    },
    /// A link of the owners' linked list changed (part of adding, removing or swapping).
    OwnerListLink {
        /// The entry whose successor changed (the sentinel is the list head).
        entry: Address,
        /// Its successor before.
        before: Address,
        /// Its successor after.
        after: Address,
    },
    /// The owner count.
    OwnerCount {
        /// Before.
        before: U256,
        /// After.
        after: U256,
    },
    /// The threshold.
    Threshold {
        /// Before.
        before: U256,
        /// After.
        after: U256,
    },
    /// A module enabled: it can execute transactions without the owners.
    ModuleEnabled {
        /// The module.
        module: Address,
    },
    /// A module disabled.
    ModuleDisabled {
        /// The module.
        module: Address,
    },
    /// A link of the modules' linked list changed.
    ModuleListLink {
        /// The entry whose successor changed.
        entry: Address,
        /// Its successor before.
        before: Address,
        /// Its successor after.
        after: Address,
    },
    /// The transaction guard, the module guard or the fallback handler changed.
    Hook {
        /// Which one.
        hook: Hook,
        /// Before (zero: none).
        before: Address,
        /// After (zero: none).
        after: Address,
        /// `keccak256` of the new address's code, when the run knew it.
        code_hash: Option<B256>,
    },
    /// An approved hash set (`approveHash`) or cleared.
    ApprovedHash {
        /// The owner it is recorded for.
        owner: Address,
        /// The hash.
        hash: B256,
        /// Set (true) or cleared.
        approved: bool,
    },
    /// A slot the gateway cannot name.
    Storage {
        /// The slot.
        slot: U256,
        /// Before.
        before: B256,
        /// After.
        after: B256,
    },
}

/// The three single-address hooks of a Safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    /// The transaction guard, consulted on every `execTransaction`.
    Guard,
    /// The module guard, consulted on every module transaction (1.5.0).
    ModuleGuard,
    /// The fallback handler, called for every function the Safe does not have.
    FallbackHandler,
}

impl Hook {
    /// The word an operator reads.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Guard => "guard",
            Self::ModuleGuard => "module guard",
            Self::FallbackHandler => "fallback handler",
        }
    }
}

impl SafeChangeWords {
    /// Names one storage write.
    pub fn of(c: &SafeStorageChange) -> Self {
        let word = |w: B256| U256::from_be_bytes(w.0);
        let (before_a, after_a) = (c.before_address(), c.after_address());
        match &c.meaning {
            SafeSlot::Nonce => Self::Nonce {
                before: word(c.before),
                after: word(c.after),
            },
            SafeSlot::Threshold => Self::Threshold {
                before: word(c.before),
                after: word(c.after),
            },
            SafeSlot::OwnerCount => Self::OwnerCount {
                before: word(c.before),
                after: word(c.after),
            },
            SafeSlot::Singleton => Self::Singleton {
                from: before_a,
                from_code: CodeName::of_singleton(before_a, None),
                to: after_a,
                to_code: CodeName::of_singleton(after_a, c.new_code_hash),
                code_hash: c.new_code_hash,
            },
            SafeSlot::Owner { owner } if *owner != SENTINEL && c.before.is_zero() => {
                Self::OwnerAdded { owner: *owner }
            }
            SafeSlot::Owner { owner } if *owner != SENTINEL && c.after.is_zero() => {
                Self::OwnerRemoved { owner: *owner }
            }
            SafeSlot::Owner { owner } => Self::OwnerListLink {
                entry: *owner,
                before: before_a,
                after: after_a,
            },
            SafeSlot::Module { module } if *module != SENTINEL && c.before.is_zero() => {
                Self::ModuleEnabled { module: *module }
            }
            SafeSlot::Module { module } if *module != SENTINEL && c.after.is_zero() => {
                Self::ModuleDisabled { module: *module }
            }
            SafeSlot::Module { module } => Self::ModuleListLink {
                entry: *module,
                before: before_a,
                after: after_a,
            },
            SafeSlot::Guard => Self::hook(Hook::Guard, c),
            SafeSlot::ModuleGuard => Self::hook(Hook::ModuleGuard, c),
            SafeSlot::FallbackHandler => Self::hook(Hook::FallbackHandler, c),
            SafeSlot::ApprovedHash { owner, hash } => Self::ApprovedHash {
                owner: *owner,
                hash: *hash,
                approved: !c.after.is_zero(),
            },
            SafeSlot::Other => Self::Storage {
                slot: c.slot,
                before: c.before,
                after: c.after,
            },
        }
    }

    fn hook(hook: Hook, c: &SafeStorageChange) -> Self {
        Self::Hook {
            hook,
            before: c.before_address(),
            after: c.after_address(),
            code_hash: c.new_code_hash,
        }
    }

    /// The stable kind on the wire.
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::Nonce { .. } => "NONCE",
            Self::Singleton { .. } => "SINGLETON",
            Self::OwnerAdded { .. } => "OWNER_ADDED",
            Self::OwnerRemoved { .. } => "OWNER_REMOVED",
            Self::OwnerListLink { .. } => "OWNER_LIST_LINK",
            Self::OwnerCount { .. } => "OWNER_COUNT",
            Self::Threshold { .. } => "THRESHOLD",
            Self::ModuleEnabled { .. } => "MODULE_ENABLED",
            Self::ModuleDisabled { .. } => "MODULE_DISABLED",
            Self::ModuleListLink { .. } => "MODULE_LIST_LINK",
            Self::Hook {
                hook: Hook::Guard, ..
            } => "GUARD",
            Self::Hook {
                hook: Hook::ModuleGuard,
                ..
            } => "MODULE_GUARD",
            Self::Hook {
                hook: Hook::FallbackHandler,
                ..
            } => "FALLBACK_HANDLER",
            Self::ApprovedHash { .. } => "APPROVED_HASH",
            Self::Storage { .. } => "STORAGE",
        }
    }
}

fn or_none(a: Address) -> String {
    if a == Address::ZERO {
        "none".to_owned()
    } else {
        a.to_string()
    }
}

fn hash_words(h: Option<B256>) -> String {
    match h {
        Some(h) if h == KECCAK256_EMPTY => "no code".to_owned(),
        Some(h) => format!("code hash {h}"),
        None => "code hash unknown".to_owned(),
    }
}

impl fmt::Display for SafeChangeWords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Nonce { before, after } => write!(f, "nonce {before} → {after}"),
            Self::Singleton {
                from,
                from_code,
                to,
                to_code,
                code_hash,
            } => {
                write!(
                    f,
                    "SINGLETON CHANGED: every call will run other code: {from} ({from_code}) → {to} ({to_code}"
                )?;
                match code_hash {
                    Some(h) if *h != KECCAK256_EMPTY => write!(f, ", code hash {h})"),
                    _ => f.write_str(")"),
                }
            }
            Self::OwnerAdded { owner } => write!(f, "owner added: {owner}"),
            Self::OwnerRemoved { owner } => write!(f, "owner removed: {owner}"),
            Self::OwnerListLink {
                entry,
                before,
                after,
            } => list_link(f, "owner", *entry, *before, *after),
            Self::OwnerCount { before, after } => write!(f, "owner count {before} → {after}"),
            Self::Threshold { before, after } => write!(
                f,
                "threshold {before} → {after} (owner signatures needed per transaction)"
            ),
            Self::ModuleEnabled { module } => write!(
                f,
                "MODULE ENABLED: {module} can execute any transaction of the Safe without the owners"
            ),
            Self::ModuleDisabled { module } => write!(f, "module disabled: {module}"),
            Self::ModuleListLink {
                entry,
                before,
                after,
            } => list_link(f, "module", *entry, *before, *after),
            Self::Hook {
                hook,
                before,
                after,
                code_hash,
            } => {
                write!(
                    f,
                    "{} {} → {}",
                    hook.as_str(),
                    or_none(*before),
                    or_none(*after)
                )?;
                if *after != Address::ZERO {
                    write!(f, " ({})", hash_words(*code_hash))?;
                }
                Ok(())
            }
            Self::ApprovedHash {
                owner,
                hash,
                approved: true,
            } => write!(f, "owner {owner} approves hash {hash}"),
            Self::ApprovedHash {
                owner,
                hash,
                approved: false,
            } => write!(f, "owner {owner}'s approval of hash {hash} cleared"),
            Self::Storage {
                slot,
                before,
                after,
            } => write!(f, "UNNAMED Safe storage slot {slot:#x}: {before} → {after}"),
        }
    }
}

/// One link of the Safe's owner or module list in words: which entry now points where.
fn list_link(
    f: &mut fmt::Formatter<'_>,
    list: &str,
    entry: Address,
    before: Address,
    after: Address,
) -> fmt::Result {
    let entry = if entry == SENTINEL {
        "the list head".to_owned()
    } else {
        entry.to_string()
    };
    write!(
        f,
        "{list} list: after {entry} comes {} (was {})",
        link(after),
        link(before)
    )
}

fn link(a: Address) -> String {
    if a == SENTINEL {
        "the list end".to_owned()
    } else if a == Address::ZERO {
        "nothing (not in the list)".to_owned()
    } else {
        a.to_string()
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::address;

    use super::*;

    fn change(meaning: SafeSlot, before: B256, after: B256) -> SafeStorageChange {
        SafeStorageChange {
            slot: U256::ZERO,
            meaning,
            before,
            after,
            new_code_hash: None,
        }
    }

    #[test]
    fn owner_and_module_writes_are_named_adds_removes_and_links() {
        let a = address!("0x00000000000000000000000000000000000A11cE");
        let added = change(
            SafeSlot::Owner { owner: a },
            B256::ZERO,
            SENTINEL.into_word(),
        );
        assert_eq!(
            SafeChangeWords::of(&added),
            SafeChangeWords::OwnerAdded { owner: a }
        );
        let removed = change(
            SafeSlot::Owner { owner: a },
            SENTINEL.into_word(),
            B256::ZERO,
        );
        assert_eq!(
            SafeChangeWords::of(&removed),
            SafeChangeWords::OwnerRemoved { owner: a }
        );
        let head = change(
            SafeSlot::Module { module: SENTINEL },
            SENTINEL.into_word(),
            a.into_word(),
        );
        assert!(
            SafeChangeWords::of(&head)
                .to_string()
                .starts_with("module list: after the list head")
        );
        let raw = change(SafeSlot::Other, B256::ZERO, B256::with_last_byte(1));
        assert_eq!(SafeChangeWords::of(&raw).kind(), "STORAGE");
    }

    #[test]
    fn a_singleton_is_named_by_version_or_as_unknown_code() {
        let canonical = deployments::of(SafeContract::Singleton)
            .find(|d| d.code_hash.is_some())
            .unwrap();
        assert!(matches!(
            CodeName::of_singleton(canonical.address, canonical.code_hash),
            CodeName::Safe {
                canonical_address: true,
                ..
            }
        ));
        // Safe code at another address is named, but not as the canonical deployment.
        assert!(matches!(
            CodeName::of_singleton(Address::repeat_byte(9), canonical.code_hash),
            CodeName::Safe {
                canonical_address: false,
                ..
            }
        ));
        // A canonical address holding other code is not that Safe.
        assert_eq!(
            CodeName::of_singleton(canonical.address, Some(B256::repeat_byte(1))),
            CodeName::Unknown
        );
        assert_eq!(
            CodeName::of_singleton(Address::repeat_byte(9), Some(KECCAK256_EMPTY)),
            CodeName::NoCode
        );
    }
}
