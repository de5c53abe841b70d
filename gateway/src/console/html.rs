//! The page shell every console page shares, and the pages for errors.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};
use maud::{DOCTYPE, Markup, html};

/// One section of the navigation, to mark the current one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Section {
    /// Proposals and their decisions.
    Proposals,
    /// The audit log.
    Audit,
    /// Enrolling a security key.
    Enrol,
    /// The admin's pages.
    Admin,
}

/// A full page: `title` in the tab and as the page's one `h1`, `body` below it.
pub(super) fn page(section: Section, title: &str, body: Markup) -> Markup {
    let current = |s: Section| if s == section { Some("page") } else { None };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — signgate" }
                link rel="stylesheet" href="/static/console.css";
                script src="/static/console.js" defer {}
            }
            body {
                header {
                    nav aria-label="Sections" {
                        span.brand { "signgate" }
                        a href="/proposals" aria-current=[current(Section::Proposals)] { "Proposals" }
                        a href="/audit" aria-current=[current(Section::Audit)] { "Audit log" }
                        a href="/enrol" aria-current=[current(Section::Enrol)] { "Enrol a security key" }
                        a href="/admin/operators" aria-current=[current(Section::Admin)] { "Operators" }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// A page with `status` saying what went wrong and what to do.
pub(super) fn problem(status: StatusCode, title: &str, message: &str) -> Response {
    let section = Section::Proposals;
    (
        status,
        page(
            section,
            title,
            html! { p.problem role="alert" { (message) } },
        ),
    )
        .into_response()
}

/// The 404 page.
pub(super) fn not_found(message: &str) -> Response {
    problem(StatusCode::NOT_FOUND, "Not found", message)
}

/// The HTTP status of a failed gRPC call: one mapping for the pages and the script's JSON.
pub(super) fn http_status(code: tonic::Code) -> StatusCode {
    use tonic::Code;
    match code {
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::InvalidArgument => StatusCode::BAD_REQUEST,
        Code::PermissionDenied | Code::Unauthenticated => StatusCode::FORBIDDEN,
        Code::FailedPrecondition | Code::AlreadyExists => StatusCode::CONFLICT,
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        _ => StatusCode::BAD_GATEWAY,
    }
}

/// A failed gRPC call as a page: the status the gateway answered, in its words.
pub(super) fn from_status(status: &tonic::Status) -> Response {
    let http = http_status(status.code());
    let title = match http {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::BAD_REQUEST => "Bad request",
        StatusCode::FORBIDDEN => "Refused",
        StatusCode::CONFLICT => "Not possible now",
        StatusCode::SERVICE_UNAVAILABLE => "The gateway is unavailable",
        _ => "The gateway answered an error",
    };
    problem(http, title, status.message())
}
