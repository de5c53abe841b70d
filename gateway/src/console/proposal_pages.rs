//! The approver's pages: proposals (filtered by Safe, state and time), and one proposal with
//! everything `signgate status` shows, in the same order and the gateway's own words.

use std::{convert::Infallible, time::Duration};

use axum::{
    extract::{Path, Query, State},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use futures_util::{Stream, StreamExt as _};
use maud::{Markup, html};
use serde::Deserialize;
use signgate_proto::{prost_types::Timestamp, v1 as pb};

use super::{
    Browser, Console,
    html::{Section, from_status, page, problem},
};

/// `?safe=0x…&state=needs_approvals&page=…`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ListQuery {
    /// Only this Safe's proposals.
    #[serde(default)]
    safe: String,
    /// Only proposals in this state (the state's name in lower case, as the filter offers).
    #[serde(default)]
    state: String,
    /// Only proposals created at or after this instant (RFC 3339, or a date: its midnight UTC).
    #[serde(default)]
    from: String,
    /// Only proposals created before this instant (the same forms).
    #[serde(default)]
    to: String,
    /// The next page's token, from the previous page.
    #[serde(default)]
    page: String,
}

/// An instant as the filters take it: RFC 3339 (`2026-12-07T10:00:00Z`) or a date
/// (`2026-12-07`, its midnight UTC); `None` for an empty field.
fn instant(text: &str) -> Result<Option<Timestamp>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let at = text
        .parse::<jiff::Timestamp>()
        .or_else(|_| {
            text.parse::<jiff::civil::Date>()
                .map_err(|_| ())
                .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).map_err(|_| ()))
                .map(|z| z.timestamp())
        })
        .map_err(|()| {
            format!(
                "{text:?} is not an instant like 2026-12-07T10:00:00Z or a date like 2026-12-07"
            )
        })?;
    Ok(Some(Timestamp {
        seconds: at.as_second(),
        nanos: 0,
    }))
}

/// Every state a proposal can be in, with the name the filter uses.
const STATES: [(pb::ProposalState, &str); 7] = [
    (pb::ProposalState::NeedsApprovals, "needs_approvals"),
    (pb::ProposalState::Approved, "approved"),
    (pb::ProposalState::Denied, "denied"),
    (pb::ProposalState::Rejected, "rejected"),
    (pb::ProposalState::Cancelled, "cancelled"),
    (pb::ProposalState::Released, "released"),
    (pb::ProposalState::Expired, "expired"),
];

/// A state in words.
pub(super) fn state_words(state: i32) -> &'static str {
    match pb::ProposalState::try_from(state).unwrap_or(pb::ProposalState::Unspecified) {
        pb::ProposalState::NeedsApprovals => "Needs approvals",
        pb::ProposalState::Approved => "Approved",
        pb::ProposalState::Denied => "Denied",
        pb::ProposalState::Rejected => "Rejected",
        pb::ProposalState::Cancelled => "Cancelled",
        pb::ProposalState::Released => "Released",
        pb::ProposalState::Expired => "Expired",
        pb::ProposalState::Unspecified => "Unknown",
    }
}

/// A protobuf timestamp as an RFC 3339 instant in UTC.
pub(super) fn when(t: Option<&Timestamp>) -> String {
    t.and_then(|t| jiff::Timestamp::from_second(t.seconds).ok())
        .map_or_else(|| "—".to_owned(), |t| t.to_string())
}

