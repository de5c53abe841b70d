//! The auditor's pages: the log by position, time and kind; one proposal's story and the
//! gateway's own events (the words of `signgate audit show`); whether the log verifies against
//! its newest signed checkpoint (the code of `signgate audit verify`); and the files an auditor
//! takes away to verify offline without trusting this gateway: the export, the newest
//! checkpoint and the audit public key.

use std::sync::Arc;

use axum::{
    extract::{Path, Query, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use maud::{Markup, html};
use serde::Deserialize;
use signgate_audit::{
    AuditRecord,
    checkpoint::parse_note,
    export::{export_jsonl, note_file_name},
    story::{events, story as proposal_story},
    verify::{Verification, verify_export_by_any},
};

use super::{
    Console,
    html::{Section, page, problem},
};
use crate::audit::AuditLog;

/// Records shown on one page of the log.
const PAGE: u64 = 100;

/// Everything read from the log for one page.
#[derive(Debug)]
struct Snapshot {
    leaves: Vec<Vec<u8>>,
    notes: Vec<String>,
    public_key: ed25519_dalek::VerifyingKey,
}

impl Snapshot {
    fn records(&self) -> Vec<Option<AuditRecord>> {
        self.leaves
            .iter()
            .map(|l| AuditRecord::from_bytes(l).ok())
            .collect()
    }

    fn export(&self, proofs: bool) -> Result<Vec<u8>, signgate_audit::export::ExportError> {
        let mut out = Vec::new();
        export_jsonl(&self.leaves, &self.notes, proofs, &mut out)?;
        Ok(out)
    }

    /// The newest checkpoint note (the one of the largest tree).
    fn newest_note(&self) -> Option<&String> {
        self.notes
            .iter()
            .filter_map(|n| parse_note(n).ok().map(|(c, _)| (c.size, c.time, n)))
            .max_by_key(|(size, time, _)| (*size, *time))
            .map(|(_, _, n)| n)
    }

    fn verify(&self) -> Result<Verification, signgate_audit::export::ExportError> {
        let export = self.export(false)?;
        let notes: Vec<(String, String)> = self
            .notes
            .iter()
            .filter_map(|n| {
                parse_note(n)
                    .ok()
                    .map(|(c, _)| (note_file_name(c.size), n.clone()))
            })
            .collect();
        Ok(verify_export_by_any(
            &export,
            &notes,
            std::slice::from_ref(&self.public_key),
            None,
        ))
    }
}

/// Reads the whole log (a blocking read, off the async threads).
async fn snapshot(console: &Console) -> Result<Snapshot, Response> {
    let Some(log) = console.audit.clone() else {
        return Err(problem(
            StatusCode::NOT_FOUND,
            "No audit log",
            "This gateway runs without an audit log.",
        ));
    };
    let read = tokio::task::spawn_blocking(move || read(&log)).await;
    match read {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "The audit log cannot be read",
            &e.to_string(),
        )),
        Err(_) => Err(problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The audit log cannot be read",
            "the read stopped unexpectedly",
        )),
    }
}

fn read(log: &Arc<AuditLog>) -> Result<Snapshot, crate::audit::AuditError> {
    let reader = log.reader()?;
    Ok(Snapshot {
        leaves: reader.leaves()?,
        notes: reader.checkpoints()?,
        public_key: log.public_key(),
    })
}

/// `?from=N&kind=K`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct LogQuery {
    /// The first position shown (default: the newest page).
    from: Option<u64>,
    /// Only records of this kind (`proposal_submitted`, `decision_made`, …).
    #[serde(default)]
    kind: String,
    /// Only records at or after this instant (RFC 3339, `2026-12-07T10:00:00Z`).
    #[serde(default)]
    since: String,
}

