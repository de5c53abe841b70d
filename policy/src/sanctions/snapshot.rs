//! Immutable snapshots of every configured list.
//!
//! A [`SanctionsSnapshot`] is never modified: an accepted update builds a new snapshot (sharing
//! the unchanged lists through `Arc`) that the gateway swaps in atomically, so a request is
//! screened against one consistent set of lists from start to end. A configured list that could
//! not be loaded stays in the snapshot as [`ListSlot::Unavailable`], so that screening fails
//! closed instead of quietly screening against fewer lists.

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use alloy_primitives::Address;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{
    ChecksumStatus, IssueDate, ListAction, ListCategory, ListId, ListSpec, OtherRecord,
    ParseFinding, ParsedList, Sha256Digest,
    address::spell,
    index::{AddressIndex, Row},
    model::Catalog,
};

/// One verified, parsed list with its provenance.
///
/// The parsed content sits behind an `Arc`, so that re-stamping a list its source confirmed
/// current again ([`LoadedList::confirmed_at`], an HTTP 304) costs no copy of its index.
#[derive(Debug, Clone)]
pub struct LoadedList {
    spec: ListSpec,
    loaded_at: SystemTime,
    content: Arc<Content>,
}

/// What a parse produced, shared by every stamp of the same version.
#[derive(Debug)]
struct Content {
    sha256: Sha256Digest,
    issue_date: Option<IssueDate>,
    catalog: Catalog,
    index: AddressIndex,
    other: Vec<OtherRecord>,
    findings: Vec<ParseFinding>,
}

impl LoadedList {
    /// Indexes a parsed list. `loaded_at` is when the source last confirmed this copy current
    /// (a file written, a download verified, an HTTP 304); freshness is measured from it, not
    /// from the publisher's issue date (OFAC may not publish for days).
    pub fn new(spec: ListSpec, parsed: ParsedList, loaded_at: SystemTime) -> Self {
        let rows = parsed
            .evm
            .iter()
            .map(|r| Row {
                address: r.address.into_array(),
                party: r.party,
                label: r.label,
                checksum: r.checksum,
            })
            .collect();
        Self {
            spec,
            loaded_at,
            content: Arc::new(Content {
                sha256: parsed.sha256,
                issue_date: parsed.issue_date,
                catalog: parsed.catalog,
                index: AddressIndex::build(rows),
                other: parsed.other,
                findings: parsed.findings,
            }),
        }
    }

    /// The same version, confirmed current by its source at `at` (its age restarts there).
    /// A confirmation older than the current stamp changes nothing: age never goes backwards
    /// through a late answer.
    #[must_use]
    pub fn confirmed_at(&self, at: SystemTime) -> Self {
        Self {
            spec: self.spec.clone(),
            loaded_at: self.loaded_at.max(at),
            content: Arc::clone(&self.content),
        }
    }

    /// The list's configuration: id, format, category, action and maximum age.
    pub fn spec(&self) -> &ListSpec {
        &self.spec
    }

    /// SHA-256 of the content as parsed.
    pub fn sha256(&self) -> Sha256Digest {
        self.content.sha256
    }

    /// The issue date the publisher wrote into the list, when the format carries one: the
    /// list's version. A copy with an earlier date than the one in force is refused (no
    /// rollback); freshness is measured from `loaded_at`.
    pub fn issue_date(&self) -> Option<IssueDate> {
        self.content.issue_date
    }

    /// When the verified copy was obtained; its age is measured from here.
    pub fn loaded_at(&self) -> SystemTime {
        self.loaded_at
    }

    /// EVM records after de-duplication: one per (address, label, party).
    pub fn entry_count(&self) -> usize {
        self.content.index.len()
    }

    /// Distinct EVM addresses.
    pub fn address_count(&self) -> usize {
        self.content.index.addresses().count()
    }

