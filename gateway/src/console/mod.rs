//! The web console for approvers and auditors: server-rendered pages of what the gateway
//! computed, never what some other UI claims.
//!
//! # Where its data comes from
//!
//! - **Proposals** through the gateway's own gRPC services, called in process on behalf of the
//!   browser (`Browser`): every page is built from the calls `signgate status` makes
//!   (`GetProposal`, `ListProposals`), and live updates follow `WatchProposal`. Each call
//!   passes the same interceptor, call observation (the anomaly rules count reads) and metrics
//!   as a network client's, decided on the browser's own connection: its address and, under
//!   mutual TLS, its client certificate. The console holds no identity or privilege of its
//!   own: a browser whose certificate may not call `Admin` sees no admin page, exactly as its
//!   owner's CLI would be refused.
//! - **The audit log** read-only from the log the gateway writes ([`AuditLog::reader`]):
//!   records by position, one proposal's story and the gateway's own events, in the words of
//!   `signgate audit show`; its verification against the newest signed checkpoint by the same
//!   code as `signgate audit verify`; and the export and checkpoint for an auditor to verify
//!   offline. Under mutual TLS only a browser whose certificate may call `Gateway` reads them.
//!
//! # What it serves, and how it defends the browser
//!
//! Plain HTML with one stylesheet and one small script, both served from here: a strict
//! Content-Security-Policy (no inline script or style, nothing from another origin), pages
//! that read fully with JavaScript off, and every value escaped by the templates (`maud`).
//!
//! - **Demo** (plaintext loopback): plain HTTP on a loopback address, answering only requests
//!   whose `Host` names that address, so a web page elsewhere cannot read it through DNS
//!   rebinding.
//! - **Production** (mutual TLS, `[console] url`): HTTPS with the gateway's certificate and a
//!   client certificate from `tls.client_ca` required in the handshake
//!   ([`connections`]); requests must name the console's URL in `Host`.

mod admin_pages;
mod assets;
mod audit_pages;
pub mod connections;
pub mod enrol;
mod html;
mod proposal_pages;
mod signing;

use std::{convert::Infallible, pin::Pin, sync::Arc, time::Duration};

use axum::{
    Router,
    extract::{FromRequestParts, Request, State},
    http::{HeaderValue, StatusCode, header, request::Parts},
    middleware::{self, Next},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use signgate_proto::v1::{admin_client::AdminClient, gateway_client::GatewayClient};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;

use crate::{
    audit::AuditLog,
    clock::SharedClock,
    config::ConsoleSite,
    server::auth::{Authorizer, ConsolePeer, Permission},
};

pub use audit_pages::report;

/// The Content-Security-Policy of every response: only this origin's script and stylesheet,
/// no inline code, no frames, forms posting only here.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// How long one gRPC call of a page may take before the page says the gateway is unavailable.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// What every page handler reads.
#[derive(Clone)]
pub struct Console {
    /// The gateway's `Gateway` and `Admin` services, with their interceptors and observation,
    /// called in process.
    services: Routes,
    /// The gateway's authoriser, for what the console serves without a gRPC call.
    authorizer: Authorizer,
    audit: Option<Arc<AuditLog>>,
    clock: SharedClock,
    site: Arc<ConsoleSite>,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console")
            .field("site", &self.site)
            .finish_non_exhaustive()
    }
}

impl Console {
    /// A console calling `services` (the gateway's intercepted `Gateway` and `Admin` services,
    /// as `serve_with` assembles them) for browsers authorised by `authorizer`, reading the
    /// audit log `audit`, served at `site`.
    pub fn new(
        services: Routes,
        authorizer: Authorizer,
        audit: Option<Arc<AuditLog>>,
        clock: SharedClock,
        site: ConsoleSite,
    ) -> Self {
        Self {
            services,
            authorizer,
            audit,
            clock,
            site: Arc::new(site),
        }
    }

    /// The `Gateway` service, called for `browser`.
    fn client(&self, browser: &Browser) -> GatewayClient<InProcess> {
        GatewayClient::new(self.in_process(browser))
    }

    /// The `Admin` service, called for `browser`.
    fn admin(&self, browser: &Browser) -> AdminClient<InProcess> {
        AdminClient::new(self.in_process(browser))
    }

    fn in_process(&self, browser: &Browser) -> InProcess {
        tower::timeout::Timeout::new(
            Tagged {
                services: self.services.clone(),
                peer: browser.0.clone(),
            },
            CALL_TIMEOUT,
        )
    }

    /// This console's origins: what a browser writes into what a security key signs here.
    fn origins(&self) -> &[String] {
        &self.site.origins
    }
}

/// The browser a request came from: its connection, as [`connections`] tagged the request.
/// Extracting it fails (403) for a request that came some other way, so no handler can call
/// the gateway without a browser's connection to decide on.
#[derive(Debug, Clone)]
pub(crate) struct Browser(ConsolePeer);

impl<S: Send + Sync> FromRequestParts<S> for Browser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        parts
            .extensions
            .get::<ConsolePeer>()
            .cloned()
            .map(Browser)
            .ok_or_else(|| {
                html::problem(
                    StatusCode::FORBIDDEN,
                    "Refused",
                    "this request did not come on a browser connection the console accepted",
                )
            })
    }
}

/// The gateway's services in process, with the browser's connection on every call, bounded
/// by [`CALL_TIMEOUT`].
type InProcess = tower::timeout::Timeout<Tagged>;

