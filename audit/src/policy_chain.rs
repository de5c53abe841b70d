//! The chain of applied policies, checked from the audit records alone.
//!
//! Every `policy_applied` record written with versioned signatures carries the policy text, its
//! version, its predecessor and the admins' signatures over all three. Starting from the
//! genesis policy (the configured file the gateway first ran under), each record must name the
//! policy before it, have a higher version, and carry enough signatures of the admins *of the
//! policy before it*. The gateway runs this at start before it trusts a stored policy; an
//! auditor runs it on an export (`signgate-audit verify --genesis`). Pure: no I/O.
//!
//! Records written before versioned signatures (version 0, no text) cannot be checked link by
//! link; a later `migrated` record, written once by the gateway when it took over such a stored
//! policy, restarts the chain from the policy it names.

use signgate_policy::{
    CompileError, Policy, PolicyHash,
    governance::{ActivationError, GENESIS_VERSION, InForce, PolicyStatement, verify_link},
    time::Timestamp,
};

use crate::record::PolicyApplied;

/// The policy a chain ends at.
#[derive(Debug, Clone)]
pub enum ChainHead {
    /// A policy whose text is known: the genesis policy or a versioned (or migrated) record's.
    Known {
        /// The policy.
        policy: Box<Policy>,
        /// Its version.
        version: u64,
        /// The log index of the record that applied it; `None` for the genesis policy.
        index: Option<u64>,
        /// The record that applied it, if any.
        record: Option<Box<PolicyApplied>>,
    },
    /// A policy applied before versioned signatures, known by its hash only.
    Legacy {
        /// The record that applied it.
        record: Box<PolicyApplied>,
        /// Its log index.
        index: u64,
    },
}

impl ChainHead {
    /// The content hash of the policy the chain ends at.
    pub fn hash(&self) -> PolicyHash {
        match self {
            Self::Known { policy, .. } => policy.hash(),
            Self::Legacy { record, .. } => record.policy_hash,
        }
    }
}

/// The checked chain: every known policy (genesis first) and the head.
#[derive(Debug, Clone)]
pub struct Chain {
    /// Each known policy with its version, in order; the genesis policy first.
    pub known: Vec<(Policy, u64)>,
    /// The policy in force at the end of the records.
    pub head: ChainHead,
    /// How many records were checked as links.
    pub links: usize,
}

impl Chain {
    /// The known policy with content hash `hash`, with its version.
    pub fn find(&self, hash: PolicyHash) -> Option<InForce<'_>> {
        self.known
            .iter()
            .rev()
            .find(|(p, _)| p.hash() == hash)
            .map(|(policy, version)| InForce {
                policy,
                version: *version,
            })
    }
}

/// Why the chain does not hold; each names the record (log index) that breaks it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// A versioned record without the policy text.
    #[error("policy_applied record #{index} (version {version}) carries no policy text")]
    NoText {
        /// Log index.
        index: u64,
        /// Its version.
        version: u64,
    },
    /// The recorded text does not compile.
    #[error("policy_applied record #{index}: the recorded policy does not compile: {source}")]
    Compile {
        /// Log index.
        index: u64,
        /// Why.
        source: CompileError,
    },
    /// The recorded text does not hash to the recorded hash.
    #[error(
        "policy_applied record #{index}: its text hashes to {actual}, not the recorded {recorded}"
    )]
    HashMismatch {
        /// Log index.
        index: u64,
        /// The hash the record states.
        recorded: PolicyHash,
        /// The hash of its text.
        actual: PolicyHash,
    },
    /// A versioned record follows a legacy one with no migration between them.
    #[error(
        "policy_applied record #{index} follows record #{legacy} written before versioned signatures, with no migration record between them"
    )]
    AfterLegacy {
        /// Log index.
        index: u64,
        /// The legacy record.
        legacy: u64,
    },
    /// The link does not hold: wrong version, wrong predecessor or too few signatures of the
    /// admins of the policy before it.
    #[error(
        "policy_applied record #{index} (version {version}, policy {hash}) is not a valid successor: {source}"
    )]
    Link {
        /// Log index.
        index: u64,
        /// Its version.
        version: u64,
        /// Its policy.
        hash: PolicyHash,
        /// Which check failed.
        source: ActivationError,
    },
}

