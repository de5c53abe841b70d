//! What an auditor holds, read from disk: the export, the checkpoint notes, the audit public key.
//!
//! Both `signgate audit verify` and `signgate-audit verify` read their inputs here, so the
//! gateway and the stand-alone verifier accept exactly the same files.
//!
//! The public key file is what the gateway writes beside its audit key as
//! `<data_dir>/audit.key.pub`, in the format [`signgate_keys`] defines for every `.pub` file and
//! parses with [`parse_public_key`]: anything that is not exactly one valid ed25519 point is
//! refused, since a verifier that guessed at its key would prove nothing.

use std::{
    fs,
    path::{Path, PathBuf},
};

use ed25519_dalek::VerifyingKey;
pub use signgate_keys::{PublicKeyError, parse_public_key};

/// Why an auditor's input file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file or directory could not be read.
    #[error("reading {what} {}: {source}", path.display())]
    Read {
        /// What the file was supposed to be, in words.
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The public key file does not hold an ed25519 public key.
    #[error("reading the audit public key {}: {source}", path.display())]
    PublicKey {
        /// The file.
        path: PathBuf,
        /// What is wrong with its content.
        #[source]
        source: PublicKeyError,
    },
}

/// Reads the audit public key file (`<data_dir>/audit.key.pub`).
pub fn read_public_key(path: &Path) -> Result<VerifyingKey, FileError> {
    let text = fs::read_to_string(path).map_err(|source| FileError::Read {
        what: "the audit public key",
        path: path.to_path_buf(),
        source,
    })?;
    parse_public_key(&text).map_err(|source| FileError::PublicKey {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads an export file whole (the verifier needs every line at once to check positions).
pub fn read_export(path: &Path) -> Result<Vec<u8>, FileError> {
    fs::read(path).map_err(|source| FileError::Read {
        what: "the export",
        path: path.to_path_buf(),
        source,
    })
}

/// Reads checkpoint notes from `paths`: each is a note file, or a directory whose `*.note`
/// files are read in name order. Each note is named by its path, which is how the verifier's
/// findings refer to it.
pub fn read_notes(paths: &[PathBuf]) -> Result<Vec<(String, String)>, FileError> {
    let mut notes = Vec::new();
    for p in paths {
        if p.is_dir() {
            let listing = |source| FileError::Read {
                what: "the checkpoint directory",
                path: p.clone(),
                source,
            };
            let mut files = Vec::new();
            for entry in fs::read_dir(p).map_err(listing)? {
                let file = entry.map_err(listing)?.path();
                if file.extension().is_some_and(|x| x == "note") {
                    files.push(file);
                }
            }
            files.sort();
            for f in files {
                notes.push(read_note(&f)?);
            }
        } else {
            notes.push(read_note(p)?);
        }
    }
    Ok(notes)
}

fn read_note(p: &Path) -> Result<(String, String), FileError> {
    let text = fs::read_to_string(p).map_err(|source| FileError::Read {
        what: "checkpoint",
        path: p.to_path_buf(),
        source,
    })?;
    Ok((p.display().to_string(), text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    #[test]
    fn the_file_the_gateway_writes_is_read_back() {
        let key = SigningKey::from_bytes(&[3; 32]).verifying_key();
        let written = format!("{}\n", hex::encode(key.as_bytes()));
        assert_eq!(parse_public_key(&written), Ok(key));
        assert_eq!(
            parse_public_key(&format!("  0x{}\r\n", hex::encode(key.as_bytes()))),
            Ok(key)
        );
    }

    #[test]
    fn anything_else_is_refused() {
        assert_eq!(parse_public_key("zz\n"), Err(PublicKeyError::NotHex));
        assert_eq!(parse_public_key(""), Err(PublicKeyError::WrongLength));
        assert_eq!(
            parse_public_key(&"ab".repeat(33)),
            Err(PublicKeyError::WrongLength)
        );
        // Two keys in one file is not one key.
        let k = hex::encode([9u8; 32]);
        assert_eq!(
            parse_public_key(&format!("{k}\n{k}\n")),
            Err(PublicKeyError::NotHex)
        );
        let off_curve = (0u8..=255)
            .any(|b| parse_public_key(&hex::encode([b; 32])) == Err(PublicKeyError::NotEd25519));
        assert!(off_curve, "some 32-byte string is not an ed25519 point");
        for e in [
            PublicKeyError::NotHex,
            PublicKeyError::WrongLength,
            PublicKeyError::NotEd25519,
        ] {
            assert_eq!(e.to_string(), e.reason());
        }
    }
}