    /// Distinct EVM addresses, ascending.
    pub fn addresses(&self) -> impl Iterator<Item = Address> + '_ {
        self.content.index.addresses()
    }

    /// Non-EVM digital currency values (kept for reports; not used for Safe screening).
    pub fn other_records(&self) -> &[OtherRecord] {
        &self.content.other
    }

    /// What the parse reported (invalid checksums, cut remarks …).
    pub fn findings(&self) -> &[ParseFinding] {
        &self.content.findings
    }

    /// Whether the list is older than its maximum age at `now`. A `loaded_at` in the future
    /// (clock moved back) counts as stale: its age cannot be established.
    pub fn freshness(&self, now: SystemTime) -> Result<Duration, ScreeningProblem> {
        match now.duration_since(self.loaded_at) {
            Ok(age) if age <= self.spec.max_age => Ok(age),
            Ok(age) => Err(ScreeningProblem::Stale {
                list: self.spec.id.clone(),
                age,
                max_age: self.spec.max_age,
            }),
            Err(_) => Err(ScreeningProblem::LoadedInFuture {
                list: self.spec.id.clone(),
            }),
        }
    }

    /// Rows for `address`; allocation-free.
    pub(crate) fn rows(&self, address: &Address) -> &[Row] {
        self.content.index.lookup(address)
    }

    /// True when `address` is on this list.
    pub fn contains(&self, address: &Address) -> bool {
        !self.rows(address).is_empty()
    }

    fn to_match(&self, address: &Address, row: &Row, snapshot: Sha256Digest) -> SanctionsMatch {
        let party = self.content.catalog.party(row.party);
        SanctionsMatch {
            list: self.spec.id.clone(),
            jurisdiction: self.spec.jurisdiction.clone(),
            category: self.spec.category,
            action: self.spec.action,
            uid: party.and_then(|p| p.uid.clone()),
            name: party.and_then(|p| p.name.clone()),
            programs: party.map(|p| p.programs.clone()).unwrap_or_default(),
            label: self.content.catalog.label(row.label).map(str::to_owned),
            listed_as: spell(address, row.checksum),
            checksum: row.checksum,
            list_sha256: self.content.sha256,
            snapshot_id: snapshot,
        }
    }

    /// Approximate heap bytes of the list (index, catalog, other records).
    pub fn heap_bytes(&self) -> usize {
        let strings = |s: &String| s.capacity();
        let content = &self.content;
        let parties: usize = content
            .catalog
            .parties
            .iter()
            .map(|p| {
                p.uid.as_ref().map_or(0, strings)
                    + p.name.as_ref().map_or(0, strings)
                    + p.programs.iter().map(strings).sum::<usize>()
                    + p.programs.capacity() * std::mem::size_of::<String>()
            })
            .sum();
        content.index.heap_bytes()
            + parties
            + content.catalog.parties.capacity() * std::mem::size_of::<super::Party>()
            + content.catalog.labels.iter().map(strings).sum::<usize>()
            + content
                .other
                .iter()
                .map(|o| o.label.capacity() + o.value.capacity())
                .sum::<usize>()
    }
}

/// One configured list in a snapshot.
#[derive(Debug, Clone)]
pub enum ListSlot {
    /// Verified and indexed.
    Loaded(Arc<LoadedList>),
    /// Configured but never successfully loaded; screening cannot proceed while it is.
    Unavailable {
        /// The list's configuration.
        spec: ListSpec,
        /// Why it is unavailable (the last load error, or that none has happened yet).
        reason: String,
    },
}

impl ListSlot {
    /// The configuration of the list in this slot, loaded or not.
    pub fn spec(&self) -> &ListSpec {
        match self {
            Self::Loaded(list) => list.spec(),
            Self::Unavailable { spec, .. } => spec,
        }
    }
}

/// One listing that matched an address: everything a reason and an audit record need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SanctionsMatch {
    /// The list the address is on.
    pub list: ListId,
    /// Whose list it is, when configured.
    pub jurisdiction: Option<super::Jurisdiction>,
    /// What kind of list it is.
    pub category: ListCategory,
    /// What a match on this list does to a transaction (deny or review).
    pub action: ListAction,
    /// OFAC UID / `ent_num`, when the format has one.
    pub uid: Option<String>,
    /// The listed party's name, when the format has one.
    pub name: Option<String>,
    /// The sanctions programmes the party is listed under (e.g. `CYBER2`); may be empty.
    pub programs: Vec<String>,
    /// `Digital Currency Address - ETH`, when the format has labels.
    pub label: Option<String>,
    /// The address in the list's spelling (checksummed or lower case).
    pub listed_as: String,
    /// Whether the list's spelling carries a valid, invalid or no EIP-55 checksum.
    pub checksum: ChecksumStatus,
    /// SHA-256 of the list content the match came from.
    pub list_sha256: Sha256Digest,
    /// Identity of the snapshot screened against, so a record names exactly which lists it used.
    pub snapshot_id: Sha256Digest,
}

