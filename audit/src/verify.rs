//! Offline verification of an exported log against signed checkpoints.
//!
//! Inputs are only what an auditor holds: the JSON Lines export, the checkpoint notes and the
//! gateway's audit public key. Nothing is trusted except signatures by that key:
//!
//! 1. every line is parsed strictly and its record re-hashed; a record whose bytes no longer
//!    match the leaf hash exported beside it is named as modified;
//! 2. positions: every index must appear once, in order — gaps are deletions, repeats are
//!    insertions, records between the wrong neighbours are reorderings;
//! 3. every checkpoint signature is checked, then the root of the first `size` records is
//!    recomputed for each one; a mismatch is localised to the records between the last
//!    checkpoint that matched and this one (a forger who also rewrote the exported leaf
//!    hashes can be localised no more finely than that), and a log shorter than a signed
//!    checkpoint was truncated;
//! 4. consecutive checkpoints must be consistent (RFC 6962 consistency proof over the
//!    recomputed tree), two checkpoints of one size must agree, and time must not go back;
//! 5. inclusion proofs in the export, when present, must lead to their checkpoint's root;
//! 6. semantics: every release ticket and every returned signature must follow an
//!    `approved` decision for the same proposal and safeTxHash.
//!
//! Records after the newest checkpoint are reported as uncovered, not as a failure: nobody
//! outside the operator has a commitment to them yet, so their truncation is undetectable by
//! design. Offline checks cannot show that the auditor saw the same log as everyone else;
//! compare checkpoints with other holders for that.

use std::{
    collections::{BTreeMap, HashMap},
    fmt,
};

use ed25519_dalek::VerifyingKey;
use signgate_policy::Policy;

use crate::{
    checkpoint::{Checkpoint, verify_note},
    export::ExportLine,
    merkle::{Hash, Tree, leaf_hash, verify_consistency, verify_inclusion},
    policy_chain::{ChainHead, check_chain, check_chain_from_records},
    record::{AuditEvent, AuditRecord, PolicyApplied},
};

/// One problem, with where it is. Positions are 0-based record indices (`#n`); lines are
/// 1-based lines of the export file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// A line that is not a canonical export line (or whose record is not a valid record).
    Unreadable {
        /// The export line.
        line: usize,
        /// Why it cannot be read.
        error: String,
    },
    /// The record's bytes do not hash to the leaf hash exported with it.
    Modified {
        /// The export line.
        line: usize,
        /// The position the record claims.
        index: u64,
    },
    /// No line carries this range of indices.
    Missing {
        /// The first missing position.
        from: u64,
        /// One past the last missing position.
        to: u64,
    },
    /// Several lines claim one index.
    Duplicate {
        /// The position claimed more than once.
        index: u64,
        /// Every export line that claims it.
        lines: Vec<usize>,
    },
    /// A record sits between neighbours it does not follow or precede.
    OutOfOrder {
        /// The export line.
        line: usize,
        /// The position the record claims.
        index: u64,
    },
    /// A checkpoint that does not parse or is not signed by the key.
    BadCheckpoint {
        /// The checkpoint's name (its file path).
        name: String,
        /// Why it was refused.
        error: String,
    },
    /// The log ends before a signed checkpoint's size.
    Truncated {
        /// How many records the export holds (the first removed position).
        records: u64,
        /// The checkpoint that commits to more.
        checkpoint: String,
        /// The size it signed.
        size: u64,
    },
    /// The recomputed root differs from a signed one; something in `[from, to)` changed.
    RootMismatch {
        /// The checkpoint whose root does not match.
        checkpoint: String,
        /// The size of the last checkpoint that did match (0 if none): nothing before it
        /// changed.
        from: u64,
        /// This checkpoint's size.
        to: u64,
    },
    /// Two signed checkpoints that cannot both describe one append-only log.
    Inconsistent {
        /// The earlier checkpoint.
        first: String,
        /// The later checkpoint.
        second: String,
        /// What contradicts.
        why: String,
    },
    /// An exported inclusion proof that does not verify.
    BadInclusion {
        /// The export line.
        line: usize,
        /// The position the record claims.
        index: u64,
        /// Why the proof fails.
        why: String,
    },
    /// A release without an approved decision before it.
    ReleaseWithoutDecision {
        /// The release record's position.
        index: u64,
        /// The proposal released.
        proposal: String,
    },
    /// An approval signed with a security key or passkey whose recorded assertion does not
    /// check offline: not that credential's, not for that statement, or not from an accepted
    /// origin with the user verified.
    BadAssertion {
        /// The approval record's position.
        index: u64,
        /// Why it does not check.
        why: String,
    },
    /// No valid checkpoint at all: nothing in the export is signed.
    NoCheckpoint,
    /// The `policy_applied` records do not form a chain: a policy took effect without enough
    /// signatures of the admins of the one before it, with a version not above it, or naming
    /// another predecessor (see [`crate::policy_chain`]).
    PolicyChain {
        /// The broken link.
        error: String,
    },
}