/// `GET /proposals`.
pub(super) async fn list(
    State(console): State<Console>,
    browser: Browser,
    Query(q): Query<ListQuery>,
) -> Response {
    let state = STATES.iter().find(|(_, name)| *name == q.state);
    if !q.state.is_empty() && state.is_none() {
        return problem(
            axum::http::StatusCode::BAD_REQUEST,
            "Bad request",
            &format!("{:?} is not a proposal state", q.state),
        );
    }
    let (created_after, created_before) = match (instant(&q.from), instant(&q.to)) {
        (Ok(from), Ok(to)) => (from, to),
        (Err(why), _) | (_, Err(why)) => {
            return problem(axum::http::StatusCode::BAD_REQUEST, "Bad request", &why);
        }
    };
    let req = pb::ListProposalsRequest {
        safe: q.safe.trim().to_owned(),
        states: state.map(|(s, _)| vec![*s as i32]).unwrap_or_default(),
        created_after,
        created_before,
        page_size: 50,
        page_token: q.page.clone(),
        ..Default::default()
    };
    let listed = match console.client(&browser).list_proposals(req).await {
        Ok(r) => r.into_inner(),
        Err(status) => return from_status(&status),
    };
    let next = (!listed.next_page_token.is_empty()).then(|| {
        let mut query = vec![("page", listed.next_page_token.as_str())];
        if !q.safe.is_empty() {
            query.push(("safe", q.safe.as_str()));
        }
        if !q.state.is_empty() {
            query.push(("state", q.state.as_str()));
        }
        if !q.from.is_empty() {
            query.push(("from", q.from.as_str()));
        }
        if !q.to.is_empty() {
            query.push(("to", q.to.as_str()));
        }
        serde_urlencoded::to_string(query).unwrap_or_default()
    });
    page(
        Section::Proposals,
        "Proposals",
        html! {
            form.filters method="get" action="/proposals" {
                label for="safe" { "Safe" }
                input #safe name="safe" type="text" value=(q.safe) placeholder="0x…" autocomplete="off";
                label for="state" { "State" }
                select #state name="state" {
                    option value="" selected[q.state.is_empty()] { "any" }
                    @for (s, name) in STATES {
                        option value=(name) selected[q.state == name] { (state_words(s as i32)) }
                    }
                }
                label for="from" { "Created at or after (UTC)" }
                input #from name="from" type="text" value=(q.from) placeholder="2026-12-07" autocomplete="off";
                label for="to" { "Created before (UTC)" }
                input #to name="to" type="text" value=(q.to) placeholder="2026-12-08T09:30:00Z" autocomplete="off";
                button type="submit" { "Filter" }
            }
            @if listed.proposals.is_empty() {
                p { "No proposal matches." }
            } @else {
                table.proposals {
                    caption { "Newest first" }
                    thead { tr {
                        th scope="col" { "Proposal" }
                        th scope="col" { "State" }
                        th scope="col" { "Safe" }
                        th scope="col" { "Chain" }
                        th scope="col" { "Nonce" }
                        th scope="col" { "Created (UTC)" }
                    } }
                    tbody {
                        @for p in &listed.proposals {
                            tr {
                                td { a href={ "/proposals/" (p.id) } { code { (p.id) } } }
                                td { span class={ "state " (state_class(p.state)) } { (state_words(p.state)) } }
                                td { code { (p.safe) } }
                                td { (p.chain_id) }
                                td { (p.nonce) }
                                td { (when(p.created_at.as_ref())) }
                            }
                        }
                    }
                }
            }
            @if let Some(next) = next {
                p { a href={ "/proposals?" (next) } { "Older proposals" } }
            }
        },
    )
    .into_response()
}

/// The CSS class of a state's badge.
fn state_class(state: i32) -> &'static str {
    match pb::ProposalState::try_from(state).unwrap_or(pb::ProposalState::Unspecified) {
        pb::ProposalState::Approved | pb::ProposalState::Released => "good",
        pb::ProposalState::NeedsApprovals => "waiting",
        _ => "bad",
    }
}

/// `GET /proposals/{id}`.
pub(super) async fn one(
    State(console): State<Console>,
    browser: Browser,
    Path(id): Path<String>,
) -> Response {
    let req = pb::GetProposalRequest { id };
    match console.client(&browser).get_proposal(req).await {
        Ok(p) => {
            let p = p.into_inner();
            page(
                Section::Proposals,
                &format!("Proposal {}", p.id),
                proposal(&p),
            )
            .into_response()
        }
        Err(status) => from_status(&status),
    }
}

/// `GET /proposals/{id}/events`: a server-sent event named `changed`, carrying the new
/// revision, whenever `WatchProposal` sends the proposal again; the page's script reloads on
/// it. The stream ends with the watch (a terminal state, the gateway stopping).
pub(super) async fn events(
    State(console): State<Console>,
    browser: Browser,
    Path(id): Path<String>,
) -> Response {
    let req = pb::WatchProposalRequest { id };
    match console.client(&browser).watch_proposal(req).await {
        Ok(stream) => {
            let events = revisions(stream.into_inner());
            Sse::new(events)
                .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
                .into_response()
        }
        Err(status) => from_status(&status),
    }
}

fn revisions(
    stream: tonic::Streaming<pb::ProposalEvent>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    stream
        .take_while(|e| std::future::ready(e.is_ok()))
        .filter_map(|e| {
            std::future::ready(e.ok().and_then(|e| e.proposal).map(|p| {
                Ok(Event::default()
                    .event("changed")
                    .data(p.revision.to_string()))
            }))
        })
}