/// Why screening cannot give an answer. Policy turns every one into a denial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ScreeningProblem {
    /// No list is configured at all.
    #[error("no sanctions list is configured")]
    NoLists,
    /// A configured list has never loaded.
    #[error("list {list} is unavailable: {reason}")]
    Unavailable {
        /// The list.
        list: ListId,
        /// Why it never loaded.
        reason: String,
    },
    /// The verified copy is older than allowed.
    #[error("list {list} is stale: loaded {}s ago, maximum {}s", age.as_secs(), max_age.as_secs())]
    Stale {
        /// The list.
        list: ListId,
        /// Time since the verified copy was loaded.
        age: Duration,
        /// The list's configured maximum age.
        max_age: Duration,
    },
    /// The copy claims to be loaded after `now`; its age is unknown.
    #[error("list {list} was loaded after the screening time; its age is unknown")]
    LoadedInFuture {
        /// The list.
        list: ListId,
    },
}

/// An address-level change of one list, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListDiff {
    /// The list that changed.
    pub list: ListId,
    /// `None` when the list had not been loaded before.
    pub previous_sha256: Option<Sha256Digest>,
    /// SHA-256 of the new content.
    pub new_sha256: Sha256Digest,
    /// Addresses on the new content and not on the previous, ascending.
    pub added: Vec<Address>,
    /// Addresses on the previous content and not on the new, ascending.
    pub removed: Vec<Address>,
}

impl ListDiff {
    fn between(previous: Option<&LoadedList>, new: &LoadedList) -> Self {
        let mut added = Vec::new();
        let mut removed = Vec::new();
        let mut old = previous
            .map(|p| p.addresses().collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .peekable();
        let mut new_iter = new.addresses().peekable();
        loop {
            match (old.peek(), new_iter.peek()) {
                (Some(a), Some(b)) if a == b => {
                    old.next();
                    new_iter.next();
                }
                (Some(a), Some(b)) if a < b => removed.extend(old.next()),
                (Some(_), Some(_)) | (None, Some(_)) => added.extend(new_iter.next()),
                (Some(_), None) => removed.extend(old.next()),
                (None, None) => break,
            }
        }
        Self {
            list: new.spec.id.clone(),
            previous_sha256: previous.map(LoadedList::sha256),
            new_sha256: new.sha256(),
            added,
            removed,
        }
    }
}

/// Every configured list, immutable.
#[derive(Debug, Clone)]
pub struct SanctionsSnapshot {
    slots: Vec<ListSlot>,
    id: Sha256Digest,
}

impl SanctionsSnapshot {
    /// A snapshot of the given lists. The id is the SHA-256 over each slot's list id and content
    /// digest (or its unavailability), so two snapshots with the same content share an id.
    pub fn new(slots: Vec<ListSlot>) -> Self {
        let mut hasher = Sha256::new();
        for slot in &slots {
            hasher.update(slot.spec().id.as_str().as_bytes());
            hasher.update([0]);
            match slot {
                ListSlot::Loaded(list) => hasher.update(list.sha256().0),
                ListSlot::Unavailable { .. } => hasher.update(b"unavailable"),
            }
        }
        Self {
            slots,
            id: Sha256Digest(hasher.finalize().into()),
        }
    }

    /// A snapshot where every configured list is unavailable: what the gateway holds before
    /// the first successful load. It screens nothing.
    pub fn unavailable(specs: impl IntoIterator<Item = ListSpec>, reason: &str) -> Self {
        Self::new(
            specs
                .into_iter()
                .map(|spec| ListSlot::Unavailable {
                    spec,
                    reason: reason.to_owned(),
                })
                .collect(),
        )
    }

