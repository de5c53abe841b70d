//! The web console for approvers and auditors: server-rendered pages of what the gateway
//! computed, never what some other UI claims.
//!
//! # Where its data comes from
//!
//! - **Proposals** through the gateway's own gRPC API, as a client on loopback: every page is
//!   built from the calls `signgate status` makes (`GetProposal`, `ListProposals`), and live
//!   updates follow `WatchProposal`. The console therefore holds no privilege of its own, and
//!   every read passes the same authorisation, call observation (the anomaly rules count
//!   reads) and metrics as any client's.
//! - **The audit log** read-only from the log the gateway writes ([`AuditLog::reader`]):
//!   records by position, one proposal's story and the gateway's own events, in the words of
//!   `signgate audit show`; its verification against the newest signed checkpoint by the same
//!   code as `signgate audit verify`; and the export and checkpoint for an auditor to verify
//!   offline.
//!
//! # What it serves, and how it defends the browser
//!
//! Plain HTML with one stylesheet and one small script, both served from here: a strict
//! Content-Security-Policy (no inline script or style, nothing from another origin), pages
//! that read fully with JavaScript off, and every value escaped by the templates (`maud`). The
//! console listens on loopback only (`[console] listen`, plaintext demo), and answers only
//! requests whose `Host` names that loopback address, so a web page elsewhere cannot read it
//! through DNS rebinding.

mod admin_pages;
mod assets;
mod audit_pages;
pub mod enrol;
mod html;
mod proposal_pages;
mod signing;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Router,
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use signgate_proto::v1::gateway_client::GatewayClient;
use tokio::net::TcpListener;
use tonic::transport::{Channel, Endpoint};

use crate::{audit::AuditLog, clock::SharedClock};

pub use audit_pages::report;

/// The Content-Security-Policy of every response: only this origin's script and stylesheet,
/// no inline code, no frames, forms posting only here.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// How long one gRPC call of a page may take before the page says the gateway is unavailable.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the console could not start.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The gateway's gRPC address is not usable as an endpoint.
    #[error("console: the gateway's address {0} is not a usable endpoint")]
    Endpoint(SocketAddr),
    /// The listener's own address could not be read.
    #[error("console: reading the listener's address: {0}")]
    Listener(#[source] std::io::Error),
}

/// What every page handler reads.
#[derive(Debug, Clone)]
pub struct Console {
    grpc: Channel,
    audit: Option<Arc<AuditLog>>,
    clock: SharedClock,
    /// This console's origins (`http://localhost:PORT`, `http://127.0.0.1:PORT`): what a
    /// browser writes into what a security key signs here.
    origins: Vec<String>,
}

impl Console {
    /// A console reading proposals from the gateway serving gRPC at `grpc` (a loopback
    /// address: the console connects lazily, on the first page) and the audit log `audit`.
    pub fn new(
        grpc: SocketAddr,
        audit: Option<Arc<AuditLog>>,
        clock: SharedClock,
    ) -> Result<Self, ConsoleError> {
        let endpoint = Endpoint::from_shared(format!("http://{grpc}"))
            .map_err(|_| ConsoleError::Endpoint(grpc))?
            .timeout(CALL_TIMEOUT)
            .tcp_nodelay(true);
        Ok(Self {
            grpc: endpoint.connect_lazy(),
            audit,
            clock,
            origins: Vec::new(),
        })
    }

    fn client(&self) -> GatewayClient<Channel> {
        GatewayClient::new(self.grpc.clone())
    }

    /// The channel to the gateway, for the Admin service's client.
    fn channel(&self) -> Channel {
        self.grpc.clone()
    }
}

/// The console's routes, with its security headers and `Host` check, for requests addressed
/// to `local` (the console's own listening address).
pub fn router(mut console: Console, local: SocketAddr) -> Router {
    let hosts = accepted_hosts(local);
    console.origins = hosts.iter().map(|h| format!("http://{h}")).collect();
    let hosts = Arc::new(hosts);
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
        .route("/static/console.css", get(assets::stylesheet))
        .route("/static/console.js", get(assets::script))
        // Browsers ask for it unprompted; no icon, and no 404 in their console.
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .fallback(|| async { html::not_found("No such page.") })
        .with_state(console)
        .layer(middleware::from_fn(security_headers))
        .layer(middleware::from_fn_with_state(hosts, only_own_host))
}

/// Serves the console on `listener` until `shutdown` completes. Binding is the caller's job
/// (`serve::run` binds `console.listen`; tests bind 127.0.0.1:0).
pub async fn serve(
    listener: TcpListener,
    console: Console,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ConsoleError> {
    let local = listener.local_addr().map_err(ConsoleError::Listener)?;
    let app = router(console, local);
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!(error = %e, "the console stopped serving");
    }
    Ok(())
}

/// The `Host` values a browser sends for the console's address: `localhost` with its port
/// (the name security keys can be used under) and, on loopback, the address itself.
fn accepted_hosts(local: SocketAddr) -> Vec<String> {
    let port = local.port();
    let mut hosts = Vec::new();
    if local.ip().is_loopback() {
        hosts.push(format!("localhost:{port}"));
    }
    hosts.push(local.to_string());
    hosts
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
            "this console answers only requests addressed to its own loopback address\n",
        )
            .into_response(),
    }
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