/// The whole proposal, in the order `signgate status` prints it.
pub(super) fn proposal(p: &pb::Proposal) -> Markup {
    html! {
        div.summary data-proposal=(p.id) data-revision=(p.revision) {
            p {
                span class={ "state " (state_class(p.state)) } { (state_words(p.state)) }
                " · Safe " code { (p.safe) } " (version " (p.safe_version) ", chain " (p.chain_id) ")"
                " · initiated by " strong { (p.initiator) }
            }
            p.small { "Created " (when(p.created_at.as_ref())) ", last changed " (when(p.updated_at.as_ref())) ", revision " (p.revision) }
            @if !p.cancel_reason.is_empty() {
                p { "Cancelled: " (p.cancel_reason) }
            }
        }
        (decision(p))
        (sign_section(p))
        section aria-labelledby="actions-h" {
            h2 #actions-h { "What it does" }
            @if p.actions.is_empty() {
                p { "No decoded action." }
            } @else {
                ol.actions { @for a in &p.actions { (action(a)) } }
            }
            @for w in &p.display_warnings {
                p.warning role="note" { strong { "Warning: " } (w.message) }
            }
            @if let Some(i) = &p.intent {
                h3 { "What the initiator declared" }
                p { (i.description) }
                @if !i.recipient.is_empty() {
                    p.small { "recipient " code { (i.recipient) } ", amount " (i.amount) " " (i.asset) }
                }
            }
        }
        (simulation(p))
        section aria-labelledby="screening-h" {
            h2 #screening-h { "Sanctions screening" }
            @if p.screening_hits.is_empty() {
                p { "No address it touches is on a sanctions list the gateway holds." }
            } @else {
                ul { @for h in &p.screening_hits {
                    li.bad { "SANCTIONS HIT: " code { (h.address) } " at " (h.path) " on " (h.list) " (" (h.entry) ")" }
                } }
            }
        }
        (transaction(p))
        (approvals(p))
    }
}

/// The approve and reject buttons: only while the proposal waits for approvals (a denied
/// proposal offers none: no approval can release it).
fn sign_section(p: &pb::Proposal) -> Markup {
    if pb::ProposalState::try_from(p.state) != Ok(pb::ProposalState::NeedsApprovals) {
        return html! {};
    }
    html! {
        section #sign aria-labelledby="sign-h" data-sign=(p.id) {
            h2 #sign-h { "Approve or reject" }
            p { "With your enrolled security key or passkey. The key signs the exact statement shown before you touch it (proposal, chain, Safe, safeTxHash, verdict, time); the gateway checks it against the policy." }
            button #approve-button type="button" data-kind="approve" { "Approve with security key" }
            " "
            button #reject-button type="button" data-kind="reject" { "Reject with security key" }
            dl #statement.fields hidden {}
            p #sign-result role="status" aria-live="polite" {}
            noscript { p { "Approving needs JavaScript (the browser talks to the security key), or " code { "signgate approve" } "." } }
        }
    }
}

fn action(a: &pb::DecodedAction) -> Markup {
    html! {
        li {
            span.path { (a.path) } " "
            @if a.operation == "DELEGATECALL" { strong.bad { "DELEGATECALL " } }
            (a.description)
            @if !a.children.is_empty() {
                ol.actions { @for c in &a.children { (action(c)) } }
            }
        }
    }
}

fn reasons(list: &[pb::Reason]) -> Markup {
    html! {
        ul.reasons {
            @for r in list {
                li {
                    code { (r.code) } " "
                    (r.message.strip_prefix(&format!("[{}] ", r.code)).unwrap_or(&r.message))
                    @if !r.evidence.is_empty() {
                        dl.evidence {
                            @for e in &r.evidence { dt { (e.key) } dd { (e.value) } }
                        }
                    }
                }
            }
        }
    }
}