    /// Identity of this snapshot, carried into every match.
    pub fn id(&self) -> Sha256Digest {
        self.id
    }

    /// Every configured list, loaded or not, in configuration order.
    pub fn slots(&self) -> &[ListSlot] {
        &self.slots
    }

    /// The loaded list with this id.
    pub fn list(&self, id: &ListId) -> Option<&Arc<LoadedList>> {
        self.slots.iter().find_map(|s| match s {
            ListSlot::Loaded(list) if &list.spec.id == id => Some(list),
            _ => None,
        })
    }

    /// Everything that stops screening at `now`: no lists, unavailable or stale lists.
    pub fn problems(&self, now: SystemTime) -> Vec<ScreeningProblem> {
        if self.slots.is_empty() {
            return vec![ScreeningProblem::NoLists];
        }
        self.slots
            .iter()
            .filter_map(|slot| match slot {
                ListSlot::Loaded(list) => list.freshness(now).err(),
                ListSlot::Unavailable { spec, reason } => Some(ScreeningProblem::Unavailable {
                    list: spec.id.clone(),
                    reason: reason.clone(),
                }),
            })
            .collect()
    }

    /// True if `address` is on any loaded list (fast path; no allocation).
    pub fn is_listed(&self, address: &Address) -> bool {
        self.slots
            .iter()
            .any(|s| matches!(s, ListSlot::Loaded(l) if l.contains(address)))
    }

    /// Every listing of `address` across the loaded lists. Does not check freshness; use
    /// [`screen`](super::screen) for a decision.
    pub fn lookup(&self, address: &Address) -> Vec<SanctionsMatch> {
        let mut out = Vec::new();
        for slot in &self.slots {
            if let ListSlot::Loaded(list) = slot {
                for row in list.rows(address) {
                    out.push(list.to_match(address, row, self.id));
                }
            }
        }
        out
    }

    /// A new snapshot with `list` in its slot (replacing the previous copy, or filling an
    /// unavailable or new slot), and the address-level diff.
    pub fn with_list(&self, list: LoadedList) -> (Self, ListDiff) {
        let previous = self.list(&list.spec.id).cloned();
        let diff = ListDiff::between(previous.as_deref(), &list);
        let list = Arc::new(list);
        let mut slots = self.slots.clone();
        match slots.iter_mut().find(|s| s.spec().id == list.spec.id) {
            Some(slot) => *slot = ListSlot::Loaded(list),
            None => slots.push(ListSlot::Loaded(list)),
        }
        (Self::new(slots), diff)
    }

    /// A new snapshot where list `id` is the same version, confirmed current by its source at
    /// `at` (an HTTP 304, or a download identical to the copy in force). `None` when the list
    /// is not loaded: a confirmation cannot make an unavailable list usable.
    pub fn with_confirmed(&self, id: &ListId, at: SystemTime) -> Option<Self> {
        let mut found = false;
        let slots = self
            .slots
            .iter()
            .map(|slot| match slot {
                ListSlot::Loaded(list) if &list.spec.id == id => {
                    found = true;
                    ListSlot::Loaded(Arc::new(list.confirmed_at(at)))
                }
                other => other.clone(),
            })
            .collect();
        found.then(|| Self::new(slots))
    }

    /// Records why a list that has never loaded is still unavailable. A loaded list is left
    /// as it is: a failed update never removes the previous copy.
    pub fn with_unavailable_reason(&self, id: &ListId, reason: &str) -> Self {
        let slots = self
            .slots
            .iter()
            .map(|slot| match slot {
                ListSlot::Unavailable { spec, .. } if &spec.id == id => ListSlot::Unavailable {
                    spec: spec.clone(),
                    reason: reason.to_owned(),
                },
                other => other.clone(),
            })
            .collect();
        Self::new(slots)
    }

    /// Heap bytes of every loaded list.
    pub fn heap_bytes(&self) -> usize {
        self.slots
            .iter()
            .map(|s| {
                if let ListSlot::Loaded(l) = s {
                    l.heap_bytes()
                } else {
                    0
                }
            })
            .sum()
    }
}
