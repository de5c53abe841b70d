//! Safe owner keys of the reference signer: secp256k1 keystores (Web3 Secret Storage, scrypt)
//! and the password files that unlock them.
//!
//! Only the signer opens a keystore; `signgate keygen --kind secp256k1` creates one through
//! [`create_keystore`]. Errors name the file and never carry secret material.

use std::{
    fs::{self, File},
    path::{Path, PathBuf},
};

use alloy_primitives::Address;
use alloy_signer::k256::elliptic_curve::rand_core::OsRng;
use alloy_signer_local::PrivateKeySigner;

/// Why a keystore or password file could not be created or read.
#[derive(Debug, thiserror::Error)]
pub enum OwnerKeyError {
    /// File system failure.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The keystore exists; keys are never overwritten.
    #[error("{} already exists; refusing to overwrite a key", .0.display())]
    Exists(PathBuf),
    /// The keystore could not be created or decrypted (wrong password or corrupt file).
    #[error("keystore {}: {reason}", path.display())]
    Keystore {
        /// The keystore file or directory.
        path: PathBuf,
        /// The cause, without secret material.
        reason: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OwnerKeyError + '_ {
    move |source| OwnerKeyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Creates a secp256k1 keystore (Web3 Secret Storage, scrypt) named `name` in `dir`, encrypted
/// with `password`, and returns the owner address it signs for.
pub fn create_keystore(dir: &Path, name: &str, password: &[u8]) -> Result<Address, OwnerKeyError> {
    let path = dir.join(name);
    if path.exists() {
        return Err(OwnerKeyError::Exists(path));
    }
    fs::create_dir_all(dir).map_err(io(dir))?;
    // The keystore API is typed against the rand_core the signer library is built on (0.6);
    // its own re-export of that crate's OsRng (the OS generator) keeps us from naming that old
    // version ourselves.
    let (signer, _) = PrivateKeySigner::new_keystore(dir, &mut OsRng, password, Some(name))
        .map_err(|e| OwnerKeyError::Keystore {
            path: path.clone(),
            reason: e.to_string(),
        })?;
    File::open(&path)
        .and_then(|f| f.sync_all())
        .map_err(io(&path))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))?;
    Ok(signer.address())
}

/// Decrypts a keystore file.
pub fn open_keystore(path: &Path, password: &[u8]) -> Result<PrivateKeySigner, OwnerKeyError> {
    PrivateKeySigner::decrypt_keystore(path, password).map_err(|e| OwnerKeyError::Keystore {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Reads a password file, without its trailing newline.
pub fn read_password(path: &Path) -> Result<Vec<u8>, OwnerKeyError> {
    let mut bytes = fs::read(path).map_err(io(path))?;
    while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        bytes.pop();
    }
    Ok(bytes)
}