fn compile(index: u64, record: &PolicyApplied) -> Result<Policy, ChainError> {
    let source = record.source.as_deref().ok_or(ChainError::NoText {
        index,
        version: record.version,
    })?;
    let policy = Policy::compile(source).map_err(|source| ChainError::Compile { index, source })?;
    if policy.hash() != record.policy_hash {
        return Err(ChainError::HashMismatch {
            index,
            recorded: record.policy_hash,
            actual: policy.hash(),
        });
    }
    Ok(policy)
}

/// Checks the `policy_applied` records (log index, append time in Unix milliseconds, record),
/// in log order, as a chain starting at `genesis` (version [`GENESIS_VERSION`]). Each link's
/// signatures are judged at its record's time.
pub fn check_chain<'a>(
    genesis: &Policy,
    records: impl IntoIterator<Item = (u64, u64, &'a PolicyApplied)>,
) -> Result<Chain, ChainError> {
    let chain = Chain {
        known: vec![(genesis.clone(), GENESIS_VERSION)],
        head: ChainHead::Known {
            policy: Box::new(genesis.clone()),
            version: GENESIS_VERSION,
            index: None,
            record: None,
        },
        links: 0,
    };
    extend(chain, records)
}

/// [`check_chain`] without the genesis policy (an auditor who holds only the export): the
/// first record that carries its policy text is taken as given (its own signatures cannot be
/// judged without the policy before it), and every later record is checked as a link. `None`
/// when no record carries a text. The index of the record taken as given is returned with it.
pub fn check_chain_from_records<'a>(
    records: impl IntoIterator<Item = (u64, u64, &'a PolicyApplied)>,
) -> Result<Option<(u64, Chain)>, ChainError> {
    let mut records = records.into_iter();
    for (index, _, record) in records.by_ref() {
        if record.source.is_none() {
            continue;
        }
        let policy = compile(index, record)?;
        let chain = Chain {
            known: vec![(policy.clone(), record.version)],
            head: ChainHead::Known {
                policy: Box::new(policy),
                version: record.version,
                index: Some(index),
                record: Some(Box::new(record.clone())),
            },
            links: 0,
        };
        return extend(chain, records).map(|c| Some((index, c)));
    }
    Ok(None)
}

fn extend<'a>(
    mut chain: Chain,
    records: impl IntoIterator<Item = (u64, u64, &'a PolicyApplied)>,
) -> Result<Chain, ChainError> {
    for (index, at_ms, record) in records {
        if record.migrated {
            let policy = compile(index, record)?;
            chain.known.push((policy.clone(), record.version));
            chain.head = ChainHead::Known {
                policy: Box::new(policy),
                version: record.version,
                index: Some(index),
                record: Some(Box::new(record.clone())),
            };
            continue;
        }
        if record.version == 0 {
            chain.head = ChainHead::Legacy {
                record: Box::new(record.clone()),
                index,
            };
            continue;
        }
        let (previous, previous_version) = match &chain.head {
            ChainHead::Known {
                policy, version, ..
            } => (policy.as_ref().clone(), *version),
            ChainHead::Legacy { index: legacy, .. } => {
                return Err(ChainError::AfterLegacy {
                    index,
                    legacy: *legacy,
                });
            }
        };
        // The text first: the signatures are about the recorded hash, which must be its text's.
        let policy = compile(index, record)?;
        let statement = PolicyStatement {
            version: record.version,
            replaces: record
                .previous
                .unwrap_or(PolicyHash(alloy_primitives::B256::ZERO)),
            policy: record.policy_hash,
        };
        verify_link(
            InForce {
                policy: &previous,
                version: previous_version,
            },
            &statement,
            &record.admin_signatures,
            Timestamp(at_ms / 1000),
        )
        .map_err(|source| ChainError::Link {
            index,
            version: record.version,
            hash: record.policy_hash,
            source,
        })?;
        chain.known.push((policy.clone(), record.version));
        chain.head = ChainHead::Known {
            policy: Box::new(policy),
            version: record.version,
            index: Some(index),
            record: Some(Box::new(record.clone())),
        };
        chain.links += 1;
    }
    Ok(chain)
}
