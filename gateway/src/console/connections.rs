//! Browser connections: plain HTTP on loopback in the demo, HTTPS with a client certificate
//! under mutual TLS, and every request tagged with the connection it came on
//! ([`ConsolePeer`]), which is what the console's calls into the gateway are authorised on.
//!
//! Under mutual TLS the handshake asks for a client certificate and verifies its chain against
//! `tls.client_ca` (rustls-webpki, as the gRPC server does); a browser without one never gets
//! an HTTP response. Who the certificate names, and what it may see, is decided per request by
//! the gateway's own authoriser ([`crate::server::auth`]).

use std::{sync::Arc, time::Duration};

use hyper::{body::Incoming, server::conn::http1};
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls::{
    RootCertStore, ServerConfig, crypto::ring::default_provider, server::WebPkiClientVerifier,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject as _};
use tokio::task::JoinSet;
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::TcpListener,
};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

use crate::{config::TlsFiles, server::auth::ConsolePeer};

/// How long a browser has to finish the TLS handshake, and to send a request's headers.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Most browser connections open at once; one more is closed as soon as it is accepted. A
/// handful of people use a console: this bounds what anyone who can reach the port (no
/// certificate needed to open a TCP connection) can hold open.
pub const MAX_CONNECTIONS: usize = 256;

/// How long a stop waits for open requests (a live page's event stream ends with the
/// gateway's watch streams) before it closes their connections.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the console's TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleTlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("console TLS: {path}: {why}")]
    Pem {
        /// The file.
        path: std::path::PathBuf,
        /// What was wrong with it.
        why: String,
    },
    /// rustls refused the material.
    #[error("console TLS: {0}")]
    Rustls(String),
}

/// The console's TLS server configuration: the gateway's own certificate (`tls.cert`,
/// `tls.key`) and a client certificate required from every browser, chained to
/// `tls.client_ca`. HTTP/1.1 only (what the console speaks).
pub fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, ConsoleTlsError> {
    let pem = |path: &std::path::Path, why: String| ConsoleTlsError::Pem {
        path: path.to_owned(),
        why,
    };
    let chain = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| pem(&files.cert, e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem(&files.cert, e.to_string()))?;
    if chain.is_empty() {
        return Err(pem(&files.cert, "holds no certificate".to_owned()));
    }
    let key =
        PrivateKeyDer::from_pem_file(&files.key).map_err(|e| pem(&files.key, e.to_string()))?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&files.client_ca)
        .map_err(|e| pem(&files.client_ca, e.to_string()))?
    {
        let cert = cert.map_err(|e| pem(&files.client_ca, e.to_string()))?;
        roots
            .add(cert)
            .map_err(|e| pem(&files.client_ca, e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(pem(&files.client_ca, "holds no certificate".to_owned()));
    }
    let provider = Arc::new(default_provider());
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| ConsoleTlsError::Rustls(e.to_string()))?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConsoleTlsError::Rustls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| ConsoleTlsError::Rustls(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Accepts connections on `listener` until `stopped`, serving `app` on each (over TLS with
/// `tls`, else plain), then drains what is open for at most `DRAIN_TIMEOUT` (5 s).
pub async fn accept(
    listener: TcpListener,
    app: axum::Router,
    tls: Option<Arc<ServerConfig>>,
    stopped: CancellationToken,
) {
    let acceptor = tls.map(TlsAcceptor::from);
    // A set, not a tracker: what is still open after the drain is aborted when it drops.
    let mut connections = JoinSet::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, addr) = tokio::select! {
            () = stopped.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors, or a connection reset before it was accepted: the
                    // next accept may work; do not spin.
                    tracing::warn!(error = %e, "console: accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Reap the connections that ended, so the set holds only open ones.
        while connections.try_join_next().is_some() {}
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%addr, "console: {MAX_CONNECTIONS} connections open; closing a new one");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let acceptor = acceptor.clone();
        let stopped = stopped.clone();
        connections.spawn(async move {
            let _slot = slot;
            match acceptor {
                None => serve(stream, ConsolePeer { addr, certs: None }, app, stopped).await,
                Some(acceptor) => {
                    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                        .await
                    {
                        Ok(Ok(tls)) => tls,
                        Ok(Err(e)) => {
                            tracing::info!(%addr, error = %e, "console: TLS handshake refused");
                            return;
                        }
                        Err(_) => {
                            tracing::info!(%addr, "console: TLS handshake timed out");
                            return;
                        }
                    };
                    let certs = tls
                        .get_ref()
                        .1
                        .peer_certificates()
                        .map(|c| Arc::new(c.iter().map(|c| c.clone().into_owned()).collect()));
                    serve(tls, ConsolePeer { addr, certs }, app, stopped).await;
                }
            }
        });
    }
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("console: connections still open after the drain; closing them");
        connections.shutdown().await;
    }
}

/// One connection: HTTP/1.1, each request tagged with `peer`, ended gracefully on `stopped`.
async fn serve<S>(stream: S, peer: ConsolePeer, app: axum::Router, stopped: CancellationToken)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(peer.clone());
        app.clone().oneshot(req)
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HANDSHAKE_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        () = stopped.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}