fn decision(p: &pb::Proposal) -> Markup {
    let outcome = p.decision.as_ref().and_then(|d| d.outcome.as_ref());
    html! {
        section aria-labelledby="decision-h" {
            h2 #decision-h { "Decision" }
            @match outcome {
                Some(pb::decision::Outcome::Denied(d)) => {
                    p.verdict.bad { "DENIED — no approval can release it." }
                    (reasons(&d.reasons))
                }
                Some(pb::decision::Outcome::NeedsApprovals(n)) => {
                    p.verdict.waiting { "Needs approvals." }
                    table {
                        caption { "Missing approvals, by group" }
                        thead { tr { th scope="col" { "Group" } th scope="col" { "Have" } th scope="col" { "Need" } th scope="col" { "Whose approval would count now" } } }
                        tbody { @for m in &n.missing {
                            tr {
                                td { (m.group) } td { (m.have) } td { (m.need) }
                                td { @if m.eligible_operators.is_empty() { "nobody" } @else { (m.eligible_operators.join(", ")) } }
                            }
                        } }
                    }
                    (reasons(&n.reasons))
                }
                Some(pb::decision::Outcome::Approved(a)) => {
                    p.verdict.good { "APPROVED — signatures may be requested from " (when(a.release_after.as_ref())) "." }
                    @if !a.notes.is_empty() { (reasons(&a.notes)) }
                }
                None => { p { "No decision." } }
            }
            @if let Some(d) = &p.decision {
                p.small { "Decided " (when(d.decided_at.as_ref())) " under policy " code { (d.policy_hash) } }
            }
        }
    }
}

fn simulation(p: &pb::Proposal) -> Markup {
    html! {
        section aria-labelledby="simulation-h" {
            h2 #simulation-h { "Simulation" }
            @match &p.simulation {
                None => p { "Not simulated." },
                Some(s) => {
                    p {
                        @if s.success { "execTransaction succeeds (" (s.gas_used) " gas)" }
                        @else { strong.bad { "execTransaction FAILS: " (s.error) } }
                        @if !s.state_block.is_empty() { " on the state of block " (s.state_block) }
                        "."
                    }
                    @if !s.signatures.is_empty() { p.small { (s.signatures) } }
                    h3 { "Changes to Safes" }
                    @if s.safe_changes.is_empty() { p { "None." } }
                    @else { ul { @for c in &s.safe_changes { li.bad { (c.description) } } } }
                    h3 { "Delegatecalls" }
                    @if s.delegatecalls.is_empty() { p { "None." } }
                    @else { ul { @for d in &s.delegatecalls {
                        li class=(if d.allowlisted { "good" } else { "bad" }) {
                            "DELEGATECALL to " code { (d.target) } " at " (d.path)
                            @if d.allowlisted { " (allowlisted)" } @else { " (NOT allowlisted)" }
                        }
                    } } }
                    h3 { "Asset movements" }
                    @if s.asset_movements.is_empty() { p { "None." } }
                    @else { ul { @for m in &s.asset_movements { li { (m.description) } } } }
                    @if !s.assumptions.is_empty() {
                        h3 { "Assumed" }
                        ul { @for a in &s.assumptions { li { (a) } } }
                    }
                }
            }
        }
    }
}

/// All ten SafeTx fields and the three hashes, to compare with a hardware wallet's screen.
fn transaction(p: &pb::Proposal) -> Markup {
    html! {
        section aria-labelledby="tx-h" {
            h2 #tx-h { "The transaction the signers sign" }
            @if let Some(h) = &p.hashes {
                dl.fields {
                    dt { "domain hash" } dd { code { (h.domain_hash) } }
                    dt { "message hash" } dd { code { (h.message_hash) } }
                    dt { "safeTxHash" } dd { code { (h.safe_tx_hash) } }
                }
            }
            @if let Some(t) = &p.transaction {
                dl.fields {
                    @for f in crate::api::fields::safe_tx_fields(t, None) {
                        dt { (f.name) } dd { code.data { (f.value) } }
                    }
                }
            }
        }
    }
}

fn approvals(p: &pb::Proposal) -> Markup {
    html! {
        section aria-labelledby="approvals-h" {
            h2 #approvals-h { "Approvals" }
            @if p.approvals.is_empty() {
                p { "None yet." }
            } @else {
                table {
                    caption { "Every approval and rejection received, and whether it counts" }
                    thead { tr { th scope="col" { "Operator" } th scope="col" { "Verdict" } th scope="col" { "Received (UTC)" } th scope="col" { "Counts" } } }
                    tbody { @for a in &p.approvals {
                        tr {
                            td { (a.operator) }
                            td { (match pb::ApprovalKind::try_from(a.kind) { Ok(pb::ApprovalKind::Approve) => "approve", Ok(pb::ApprovalKind::Reject) => "reject", _ => "unknown" }) }
                            td { (when(a.received_at.as_ref())) }
                            td {
                                @if a.counted { "yes" }
                                @else {
                                    "no"
                                    @if let Some(r) = &a.not_counted { ": " (r.message) }
                                }
                            }
                        }
                    } }
                }
            }
        }
    }
}
