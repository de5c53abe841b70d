//! The reference signer backend (`signgate signer`): release tickets, ledger, `Signer` service.
//!
//! The service holds one Safe owner's secp256k1 key in a keystore file and signs a Safe
//! transaction only with a valid release ticket from the gateway, never two different
//! transactions for one (chain, Safe, nonce). It is its own crate so a signer host runs only what checks a ticket
//! and signs: no policy engine, no EVM, no gateway store (`scripts/check-crate-deps` keeps it
//! that way).
//!
//! - [`ticket`]: issuing (gateway side) and verifying (signer side) release tickets;
//! - [`response`]: the signer's answer and the gateway's check of it;
//! - [`ledger`]: the on-disk double-sign protection, the signer's only state;
//! - [`owner_key`]: the owner's keystore and its password file;
//! - [`clock`]: the time source the signer is handed;
//! - [`error`]: [`SignError`] and its single conversion into a `tonic::Status`.

#![deny(missing_docs)]
#![warn(unreachable_pub)]

pub mod clock;
pub mod error;
pub mod ledger;
pub mod owner_key;
pub mod response;
mod service;
pub mod ticket;

use std::{
    future::Future,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
};

use alloy_signer_local::PrivateKeySigner;
use ed25519_dalek::VerifyingKey;
use signgate_proto::v1::signer_server::SignerServer;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};

pub use clock::{Clock, SystemClock};
pub use error::SignError;
pub use ledger::{Ledger, LedgerError};
pub use owner_key::OwnerKeyError;
pub use service::SignerService;
pub use ticket::{TicketError, VerifiedTicket};

/// Largest request the signer accepts (a ticket with its calldata).
const MAX_MESSAGE_BYTES: usize = 2 << 20;

/// The ledger's file name inside the signer's data directory.
const LEDGER_FILE: &str = "signed.sqlite3";

/// The files a signer operator provides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerFiles {
    /// The owner's keystore file (created by `signgate keygen --kind secp256k1`).
    pub keystore: PathBuf,
    /// File holding the keystore password.
    pub password_file: PathBuf,
    /// The gateway's release public key file (`release.key.pub` in the gateway's data dir).
    pub gateway_key: PathBuf,
    /// Where the double-sign ledger lives.
    pub data_dir: PathBuf,
    /// Mutual TLS, or `None` for plaintext on a loopback address only.
    pub tls: Option<TlsFiles>,
}

/// PEM files for mutual TLS towards the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// Server certificate.
    pub cert: PathBuf,
    /// Server private key.
    pub key: PathBuf,
    /// CA of client (gateway) certificates.
    pub client_ca: PathBuf,
}

/// Why the signer could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    /// The gateway's public key file could not be read.
    #[error(transparent)]
    GatewayKey(#[from] signgate_keys::KeyError),
    /// The owner's keystore or its password file could not be read or decrypted.
    #[error(transparent)]
    OwnerKey(#[from] OwnerKeyError),
    /// The ledger could not be opened.
    #[error(transparent)]
    Ledger(Box<LedgerError>),
    /// A TLS file could not be read.
    #[error("reading {}: {source}", path.display())]
    TlsFile {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Plaintext without a loopback address.
    #[error("without TLS the signer listens on loopback only, got {0}")]
    NotLoopback(SocketAddr),
    /// Binding or serving failed.
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
    /// Serving failed.
    #[error("transport: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Everything a running signer holds, loaded once.
#[derive(Debug, Clone)]
pub struct SignerSetup {
    /// The owner key.
    pub key: PrivateKeySigner,
    /// The gateway's release key.
    pub gateway_key: VerifyingKey,
    /// Double-sign ledger.
    pub ledger: Ledger,
    /// Where ticket expiry and ledger records read the time.
    pub clock: Arc<dyn Clock>,
    /// mTLS, or `None` for loopback plaintext.
    pub tls: Option<ServerTlsConfig>,
}

fn read(path: &Path) -> Result<Vec<u8>, SignerError> {
    std::fs::read(path).map_err(|source| SignerError::TlsFile {
        path: path.to_path_buf(),
        source,
    })
}

impl SignerFiles {
    /// Loads the keystore, gateway key, ledger and TLS files; the signer will read `clock`.
    pub fn load(&self, clock: Arc<dyn Clock>) -> Result<SignerSetup, SignerError> {
        let password = owner_key::read_password(&self.password_file)?;
        let key = owner_key::open_keystore(&self.keystore, &password)?;
        let gateway_key = signgate_keys::read_ed25519_public(&self.gateway_key)?;
        let ledger = Ledger::open(&self.data_dir.join(LEDGER_FILE))
            .map_err(|e| SignerError::Ledger(Box::new(e)))?;
        let tls = match &self.tls {
            Some(files) => Some(
                ServerTlsConfig::new()
                    .identity(Identity::from_pem(read(&files.cert)?, read(&files.key)?))
                    .client_ca_root(Certificate::from_pem(read(&files.client_ca)?)),
            ),
            None => None,
        };
        Ok(SignerSetup {
            key,
            gateway_key,
            ledger,
            clock,
            tls,
        })
    }
}

/// Loads `files`, binds `listen` and serves until `shutdown` completes.
pub async fn run(
    listen: SocketAddr,
    files: &SignerFiles,
    clock: Arc<dyn Clock>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), SignerError> {
    let setup = files.load(clock)?;
    let listener = TcpListener::bind(listen).await?;
    tracing::info!(listen = %listen, owner = %setup.key.address(), "signer serving");
    serve(listener, setup, shutdown).await
}

/// Serves the `Signer` service on `listener` until `shutdown` completes. Without TLS the
/// listener must be on a loopback address.
pub async fn serve(
    listener: TcpListener,
    setup: SignerSetup,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), SignerError> {
    install_crypto_provider();
    let local = listener.local_addr()?;
    let mut builder = Server::builder();
    match setup.tls.clone() {
        Some(tls) => builder = builder.tls_config(tls)?,
        None if !local.ip().is_loopback() => return Err(SignerError::NotLoopback(local)),
        None => {}
    }
    let svc = SignerServer::new(SignerService::new(setup))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    builder
        .add_service(svc)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await?;
    Ok(())
}

/// Selects ring as rustls' process-wide crypto provider unless one is already chosen.
///
/// rustls refuses to guess when a process links more than one provider (the `signgate` binary
/// does: the gateway's HTTP client brings aws-lc-rs). The signer's own call rather than the
/// gateway's keeps this crate free of the gateway; both choose ring, so whichever runs first
/// in a process leaves the same choice.
fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race against another caller installing a provider is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}
