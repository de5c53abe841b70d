//! ed25519 key files: the gateway's release and audit keys, operators' and admins' keys, and
//! the public key files the signer backends and auditors read.
//!
//! One format for everyone who writes or reads them (the gateway, `signgate keygen`, the
//! reference signer, the CLI, the audit tools), so a key written by one is read by all. An
//! ed25519 secret key file holds 64 hex digits and a newline, written to a temporary file
//! with mode 0600, fsynced, linked into place and the directory fsynced, so a crash never
//! leaves a half-written key. The public key goes beside it as `<file>.pub` (64 hex digits).
//! Existing files are never overwritten.
//!
//! The Safe owners' secp256k1 keystores are not here: only the reference signer opens them
//! (`signgate_signer::owner_key`), and keeping them out keeps this crate free of alloy.

#![deny(missing_docs)]
#![warn(unreachable_pub)]

use std::{
    fs::{self, File, OpenOptions},
    io::Write,
    path::{Path, PathBuf},
};

use ed25519_dalek::{SigningKey, VerifyingKey};

/// Why a key file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The operating system's random number generator failed; no key was written.
    #[error("the operating system's random number generator failed: {0}")]
    Entropy(getrandom::Error),
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
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
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
    fs::create_dir_all(dir).map_err(io_error(dir))?;
    // A temporary name of this attempt's own: a file left behind by an attempt killed before
    // its link (a crash during the first start) must not make every later attempt fail, and
    // two attempts at once must not write into one file. The link below is what is exclusive.
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).map_err(KeyError::Entropy)?;
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(format!(".{}.tmp", hex::encode(nonce)));
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
    let mut f = opts.open(&tmp).map_err(io_error(&tmp))?;
    f.write_all(contents).map_err(io_error(&tmp))?;
    f.sync_all().map_err(io_error(&tmp))?;
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
    fs::remove_file(&tmp).map_err(io_error(&tmp))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(dir))?;
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
    let text = fs::read_to_string(path).map_err(io_error(path))?;
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

/// Why text is not an ed25519 public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PublicKeyError {
    /// Not hexadecimal digits.
    #[error("not hex")]
    NotHex,
    /// Hex, but not of 32 bytes.
    #[error("not 32 bytes")]
    WrongLength,
    /// 32 bytes that are not a point on the ed25519 curve.
    #[error("not an ed25519 public key")]
    NotEd25519,
}

impl PublicKeyError {
    /// The reason in a few words (the same text as the error's `Display`), for callers whose
    /// own errors carry a static reason.
    pub const fn reason(self) -> &'static str {
        match self {
            Self::NotHex => "not hex",
            Self::WrongLength => "not 32 bytes",
            Self::NotEd25519 => "not an ed25519 public key",
        }
    }
}

/// Parses the content of a public key file: the 32-byte ed25519 key as 64 hex digits. Reading is
/// a little more lenient than writing — surrounding whitespace and a `0x` prefix are accepted,
/// since a key pasted by hand often has them. The gateway, the signer and the auditor's
/// verifier all read `.pub` files through here.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, PublicKeyError> {
    let digits = text.trim();
    let digits = digits.strip_prefix("0x").unwrap_or(digits);
    let raw = hex::decode(digits).map_err(|_| PublicKeyError::NotHex)?;
    let bytes = <[u8; 32]>::try_from(raw).map_err(|_| PublicKeyError::WrongLength)?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| PublicKeyError::NotEd25519)
}

/// Reads an ed25519 public key file (see [`parse_public_key`]).
pub fn read_ed25519_public(path: &Path) -> Result<VerifyingKey, KeyError> {
    let text = fs::read_to_string(path).map_err(|source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_public_key(&text).map_err(|e| KeyError::Malformed {
        path: path.to_path_buf(),
        reason: e.reason(),
    })
}

/// Reads the key at `path`, creating it first if the file does not exist (the gateway's own
/// keys on first start).
///
/// A key whose public half is missing (a start killed between writing the two files) gets it
/// written now: the public file is what signers and auditors are given.
pub fn load_or_create_ed25519(path: &Path) -> Result<SigningKey, KeyError> {
    if !path.exists() {
        return create_ed25519(path);
    }
    let key = read_ed25519(path)?;
    let public = public_path(path);
    if !public.exists() {
        let text = format!("{}\n", hex::encode(key.verifying_key().as_bytes()));
        match write_new(&public, text.as_bytes(), false) {
            // Written meanwhile by another start: the same key's public half.
            Ok(()) | Err(KeyError::Exists(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(key)
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

    /// A first start killed while creating its keys leaves a temporary file, or a secret
    /// without its public half; the next start must create or complete them, not refuse.
    #[test]
    fn a_creation_cut_off_by_a_crash_does_not_block_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.key");
        // Killed after the temporary file was created, before the link.
        fs::write(dir.path().join("audit.key.tmp"), "half").unwrap();
        let key = load_or_create_ed25519(&path).unwrap();
        assert_eq!(read_ed25519(&path).unwrap().to_bytes(), key.to_bytes());
        // Killed after the secret was linked, before its public half was written.
        fs::remove_file(public_path(&path)).unwrap();
        let again = load_or_create_ed25519(&path).unwrap();
        assert_eq!(again.to_bytes(), key.to_bytes());
        assert_eq!(
            read_ed25519_public(&public_path(&path)).unwrap(),
            key.verifying_key()
        );
        // No temporary file of a successful creation is left behind.
        let left: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp") && n != "audit.key.tmp")
            .collect();
        assert!(left.is_empty(), "{left:?}");
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

/// What an operator's key signs: one definition of the domain-separated message, for the
/// gateway that checks requests, the CLI and console that make them, and the auditor who checks
/// recorded approvals offline.
pub mod signed {
    /// Context of `ProposalSubmission` envelopes.
    pub const SUBMISSION_CONTEXT: &str = "signgate.v1.ProposalSubmission";
    /// Context of `ApprovalStatement` envelopes.
    pub const APPROVAL_CONTEXT: &str = "signgate.v1.ApprovalStatement";
    /// Context of `CancelStatement` envelopes.
    pub const CANCEL_CONTEXT: &str = "signgate.v1.CancelStatement";
    /// Context of release tickets.
    pub const TICKET_CONTEXT: &str = "signgate.v1.ReleaseTicket";
    /// Context of policy documents.
    pub const POLICY_CONTEXT: &str = "signgate.v1.Policy";
    /// Context of a WebAuthn credential's enrolment request (what the new credential signs to
    /// prove it is held by whoever asks for it).
    pub const ENROLMENT_CONTEXT: &str = "signgate.v1.Enrolment";

    /// The message an ed25519 key signs for `payload` under `context`: the context string
    /// naming the payload's message type, one zero byte, then the payload bytes exactly as sent.
    pub fn message(context: &str, payload: &[u8]) -> Vec<u8> {
        let mut m = Vec::with_capacity(context.len() + 1 + payload.len());
        m.extend_from_slice(context.as_bytes());
        m.push(0);
        m.extend_from_slice(payload);
        m
    }

    /// The challenge a WebAuthn credential signs for `payload` under `context`: SHA-256 of
    /// [`message`], so a statement signed either way binds the same bytes, and no assertion
    /// made for another purpose or payload verifies.
    pub fn webauthn_challenge(context: &str, payload: &[u8]) -> [u8; 32] {
        use sha2::Digest as _;
        sha2::Sha256::digest(message(context, payload)).into()
    }
}