impl Finding {
    /// The first record position this finding names, if any.
    pub fn position(&self) -> Option<u64> {
        match self {
            Self::Modified { index, .. }
            | Self::Duplicate { index, .. }
            | Self::OutOfOrder { index, .. }
            | Self::BadInclusion { index, .. }
            | Self::BadAssertion { index, .. }
            | Self::ReleaseWithoutDecision { index, .. } => Some(*index),
            Self::Missing { from, .. } | Self::RootMismatch { from, .. } => Some(*from),
            Self::Truncated { records, .. } => Some(*records),
            _ => None,
        }
    }

    /// The 1-based export line this finding names, if any.
    pub fn line(&self) -> Option<usize> {
        match self {
            Self::Unreadable { line, .. }
            | Self::Modified { line, .. }
            | Self::OutOfOrder { line, .. }
            | Self::BadInclusion { line, .. } => Some(*line),
            Self::Duplicate { lines, .. } => lines.first().copied(),
            _ => None,
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreadable { line, error } => write!(f, "line {line}: unreadable ({error})"),
            Self::Modified { line, index } => write!(
                f,
                "record #{index} (line {line}) was modified: its bytes no longer match its leaf hash"
            ),
            Self::Missing { from, to } if to - from == 1 => {
                write!(f, "record #{from} is missing (deleted)")
            }
            Self::Missing { from, to } => {
                write!(f, "records #{from}..#{} are missing (deleted)", to - 1)
            }
            Self::Duplicate { index, lines } => write!(
                f,
                "record #{index} appears on lines {lines:?}: all but one were inserted"
            ),
            Self::OutOfOrder { line, index } => {
                write!(f, "record #{index} is out of order (found on line {line})")
            }
            Self::BadCheckpoint { name, error } => write!(f, "checkpoint {name}: {error}"),
            Self::BadAssertion { index, why } => write!(
                f,
                "record #{index}: the approval's security-key assertion does not check: {why}"
            ),
            Self::Truncated {
                records,
                checkpoint,
                size,
            } => write!(
                f,
                "log truncated: it ends after {records} records but checkpoint {checkpoint} signed {size}; records #{records}..#{} were removed",
                size - 1
            ),
            Self::RootMismatch {
                checkpoint,
                from,
                to,
            } => write!(
                f,
                "records #{from}..#{} do not hash to the root signed in checkpoint {checkpoint}: at least one was altered",
                to.saturating_sub(1)
            ),
            Self::Inconsistent { first, second, why } => {
                write!(
                    f,
                    "checkpoints {first} and {second} are inconsistent: {why}"
                )
            }
            Self::BadInclusion { line, index, why } => {
                write!(
                    f,
                    "record #{index} (line {line}): inclusion proof fails: {why}"
                )
            }
            Self::ReleaseWithoutDecision { index, proposal } => write!(
                f,
                "record #{index}: release for proposal {proposal} with no approved decision before it"
            ),
            Self::NoCheckpoint => {
                f.write_str("no valid checkpoint: nothing in this export is signed")
            }
            Self::PolicyChain { error } => write!(f, "chain of applied policies: {error}"),
        }
    }
}

/// The outcome of [`verify_export`].
#[derive(Debug, Clone, Default)]
pub struct Verification {
    /// Readable lines.
    pub records: u64,
    /// Checkpoints with a valid signature.
    pub checkpoints: usize,
    /// Size of the largest checkpoint whose root was recomputed and matched.
    pub verified_size: u64,
    /// `[from, to)`: records no checkpoint covers yet (undetectable if truncated).
    pub uncovered: Option<(u64, u64)>,
    /// Every problem found, in the order the checks ran; empty means the export passed.
    pub findings: Vec<Finding>,
    /// The most recently signed valid checkpoint (largest time, then size): how fresh the
    /// outside commitment is, which a verdict on the records alone does not say.
    pub newest: Option<Checkpoint>,
    /// What the chain of applied policies check established, in words (`None`: no policy
    /// was applied through the gateway).
    pub policy_chain: Option<String>,
}