/// The gateway's services with every request tagged with the browser's connection: what the
/// interceptor authorises and the anomaly rules observe, as for a direct call.
#[derive(Clone)]
pub(crate) struct Tagged {
    services: Routes,
    peer: ConsolePeer,
}

type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T> + Send>>;

impl tower::Service<axum::http::Request<tonic::body::Body>> for Tagged {
    type Response = axum::http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        tower::Service::<axum::http::Request<tonic::body::Body>>::poll_ready(&mut self.services, cx)
    }

    fn call(&mut self, mut req: axum::http::Request<tonic::body::Body>) -> Self::Future {
        req.extensions_mut().insert(self.peer.clone());
        Box::pin(self.services.call(req))
    }
}

/// The console's routes, with its security headers, `Host` check and (under mutual TLS) the
/// browser's identity check.
pub fn router(console: Console) -> Router {
    let hosts = Arc::new(console.site.hosts.clone());
    let origins = Arc::new(console.site.origins.clone());
    let gate = console.clone();
    Router::new()
        .route("/", get(|| async { Redirect::to("/proposals") }))
        .route("/proposals", get(proposal_pages::list))
        .route("/proposals/{id}", get(proposal_pages::one))
        .route("/proposals/{id}/events", get(proposal_pages::events))
        .route("/proposals/{id}/statement", get(signing::statement))
        .route("/proposals/{id}/sign", post(signing::sign))
        .route("/admin/operators", get(admin_pages::operators))
        .route("/enrol", get(enrol::page_handler))
        .route("/enrol/options", get(enrol::options))
        .route("/enrol", post(enrol::register))
        .route("/enrol/proof", post(enrol::proof))
        .route("/audit", get(audit_pages::log))
        .route("/audit/events", get(audit_pages::gateway_events))
        .route("/audit/proposals/{id}", get(audit_pages::story))
        .route("/audit/export.jsonl", get(audit_pages::export))
        .route("/audit/checkpoint.note", get(audit_pages::checkpoint))
        .route("/audit/audit.pub", get(audit_pages::public_key))
        .route_layer(middleware::from_fn_with_state(gate, only_readers))
        .route("/static/console.css", get(assets::stylesheet))
        .route("/static/console.js", get(assets::script))
        // Browsers ask for it unprompted; no icon, and no 404 in their console.
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .fallback(|| async { html::not_found("No such page.") })
        .with_state(console)
        .layer(middleware::from_fn_with_state(origins, only_own_origin))
        .layer(middleware::from_fn(security_headers))
        .layer(middleware::from_fn_with_state(hosts, only_own_host))
}

/// Serves the console on `listener` (HTTPS with `tls` under mutual TLS, else plain HTTP) until
/// `stopped` is cancelled, then drains its connections. Binding is the caller's job
/// (`serve::serve_with` binds `console.listen`; tests bind 127.0.0.1:0).
pub async fn serve(
    listener: TcpListener,
    console: Console,
    tls: Option<Arc<rustls::ServerConfig>>,
    stopped: CancellationToken,
) {
    connections::accept(listener, router(console), tls, stopped).await;
}

/// Refuses every page to a browser whose certificate may not call the `Gateway` service: the
/// pages read what `Gateway` calls return, and the audit log, which is no less to see.
/// (Admin pages are refused further by the `Admin` service itself.)
async fn only_readers(
    State(console): State<Console>,
    browser: Browser,
    req: Request,
    next: Next,
) -> Response {
    match console
        .authorizer
        .console_caller(&browser.0, Permission::Gateway)
    {
        Ok(_) => next.run(req).await,
        Err(status) => {
            tracing::warn!(
                browser = %browser.0.addr,
                path = %req.uri().path(),
                reason = status.message(),
                "console: a browser whose certificate may not read was refused"
            );
            html::from_status(&status)
        }
    }
}

/// Refuses a request whose `Host` is not the console's own: what a page on another site
/// would send after rebinding its name to 127.0.0.1.
async fn only_own_host(
    State(hosts): State<Arc<Vec<String>>>,
    req: Request,
    next: Next,
) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_ascii_lowercase);
    match host {
        Some(h) if hosts.contains(&h) => next.run(req).await,
        _ => (
            StatusCode::MISDIRECTED_REQUEST,
            "this console answers only requests addressed to its own name (its URL or, in the demo, its loopback address)\n",
        )
            .into_response(),
    }
}

/// Refuses a request that changes something (any method but GET and HEAD) when the browser
/// says it comes from a page of another origin. Browsers mark every cross-origin POST with
/// `Origin`; under mutual TLS they would otherwise present the user's client certificate to
/// this console for a page on any site (cross-site request forgery). The console's own pages
/// send its own origin; a client that is not a browser sends none.
async fn only_own_origin(
    State(origins): State<Arc<Vec<String>>>,
    req: Request,
    next: Next,
) -> Response {
    let changes = !matches!(
        *req.method(),
        axum::http::Method::GET | axum::http::Method::HEAD
    );
    let foreign = req.headers().get(header::ORIGIN).is_some_and(|o| {
        o.to_str()
            .map_or(true, |o| !origins.iter().any(|own| own == o))
    });
    if changes && foreign {
        return html::problem(
            StatusCode::FORBIDDEN,
            "Refused",
            "this request came from a page of another site; open the console itself to do this",
        );
    }
    next.run(req).await
}

/// The headers every response carries.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    res
}
