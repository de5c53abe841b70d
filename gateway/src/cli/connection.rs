//! `--gateway` and the `--tls-*` files: the one way every client command (`propose`, `approve`,
//! `reject`, `status`, `release`, `admin …`) reaches the gateway, and what went wrong, in words,
//! when it does not.
//!
//! Plaintext `http://` is the loopback demo. A production gateway serves only mutual TLS, so an
//! `https://` address needs the operator's client certificate and key and the CA that issued the
//! gateway's certificate; the certificate's name decides whether the operator may use `Gateway`
//! or `Admin`. Every option may also come from the environment (`SIGNGATE_CLIENT_*`), so an
//! operator sets them once per shell. `signgate serve` ignores those variables.

use std::{
    error::Error as StdError,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context as _, anyhow, bail};
use clap::Args;
use tonic::transport::{Channel, Endpoint};

use crate::tls::{ClientTls, HandshakeFault, handshake_fault};

/// How long connecting (TCP and the TLS handshake) may take before the command gives up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the gateway listens and how to prove who is talking to it.
#[derive(Debug, Clone, Args)]
pub struct Connection {
    /// The gateway's address: `http://` for the loopback demo, `https://` (with the `--tls-*`
    /// files) for a gateway serving mutual TLS.
    #[arg(
        long,
        global = true,
        env = "SIGNGATE_CLIENT_GATEWAY",
        default_value = "http://127.0.0.1:50051"
    )]
    pub gateway: String,
    /// Your client certificate (PEM), issued by the CA the gateway trusts for clients.
    #[arg(
        long,
        global = true,
        env = "SIGNGATE_CLIENT_TLS_CERT",
        value_name = "PEM"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The private key of `--tls-cert` (PEM).
    #[arg(
        long,
        global = true,
        env = "SIGNGATE_CLIENT_TLS_KEY",
        value_name = "PEM"
    )]
    pub tls_key: Option<PathBuf>,
    /// The CA that issued the gateway's server certificate (PEM).
    #[arg(
        long,
        global = true,
        env = "SIGNGATE_CLIENT_TLS_CA",
        value_name = "PEM"
    )]
    pub tls_ca: Option<PathBuf>,
    /// The name the gateway's certificate carries, when `--gateway` is an IP address.
    #[arg(
        long,
        global = true,
        env = "SIGNGATE_CLIENT_TLS_DOMAIN",
        value_name = "NAME"
    )]
    pub tls_domain: Option<String>,
}

impl Connection {
    /// The TLS material the options name, read from its files, or `None` for plaintext.
    /// Refuses a combination that cannot work and says what to add or remove.
    pub fn tls(&self) -> anyhow::Result<Option<ClientTls>> {
        let https = if self.gateway.starts_with("https://") {
            true
        } else if self.gateway.starts_with("http://") {
            false
        } else {
            bail!(
                "--gateway {:?} needs a scheme: http://HOST:PORT for the loopback demo, \
                 https://HOST:PORT for a gateway serving mutual TLS",
                self.gateway
            );
        };
        if !https {
            let given = [
                ("--tls-cert", self.tls_cert.is_some()),
                ("--tls-key", self.tls_key.is_some()),
                ("--tls-ca", self.tls_ca.is_some()),
                ("--tls-domain", self.tls_domain.is_some()),
            ];
            if let Some((flag, _)) = given.iter().find(|(_, set)| *set) {
                bail!(
                    "{flag} is given but --gateway {} is plaintext: write the address as \
                     https://HOST:PORT to use TLS, or drop the --tls-* options \
                     (and SIGNGATE_CLIENT_TLS_* variables)",
                    self.gateway
                );
            }
            return Ok(None);
        }
        let (cert, key) = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => (cert, key),
            (Some(_), None) => bail!(
                "--tls-cert needs its private key: add --tls-key PEM (or SIGNGATE_CLIENT_TLS_KEY)"
            ),
            (None, Some(_)) => bail!(
                "--tls-key needs its certificate: add --tls-cert PEM (or SIGNGATE_CLIENT_TLS_CERT)"
            ),
            (None, None) => bail!(
                "the gateway at {} serves only mutual TLS: add --tls-cert PEM and --tls-key PEM, \
                 your client certificate and its key (or SIGNGATE_CLIENT_TLS_CERT and \
                 SIGNGATE_CLIENT_TLS_KEY)",
                self.gateway
            ),
        };
        let ca = self.tls_ca.as_ref().with_context(|| {
            format!(
                "the gateway at {} is https://: add --tls-ca PEM, the CA that issued the \
                 gateway's certificate (or SIGNGATE_CLIENT_TLS_CA)",
                self.gateway
            )
        })?;
        Ok(Some(ClientTls {
            cert: read("--tls-cert", cert)?,
            key: read("--tls-key", key)?,
            ca: read("--tls-ca", ca)?,
            domain: self.tls_domain.clone(),
        }))
    }

    /// The channel every client command talks over, connected (and, with TLS, handshaken).
    pub async fn channel(&self) -> anyhow::Result<Channel> {
        let tls = self.tls()?;
        let mut endpoint = Endpoint::from_shared(self.gateway.clone())
            .with_context(|| format!("--gateway {:?} is not an address", self.gateway))?
            .connect_timeout(CONNECT_TIMEOUT);
        if let Some(tls) = &tls {
            endpoint = tls.apply(endpoint).with_context(|| {
                "cannot use the --tls-cert/--tls-key/--tls-ca files (are they PEM, and is the \
                 key the certificate's?)"
            })?;
        }
        endpoint.connect().await.map_err(|e| self.unreachable(&e))
    }

    /// A call's failure in words: the handshake or the transport failed (with whose fault, when
    /// that can be told), or the gateway answered with a refusal, named by its gRPC code
    /// (`PERMISSION_DENIED`, …).
    pub fn refused(&self, status: &tonic::Status) -> anyhow::Error {
        if status.source().is_some() {
            return self.unreachable(status);
        }
        anyhow!(
            "the gateway refused: {} ({})",
            status.message(),
            code_name(status.code())
        )
    }

    /// A failure before the gateway answered.
    fn unreachable(&self, err: &(dyn StdError + 'static)) -> anyhow::Error {
        let at = &self.gateway;
        match handshake_fault(err) {
            Some(HandshakeFault::ServerRefusedOurs(why)) => anyhow!(
                "the gateway at {at} refused our client certificate ({why}): give --tls-cert and \
                 --tls-key of a certificate issued by the CA the gateway trusts for clients"
            ),
            Some(HandshakeFault::WeRefusedTheirs(why)) => {
                let domain = if self.tls_domain.is_none() {
                    "; if --gateway is an IP address, give --tls-domain with the name the \
                     gateway's certificate carries"
                } else {
                    ""
                };
                anyhow!(
                    "we refused the certificate of the gateway at {at}: {why}; check that \
                     --tls-ca is the CA that issued it{domain}"
                )
            }
            Some(HandshakeFault::Other(why)) => {
                anyhow!("the TLS handshake with the gateway at {at} failed: {why}")
            }
            // TLS 1.3 finishes the client's side of the handshake before the server has judged
            // the client certificate; its refusal then arrives as an alert that the HTTP/2
            // layer reports only as a closed connection.
            None if tls_closed(self.gateway.starts_with("https://"), err) => anyhow!(
                "the gateway at {at} closed the connection right after the TLS handshake: it most \
                 likely refused our client certificate (give --tls-cert and --tls-key of a \
                 certificate issued by the CA the gateway trusts for clients; the gateway's log \
                 says why)"
            ),
            None if at.starts_with("http://") => anyhow!(
                "cannot reach the gateway at {at}: {} (is `signgate serve` running? a gateway \
                 serving mutual TLS needs an https:// address with --tls-cert, --tls-key and \
                 --tls-ca)",
                chain(err)
            ),
            None => anyhow!(
                "cannot reach the gateway at {at}: {} (is `signgate serve` running there?)",
                chain(err)
            ),
        }
    }
}

