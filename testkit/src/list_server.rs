//! A sanctions list publisher for tests: an HTTPS server on 127.0.0.1 with a certificate from a
//! CA generated at start, serving one list (and its checksum) the way OFAC's endpoints do, with
//! the faults a real one has.
//!
//! HTTP/1.1 is written by hand (one request per connection, `Connection: close`) so that a test
//! can make the server misbehave at the byte level: a body cut short of its `Content-Length`, a
//! server that accepts and never answers, a redirect to plain HTTP, a connection closed at once.
//!
//! Paths: `/list` (the list; `ETag` and `Last-Modified`, `304` to a matching `If-None-Match`),
//! `/list.sha256` (the published checksum), `/redirect` (a `302` to `/list`, or wherever
//! [`Mode::RedirectTo`] says), and any further document published at its own path
//! ([`ListServer::publish_document`]).

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
    task::JoinHandle,
};
use tokio_rustls::TlsAcceptor;

/// How the server answers `/list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Normally: `200` with the list, `304` to a matching `If-None-Match`.
    Serve,
    /// Accepts the request and never answers.
    Hang,
    /// Announces the whole length and sends half the body, then closes.
    Truncate,
    /// Closes every connection right after the TLS handshake: a publisher that is down.
    Down,
    /// `302` to this URL (for `/list` too).
    RedirectTo(String),
}

/// What the server publishes.
#[derive(Debug, Clone)]
struct Published {
    body: Vec<u8>,
    etag: String,
    last_modified: String,
    checksum: String,
    mode: Mode,
    /// Further documents by path (the CSV pair's `sdn_comments.csv`), each with its `ETag`,
    /// always served normally.
    documents: std::collections::HashMap<String, (Vec<u8>, String)>,
}

/// Counters of what was asked.
#[derive(Debug, Default)]
pub struct Counters {
    /// Requests for `/list` answered with the body.
    pub full: AtomicUsize,
    /// Requests for `/list` answered `304`.
    pub not_modified: AtomicUsize,
    /// Requests for a further document answered with its body.
    pub documents: AtomicUsize,
}

/// A running list server; dropped, it stops accepting.
#[derive(Debug)]
pub struct ListServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The PEM file of the CA its certificate chains to (the gateway's `tls_roots`).
    pub ca_file: PathBuf,
    /// What was asked.
    pub counters: Arc<Counters>,
    published: Arc<Mutex<Published>>,
    version: AtomicUsize,
    task: JoinHandle<()>,
}

impl Drop for ListServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

impl ListServer {
    /// Starts the server publishing `body`; the CA certificate is written to `dir/ca.pem`.
    pub async fn start(dir: &Path, body: Vec<u8>) -> Self {
        signgate_simulator::evm::install_crypto_provider();
        let crate::pki::LocalhostCertificate {
            ca: ca_cert,
            cert: leaf,
            key: leaf_key,
        } = crate::pki::localhost_certificate("signgate test list publisher CA");
        let ca_file = dir.join("ca.pem");
        std::fs::write(&ca_file, ca_cert.pem()).unwrap();

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone()],
                rustls_pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
            )
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let published = Arc::new(Mutex::new(Published {
            checksum: sha256_hex(&body),
            body,
            etag: "\"v1\"".to_owned(),
            last_modified: "Wed, 19 Nov 2025 12:00:00 GMT".to_owned(),
            mode: Mode::Serve,
            documents: std::collections::HashMap::new(),
        }));
        let counters = Arc::new(Counters::default());
        let task = tokio::spawn(accept_loop(
            listener,
            acceptor,
            Arc::clone(&published),
            Arc::clone(&counters),
        ));
        Self {
            addr,
            ca_file,
            counters,
            published,
            version: AtomicUsize::new(1),
            task,
        }
    }

    /// `https://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }

    /// Publishes a new version: new body, new `ETag`, checksum of the new body.
    pub fn publish(&self, body: Vec<u8>) {
        let v = self.version.fetch_add(1, Ordering::SeqCst) + 1;
        let mut p = self.published.lock().unwrap();
        p.checksum = sha256_hex(&body);
        p.body = body;
        p.etag = format!("\"v{v}\"");
        p.last_modified = "Thu, 20 Nov 2025 12:00:00 GMT".to_owned();
    }

    /// Publishes `body` at `path` beside the list (a new `ETag` each time): the CSV pair's
    /// comments file. It answers `304` to a matching `If-None-Match` and counts in
    /// [`Counters::documents`].
    pub fn publish_document(&self, path: &str, body: Vec<u8>) {
        let v = self.version.fetch_add(1, Ordering::SeqCst) + 1;
        self.published
            .lock()
            .unwrap()
            .documents
            .insert(path.to_owned(), (body, format!("\"d{v}\"")));
    }

    /// Publishes `body` under a checksum that does not match it.
    pub fn publish_with_wrong_checksum(&self, body: Vec<u8>) {
        self.publish(body);
        self.published.lock().unwrap().checksum = "00".repeat(32);
    }

    /// Changes how `/list` is answered.
    pub fn set_mode(&self, mode: Mode) {
        self.published.lock().unwrap().mode = mode;
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    published: Arc<Mutex<Published>>,
    counters: Arc<Counters>,
) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let acceptor = acceptor.clone();
        let published = Arc::clone(&published);
        let counters = Arc::clone(&counters);
        tokio::spawn(async move {
            let Ok(mut tls) = acceptor.accept(tcp).await else {
                return;
            };
            let snapshot = published.lock().unwrap().clone();
            if snapshot.mode == Mode::Down {
                let _ = tls.shutdown().await;
                return;
            }
            let Some((path, if_none_match)) = read_request(&mut tls).await else {
                return;
            };
            let response = answer(&snapshot, &path, if_none_match.as_deref(), &counters);
            match response {
                Answer::Hang => {
                    // Hold the connection open without a byte until the client gives up.
                    let mut sink = [0u8; 1];
                    let _ = tls.read(&mut sink).await;
                    std::future::pending::<()>().await;
                }
                Answer::Bytes(bytes) => {
                    let _ = tls.write_all(&bytes).await;
                    let _ = tls.flush().await;
                    let _ = tls.shutdown().await;
                }
            }
        });
    }
}

