//! One tower layer for what every `Gateway` and `Admin` call gets: its [`call_span`] and its
//! latency in `signgate_grpc_request_duration_seconds`, by method and gRPC status code.
//!
//! Applied to each of the two services in `serve_with` (outside the authorisation interceptor,
//! so refused calls are timed and logged like the rest), it replaces the per-method wrappers the
//! handlers used to carry. The handler runs inside the span, so `call_span::record_*` from a
//! handler, and from the tasks it spawns `in_current_span`, tag the same span.
//!
//! # What is measured
//!
//! From the moment the request reaches the service to the first thing the response says:
//! - an error answered without a message (a unary error, a refused call, a stream that fails
//!   before its first event): tonic puts `grpc-status` in the response headers, or, for a stream
//!   whose body is under way, in the trailers; the time is taken when the status is seen and the
//!   code is that status;
//! - a message: the time is taken when the first message is handed to the transport, and the code
//!   is `OK`. For a unary call that is the whole answer; for `WatchProposal` it is the first
//!   event (the proposal as it is now), not the life of the stream, and a stream that fails later
//!   is not counted again;
//! - a call abandoned before either — the client went away, or the server's call deadline
//!   (`limits.call_timeout`) passed and tonic answered CANCELLED — is timed when it is dropped,
//!   with code `CANCELLED`, which is what the client saw.
//!
//! Requests refused by the transport before reaching the service (load shedding, the
//! concurrency limits) are not timed here.
//!
//! # What the anomaly rules are told
//!
//! With an [`Observer`] ([`ObserveLayer::with_observer`]), each call runs inside a
//! [`CallFacts`] slot that the interceptor and the handlers fill, and when the call's code is
//! known (the moment it is timed, above) its facts and code go to the observer: one place sees
//! every call's outcome, refused calls included.
//!
//! The `method` label comes from a closed set, the methods of the `signgate.v1` services: the
//! path is the client's to choose, and an unknown one is labelled `unknown` so no request can
//! grow the number of series.

use std::{
    collections::HashMap,
    future::Future,
    pin::Pin,
    sync::{Arc, LazyLock},
    task::{Context, Poll},
    time::Instant,
};

use hyper::body::{Body as HttpBody, Frame, SizeHint};
use prost::Message as _;
use tonic::{
    Code, Status,
    body::Body,
    codegen::{
        Bytes,
        http::{self, HeaderMap},
    },
    server::NamedService,
};
use tower::{Layer, Service};
use tracing::Instrument as _;

use crate::{anomaly::observer::Observer, call_facts::CallFacts, call_span, metrics::Metrics};

/// The `method` label of an unknown path.
const UNKNOWN_METHOD: &str = "unknown";

/// `/signgate.v1.Service/Method` → `Method`, for every method of every `signgate.v1` service,
/// read once from the descriptor set the server also serves by reflection (so the set cannot
/// drift from the API). The names are leaked once per process: a few dozen bytes, and the labels
/// and span fields need `&'static str`.
static METHODS: LazyLock<HashMap<String, &'static str>> = LazyLock::new(|| {
    // The descriptor set is compiled in; were it unreadable, every call would be labelled
    // `unknown` — visible, and never a failed call.
    let set = prost_types::FileDescriptorSet::decode(signgate_proto::v1::FILE_DESCRIPTOR_SET)
        .unwrap_or_default();
    let mut methods = HashMap::new();
    for file in &set.file {
        for service in &file.service {
            for method in &service.method {
                let path = format!("/{}.{}/{}", file.package(), service.name(), method.name());
                let name: &'static str = Box::leak(method.name().to_owned().into_boxed_str());
                methods.insert(path, name);
            }
        }
    }
    methods
});

/// The `method` label and span field for a request path.
fn method_of(path: &str) -> &'static str {
    METHODS.get(path).copied().unwrap_or(UNKNOWN_METHOD)
}

/// The `grpc-status` in `headers` (response headers or trailers), if there is one. A value that
/// is not a status code reads as `UNKNOWN`, as a client would read it.
fn grpc_status(headers: &HeaderMap) -> Option<Code> {
    headers
        .get("grpc-status")
        .map(|v| Code::from_bytes(v.as_bytes()))
}

