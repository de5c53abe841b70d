//! `signgate keygen`: a new ed25519 key file (operators, admins, the gateway) or a secp256k1
//! keystore (a Safe owner, for the reference signer).

use std::path::{Path, PathBuf};

use alloy_primitives::Address;
use signgate_keys::KeyError;
use signgate_signer::owner_key::{self, OwnerKeyError};

/// Why `keygen` made no key.
#[derive(Debug, thiserror::Error)]
pub enum KeygenError {
    /// The ed25519 key file could not be written.
    #[error(transparent)]
    Ed25519(#[from] KeyError),
    /// The keystore or its password file failed.
    #[error(transparent)]
    Keystore(#[from] OwnerKeyError),
    /// `--password-file` is missing or `--out` names no file.
    #[error("{}: {reason}", path.display())]
    Usage {
        /// The `--out` path.
        path: PathBuf,
        /// What is wrong.
        reason: &'static str,
    },
}

/// The kind of key `signgate keygen` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KeyKind {
    /// An ed25519 key for an operator, an admin, or the gateway's release/audit keys.
    Ed25519,
    /// A secp256k1 keystore for the reference signer (a Safe owner).
    Secp256k1,
}

/// `signgate keygen`: make a new key file.
#[derive(Debug, Clone, clap::Args)]
pub struct KeygenArgs {
    /// What kind of key to create.
    #[arg(long, value_enum, default_value = "ed25519")]
    pub kind: KeyKind,
    /// The key file to create (for secp256k1: the keystore file). Never overwritten.
    #[arg(long)]
    pub out: PathBuf,
    /// For secp256k1: file holding the keystore password.
    #[arg(long, required_if_eq("kind", "secp256k1"))]
    pub password_file: Option<PathBuf>,
}

/// What `keygen` made, for printing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeygenOutput {
    /// ed25519: the secret file and its public key (hex), also written to `<file>.pub`.
    Ed25519 {
        /// The secret key file written.
        secret: PathBuf,
        /// The public key as hex (also in `<file>.pub`), for the policy file or whoever
        /// verifies what the key signs.
        public_key_hex: String,
    },
    /// secp256k1: the keystore and the owner address to add to the Safe.
    Secp256k1 {
        /// The encrypted keystore written.
        keystore: PathBuf,
        /// The key's Ethereum address, to add as a Safe owner.
        address: Address,
    },
}

/// Creates the key described by `args`.
pub fn keygen(args: &KeygenArgs) -> Result<KeygenOutput, KeygenError> {
    match args.kind {
        KeyKind::Ed25519 => {
            let key = signgate_keys::create_ed25519(&args.out)?;
            Ok(KeygenOutput::Ed25519 {
                secret: args.out.clone(),
                public_key_hex: hex::encode(key.verifying_key().as_bytes()),
            })
        }
        KeyKind::Secp256k1 => {
            let password_file =
                args.password_file
                    .as_deref()
                    .ok_or_else(|| KeygenError::Usage {
                        path: args.out.clone(),
                        reason: "--password-file is required for a secp256k1 keystore",
                    })?;
            let password = owner_key::read_password(password_file)?;
            let dir = args
                .out
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let name = args
                .out
                .file_name()
                .and_then(|n| n.to_str())
                .ok_or(KeygenError::Usage {
                    path: args.out.clone(),
                    reason: "not a file name",
                })?;
            let address = owner_key::create_keystore(dir, name, &password)?;
            Ok(KeygenOutput::Secp256k1 {
                keystore: args.out.clone(),
                address,
            })
        }
    }
}
