//! `signgate signer`: the command line of the reference signer backend (`signgate-signer`).
//!
//! Only the flags live here; loading, serving and the ticket rules are the signer crate's. This
//! is the binary's edge, so it is where the signer is handed the system clock.

use std::{future::Future, net::SocketAddr, path::PathBuf, sync::Arc};

use signgate_signer::{SignerError, SignerFiles, SystemClock, TlsFiles};

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

impl SignerArgs {
    /// The files named on the command line. TLS needs all three files (clap enforces it).
    pub fn files(&self) -> SignerFiles {
        let tls = match (&self.tls_cert, &self.tls_key, &self.client_ca) {
            (Some(cert), Some(key), Some(client_ca)) => Some(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
                client_ca: client_ca.clone(),
            }),
            _ => None,
        };
        SignerFiles {
            keystore: self.keystore.clone(),
            password_file: self.password_file.clone(),
            gateway_key: self.gateway_key.clone(),
            data_dir: self.data_dir.clone(),
            tls,
        }
    }
}

/// Runs the signer on the system clock until `shutdown` completes.
pub async fn run(
    args: &SignerArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), SignerError> {
    signgate_signer::run(args.listen, &args.files(), Arc::new(SystemClock), shutdown).await
}
