//! The HTTP/2 transport of the gateway's gRPC server, in one place, so that every server built
//! on it — `signgate serve` and the load generator's echo floor, whose whole point is to differ
//! from the gateway only in the work behind the call — gets the same settings and the same
//! defences. Before this module the echo floor copied them by hand and had lost the rapid-reset
//! bound.
//!
//! What a server built here has:
//! - a deadline on every call (`limits.call_timeout`);
//! - load shedding: a request over a concurrency limit is refused at once (UNAVAILABLE), not
//!   queued, so overload cannot build unbounded latency;
//! - `limits.concurrency_limit` requests in service per connection and, through
//!   [`GlobalConcurrencyLimitLayer`], across all connections (one client with many
//!   connections cannot take more);
//! - `limits.max_concurrent_streams` HTTP/2 streams per connection;
//! - HTTP/2 keepalive, so dead peers free their streams;
//! - a bound on streams a client may reset before the server answers them (the HTTP/2
//!   rapid-reset attack, CVE-2023-44487);
//! - TCP_NODELAY on accepted connections ([`incoming`]).
//!
//! Message size bounds are set per service (`max_decoding_message_size` on the generated
//! server type), so they stay with each service.

use std::time::Duration;

use tokio::net::TcpListener;
use tonic::transport::{Server, server::TcpIncoming};
use tower::{
    layer::util::{Identity, Stack},
    limit::GlobalConcurrencyLimitLayer,
};

use crate::config::Limits;

/// HTTP/2 keepalive: ping idle connections so dead peers free their streams.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
/// How long a keepalive ping may go unanswered before the connection is closed.
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// Streams a client may reset before being answered (rapid-reset defence).
pub const MAX_PENDING_RESETS: usize = 64;

/// What [`server_builder`] returns: a tonic server with the global concurrency limit layered.
pub type ServerBuilder = Server<Stack<GlobalConcurrencyLimitLayer, Identity>>;

/// A tonic server with every transport setting above, for `limits`. Add TLS
/// (`tls_config`), services, and serve it on [`incoming`].
#[must_use]
pub fn server_builder(limits: &Limits) -> ServerBuilder {
    Server::builder()
        .timeout(limits.call_timeout)
        .load_shed(true)
        .concurrency_limit_per_connection(limits.concurrency_limit.get())
        .max_concurrent_streams(limits.max_concurrent_streams.get())
        .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
        .http2_max_pending_accept_reset_streams(Some(MAX_PENDING_RESETS))
        .layer(GlobalConcurrencyLimitLayer::new(
            limits.concurrency_limit.get(),
        ))
}

/// The connections accepted on `listener`, with TCP_NODELAY: a small response must not wait for
/// the client's delayed ACK (Nagle's algorithm cost every call about 40 ms on Linux loopback;
/// see docs/benchmarks.md).
#[must_use]
pub fn incoming(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener).with_nodelay(Some(true))
}
