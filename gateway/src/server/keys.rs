//! Key files: the gateway's ed25519 release and audit keys, operators' ed25519 keys, and the
//! reference signer's secp256k1 keystore.
//!
//! An ed25519 secret key file holds 64 hex digits and a newline, written to a temporary file
//! with mode 0600, fsynced, renamed into place and the directory fsynced, so a crash never
//! leaves a half-written key. The public key goes beside it as `<file>.pub`. Existing files are
//! never overwritten.

use std::{
    fs::{self, File, OpenOptions},
    io::Write,
    path::{Path, PathBuf},
};

use alloy_primitives::Address;
use alloy_signer::k256::elliptic_curve::rand_core::OsRng;
use alloy_signer_local::PrivateKeySigner;
use ed25519_dalek::{SigningKey, VerifyingKey};

/// Why a key file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// File system failure.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file exists; keys are never overwritten.
    #[error("{} already exists; refusing to overwrite a key", .0.display())]
    Exists(PathBuf),
    /// The file does not hold a key of the expected form.
    #[error("{}: {reason}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: &'static str,
    },
    /// The operating system's random number generator failed; no key was written.
    #[error("the operating system's random number generator failed: {0}")]
    Entropy(getrandom::Error),
    /// The keystore could not be created or decrypted (wrong password or corrupt file).
    #[error("keystore {}: {reason}", path.display())]
    Keystore {
        /// The keystore file or directory.
        path: PathBuf,
        /// The cause, without secret material.
        reason: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The public key file beside a secret key file.
pub fn public_path(secret: &Path) -> PathBuf {
    let mut s = secret.as_os_str().to_owned();
    s.push(".pub");
    PathBuf::from(s)
}

/// Writes `contents` to `path` durably and only if it does not exist yet.
fn write_new(path: &Path, contents: &[u8], secret: bool) -> Result<(), KeyError> {
    if path.exists() {
        return Err(KeyError::Exists(path.to_path_buf()));
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io(dir))?;
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut f = opts.open(&tmp).map_err(io(&tmp))?;
    f.write_all(contents).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    drop(f);
    fs::hard_link(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            KeyError::Exists(path.to_path_buf())
        } else {
            KeyError::Io {
                path: path.to_path_buf(),
                source: e,
            }
        }
    })?;
    fs::remove_file(&tmp).map_err(io(&tmp))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))?;
    Ok(())
}

/// Creates a new ed25519 key at `path` (and `path.pub`); fails if `path` exists.
pub fn create_ed25519(path: &Path) -> Result<SigningKey, KeyError> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(KeyError::Entropy)?;
    let key = SigningKey::from_bytes(&secret);
    write_new(path, format!("{}\n", hex::encode(secret)).as_bytes(), true)?;
    let public = public_path(path);
    if !public.exists() {
        write_new(
            &public,
            format!("{}\n", hex::encode(key.verifying_key().as_bytes())).as_bytes(),
            false,
        )?;
    }
    Ok(key)
}

fn read_hex32(path: &Path) -> Result<[u8; 32], KeyError> {
    let text = fs::read_to_string(path).map_err(io(path))?;
    let raw =
        hex::decode(text.trim().trim_start_matches("0x")).map_err(|_| KeyError::Malformed {
            path: path.to_path_buf(),
            reason: "not hex",
        })?;
    raw.try_into().map_err(|_| KeyError::Malformed {
        path: path.to_path_buf(),
        reason: "not 32 bytes",
    })
}

/// Reads an ed25519 secret key file.
pub fn read_ed25519(path: &Path) -> Result<SigningKey, KeyError> {
    Ok(SigningKey::from_bytes(&read_hex32(path)?))
}

/// Reads an ed25519 public key file (64 hex digits).
pub fn read_ed25519_public(path: &Path) -> Result<VerifyingKey, KeyError> {
    VerifyingKey::from_bytes(&read_hex32(path)?).map_err(|_| KeyError::Malformed {
        path: path.to_path_buf(),
        reason: "not an ed25519 public key",
    })
}

/// Reads the key at `path`, creating it first if the file does not exist (the gateway's own
/// keys on first start).
pub fn load_or_create_ed25519(path: &Path) -> Result<SigningKey, KeyError> {
    if path.exists() {
        read_ed25519(path)
    } else {
        create_ed25519(path)
    }
}

/// Creates a secp256k1 keystore (Web3 Secret Storage, scrypt) named `name` in `dir`, encrypted
/// with `password`, and returns the owner address it signs for.
pub fn create_keystore(dir: &Path, name: &str, password: &[u8]) -> Result<Address, KeyError> {
    let path = dir.join(name);
    if path.exists() {
        return Err(KeyError::Exists(path));
    }
    fs::create_dir_all(dir).map_err(io(dir))?;
    // The keystore API is typed against the rand_core the signer library is built on (0.6);
    // its own re-export of that crate's OsRng (the OS generator, as for ed25519 keys) keeps us
    // from naming that old version ourselves.
    let (signer, _) = PrivateKeySigner::new_keystore(dir, &mut OsRng, password, Some(name))
        .map_err(|e| KeyError::Keystore {
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
pub fn open_keystore(path: &Path, password: &[u8]) -> Result<PrivateKeySigner, KeyError> {
    PrivateKeySigner::decrypt_keystore(path, password).map_err(|e| KeyError::Keystore {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Reads a password file, without its trailing newline.
pub fn read_password(path: &Path) -> Result<Vec<u8>, KeyError> {
    let mut bytes = fs::read(path).map_err(io(path))?;
    while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        bytes.pop();
    }
    Ok(bytes)
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
        secret: PathBuf,
        public_key_hex: String,
    },
    /// secp256k1: the keystore and the owner address to add to the Safe.
    Secp256k1 { keystore: PathBuf, address: Address },
}

/// Creates the key described by `args`.
pub fn keygen(args: &KeygenArgs) -> Result<KeygenOutput, KeyError> {
    match args.kind {
        KeyKind::Ed25519 => {
            let key = create_ed25519(&args.out)?;
            Ok(KeygenOutput::Ed25519 {
                secret: args.out.clone(),
                public_key_hex: hex::encode(key.verifying_key().as_bytes()),
            })
        }
        KeyKind::Secp256k1 => {
            let password_file =
                args.password_file
                    .as_deref()
                    .ok_or_else(|| KeyError::Malformed {
                        path: args.out.clone(),
                        reason: "--password-file is required for a secp256k1 keystore",
                    })?;
            let password = read_password(password_file)?;
            let dir = args
                .out
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let name =
                args.out
                    .file_name()
                    .and_then(|n| n.to_str())
                    .ok_or(KeyError::Malformed {
                        path: args.out.clone(),
                        reason: "not a file name",
                    })?;
            let address = create_keystore(dir, name, &password)?;
            Ok(KeygenOutput::Secp256k1 {
                keystore: args.out.clone(),
                address,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ed25519_files_round_trip_and_are_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys").join("release.key");
        let key = load_or_create_ed25519(&path).unwrap();
        assert_eq!(read_ed25519(&path).unwrap().to_bytes(), key.to_bytes());
        assert_eq!(
            read_ed25519_public(&public_path(&path)).unwrap(),
            key.verifying_key()
        );
        assert_eq!(
            load_or_create_ed25519(&path).unwrap().to_bytes(),
            key.to_bytes()
        );
        assert!(matches!(create_ed25519(&path), Err(KeyError::Exists(_))));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn malformed_key_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.key");
        fs::write(&path, "zz\n").unwrap();
        assert!(matches!(
            read_ed25519(&path),
            Err(KeyError::Malformed { .. })
        ));
    }
}