/// The request line's path and the `If-None-Match` header.
async fn read_request<S: AsyncReadExt + Unpin>(s: &mut S) -> Option<(String, Option<String>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() > 64 * 1024 {
            return None;
        }
        buf.extend_from_slice(chunk.get(..n)?);
    }
    let text = String::from_utf8_lossy(&buf);
    let mut lines = text.split("\r\n");
    let path = lines.next()?.split(' ').nth(1)?.to_owned();
    let if_none_match = lines.find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("if-none-match")
            .then(|| v.trim().to_owned())
    });
    Some((path, if_none_match))
}

enum Answer {
    Hang,
    Bytes(Vec<u8>),
}

fn head(status: &str, headers: &[(&str, &str)], len: usize) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: {len}\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.into_bytes()
}

fn answer(p: &Published, path: &str, if_none_match: Option<&str>, counters: &Counters) -> Answer {
    let redirect = |to: &str| Answer::Bytes(head("302 Found", &[("Location", to)], 0));
    if let Some((body, etag)) = p.documents.get(path) {
        if if_none_match == Some(etag.as_str()) {
            return Answer::Bytes(head("304 Not Modified", &[("ETag", etag)], 0));
        }
        counters.documents.fetch_add(1, Ordering::SeqCst);
        let mut out = head("200 OK", &[("ETag", etag)], body.len());
        out.extend_from_slice(body);
        return Answer::Bytes(out);
    }
    match (path, &p.mode) {
        ("/list.sha256", _) => {
            let body = format!("{}  list\n", p.checksum);
            let mut out = head("200 OK", &[], body.len());
            out.extend_from_slice(body.as_bytes());
            Answer::Bytes(out)
        }
        ("/list" | "/redirect", Mode::RedirectTo(to)) => redirect(to),
        ("/redirect", _) => redirect("/list"),
        ("/list", Mode::Hang) => Answer::Hang,
        ("/list", mode) => {
            if *mode == Mode::Serve && if_none_match == Some(p.etag.as_str()) {
                counters.not_modified.fetch_add(1, Ordering::SeqCst);
                return Answer::Bytes(head("304 Not Modified", &[("ETag", &p.etag)], 0));
            }
            counters.full.fetch_add(1, Ordering::SeqCst);
            let mut out = head(
                "200 OK",
                &[("ETag", &p.etag), ("Last-Modified", &p.last_modified)],
                p.body.len(),
            );
            let body = if *mode == Mode::Truncate {
                p.body.get(..p.body.len() / 2).unwrap_or_default()
            } else {
                &p.body
            };
            out.extend_from_slice(body);
            Answer::Bytes(out)
        }
        _ => Answer::Bytes(head("404 Not Found", &[], 0)),
    }
}
