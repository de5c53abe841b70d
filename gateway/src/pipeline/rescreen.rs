//! Re-screening what is in flight when a sanctions list changes version.
//!
//! A proposal is screened when it is submitted, approved and released; an address designated
//! in between would otherwise only be caught if the release happens to come. So every time a
//! list version that adds addresses is swapped in, every proposal not yet released (NeedsApprovals, Approved) is
//! evaluated again at once, exactly as an approval would evaluate it (same analysis, same
//! approvals, the new snapshot). A proposal the new version denies by a listed address is
//! turned Denied: the decision is recorded in the audit log (trigger `list_update`) before the
//! store changes, and the store's change reaches `WatchProposal` watchers like any other.
//!
//! Only a listing changes a proposal here. Any other outcome of the re-evaluation (a list gone
//! stale, an approval lapsed, a simulation that cannot run now) is left to the next approval or
//! the release, which re-decide it anyway: a transient problem must not permanently deny a
//! proposal, and a release always screens against the newest snapshot.

use std::{sync::Arc, time::Duration};

use futures_util::{StreamExt as _, stream};

use signgate_audit::record::DecisionTrigger;
use signgate_chain::StateProvider;
use signgate_policy::{Decision, Reason};
use tokio_util::sync::CancellationToken;

use super::{Pipeline, approve::reanalyse, records};
use crate::{
    error::GatewayError,
    store::{ListFilter, PageToken, ProposalId, ProposalState, ProposalStore},
};

/// Proposals read per store page.
const PAGE: u32 = 200;
/// Attempts per proposal when a concurrent change moves its revision.
const MAX_ATTEMPTS: usize = 3;
/// Proposals re-screened at once.
const CONCURRENCY: usize = 8;

/// What one re-screen did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rescreened {
    /// Proposals evaluated again.
    pub checked: usize,
    /// Proposals the new list versions turned Denied.
    pub denied: Vec<ProposalId>,
    /// Proposals that could not be evaluated (logged); their next approval or release will.
    pub failed: usize,
}

impl<S: ProposalStore, T: StateProvider> Pipeline<S, T> {
    /// Re-screens every proposal not yet released against the lists in force now.
    pub async fn rescreen_in_flight(&self) -> Result<Rescreened, GatewayError> {
        let mut report = Rescreened::default();
        let filter = ListFilter {
            states: vec![ProposalState::NeedsApprovals, ProposalState::Approved],
            ..ListFilter::default()
        };
        let mut after: Option<PageToken> = None;
        loop {
            let page = self.store.list(filter.clone(), PAGE, after.take()).await?;
            // Several at once: each waits mostly on the chain (a pin, state reads) and on its
            // commit, so a list change reaches every proposal in flight sooner.
            let each: Vec<_> = page
                .proposals
                .iter()
                .map(|record| self.rescreen_named(record.id.clone()))
                .collect();
            let mut outcomes = stream::iter(each).buffer_unordered(CONCURRENCY);
            while let Some((id, outcome)) = outcomes.next().await {
                report.checked += 1;
                match outcome {
                    Ok(true) => report.denied.push(id),
                    Ok(false) => {}
                    Err(error) => {
                        report.failed += 1;
                        tracing::warn!(proposal_id = %id, %error, "re-screen after a list change failed; the next approval or release screens it");
                    }
                }
            }
            drop(outcomes);
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        Ok(report)
    }

    /// [`Self::rescreen_one`] with the proposal's id beside its outcome.
    async fn rescreen_named(&self, id: ProposalId) -> (ProposalId, Result<bool, GatewayError>) {
        let outcome = self.rescreen_one(&id).await;
        (id, outcome)
    }

    /// Evaluates one proposal again; `true` when a listing turned it Denied.
    async fn rescreen_one(&self, id: &ProposalId) -> Result<bool, GatewayError> {
        let policy = self.policy.load();
        for _ in 0..MAX_ATTEMPTS {
            let stored = self.load(id).await?;
            let record = &stored.record;
            if !matches!(
                record.state,
                ProposalState::NeedsApprovals | ProposalState::Approved
            ) {
                return Ok(false);
            }
            let pinned = self.state.pin(record.chain_id, false).await?;
            let analysis = reanalyse(self, &pinned, record).await?;
            let (ev, evaluation, decided_at) = super::assess_now(
                self,
                &policy,
                &analysis,
                &record.id,
                super::Submitted::of(record),
                &stored.approvals,
            )
            .await?;
            let listed = matches!(&evaluation.decision, Decision::Deny { reasons }
                if reasons.iter().any(|r| matches!(r, Reason::SanctionedAddress { .. })));
            if !listed {
                return Ok(false);
            }
            let (decision, state) =
                super::stored_decision(&evaluation, &analysis.lists, decided_at);
            let decided = records::decision(DecisionTrigger::ListUpdate, &evaluation, &ev);
            let committed = self
                .commit(vec![decided], |audit| {
                    self.store.record_decision(
                        audit,
                        record.id.clone(),
                        record.revision,
                        decision,
                        state,
                    )
                })
                .await;
            match committed {
                Ok(_) => {
                    tracing::warn!(
                        proposal_id = %record.id,
                        safe_tx_hash = %record.safe_tx_hash,
                        was = record.state.as_str(),
                        "proposal denied: an address it touches was listed after it was decided"
                    );
                    return Ok(true);
                }
                Err(GatewayError::Aborted(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Err(GatewayError::Aborted(format!(
            "proposal {id} kept changing during the re-screen"
        )))
    }
}

/// Runs [`Pipeline::rescreen_in_flight`] every time a list version adding addresses is swapped
/// in, until `stopped` (a version that only removes addresses cannot list anything in flight;
/// the delisting takes effect at the next evaluation). Changes arriving during a re-screen are
/// folded into one more pass.
pub async fn follow_list_changes<S: ProposalStore, T: StateProvider>(
    pipeline: Arc<Pipeline<S, T>>,
    stopped: CancellationToken,
) {
    let mut generation = pipeline.lists.subscribe_designations();
    generation.borrow_and_update();
    loop {
        tokio::select! {
            () = stopped.cancelled() => break,
            changed = generation.changed() => {
                if changed.is_err() {
                    break;
                }
            }
        }
        generation.borrow_and_update();
        let started = std::time::Instant::now();
        match pipeline.rescreen_in_flight().await {
            Ok(report) => tracing::info!(
                checked = report.checked,
                denied = report.denied.len(),
                failed = report.failed,
                elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                "proposals in flight re-screened after a sanctions list change"
            ),
            Err(error) => {
                tracing::error!(%error, "re-screen after a list change failed; retrying shortly");
                tokio::time::sleep(Duration::from_secs(1)).await;
                // Mark as changed so the loop runs again.
                generation.mark_changed();
            }
        }
    }
}
