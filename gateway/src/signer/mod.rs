//! The reference signer backend (`signgate signer`): a `Signer` gRPC service holding one Safe
//! owner's secp256k1 key in a keystore file. It signs a Safe transaction only with a valid
//! release ticket from the gateway, and never two different transactions for one
//! (chain, Safe, nonce).
//!
//! - [`ticket`]: issuing (gateway side) and verifying (signer side) release tickets;
//! - [`client`]: the gateway asking every backend and packing the verified signatures;
//! - [`ledger`]: the on-disk double-sign protection.

pub mod client;
pub mod ledger;
pub mod owner_key;
pub mod ticket;

use std::{future::Future, net::SocketAddr, path::PathBuf, sync::Arc};

use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use ed25519_dalek::VerifyingKey;
use signgate_proto::v1::{self as pb, signer_server::SignerServer};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{
    Request, Response, Status,
    transport::{Certificate, Identity, Server, ServerTlsConfig},
};

pub use ledger::{Ledger, LedgerError};
pub use ticket::{TicketError, VerifiedTicket};

use self::owner_key::OwnerKeyError;
use crate::server::{GatewayError, gateway::now};

/// Largest request the signer accepts (a ticket with its calldata).
const MAX_MESSAGE_BYTES: usize = 2 << 20;

/// `signgate signer`: run a reference signer backend.
#[derive(Debug, Clone, clap::Args)]
pub struct SignerArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:50061")]
    pub listen: SocketAddr,
    /// The owner's keystore file (create one with `signgate keygen --kind secp256k1`).
    #[arg(long)]
    pub keystore: PathBuf,
    /// File holding the keystore password.
    #[arg(long)]
    pub password_file: PathBuf,
    /// The gateway's release public key file (`release.key.pub` in the gateway's data dir).
    #[arg(long)]
    pub gateway_key: PathBuf,
    /// Where the double-sign ledger lives.
    #[arg(long, default_value = "signgate-signer")]
    pub data_dir: PathBuf,
    /// Server certificate (PEM) for mutual TLS; without the three TLS files the signer serves
    /// plaintext on a loopback address only.
    #[arg(long, requires_all = ["tls_key", "client_ca"])]
    pub tls_cert: Option<PathBuf>,
    /// Server private key (PEM).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// CA of client (gateway) certificates (PEM).
    #[arg(long, requires = "tls_cert")]
    pub client_ca: Option<PathBuf>,
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
    /// mTLS, or `None` for loopback plaintext.
    pub tls: Option<ServerTlsConfig>,
}

fn read(path: &PathBuf) -> Result<Vec<u8>, SignerError> {
    std::fs::read(path).map_err(|source| SignerError::TlsFile {
        path: path.clone(),
        source,
    })
}

impl SignerArgs {
    /// Loads the keystore, gateway key, ledger and TLS files.
    pub fn load(&self) -> Result<SignerSetup, SignerError> {
        let password = owner_key::read_password(&self.password_file)?;
        let key = owner_key::open_keystore(&self.keystore, &password)?;
        let gateway_key = signgate_keys::read_ed25519_public(&self.gateway_key)?;
        let ledger = Ledger::open(&self.data_dir.join("signed.sqlite3"))
            .map_err(|e| SignerError::Ledger(Box::new(e)))?;
        let tls = match (&self.tls_cert, &self.tls_key, &self.client_ca) {
            (Some(cert), Some(k), Some(ca)) => Some(
                ServerTlsConfig::new()
                    .identity(Identity::from_pem(read(cert)?, read(k)?))
                    .client_ca_root(Certificate::from_pem(read(ca)?)),
            ),
            _ => None,
        };
        Ok(SignerSetup {
            key,
            gateway_key,
            ledger,
            tls,
        })
    }
}

/// Binds `args.listen` and serves until `shutdown` completes.
pub async fn run(
    args: &SignerArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), SignerError> {
    let setup = args.load()?;
    let listener = TcpListener::bind(args.listen).await?;
    tracing::info!(listen = %args.listen, owner = %setup.key.address(), "signer serving");
    serve(listener, setup, shutdown).await
}

/// Serves the `Signer` service on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    setup: SignerSetup,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), SignerError> {
    crate::server::install_crypto_provider();
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

/// The `Signer` service.
#[derive(Debug)]
pub struct SignerService {
    setup: Arc<SignerSetup>,
}

impl SignerService {
    /// A service signing with `setup.key`.
    pub fn new(setup: SignerSetup) -> Self {
        Self {
            setup: Arc::new(setup),
        }
    }
}

fn ledger_error(e: LedgerError) -> GatewayError {
    match e {
        e @ LedgerError::DoubleSign { .. } => GatewayError::FailedPrecondition(e.to_string()),
        LedgerError::Unavailable(detail) => GatewayError::Unavailable(detail),
    }
}

/// Verify, record, then sign: the order that makes a crash or a ledger failure end with no
/// signature rather than an unrecorded one.
fn sign_blocking(
    setup: &SignerSetup,
    signed: &pb::SignedReleaseTicket,
) -> Result<pb::SignResponse, GatewayError> {
    let now = now();
    let ticket = ticket::verify(&setup.gateway_key, signed, now)?;
    setup
        .ledger
        .record(
            ticket.context.chain_id,
            ticket.safe(),
            ticket.nonce(),
            ticket.safe_tx_hash,
            now,
        )
        .map_err(ledger_error)?;
    let signature = setup
        .key
        .sign_hash_sync(&ticket.safe_tx_hash)
        .map_err(|e| GatewayError::Internal(format!("signing failed: {e}")))?;
    tracing::info!(
        ticket = %ticket.ticket_id,
        proposal = %ticket.proposal_id,
        safe_tx_hash = %ticket.safe_tx_hash,
        "signed"
    );
    Ok(pb::SignResponse {
        owner: setup.key.address().to_checksum(None),
        signature: signature.as_bytes().to_vec(),
        safe_tx_hash: format!("{:#x}", ticket.safe_tx_hash),
    })
}

#[tonic::async_trait]
impl pb::signer_server::Signer for SignerService {
    async fn sign(
        &self,
        req: Request<pb::SignRequest>,
    ) -> Result<Response<pb::SignResponse>, Status> {
        let signed = req
            .into_inner()
            .ticket
            .ok_or_else(|| GatewayError::invalid("ticket", "required"))?;
        let setup = self.setup.clone();
        let resp = tokio::task::spawn_blocking(move || sign_blocking(&setup, &signed))
            .await
            .map_err(|e| GatewayError::Internal(format!("signing task: {e}")))??;
        Ok(Response::new(resp))
    }

    async fn get_signer_info(
        &self,
        _req: Request<pb::GetSignerInfoRequest>,
    ) -> Result<Response<pb::SignerInfo>, Status> {
        Ok(Response::new(pb::SignerInfo {
            owner: self.setup.key.address().to_checksum(None),
            gateway_public_key: hex::encode(self.setup.gateway_key.as_bytes()),
        }))
    }
}
