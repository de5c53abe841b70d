//! Client-side mutual TLS: the PEM material a client presents and trusts, given to a tonic
//! endpoint in one place, and handshake failures told apart (who refused whose certificate).
//!
//! Two clients use it: the gateway towards its `https://` signer backends
//! ([`crate::signer_backends`]) and the operator CLI towards the gateway ([`crate::cli`]).

use std::error::Error as StdError;

use rustls::{AlertDescription, CertificateError};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

/// TLS material a client presents to an `https://` server that requires client certificates.
#[derive(Debug, Clone)]
pub struct ClientTls {
    /// The client certificate chain (PEM).
    pub cert: Vec<u8>,
    /// Its private key (PEM).
    pub key: Vec<u8>,
    /// The CA that issued the server's certificate (PEM).
    pub ca: Vec<u8>,
    /// The name the server's certificate must carry, when the address does not say it (an IP
    /// address); `None` verifies the address's host.
    pub domain: Option<String>,
}

impl ClientTls {
    /// The gateway's own mTLS files reused towards signers: its certificate and key as the
    /// client identity, and `client_ca` as the CA of the backends (one internal CA).
    pub fn from_files(files: &crate::config::TlsFiles) -> std::io::Result<Self> {
        Ok(Self {
            cert: std::fs::read(&files.cert)?,
            key: std::fs::read(&files.key)?,
            ca: std::fs::read(&files.client_ca)?,
            domain: None,
        })
    }

    /// `endpoint` speaking TLS with this identity and trusting only [`Self::ca`]. Installs the
    /// process's rustls crypto provider first (see
    /// [`signgate_simulator::evm::install_crypto_provider`]).
    pub fn apply(&self, endpoint: Endpoint) -> Result<Endpoint, tonic::transport::Error> {
        signgate_simulator::evm::install_crypto_provider();
        let mut config = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.ca))
            .identity(Identity::from_pem(&self.cert, &self.key));
        if let Some(domain) = &self.domain {
            config = config.domain_name(domain.clone());
        }
        endpoint.tls_config(config)
    }
}

/// Why a TLS handshake failed, as far as the client can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeFault {
    /// The server's alert says it did not accept our certificate (none, unknown issuer,
    /// expired …).
    ServerRefusedOurs(String),
    /// We did not accept the server's certificate (wrong CA, wrong name, expired …).
    WeRefusedTheirs(String),
    /// Another TLS failure (protocol, crypto).
    Other(String),
}

/// The TLS failure somewhere in `err`'s source chain, if there is one.
///
/// `std::io::Error` hides the error it wraps from `source()`, and rustls' errors reach us
/// wrapped in one (sometimes only as their text), so each link is also looked into, typed
/// first, then by rustls' own wording.
pub fn handshake_fault(err: &(dyn StdError + 'static)) -> Option<HandshakeFault> {
    links(err)
        .find_map(|e| as_rustls(e).map(classify))
        .or_else(|| links(err).find_map(|e| from_text(&e.to_string())))
}

/// `err` and its causes, outermost first.
fn links<'a>(
    err: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(err), |e| (*e).source())
}

/// Alerts a server sends when it does not accept the client's certificate.
const CERTIFICATE_ALERTS: [AlertDescription; 9] = [
    AlertDescription::CertificateRequired,
    AlertDescription::NoCertificate,
    AlertDescription::BadCertificate,
    AlertDescription::UnsupportedCertificate,
    AlertDescription::CertificateRevoked,
    AlertDescription::CertificateExpired,
    AlertDescription::CertificateUnknown,
    AlertDescription::UnknownCA,
    AlertDescription::AccessDenied,
];

/// A rustls error known only by its `Display` text (`received fatal alert: UnknownCA`,
/// `invalid peer certificate: …`).
fn from_text(text: &str) -> Option<HandshakeFault> {
    if let Some((_, rest)) = text.split_once("received fatal alert: ") {
        let name: String = rest
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect();
        return Some(
            match CERTIFICATE_ALERTS.iter().find(|a| format!("{a:?}") == name) {
                Some(alert) => classify(&rustls::Error::AlertReceived(*alert)),
                None => HandshakeFault::Other(format!("the server's alert: {name}")),
            },
        );
    }
    text.split_once("invalid peer certificate: ")
        .map(|(_, why)| match why {
            "UnknownIssuer" => classify(&rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer,
            )),
            other => HandshakeFault::WeRefusedTheirs(other.to_owned()),
        })
}

fn as_rustls<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    e.downcast_ref::<rustls::Error>().or_else(|| {
        e.downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    })
}

fn classify(e: &rustls::Error) -> HandshakeFault {
    match e {
        rustls::Error::InvalidCertificate(cert) => HandshakeFault::WeRefusedTheirs(match cert {
            CertificateError::UnknownIssuer => {
                "it was not issued by the CA we trust (unknown issuer)".to_owned()
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!("it is not valid for the name we asked for ({cert})")
            }
            other => format!("{other}"),
        }),
        rustls::Error::AlertReceived(
            AlertDescription::CertificateRequired | AlertDescription::NoCertificate,
        ) => HandshakeFault::ServerRefusedOurs("it requires a client certificate".to_owned()),
        rustls::Error::AlertReceived(alert) if CERTIFICATE_ALERTS.contains(alert) => {
            HandshakeFault::ServerRefusedOurs(format!("its alert: {alert:?}"))
        }
        rustls::Error::AlertReceived(other) => {
            HandshakeFault::Other(format!("the server's alert: {other:?}"))
        }
        other => HandshakeFault::Other(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_found_behind_io_errors() {
        let theirs = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
        );
        assert!(matches!(
            handshake_fault(&theirs),
            Some(HandshakeFault::WeRefusedTheirs(_))
        ));
        let ours = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(AlertDescription::CertificateRequired),
        );
        assert!(matches!(
            handshake_fault(&ours),
            Some(HandshakeFault::ServerRefusedOurs(_))
        ));
        let text = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "received fatal alert: UnknownCA",
        );
        assert_eq!(
            handshake_fault(&text),
            Some(HandshakeFault::ServerRefusedOurs(
                "its alert: UnknownCA".to_owned()
            ))
        );
        let plain = std::io::Error::other("connection reset");
        assert_eq!(handshake_fault(&plain), None);
    }
}
