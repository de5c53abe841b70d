//! The audit log against the store's history, one to one: each stored proposal has exactly one
//! `proposal_submitted` record and as many `decision_made` records as it has stored decisions,
//! each stored approval one `approval_received`, and no record describes a change the store
//! does not hold; every acknowledged call is in both.

use std::collections::{BTreeMap, BTreeSet};

use signgate_audit::{AuditEvent, AuditRecord, record::DecisionTrigger};
use signgate_gateway::store::{ListFilter, ProposalState, ProposalStore};

/// What the clients were told: acknowledged proposals (id → safeTxHash) and approvals
/// (id, operator), and the starts that reached `serving` and every start attempted.
#[derive(Debug)]
pub struct Acknowledged<'a> {
    pub proposals: &'a BTreeMap<String, String>,
    pub approvals: &'a BTreeSet<(String, String)>,
    pub starts: (u32, u32),
}

/// The audit records and the store describe one history, and every acknowledged call is in it.
pub fn one_to_one<S: ProposalStore>(
    rt: &tokio::runtime::Runtime,
    store: &S,
    records: &[AuditRecord],
    ledger: &Acknowledged<'_>,
    cycle: &str,
) {
    // What the log says happened, per proposal.
    let mut submitted: BTreeMap<String, u64> = BTreeMap::new();
    let mut decided: BTreeMap<String, u64> = BTreeMap::new();
    let mut approved: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut released: BTreeSet<String> = BTreeSet::new();
    let mut starts = 0u32;
    for r in records {
        match &r.event {
            AuditEvent::ProposalSubmitted(e) => {
                *submitted.entry(e.proposal_id.clone()).or_default() += 1
            }
            // A release that went through is stored as its reservation, not as a decision row:
            // its approving decision is tallied apart, against the released proposals.
            AuditEvent::DecisionMade(e)
                if e.trigger == DecisionTrigger::Release && e.outcome == "approved" =>
            {
                released.insert(e.proposal_id.clone());
            }
            AuditEvent::DecisionMade(e) => *decided.entry(e.proposal_id.clone()).or_default() += 1,
            AuditEvent::ApprovalReceived(e) => {
                *approved
                    .entry((e.proposal_id.clone(), hex::encode(e.public_key)))
                    .or_default() += 1;
            }
            AuditEvent::ServerStarted(_) => starts += 1,
            // Releases: a ticket per call that reserved (a repeated call gets the same
            // reservation and a ticket of its own), checked against the reservations apart.
            // The anomaly rules' observations of calls and their alerts (the demo policy has
            // `[anomaly]`): a judged submission's or approval's ride in its change's transaction,
            // the others in their own; none is a state change of a proposal.
            AuditEvent::ServerStopped(_)
            | AuditEvent::SanctionsList(_)
            | AuditEvent::ReleaseTicketIssued(_)
            | AuditEvent::SignaturesReturned(_)
            | AuditEvent::CallObserved(_)
            | AuditEvent::Anomaly(_) => {}
            other => panic!("{cycle}: unexpected record {}", other.kind()),
        }
    }
    assert!(
        starts >= ledger.starts.0 && starts <= ledger.starts.1,
        "{cycle}: {starts} server_started records for {} starts that served of {}",
        ledger.starts.0,
        ledger.starts.1
    );

    // What the store holds, read through the library with the gateway stopped.
    let stored = rt.block_on(async {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = store.list(ListFilter::default(), 100, after).await.unwrap();
            for p in page.proposals {
                all.push(store.get(p.id.clone()).await.unwrap().unwrap());
            }
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        all
    });
    let mut store_submitted: BTreeMap<String, u64> = BTreeMap::new();
    let mut store_decided: BTreeMap<String, u64> = BTreeMap::new();
    let mut store_approved: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut store_hashes: BTreeMap<String, String> = BTreeMap::new();
    let mut store_ops: BTreeSet<(String, String)> = BTreeSet::new();
    for p in &stored {
        let id = p.record.id.as_str().to_owned();
        store_submitted.insert(id.clone(), 1);
        store_decided.insert(id.clone(), p.decision.as_ref().map_or(0, |d| d.seq));
        store_hashes.insert(id.clone(), format!("{:#x}", p.record.safe_tx_hash));
        for a in &p.approvals {
            store_approved.insert((id.clone(), hex::encode(a.public_key)), 1);
            store_ops.insert((id.clone(), a.operator.clone()));
        }
    }
    for (what, differences) in [
        (
            "proposal_submitted",
            only_differences(&submitted, &store_submitted),
        ),
        ("decision_made", only_differences(&decided, &store_decided)),
    ] {
        assert!(
            differences.is_empty(),
            "{cycle}: {what} records and the store's history disagree \
             (proposal, records, stored): {differences:?}"
        );
    }
    let differences = only_differences(&approved, &store_approved);
    assert!(
        differences.is_empty(),
        "{cycle}: approval_received records and the stored approvals disagree \
         ((proposal, key), records, stored): {differences:?}"
    );
    let store_released: BTreeSet<String> = stored
        .iter()
        .filter(|p| p.record.state == ProposalState::Released)
        .map(|p| p.record.id.as_str().to_owned())
        .collect();
    assert_eq!(
        released
            .symmetric_difference(&store_released)
            .take(10)
            .collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "{cycle}: approving release decisions and the released proposals disagree"
    );
    for (id, hash) in ledger.proposals {
        assert_eq!(
            store_hashes.get(id),
            Some(hash),
            "{cycle}: acknowledged proposal {id} is not stored as acknowledged"
        );
    }
    for a in ledger.approvals {
        assert!(
            store_ops.contains(a),
            "{cycle}: acknowledged approval {a:?} is not stored"
        );
    }
    println!(
        "{cycle}: the log verifies; {} records; {} stored proposals, {} approvals, one to one",
        records.len(),
        stored.len(),
        store_approved.len()
    );
}

/// The keys whose counts differ between two tallies (log count, store count).
pub fn only_differences<K: Ord + Clone>(
    log: &BTreeMap<K, u64>,
    store: &BTreeMap<K, u64>,
) -> Vec<(K, u64, u64)> {
    log.keys()
        .chain(store.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter_map(|k| {
            let a = log.get(k).copied().unwrap_or_default();
            let b = store.get(k).copied().unwrap_or_default();
            (a != b).then(|| (k.clone(), a, b))
        })
        .take(10)
        .collect()
}