impl Verification {
    /// Pass or fail.
    pub fn passed(&self) -> bool {
        self.findings.is_empty()
    }

    /// The verdict as both verifiers print it: a summary line, a note on records no
    /// checkpoint covers yet, one `FAIL:` line per finding, then `PASS` or the count of
    /// findings. One rendering, so `signgate audit verify` and `signgate-audit verify` say the
    /// same thing about the same export. `now` (Unix seconds, passed in so the report is a pure
    /// function of its inputs) dates the newest checkpoint: an old checkpoint, or one that
    /// commits to fewer records than the export holds, means the recent tail rests on the
    /// operator's word alone.
    pub fn report(&self, now: u64) -> String {
        use fmt::Write as _;
        // Writing to a `String` cannot fail.
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} records, {} valid checkpoint(s), verified through record #{}",
            self.records,
            self.checkpoints,
            self.verified_size.saturating_sub(1)
        );
        if let Some(newest) = &self.newest {
            let when = if newest.time <= now {
                format!("{} ago", age(now - newest.time))
            } else {
                format!("{} in the future", age(newest.time - now))
            };
            let _ = writeln!(
                s,
                "newest checkpoint: signed at {} (Unix seconds, {when}), commits to {} of the {} exported records",
                newest.time, newest.size, self.records
            );
        }
        if let Some(chain) = &self.policy_chain {
            let _ = writeln!(s, "policy chain: {chain}");
        }
        if let Some((from, to)) = self.uncovered {
            let _ = writeln!(
                s,
                "note: records #{from}..#{} come after the last checkpoint; nothing outside the operator commits to them yet, so their truncation would be undetectable",
                to.saturating_sub(1)
            );
        }
        for f in &self.findings {
            let _ = writeln!(s, "FAIL: {f}");
        }
        if self.passed() {
            s.push_str("PASS\n");
        } else {
            let _ = writeln!(s, "FAIL: {} finding(s)", self.findings.len());
        }
        s
    }
}

