//! The exposition server: plain HTTP/1.1 on `metrics.listen`, answering `GET /metrics` with
//! the registry as OpenMetrics text and anything else with 404.
//!
//! hyper directly (already in the tree through tonic), no web framework: one route does not
//! need a router. The endpoint exposes no secret, so it has no TLS and no authentication;
//! `serve::run` logs a warning when it listens beyond loopback.

use std::{convert::Infallible, future::Future, sync::Arc, time::Duration};

use http_body_util::Full;
use hyper::{
    Method, Request, Response, StatusCode,
    body::{Bytes, Incoming},
    header::{CONTENT_TYPE, HeaderValue},
    server::conn::http1,
    service::service_fn,
};
use hyper_util::rt::TokioIo;
use tokio::{net::TcpListener, task::JoinSet};

use super::Metrics;

/// The OpenMetrics text format's media type.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Pause after a failed accept (out of descriptors, …) so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

fn plain(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r
}

/// The one route.
fn respond<B>(metrics: &Metrics, req: &Request<B>) -> Response<Full<Bytes>> {
    if req.uri().path() != "/metrics" {
        return plain(StatusCode::NOT_FOUND, "not found; try GET /metrics\n");
    }
    if req.method() != Method::GET {
        return plain(StatusCode::NOT_FOUND, "only GET /metrics is served\n");
    }
    match metrics.encode() {
        Ok(text) => {
            let mut r = Response::new(Full::new(Bytes::from(text)));
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(OPENMETRICS));
            r
        }
        Err(_) => {
            tracing::error!("encoding the metrics failed");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "encoding failed\n")
        }
    }
}

/// Serves `metrics` on `listener` until `shutdown` completes; open connections are closed
/// then. Binding is the caller's job (`serve::run` binds `metrics.listen`, tests 127.0.0.1:0).
/// A failed accept is logged and retried: metrics never stop the gateway.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send,
) {
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "metrics: accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        // Reap finished connections so the set does not grow with every scrape.
        while connections.try_join_next().is_some() {}
        let metrics = metrics.clone();
        connections.spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let response = respond(&metrics, &req);
                async move { Ok::<_, Infallible>(response) }
            });
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%peer, error = %e, "metrics: connection ended with an error");
            }
        });
    }
    connections.shutdown().await;
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    /// A hand-written HTTP/1.1 request; the whole response as text.
    async fn request(addr: std::net::SocketAddr, line: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("{line}\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn only_get_metrics_is_served() {
        let metrics = Arc::new(Metrics::default());
        metrics.release(true);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, metrics, async move {
            let _ = stopped.await;
        }));

        let ok = request(addr, "GET /metrics HTTP/1.1").await;
        assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
        assert!(
            ok.to_ascii_lowercase()
                .contains("content-type: application/openmetrics-text"),
            "{ok}"
        );
        assert!(
            ok.contains("signgate_releases_total{result=\"returned\"} 1"),
            "{ok}"
        );
        for line in [
            "GET / HTTP/1.1",
            "GET /metrics/x HTTP/1.1",
            "GET /debug HTTP/1.1",
            "POST /metrics HTTP/1.1",
        ] {
            let r = request(addr, line).await;
            assert!(r.starts_with("HTTP/1.1 404"), "{line}: {r}");
            assert!(!r.contains("signgate_"), "{line}: {r}");
        }

        stop.send(()).unwrap();
        server.await.unwrap();
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_err(),
            "the listener is closed after shutdown"
        );
    }
}