/// Wraps a service in [`Observed`]; see the module documentation.
#[derive(Debug, Clone)]
pub struct ObserveLayer {
    metrics: Arc<Metrics>,
    observer: Option<Observer>,
}

impl ObserveLayer {
    /// Records latencies into `metrics` (the pipeline's registry, so one endpoint serves all).
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self {
            metrics,
            observer: None,
        }
    }

    /// Also hands every finished call to `observer` (the anomaly rules).
    #[must_use]
    pub fn with_observer(mut self, observer: Observer) -> Self {
        self.observer = Some(observer);
        self
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observed<S>;

    fn layer(&self, inner: S) -> Observed<S> {
        Observed {
            inner,
            metrics: self.metrics.clone(),
            observer: self.observer.clone(),
        }
    }
}

/// A gRPC service whose calls run in their [`call_span`] and are timed into [`Metrics`].
#[derive(Debug, Clone)]
pub struct Observed<S> {
    inner: S,
    metrics: Arc<Metrics>,
    observer: Option<Observer>,
}

/// Routed under the wrapped service's name.
impl<S: NamedService> NamedService for Observed<S> {
    const NAME: &'static str = S::NAME;
}

/// Any gRPC service whose response body is tonic's (the interceptor wraps it in a body of its
/// own); the answer is tonic's [`Body`] again, as the router wants it.
impl<S, B, ResBody> Service<http::Request<B>> for Observed<S>
where
    S: Service<http::Request<B>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    ResBody: HttpBody<Data = Bytes, Error = Status> + Unpin + Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = method_of(request.uri().path());
        let span = call_span::new(method);
        let facts = self
            .observer
            .as_ref()
            .map(|o| CallFacts::new(o.now()))
            .unwrap_or_default();
        let mut timer = CallTimer {
            metrics: self.metrics.clone(),
            method,
            started: Instant::now(),
            recorded: false,
            observed: self.observer.clone().map(|o| (o, facts.clone())),
        };
        // The interceptor runs in `call` itself: its lines and facts belong to the call too.
        let answer = span.in_scope(|| facts.clone().sync_scope(|| self.inner.call(request)));
        Box::pin(
            facts
                .scope(async move {
                    let response = answer.await?;
                    let (parts, body) = response.into_parts();
                    if let Some(code) = grpc_status(&parts.headers) {
                        // Trailers-only: an error (or an empty answer) with its status in the
                        // headers; the body carries nothing more to wait for.
                        timer.record(code);
                        return Ok(http::Response::from_parts(parts, Body::new(body)));
                    }
                    let body = Body::new(TimedBody {
                        inner: body,
                        timer: Some(timer),
                    });
                    Ok(http::Response::from_parts(parts, body))
                })
                .instrument(span),
        )
    }
}

/// Records one call's latency once: when the status or the first message is seen, or, if the
/// call is dropped before either, as CANCELLED.
#[derive(Debug)]
struct CallTimer {
    metrics: Arc<Metrics>,
    method: &'static str,
    started: Instant,
    recorded: bool,
    /// Where the call's facts and code go once known, for the anomaly rules.
    observed: Option<(Observer, CallFacts)>,
}

impl CallTimer {
    fn record(&mut self, code: Code) {
        if !self.recorded {
            self.recorded = true;
            self.metrics
                .grpc_call(self.method, code, self.started.elapsed());
            if let Some((observer, facts)) = self.observed.take() {
                observer.finished(self.method, &facts.snapshot(), code);
            }
        }
    }
}

impl Drop for CallTimer {
    fn drop(&mut self) {
        // Nothing was answered: the client went away or the call deadline passed (tonic
        // answers that CANCELLED too).
        self.record(Code::Cancelled);
    }
}

/// A response body that stops the call's timer at its first frame.
struct TimedBody<B> {
    inner: B,
    /// Taken when the first frame is seen.
    timer: Option<CallTimer>,
}