/// `secs` in the largest two units that matter (`3d 4h`, `5m 2s`).
fn age(secs: u64) -> String {
    let (d, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3_600,
        secs % 3_600 / 60,
        secs % 60,
    );
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

struct Entry {
    line: usize,
    index: u64,
    hash: Hash,
    export: ExportLine,
    record: Option<AuditRecord>,
}

/// Verifies an export (`log` is the whole JSON Lines file) against named checkpoint notes.
/// The chain of applied policies is checked from its first recorded policy on; see
/// [`verify_export_with_genesis`] to check its first link too.
pub fn verify_export(log: &[u8], notes: &[(String, String)], key: &VerifyingKey) -> Verification {
    verify_export_with_genesis(log, notes, key, None)
}

/// [`verify_export`], with the chain of applied policies checked from `genesis` (the policy
/// file the gateway was configured with), so the first application is judged too.
pub fn verify_export_with_genesis(
    log: &[u8],
    notes: &[(String, String)],
    key: &VerifyingKey,
    genesis: Option<&Policy>,
) -> Verification {
    verify_export_by_any(log, notes, std::slice::from_ref(key), genesis)
}

/// [`verify_export_with_genesis`] for a log several gateway replicas share, each signing its
/// checkpoints with its own key: a checkpoint counts if any of `keys` signed it, and every
/// checkpoint, whoever signed it, must be consistent with the records and with all others.
pub fn verify_export_by_any(
    log: &[u8],
    notes: &[(String, String)],
    keys: &[VerifyingKey],
    genesis: Option<&Policy>,
) -> Verification {
    let mut out = Verification::default();
    let entries = read_lines(log, &mut out.findings);
    out.records = entries.len() as u64;
    check_positions(&entries, &mut out.findings);

    let mut by_index: BTreeMap<u64, &Entry> = BTreeMap::new();
    for e in &entries {
        by_index.entry(e.index).or_insert(e);
    }
    let mut prefix = Vec::new();
    for (i, e) in &by_index {
        if *i != prefix.len() as u64 {
            break;
        }
        prefix.push(e.hash);
    }
    let max_index = by_index
        .keys()
        .next_back()
        .map_or(0, |i| i.saturating_add(1));
    let tree = Tree::new(prefix);

    let cps = read_checkpoints(notes, keys, &mut out.findings);
    out.checkpoints = cps.len();
    out.newest = cps
        .iter()
        .map(|(_, c)| c)
        .max_by_key(|c| (c.time, c.size))
        .cloned();
    if cps.is_empty() {
        out.findings.push(Finding::NoCheckpoint);
    }
    check_checkpoints(&cps, &tree, max_index, &mut out);
    check_inclusions(&entries, &cps, &mut out.findings);
    check_releases(&entries, &mut out.findings);
    check_assertions(&entries, &mut out.findings);
    check_policy_chain(&entries, genesis, &mut out);

    let covered = cps.last().map_or(0, |(_, c)| c.size);
    if max_index > covered {
        out.uncovered = Some((covered, max_index));
    }
    out
}

/// Every approval signed with a WebAuthn credential, checked again from what its record holds
/// ([`crate::record::WebAuthnApproval::check`]).
fn check_assertions(entries: &[Entry], findings: &mut Vec<Finding>) {
    for e in entries {
        let Some(AuditRecord {
            event: AuditEvent::ApprovalReceived(a),
            ..
        }) = &e.record
        else {
            continue;
        };
        if let Some(w) = &a.webauthn
            && let Err(why) = w.check(&a.public_key)
        {
            findings.push(Finding::BadAssertion {
                index: e.index,
                why: why.to_string(),
            });
        }
    }
}

/// The `policy_applied` records, in log order, as a chain (from `genesis` when given).
fn check_policy_chain(entries: &[Entry], genesis: Option<&Policy>, out: &mut Verification) {
    let mut records: Vec<(u64, u64, &PolicyApplied)> = entries
        .iter()
        .filter_map(|e| match &e.record {
            Some(AuditRecord {
                index,
                at_ms,
                event: AuditEvent::PolicyApplied(p),
                ..
            }) => Some((*index, *at_ms, p)),
            _ => None,
        })
        .collect();
    records.sort_by_key(|(i, _, _)| *i);
    let checked = match genesis {
        Some(g) => check_chain(g, records.iter().copied()).map(|c| {
            Some(format!(
                "{} application(s) verified from genesis {}; ends at {}",
                c.links,
                g.hash(),
                head_words(&c.head)
            ))
        }),
        None if records.is_empty() => Ok(None),
        None => check_chain_from_records(records.iter().copied()).map(|c| {
            Some(match c {
                Some((first, c)) => format!(
                    "{} application(s) after record #{first} verified; record #{first} itself is not (pass the genesis policy to check it); ends at {}",
                    c.links,
                    head_words(&c.head)
                ),
                None => "applied before versioned signatures; not checkable".to_owned(),
            })
        }),
    };
    match checked {
        Ok(words) => out.policy_chain = words,
        Err(e) => out.findings.push(Finding::PolicyChain {
            error: e.to_string(),
        }),
    }
}

fn head_words(head: &ChainHead) -> String {
    match head {
        ChainHead::Known {
            policy, version, ..
        } => format!("version {version} ({})", policy.hash()),
        ChainHead::Legacy { record, .. } => format!(
            "{} (applied before versioned signatures)",
            record.policy_hash
        ),
    }
}

fn read_lines(log: &[u8], findings: &mut Vec<Finding>) -> Vec<Entry> {
    let body = log.strip_suffix(b"\n").unwrap_or(log);
    if body.is_empty() {
        return Vec::new();
    }
    let mut entries = Vec::new();
    for (n, raw) in body.split(|b| *b == b'\n').enumerate() {
        let line = n + 1;
        let parsed = ExportLine::parse(raw).and_then(|export| {
            let bytes = export.record_bytes()?;
            Ok((export, bytes))
        });
        let (export, bytes) = match parsed {
            Ok(p) => p,
            Err(e) => {
                findings.push(Finding::Unreadable {
                    line,
                    error: e.to_string(),
                });
                continue;
            }
        };
        let Some(index) = export.record.get("index").and_then(|i| i.as_u64()) else {
            findings.push(Finding::Unreadable {
                line,
                error: "record has no index".to_owned(),
            });
            continue;
        };
        let hash = leaf_hash(&bytes);
        if hash.as_slice() != export.leaf_hash.as_slice() {
            findings.push(Finding::Modified { line, index });
        }
        let record = match AuditRecord::from_value(export.record.clone(), &bytes) {
            Ok(r) => Some(r),
            Err(e) => {
                findings.push(Finding::Unreadable {
                    line,
                    error: format!("record #{index}: {e}"),
                });
                None
            }
        };
        entries.push(Entry {
            line,
            index,
            hash,
            export,
            record,
        });
    }
    entries
}

fn check_positions(entries: &[Entry], findings: &mut Vec<Finding>) {
    let mut lines_of: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for e in entries {
        lines_of.entry(e.index).or_default().push(e.line);
    }
    let mut expected = 0u64;
    for (index, lines) in &lines_of {
        if *index > expected {
            findings.push(Finding::Missing {
                from: expected,
                to: *index,
            });
        }
        if lines.len() > 1 {
            findings.push(Finding::Duplicate {
                index: *index,
                lines: lines.clone(),
            });
        }
        expected = index.saturating_add(1);
    }
    // A record is out of place when it follows neither its predecessor nor precedes its
    // successor; a deletion or insertion leaves both neighbours of the others intact.
    for (i, e) in entries.iter().enumerate() {
        let prev = i.checked_sub(1).and_then(|p| entries.get(p));
        let next = entries.get(i + 1);
        let after_prev = match prev {
            None => e.index == 0,
            Some(p) => p.index == e.index || p.index.checked_add(1) == Some(e.index),
        };
        let before_next =
            next.is_some_and(|n| n.index == e.index || e.index.checked_add(1) == Some(n.index));
        let inverted =
            prev.is_some_and(|p| p.index > e.index) || next.is_some_and(|n| n.index < e.index);
        if inverted && !after_prev && !before_next {
            findings.push(Finding::OutOfOrder {
                line: e.line,
                index: e.index,
            });
        }
    }
}

fn read_checkpoints(
    notes: &[(String, String)],
    keys: &[VerifyingKey],
    findings: &mut Vec<Finding>,
) -> Vec<(String, Checkpoint)> {
    let mut cps = Vec::new();
    for (name, note) in notes {
        let mut first_error = None;
        let verified = keys.iter().find_map(|key| match verify_note(note, key) {
            Ok(c) => Some(c),
            Err(e) => {
                first_error.get_or_insert(e);
                None
            }
        });
        match (verified, first_error) {
            (Some(c), _) => cps.push((name.clone(), c)),
            (None, e) => findings.push(Finding::BadCheckpoint {
                name: name.clone(),
                error: e.map_or_else(|| "no key to verify it with".to_owned(), |e| e.to_string()),
            }),
        }
    }
    cps.sort_by_key(|(_, c)| (c.size, c.time));
    cps
}

fn check_checkpoints(
    cps: &[(String, Checkpoint)],
    tree: &Tree,
    max_index: u64,
    out: &mut Verification,
) {
    let mut last_good: Option<&(String, Checkpoint)> = None;
    let mut prev: Option<&(String, Checkpoint)> = None;
    for cp in cps {
        let (name, c) = cp;
        if let Some((pname, p)) = prev {
            if p.size == c.size && p.root != c.root {
                out.findings.push(Finding::Inconsistent {
                    first: pname.clone(),
                    second: name.clone(),
                    why: format!("both sign size {} with different roots", c.size),
                });
            }
            if c.time < p.time {
                out.findings.push(Finding::Inconsistent {
                    first: pname.clone(),
                    second: name.clone(),
                    why: "the larger tree was signed earlier".to_owned(),
                });
            }
        }
        prev = Some(cp);
        if c.size > tree.size() {
            if max_index < c.size {
                out.findings.push(Finding::Truncated {
                    records: max_index,
                    checkpoint: name.clone(),
                    size: c.size,
                });
            }
            // Otherwise a gap below `c.size` was already reported as missing records.
            continue;
        }
        let Ok(root) = tree.root(c.size) else {
            continue;
        };
        if root != c.root {
            out.findings.push(Finding::RootMismatch {
                checkpoint: name.clone(),
                from: last_good.map_or(0, |(_, g)| g.size),
                to: c.size,
            });
            continue;
        }
        if let Some((gname, g)) = last_good {
            let proof = tree.consistency_proof(g.size, c.size);
            let ok = proof.map_err(|e| e.to_string()).and_then(|p| {
                verify_consistency(g.size, c.size, &g.root, &c.root, &p).map_err(|e| e.to_string())
            });
            if let Err(why) = ok {
                out.findings.push(Finding::Inconsistent {
                    first: gname.clone(),
                    second: name.clone(),
                    why,
                });
            }
        }
        out.verified_size = c.size;
        last_good = Some(cp);
    }
}

fn check_inclusions(entries: &[Entry], cps: &[(String, Checkpoint)], findings: &mut Vec<Finding>) {
    let roots: HashMap<u64, Hash> = cps.iter().map(|(_, c)| (c.size, c.root)).collect();
    for e in entries {
        let Some(p) = &e.export.inclusion else {
            continue;
        };
        let path: Vec<Hash> = p.path.iter().map(|h| h.0).collect();
        let result = match roots.get(&p.tree_size) {
            None => Err(format!("no signed checkpoint of size {}", p.tree_size)),
            Some(root) => verify_inclusion(&e.hash, e.index, p.tree_size, &path, root)
                .map_err(|err| err.to_string()),
        };
        if let Err(why) = result {
            findings.push(Finding::BadInclusion {
                line: e.line,
                index: e.index,
                why,
            });
        }
    }
}

fn check_releases(entries: &[Entry], findings: &mut Vec<Finding>) {
    let mut approved: HashMap<(String, [u8; 32]), ()> = HashMap::new();
    let mut ordered: Vec<&Entry> = entries.iter().collect();
    ordered.sort_by_key(|e| e.index);
    for e in ordered {
        let Some(r) = &e.record else { continue };
        let released = match &r.event {
            AuditEvent::DecisionMade(d) => {
                let k = (d.proposal_id.clone(), d.safe_tx_hash.0);
                if d.decision.is_approved() {
                    approved.insert(k, ());
                } else {
                    approved.remove(&k);
                }
                None
            }
            AuditEvent::ReleaseTicketIssued(t) => Some((t.proposal_id.clone(), t.safe_tx_hash.0)),
            AuditEvent::SignaturesReturned(s) => Some((s.proposal_id.clone(), s.safe_tx_hash.0)),
            // A cancelled proposal stays unreleasable whatever was decided before.
            AuditEvent::ProposalCancelled(c) => {
                approved.remove(&(c.proposal_id.clone(), c.safe_tx_hash.0));
                None
            }
            _ => None,
        };
        if let Some(k) = released
            && !approved.contains_key(&k)
        {
            findings.push(Finding::ReleaseWithoutDecision {
                index: e.index,
                proposal: k.0,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint(size: u64, time: u64) -> Checkpoint {
        Checkpoint {
            origin: "signgate.audit/test".to_owned(),
            size,
            root: [7; 32],
            time,
        }
    }

    #[test]
    fn the_report_dates_the_newest_checkpoint_and_sizes_it_against_the_export() {
        let v = Verification {
            records: 12,
            checkpoints: 2,
            verified_size: 9,
            uncovered: Some((9, 12)),
            findings: Vec::new(),
            newest: Some(checkpoint(9, 1_000_000)),
            policy_chain: None,
        };
        let report = v.report(1_000_000 + 2 * 3_600 + 5 * 60);
        assert!(
            report.contains(
                "newest checkpoint: signed at 1000000 (Unix seconds, 2h 5m ago), commits to 9 of the 12 exported records"
            ),
            "{report}"
        );
        assert!(report.contains("records #9..#11 come after"), "{report}");
        // A clock behind the checkpoint is said, not hidden as a zero age.
        let report = v.report(1_000_000 - 30);
        assert!(report.contains("30s in the future"), "{report}");
    }

    #[test]
    fn the_newest_checkpoint_is_the_latest_signed() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
        let public = key.verifying_key();
        let at = |time| {
            Checkpoint {
                origin: crate::checkpoint::origin_for(&public),
                size: 0,
                root: crate::merkle::empty_root(),
                time,
            }
            .sign(&key)
        };
        let none = verify_export(b"", &[], &public);
        assert!(none.newest.is_none());
        assert!(!none.report(0).contains("newest checkpoint"));
        let notes = [("late".to_owned(), at(200)), ("early".to_owned(), at(100))];
        let v = verify_export(b"", &notes, &public);
        assert_eq!(v.checkpoints, 2, "{}", v.report(300));
        assert_eq!(v.newest.as_ref().map(|c| c.time), Some(200));
        assert!(v.report(300).contains("1m 40s ago"), "{}", v.report(300));
    }
}