/// `GET /audit`.
pub(super) async fn log(State(console): State<Console>, Query(q): Query<LogQuery>) -> Response {
    let since = match q.since.trim() {
        "" => None,
        text => match text.parse::<jiff::Timestamp>() {
            Ok(t) => Some(t.as_millisecond()),
            Err(_) => {
                return problem(
                    StatusCode::BAD_REQUEST,
                    "Bad request",
                    &format!("{text:?} is not an instant like 2026-12-07T10:00:00Z"),
                );
            }
        },
    };
    let snap = match snapshot(&console).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let now = u64::try_from(console.clock.now().0 / 1000).unwrap_or(0);
    let verification = snap.verify();
    let records = snap.records();
    let total = records.len() as u64;
    let from = q.from.unwrap_or_else(|| total.saturating_sub(PAGE));
    let mut kinds: Vec<&'static str> = records.iter().flatten().map(|r| r.event.kind()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let shown: Vec<(u64, &Option<AuditRecord>)> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (i as u64, r))
        .filter(|(_, r)| q.kind.is_empty() || r.as_ref().is_some_and(|r| r.event.kind() == q.kind))
        .filter(|(_, r)| {
            since.is_none_or(|t| {
                r.as_ref()
                    .is_some_and(|r| i64::try_from(r.at_ms).is_ok_and(|at| at >= t))
            })
        })
        .skip_while(|(i, _)| *i < from)
        .take(usize::try_from(PAGE).unwrap_or(usize::MAX))
        .collect();
    page(
        Section::Audit,
        "Audit log",
        html! {
            (verification_section(verification.as_ref().ok(), now))
            section aria-labelledby="take-h" {
                h2 #take-h { "Verify it yourself" }
                p { "Download the log, its newest signed checkpoint and the gateway's audit public key, then run "
                    code { "signgate audit verify --log export.jsonl --checkpoints checkpoint.note --public-key audit.pub" }
                    " (or " code { "signgate-audit verify" } ") on a machine you trust." }
                ul {
                    li { a href="/audit/export.jsonl" download="export.jsonl" { "export.jsonl" } " (every record, with inclusion proofs)" }
                    li { a href="/audit/checkpoint.note" download="checkpoint.note" { "checkpoint.note" } " (the newest signed checkpoint)" }
                    li { a href="/audit/audit.pub" download="audit.pub" { "audit.pub" } " (the audit public key)" }
                }
                p { a href="/audit/events" { "The gateway's own events" } " (starts, policies, lists, operator changes, alerts)." }
            }
            section aria-labelledby="records-h" {
                h2 #records-h { "Records" }
                form.filters method="get" action="/audit" {
                    label for="from" { "From position" }
                    input #from name="from" type="number" min="0" value=(from);
                    label for="kind" { "Kind" }
                    select #kind name="kind" {
                        option value="" selected[q.kind.is_empty()] { "any" }
                        @for k in &kinds { option value=(k) selected[q.kind == *k] { (k) } }
                    }
                    label for="since" { "At or after (UTC)" }
                    input #since name="since" type="text" value=(q.since) placeholder="2026-12-07T10:00:00Z";
                    button type="submit" { "Show" }
                }
                p.small { (total) " records in all." }
                table.records {
                    caption { "Records from position " (from) }
                    thead { tr { th scope="col" { "#" } th scope="col" { "Time (UTC)" } th scope="col" { "Kind" } th scope="col" { "Proposal" } th scope="col" { "Record" } } }
                    tbody { @for (i, r) in &shown { (record_row(*i, r.as_ref(), |id| format!("/audit/proposals/{id}"))) } }
                }
                @if from > 0 {
                    p { a href={ "/audit?from=" (from.saturating_sub(PAGE)) "&kind=" (q.kind) } { "Earlier records" } }
                }
            }
        },
    )
    .into_response()
}

/// One record as a table row; `story` makes the link to a proposal's story.
fn record_row(index: u64, r: Option<&AuditRecord>, story: fn(&str) -> String) -> Markup {
    html! {
        tr id={ "r" (index) } {
            td { (index) }
            @match r {
                None => { td colspan="4" { strong.bad { "unreadable record" } } }
                Some(r) => {
                    td { (jiff::Timestamp::from_millisecond(i64::try_from(r.at_ms).unwrap_or(i64::MAX)).map(|t| t.to_string()).unwrap_or_default()) }
                    td { code { (r.event.kind()) } }
                    td { @if let Some(id) = r.proposal_id() { a href=(story(id)) { code { (id) } } } }
                    td { details { summary { "JSON" } pre { (serde_json::to_string_pretty(&r.event).unwrap_or_default()) } } }
                }
            }
        }
    }
}

fn verification_section(v: Option<&Verification>, now: u64) -> Markup {
    html! {
        section aria-labelledby="verify-h" {
            h2 #verify-h { "Verification against the newest checkpoint" }
            @match v {
                None => p.verdict.bad role="alert" { "The log could not be exported for verification." },
                Some(v) => {
                    @if v.passed() {
                        p.verdict.good { "PASS — every record hashes into the signed checkpoints." }
                    } @else {
                        p.verdict.bad role="alert" { "FAIL — " (v.findings.len()) " finding(s)." }
                    }
                    pre.report { (v.report(now)) }
                    p.small { "Checked here by the gateway with its own key; an auditor checks the downloaded files offline." }
                }
            }
        }
    }
}

/// `GET /audit/events`.
pub(super) async fn gateway_events(State(console): State<Console>) -> Response {
    let snap = match snapshot(&console).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let records: Vec<AuditRecord> = snap.records().into_iter().flatten().collect();
    page(
        Section::Audit,
        "The gateway's own events",
        html! { pre.story { (events(&records)) } },
    )
    .into_response()
}

