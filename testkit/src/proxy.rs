//! [`RpcProxy`]: an HTTP/1.1 JSON-RPC proxy on 127.0.0.1:0 in front of a node, for counting
//! round trips and injecting faults the gateway must survive.
//!
//! The proxy runs on its own thread with its own tokio runtime, so it keeps answering whatever
//! the test's runtime is doing (blocked in a `spawn_blocking` simulation, or a plain `#[test]`
//! with no runtime at all). Every knob sits behind a cloneable [`ProxyHandle`] (`RpcProxy`
//! derefs to one) and takes effect for the next HTTP request.
//!
//! What a request goes through, in order:
//! 1. it is counted ([`Stats`]): one HTTP request, one call per element of a batch;
//! 2. a [`Failure`] (global, or set for one of its methods) ends it: `Hang` never answers,
//!    `Down` closes the connection, `Malformed` answers 200 with a body that is not JSON;
//! 3. the configured latency is slept;
//! 4. calls to methods with an injected error are answered by the proxy and not forwarded
//!    (so an injected error on `eth_sendRawTransaction` sends nothing); the rest go upstream in
//!    one request, as a batch if the client sent one;
//! 5. results of methods with a rewrite go through it, and the answers are put back in the
//!    client's order.
//!
//! A body that is not JSON-RPC (not JSON, an empty batch) is forwarded untouched.

use std::{
    collections::HashMap,
    io,
    net::SocketAddr,
    ops::Deref,
    sync::{Arc, Mutex},
    time::Duration,
};

use http_body_util::{BodyExt, Full};
use hyper::{
    Request, Response, StatusCode,
    body::{Bytes, Incoming},
    header::CONTENT_TYPE,
    server::conn::http1,
    service::service_fn,
};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::{net::TcpListener, sync::oneshot};

/// The body [`Failure::Malformed`] answers with.
pub const MALFORMED_BODY: &str = "<html>502 this is not JSON {\"jsonrpc\":";

/// A result rewrite: `(method, params, result) -> new result`.
pub type Rewrite = Arc<dyn Fn(&str, &Value, Value) -> Value + Send + Sync>;

/// Whole-request failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The request is read and never answered (the connection stays open until the client
    /// gives up or the proxy is dropped).
    Hang,
    /// `200 OK`, `content-type: application/json`, and a body that is not JSON.
    Malformed,
    /// New connections are closed as soon as they are accepted, and a request on an already
    /// open keep-alive connection closes it without an answer.
    Down,
}

/// What the proxy has seen since it started or since [`ProxyHandle::reset`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// TCP connections accepted (including the ones [`Failure::Down`] closes at once): with
    /// keep-alive working, far fewer than `http_requests`.
    pub connections: u64,
    /// HTTP requests, i.e. round trips, including failed ones.
    pub http_requests: u64,
    /// JSON-RPC calls: 1 per single request, n per batch of n.
    pub rpc_calls: u64,
    /// The methods of each HTTP request, in arrival order (empty for a body that is not JSON).
    pub methods: Vec<Vec<String>>,
}

impl Stats {
    /// How many calls of `method` were made, in batches or not.
    pub fn calls_of(&self, method: &str) -> usize {
        self.methods
            .iter()
            .flatten()
            .filter(|m| *m == method)
            .count()
    }
}

#[derive(Default)]
struct State {
    latency: Duration,
    failure: Option<Failure>,
    method_failures: HashMap<String, Failure>,
    errors: HashMap<String, Value>,
    rewrites: HashMap<String, Rewrite>,
    stats: Stats,
}

struct Shared {
    upstream: String,
    client: reqwest::Client,
    state: Mutex<State>,
}

/// The runtime controls of an [`RpcProxy`]; clones control the same proxy.
#[derive(Clone)]
pub struct ProxyHandle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ProxyHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyHandle")
            .field("upstream", &self.shared.upstream)
            .finish_non_exhaustive()
    }
}

/// The proxy; stops (and drops every open connection and hung request) on drop.
#[derive(Debug)]
pub struct RpcProxy {
    addr: SocketAddr,
    handle: ProxyHandle,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RpcProxy {
    /// Starts a proxy for `upstream` (an `http://` JSON-RPC URL) on 127.0.0.1 and a free port.
    pub fn start(upstream: &str) -> Self {
        // reqwest builds a TLS configuration even for http:// and reads rustls' process default.
        signgate_simulator::evm::install_crypto_provider();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = ProxyHandle {
            shared: Arc::new(Shared {
                upstream: upstream.to_owned(),
                client: reqwest::Client::builder().build().unwrap(),
                state: Mutex::new(State::default()),
            }),
        };
        let (shutdown, stop) = oneshot::channel();
        let served = handle.clone();
        let thread = std::thread::Builder::new()
            .name(format!("rpc-proxy-{}", addr.port()))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(serve(listener, served, stop));
                // Dropping the runtime here cancels every connection task, hung ones included.
            })
            .unwrap();
        Self {
            addr,
            handle,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// The proxy's JSON-RPC endpoint, to give the gateway instead of the node's.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the proxy listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A handle that outlives borrows of the proxy (for other tasks or threads).
    pub fn handle(&self) -> ProxyHandle {
        self.handle.clone()
    }
}

impl Deref for RpcProxy {
    type Target = ProxyHandle;