impl<B: HttpBody<Data = Bytes, Error = Status> + Unpin> HttpBody for TimedBody<B> {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(frame) = &polled
            && let Some(mut timer) = self.timer.take()
        {
            let code = match frame {
                Some(Ok(frame)) if frame.is_data() => Code::Ok,
                Some(Ok(frame)) => frame
                    .trailers_ref()
                    .and_then(grpc_status)
                    .unwrap_or(Code::Unknown),
                Some(Err(status)) => status.code(),
                // The body ended with neither a message nor a status: the client reads a call
                // without `grpc-status` as UNKNOWN.
                None => Code::Unknown,
            };
            timer.record(code);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use http_body_util::{BodyExt as _, Full};

    use super::*;

    /// A service answering every call with `response()`, wrapped in the layer.
    fn observed(
        metrics: &Arc<Metrics>,
        response: fn() -> http::Response<Body>,
    ) -> impl Service<
        http::Request<()>,
        Response = http::Response<Body>,
        Error = Infallible,
        Future = impl Future<Output = Result<http::Response<Body>, Infallible>>,
    > {
        ObserveLayer::new(metrics.clone()).layer(tower::service_fn(move |_| async move {
            Ok::<_, Infallible>(response())
        }))
    }

    fn request(method: &str) -> http::Request<()> {
        http::Request::builder()
            .uri(format!("/signgate.v1.{method}"))
            .body(())
            .unwrap_or_default()
    }

    fn count(metrics: &Metrics, method: &str, code: &str) -> bool {
        metrics.encode().unwrap_or_default().contains(&format!(
            "signgate_grpc_request_duration_seconds_count{{method=\"{method}\",code=\"{code}\"}} 1"
        ))
    }

    #[tokio::test]
    async fn a_status_in_the_headers_is_recorded_at_once() {
        let metrics = Arc::new(Metrics::default());
        let mut svc = observed(&metrics, || {
            http::Response::builder()
                .header("grpc-status", "5")
                .body(Body::empty())
                .unwrap_or_default()
        });
        let answer = svc.call(request("Gateway/GetProposal")).await;
        assert!(answer.is_ok());
        assert!(count(&metrics, "GetProposal", "NOT_FOUND"));
    }

    #[tokio::test]
    async fn a_message_is_timed_at_its_first_frame_as_ok() {
        let metrics = Arc::new(Metrics::default());
        let mut svc = observed(&metrics, || {
            http::Response::new(Body::new(
                Full::new(Bytes::from_static(b"message")).map_err(|e| match e {}),
            ))
        });
        let Ok(answer) = svc.call(request("Admin/GetHealthDetails")).await;
        // Headers alone say nothing yet.
        assert!(!count(&metrics, "GetHealthDetails", "OK"));
        let _ = answer.into_body().frame().await;
        assert!(count(&metrics, "GetHealthDetails", "OK"));
    }

    #[tokio::test]
    async fn a_call_dropped_before_it_answered_counts_as_cancelled() {
        let metrics = Arc::new(Metrics::default());
        let mut svc = observed(&metrics, || {
            http::Response::new(Body::new(
                Full::new(Bytes::from_static(b"message")).map_err(|e| match e {}),
            ))
        });
        let Ok(answer) = svc.call(request("Gateway/WatchProposal")).await;
        drop(answer);
        assert!(count(&metrics, "WatchProposal", "CANCELLED"));
        // An unknown path is labelled `unknown`, never by what the client wrote.
        let Ok(answer) = svc.call(request("Gateway/NoSuchMethod")).await;
        drop(answer);
        assert!(count(&metrics, "unknown", "CANCELLED"));
    }

    #[test]
    fn methods_come_from_the_api_and_anything_else_is_unknown() {
        assert_eq!(
            method_of("/signgate.v1.Gateway/SubmitProposal"),
            "SubmitProposal"
        );
        assert_eq!(
            method_of("/signgate.v1.Admin/ListOperators"),
            "ListOperators"
        );
        assert_eq!(method_of("/signgate.v1.Gateway/Bogus"), UNKNOWN_METHOD);
        assert_eq!(method_of("/../etc/passwd"), UNKNOWN_METHOD);
    }
}