/// `GET /audit/proposals/{id}`.
pub(super) async fn story(State(console): State<Console>, Path(id): Path<String>) -> Response {
    let snap = match snapshot(&console).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let records: Vec<AuditRecord> = snap.records().into_iter().flatten().collect();
    match proposal_story(&records, &id) {
        Some(s) => page(
            Section::Audit,
            &format!("The story of proposal {id}"),
            html! {
                p { a href={ "/proposals/" (id) } { "The proposal as it is now" } }
                pre.story { (s) }
            },
        )
        .into_response(),
        None => problem(
            StatusCode::NOT_FOUND,
            "Not found",
            &format!("No record mentions proposal {id}."),
        ),
    }
}

fn download(body: Vec<u8>, content_type: &'static str, name: &'static str) -> Response {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

/// `GET /audit/export.jsonl`: the log as `signgate audit export --proofs` writes it.
pub(super) async fn export(State(console): State<Console>) -> Response {
    let snap = match snapshot(&console).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match snap.export(true) {
        Ok(body) => download(body, "application/jsonl", "export.jsonl"),
        Err(e) => problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The log could not be exported",
            &e.to_string(),
        ),
    }
}

/// `GET /audit/checkpoint.note`: the newest signed checkpoint.
pub(super) async fn checkpoint(State(console): State<Console>) -> Response {
    let snap = match snapshot(&console).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match snap.newest_note() {
        Some(note) => download(
            note.clone().into_bytes(),
            "text/plain; charset=utf-8",
            "checkpoint.note",
        ),
        None => problem(
            StatusCode::NOT_FOUND,
            "No checkpoint yet",
            "The gateway has not signed a checkpoint of its log yet.",
        ),
    }
}

/// `GET /audit/audit.pub`: the audit public key, as the `.pub` file holds it.
pub(super) async fn public_key(State(console): State<Console>) -> Response {
    let Some(log) = &console.audit else {
        return problem(
            StatusCode::NOT_FOUND,
            "No audit log",
            "This gateway runs without an audit log.",
        );
    };
    download(
        format!("{}\n", hex::encode(log.public_key().to_bytes())).into_bytes(),
        "text/plain; charset=utf-8",
        "audit.pub",
    )
}

/// The auditor's report as one self-contained HTML file (`signgate audit report`): the
/// verification of `export` against `notes` under `keys`, every record, the gateway's own
/// events and every proposal's story, with the console's stylesheet inlined and no script;
/// and whether the export passed. A pure function of its inputs (`now`, Unix seconds, dates
/// the newest checkpoint; `genesis` checks the chain of policies from its first link).
pub fn report(
    export: &[u8],
    notes: &[(String, String)],
    keys: &[ed25519_dalek::VerifyingKey],
    genesis: Option<&signgate_policy::Policy>,
    now: u64,
) -> Result<(String, bool), signgate_audit::export::UnreadableLine> {
    let verification = verify_export_by_any(export, notes, keys, genesis);
    let records = signgate_audit::export::records_from_export(export)?;
    let mut proposals: Vec<&str> = records
        .iter()
        .filter_map(AuditRecord::proposal_id)
        .collect();
    proposals.dedup();
    let mut seen = std::collections::BTreeSet::new();
    proposals.retain(|p| seen.insert(*p));
    let page = html! {
        (maud::DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "signgate audit report" }
                style { (maud::PreEscaped(super::assets::CSS)) }
            }
            body {
                main {
                    h1 { "signgate audit report" }
                    (verification_section(Some(&verification), now))
                    section aria-labelledby="events-h" {
                        h2 #events-h { "The gateway's own events" }
                        pre.story { (events(&records)) }
                    }
                    section aria-labelledby="stories-h" {
                        h2 #stories-h { "Proposals" }
                        @for id in &proposals {
                            h3 id={ "p-" (id) } { (id) }
                            pre.story { (proposal_story(&records, id).unwrap_or_default()) }
                        }
                    }
                    section aria-labelledby="records-h" {
                        h2 #records-h { "Records" }
                        table.records {
                            caption { (records.len()) " records" }
                            thead { tr { th scope="col" { "#" } th scope="col" { "Time (UTC)" } th scope="col" { "Kind" } th scope="col" { "Proposal" } th scope="col" { "Record" } } }
                            tbody { @for r in &records { (record_row(r.index, Some(r), |id| format!("#p-{id}"))) } }
                        }
                    }
                }
            }
        }
    };
    Ok((page.into_string(), verification.passed()))
}