/// Whether `err` is an `https://` connection the peer closed before answering (the call was
/// cancelled with the connection, or our write met a closed or reset socket).
fn tls_closed(https: bool, err: &(dyn StdError + 'static)) -> bool {
    use std::io::ErrorKind;
    let closed = |e: &(dyn StdError + 'static)| {
        e.downcast_ref::<hyper::Error>()
            .is_some_and(|h| h.is_canceled() || h.is_closed() || h.is_incomplete_message())
            || e.downcast_ref::<std::io::Error>().is_some_and(|io| {
                matches!(
                    io.kind(),
                    ErrorKind::BrokenPipe | ErrorKind::ConnectionReset | ErrorKind::UnexpectedEof
                )
            })
    };
    https && std::iter::successors(Some(err), |e| (*e).source()).any(closed)
}

fn read(flag: &str, path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {flag} {}", path.display()))
}

/// `err` and its causes, each once, joined by `: `.
fn chain(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// The canonical gRPC name of a status code (`PERMISSION_DENIED`), as grpcurl and the gRPC
/// documentation spell it.
fn code_name(code: tonic::Code) -> String {
    let mut out = String::new();
    for (i, c) in format!("{code:?}").chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(gateway: &str, cert: bool, key: bool, ca: bool) -> Connection {
        Connection {
            gateway: gateway.to_owned(),
            tls_cert: cert.then(|| PathBuf::from("/nonexistent/client.pem")),
            tls_key: key.then(|| PathBuf::from("/nonexistent/client.key")),
            tls_ca: ca.then(|| PathBuf::from("/nonexistent/ca.pem")),
            tls_domain: None,
        }
    }

    fn refusal(c: &Connection) -> String {
        format!("{:#}", c.tls().unwrap_err())
    }

    #[test]
    fn plaintext_needs_no_files() {
        assert!(
            with("http://127.0.0.1:50051", false, false, false)
                .tls()
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn combinations_that_cannot_work_say_what_to_add() {
        let msg = refusal(&with("http://127.0.0.1:50051", true, true, true));
        assert!(
            msg.contains("--tls-cert is given") && msg.contains("https://"),
            "{msg}"
        );
        let msg = refusal(&with("https://gw:50051", true, false, true));
        assert!(msg.contains("add --tls-key"), "{msg}");
        let msg = refusal(&with("https://gw:50051", false, true, true));
        assert!(msg.contains("add --tls-cert"), "{msg}");
        let msg = refusal(&with("https://gw:50051", false, false, true));
        assert!(msg.contains("serves only mutual TLS"), "{msg}");
        let msg = refusal(&with("https://gw:50051", true, true, false));
        assert!(msg.contains("add --tls-ca"), "{msg}");
        let msg = refusal(&with("gw:50051", false, false, false));
        assert!(msg.contains("needs a scheme"), "{msg}");
    }

    #[test]
    fn a_missing_file_names_its_flag_and_path() {
        let msg = refusal(&with("https://gw:50051", true, true, true));
        assert!(
            msg.contains("cannot read --tls-cert /nonexistent/client.pem"),
            "{msg}"
        );
    }

    #[test]
    fn codes_have_their_grpc_names() {
        assert_eq!(
            code_name(tonic::Code::PermissionDenied),
            "PERMISSION_DENIED"
        );
        assert_eq!(code_name(tonic::Code::Unavailable), "UNAVAILABLE");
    }
}