    fn deref(&self) -> &ProxyHandle {
        &self.handle
    }
}

impl Drop for RpcProxy {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl ProxyHandle {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panicking test thread must not take the proxy down with it for other tests.
        self.shared
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Delay added to every HTTP request before it is forwarded (0 to turn it off).
    pub fn set_latency(&self, latency: Duration) {
        self.state().latency = latency;
    }

    /// Fails every HTTP request (and, for [`Failure::Down`], every new connection).
    pub fn fail(&self, failure: Failure) {
        self.state().failure = Some(failure);
    }

    /// Fails the HTTP requests that contain a call of `method` (a whole batch fails).
    pub fn fail_method(&self, method: &str, failure: Failure) {
        self.state()
            .method_failures
            .insert(method.to_owned(), failure);
    }

    /// [`Failure::Hang`] for every request.
    pub fn hang(&self) {
        self.fail(Failure::Hang);
    }

    /// [`Failure::Malformed`] for every request.
    pub fn malformed(&self) {
        self.fail(Failure::Malformed);
    }

    /// [`Failure::Down`] for every request and new connection.
    pub fn down(&self) {
        self.fail(Failure::Down);
    }

    /// Clears the whole-request failures (global and per method). Requests already hanging
    /// stay hung.
    pub fn heal(&self) {
        let mut s = self.state();
        s.failure = None;
        s.method_failures.clear();
    }

    /// Answers calls of `method` with this JSON-RPC error instead of forwarding them.
    pub fn set_error(&self, method: &str, code: i64, message: &str) {
        self.state().errors.insert(
            method.to_owned(),
            json!({ "code": code, "message": message }),
        );
    }

    /// Forwards calls of `method` again (undoes [`ProxyHandle::set_error`]).
    pub fn clear_error(&self, method: &str) {
        self.state().errors.remove(method);
    }

    /// Passes every `result` of `method` through `f(method, params, result)`.
    pub fn rewrite(
        &self,
        method: &str,
        f: impl Fn(&str, &Value, Value) -> Value + Send + Sync + 'static,
    ) {
        self.state().rewrites.insert(method.to_owned(), Arc::new(f));
    }

    /// Passes results of `method` through untouched again (undoes [`ProxyHandle::rewrite`]).
    pub fn clear_rewrite(&self, method: &str) {
        self.state().rewrites.remove(method);
    }

    /// Makes the node claim chain id `chain_id` (`eth_chainId` and `net_version`).
    pub fn wrong_chain_id(&self, chain_id: u64) {
        self.rewrite("eth_chainId", move |_, _, _| {
            json!(format!("{chain_id:#x}"))
        });
        self.rewrite("net_version", move |_, _, _| json!(chain_id.to_string()));
    }

    /// Clears failures, injected errors and rewrites; keeps the latency and the counts.
    pub fn clear_faults(&self) {
        let mut s = self.state();
        s.failure = None;
        s.method_failures.clear();
        s.errors.clear();
        s.rewrites.clear();
    }

    /// Everything counted so far.
    pub fn stats(&self) -> Stats {
        self.state().stats.clone()
    }

    /// HTTP requests (round trips) so far.
    pub fn http_requests(&self) -> u64 {
        self.state().stats.http_requests
    }

    /// JSON-RPC calls so far (a batch of n counts n).
    pub fn rpc_calls(&self) -> u64 {
        self.state().stats.rpc_calls
    }

    /// The methods of each HTTP request so far.
    pub fn methods(&self) -> Vec<Vec<String>> {
        self.state().stats.methods.clone()
    }

    /// Zeroes the counts (the faults stay).
    pub fn reset(&self) {
        self.state().stats = Stats::default();
    }

    /// Counts a connection; false when it is to be closed at once.
    fn accept(&self) -> bool {
        let mut s = self.state();
        s.stats.connections += 1;
        s.failure != Some(Failure::Down)
    }

    /// Counts a request and takes what applies to it from the current settings.
    fn plan(&self, methods: &[String]) -> Plan {
        let mut s = self.state();
        s.stats.http_requests += 1;
        s.stats.rpc_calls += methods.len() as u64;
        s.stats.methods.push(methods.to_vec());
        let failure = s.failure.or_else(|| {
            methods
                .iter()
                .find_map(|m| s.method_failures.get(m).copied())
        });
        Plan {
            latency: s.latency,
            failure,
            errors: pick(&s.errors, methods),
            rewrites: pick(&s.rewrites, methods),
        }
    }

    async fn handle(&self, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, io::Error> {
        let body = req
            .into_body()
            .collect()
            .await
            .map_err(io::Error::other)?
            .to_bytes();
        let parsed: Option<Value> = serde_json::from_slice(&body).ok();
        let (calls, batch) = match parsed {
            Some(Value::Array(calls)) => (calls, true),
            Some(call @ Value::Object(_)) => (vec![call], false),
            _ => (Vec::new(), false),
        };
        let methods: Vec<String> = calls
            .iter()
            .map(|c| c["method"].as_str().unwrap_or_default().to_owned())
            .collect();
        let plan = self.plan(&methods);
        match plan.failure {
            Some(Failure::Down) => return Err(io::Error::other("the proxy is down")),
            Some(Failure::Hang) => return std::future::pending().await,
            _ => {}
        }
        if !plan.latency.is_zero() {
            tokio::time::sleep(plan.latency).await;
        }
        if plan.failure == Some(Failure::Malformed) {
            return Ok(answer(
                StatusCode::OK,
                Bytes::from_static(MALFORMED_BODY.as_bytes()),
            ));
        }
        if calls.is_empty() {
            return Ok(self.forward(body).await);
        }

        // Injected errors are answered here; everything else goes upstream in one request.
        let mut answers: Vec<Option<Value>> = vec![None; calls.len()];
        let mut forwarded = Vec::new();
        for (i, (call, method)) in calls.iter().zip(&methods).enumerate() {
            match plan.errors.get(method) {
                Some(error) => {
                    // A notification (no id) gets no answer, not even an error.
                    if let Some(id) = call.get("id") {
                        answers[i] = Some(json!({ "jsonrpc": "2.0", "id": id, "error": error }));
                    }
                }
                None => forwarded.push(i),
            }
        }
        let mut status = StatusCode::OK;
        let mut unmatched = Vec::new();
        if !forwarded.is_empty() {
            let out = if batch {
                Value::Array(forwarded.iter().map(|&i| calls[i].clone()).collect())
            } else {
                calls[0].clone()
            };
            let upstream = self
                .forward(Bytes::from(serde_json::to_vec(&out).unwrap()))
                .await;
            status = upstream.status();
            let upstream_body = upstream
                .into_body()
                .collect()
                .await
                .map_err(io::Error::other)?
                .to_bytes();
            let responses = match serde_json::from_slice::<Value>(&upstream_body) {
                Ok(Value::Array(items)) => items,
                Ok(item @ Value::Object(_)) => vec![item],
                // Not JSON-RPC: the client sees what the node said.
                _ => return Ok(answer(status, upstream_body)),
            };
            for mut response in responses {
                let slot = forwarded.iter().copied().find(|&i| {
                    answers[i].is_none()
                        && calls[i].get("id").is_some()
                        && calls[i].get("id") == response.get("id")
                });
                let Some(i) = slot else {
                    unmatched.push(response);
                    continue;
                };
                if let (Some(f), Some(result)) =
                    (plan.rewrites.get(&methods[i]), response.get_mut("result"))
                {
                    let params = calls[i].get("params").cloned().unwrap_or(Value::Null);
                    *result = f(&methods[i], &params, result.take());
                }
                answers[i] = Some(response);
            }
        }
        let mut out: Vec<Value> = answers.into_iter().flatten().collect();
        out.extend(unmatched);
        let body = if batch {
            Value::Array(out)
        } else {
            match out.into_iter().next() {
                Some(single) => single,
                // A single notification: nothing to say.
                None => return Ok(answer(status, Bytes::new())),
            }
        };
        Ok(answer(
            status,
            Bytes::from(serde_json::to_vec(&body).unwrap()),
        ))
    }

    /// Posts `body` upstream; a node that cannot be reached is a 502 from the proxy.
    async fn forward(&self, body: Bytes) -> Response<Full<Bytes>> {
        let sent = self
            .shared
            .client
            .post(&self.shared.upstream)
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await;
        let reply = match sent {
            Ok(reply) => reply,
            Err(e) => return answer(StatusCode::BAD_GATEWAY, Bytes::from(e.to_string())),
        };
        let status = StatusCode::from_u16(reply.status().as_u16()).unwrap_or(StatusCode::OK);
        match reply.bytes().await {
            Ok(bytes) => answer(status, bytes),
            Err(e) => answer(StatusCode::BAD_GATEWAY, Bytes::from(e.to_string())),
        }
    }
}

/// The settings one request is handled with, taken under the lock at its arrival.
struct Plan {
    latency: Duration,
    failure: Option<Failure>,
    errors: HashMap<String, Value>,
    rewrites: HashMap<String, Rewrite>,
}

fn pick<T: Clone>(all: &HashMap<String, T>, methods: &[String]) -> HashMap<String, T> {
    methods
        .iter()
        .filter_map(|m| all.get(m).map(|v| (m.clone(), v.clone())))
        .collect()
}

fn answer(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, "application/json".parse().unwrap());
    response
}

async fn serve(
    listener: std::net::TcpListener,
    handle: ProxyHandle,
    mut stop: oneshot::Receiver<()>,
) {
    let listener = TcpListener::from_std(listener).unwrap();
    loop {
        let (stream, _) = tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(_) => continue,
            },
        };
        if !handle.accept() {
            drop(stream);
            continue;
        }
        let handle = handle.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let handle = handle.clone();
                async move { handle.handle(req).await }
            });
            // A connection ends with an error when `Down` closes it or the client goes away;
            // neither is the proxy's to report.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
