//! Signed checkpoints: the log's commitment to its size and root at an instant.
//!
//! The text is a C2SP `tlog-checkpoint` carried in a C2SP `signed-note`, so existing
//! transparency tooling and witnesses can read it:
//!
//! ```text
//! signgate.audit/1a2b3c4d5e6f7a8b      <- origin: names the log (derived from its key)
//! 1024                                 <- tree size
//! 3q2+7w…=                             <- root hash, standard base64
//! time 1767225600                      <- extension line: unix seconds when signed
//!
//! — signgate.audit/1a2b3c4d5e6f7a8b base64(key id ‖ ed25519 signature)
//! ```
//!
//! The signature covers every byte of the body (the lines before the blank line). The key id
//! is the first four bytes of `SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)`, the signed-note
//! rule for ed25519 keys. A checkpoint says nothing about which records are in the tree:
//! the verifier recomputes the root from the exported records and compares.

use base64::{Engine, engine::general_purpose::STANDARD};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::merkle::Hash;

/// Upper bound on a note accepted by the parser (they are ~200 bytes).
pub const MAX_NOTE_BYTES: usize = 16 * 1024;
/// Upper bound on signature lines (witness cosignatures could add a few).
pub const MAX_SIGNATURES: usize = 16;

const SIG_PREFIX: &str = "\u{2014} ";

/// The signed statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's name.
    pub origin: String,
    /// Number of records the tree holds.
    pub size: u64,
    /// RFC 6962 root of the first `size` records.
    pub root: Hash,
    /// Unix seconds when it was signed.
    pub time: u64,
}

/// Why a note was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// Longer than [`MAX_NOTE_BYTES`].
    #[error("checkpoint note is {size} bytes, over the {max}-byte limit")]
    TooLarge {
        /// The note's length.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Not a signed note holding a checkpoint; says which part is wrong.
    #[error("checkpoint note is malformed: {0}")]
    Malformed(&'static str),
    /// No signature line names the audit key (other keys' cosignatures may be present).
    #[error("checkpoint is not signed by the expected audit key")]
    NoSignatureByKey,
    /// The audit key's signature line is present but does not verify over the body.
    #[error("checkpoint signature by the audit key does not verify")]
    BadSignature,
    /// The note names another log than the one the key signs for.
    #[error("checkpoint origin `{found}` is not the expected `{expected}`")]
    WrongOrigin {
        /// The origin in the note.
        found: String,
        /// The origin derived from the key ([`origin_for`]).
        expected: String,
    },
}

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// The signer's key name.
    pub name: String,
    /// The signed-note key id: the first four bytes of `SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)`,
    /// which picks the key among same-named ones.
    pub key_id: [u8; 4],
    /// The ed25519 signature over the note's body.
    pub signature: [u8; 64],
}

/// The origin (and signing name) of the log whose checkpoints `key` signs.
pub fn origin_for(key: &VerifyingKey) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let short = digest.get(..8).map(hex::encode).unwrap_or_default();
    format!("signgate.audit/{short}")
}

/// The signed-note key id of an ed25519 key under `name`.
pub(crate) fn key_id(name: &str, key: &VerifyingKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([0x01]);
    h.update(key.as_bytes());
    let d: [u8; 32] = h.finalize().into();
    [d[0], d[1], d[2], d[3]]
}

impl Checkpoint {
    /// The body: the bytes that are signed.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\ntime {}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root),
            self.time
        )
    }

    /// Signs this checkpoint as a complete note, named by its origin.
    pub fn sign(&self, key: &SigningKey) -> String {
        let body = self.body();
        let sig = key.sign(body.as_bytes());
        let mut blob = Vec::with_capacity(68);
        blob.extend_from_slice(&key_id(&self.origin, &key.verifying_key()));
        blob.extend_from_slice(&sig.to_bytes());
        format!(
            "{body}\n{SIG_PREFIX}{} {}\n",
            self.origin,
            STANDARD.encode(blob)
        )
    }
}

/// Parses a note's structure without checking any signature (what the fuzz target drives).
pub fn parse_note(note: &str) -> Result<(Checkpoint, Vec<NoteSignature>), CheckpointError> {
    if note.len() > MAX_NOTE_BYTES {
        return Err(CheckpointError::TooLarge {
            size: note.len(),
            max: MAX_NOTE_BYTES,
        });
    }
    let (body, sigs) = note.split_once("\n\n").ok_or(CheckpointError::Malformed(
        "no blank line before the signatures",
    ))?;
    let mut lines = body.split('\n');
    let origin = lines
        .next()
        .filter(|o| !o.is_empty() && !o.contains(char::is_whitespace))
        .ok_or(CheckpointError::Malformed(
            "origin line is empty or has spaces",
        ))?;
    let size_line = lines
        .next()
        .ok_or(CheckpointError::Malformed("no size line"))?;
    let size = parse_decimal(size_line).ok_or(CheckpointError::Malformed("bad tree size"))?;
    let root_line = lines
        .next()
        .ok_or(CheckpointError::Malformed("no root line"))?;
    let root: Hash = STANDARD
        .decode(root_line)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or(CheckpointError::Malformed("root is not 32 bytes of base64"))?;
    let time_line = lines
        .next()
        .ok_or(CheckpointError::Malformed("no time line"))?;
    let time = time_line
        .strip_prefix("time ")
        .and_then(parse_decimal)
        .ok_or(CheckpointError::Malformed("bad time line"))?;
    if lines.next().is_some() {
        return Err(CheckpointError::Malformed("unexpected extension lines"));
    }
    let sigs = sigs
        .strip_suffix('\n')
        .ok_or(CheckpointError::Malformed("note does not end in a newline"))?;
    let mut signatures = Vec::new();
    for line in sigs.split('\n') {
        if signatures.len() >= MAX_SIGNATURES {
            return Err(CheckpointError::Malformed("too many signatures"));
        }
        let rest = line
            .strip_prefix(SIG_PREFIX)
            .ok_or(CheckpointError::Malformed(
                "signature line does not start with an em dash",
            ))?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or(CheckpointError::Malformed("signature line has no key name"))?;
        let blob = STANDARD
            .decode(b64)
            .map_err(|_| CheckpointError::Malformed("signature is not base64"))?;
        let (id, sig) = blob
            .split_first_chunk::<4>()
            .ok_or(CheckpointError::Malformed("signature too short"))?;
        let signature = <[u8; 64]>::try_from(sig)
            .map_err(|_| CheckpointError::Malformed("ed25519 signature is not 64 bytes"))?;
        signatures.push(NoteSignature {
            name: name.to_owned(),
            key_id: *id,
            signature,
        });
    }
    let checkpoint = Checkpoint {
        origin: origin.to_owned(),
        size,
        root,
        time,
    };
    Ok((checkpoint, signatures))
}

/// Parses a note and checks it carries a valid signature by `key` under the log's origin.
pub fn verify_note(note: &str, key: &VerifyingKey) -> Result<Checkpoint, CheckpointError> {
    let (cp, sigs) = parse_note(note)?;
    let expected = origin_for(key);
    if cp.origin != expected {
        return Err(CheckpointError::WrongOrigin {
            found: cp.origin,
            expected,
        });
    }
    let id = key_id(&expected, key);
    let sig = sigs
        .iter()
        .find(|s| s.name == expected && s.key_id == id)
        .ok_or(CheckpointError::NoSignatureByKey)?;
    key.verify(cp.body().as_bytes(), &Signature::from_bytes(&sig.signature))
        .map_err(|_| CheckpointError::BadSignature)?;
    // The body is re-rendered from parsed fields; it must be what was in the note, or two
    // notes with different bytes could carry one signature.
    if !note.starts_with(&cp.body()) {
        return Err(CheckpointError::Malformed("body is not in canonical form"));
    }
    Ok(cp)
}

/// A decimal without sign, leading zeros or spaces.
fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || (s.len() > 1 && s.starts_with('0')) || !s.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7u8; 32])
    }

    #[test]
    fn round_trip_and_tamper() {
        let k = key();
        let cp = Checkpoint {
            origin: origin_for(&k.verifying_key()),
            size: 42,
            root: [9u8; 32],
            time: 1_767_225_600,
        };
        let note = cp.sign(&k);
        assert_eq!(verify_note(&note, &k.verifying_key()).unwrap(), cp);
        let forged = note.replacen("\n42\n", "\n43\n", 1);
        assert_eq!(
            verify_note(&forged, &k.verifying_key()),
            Err(CheckpointError::BadSignature)
        );
        let other = SigningKey::from_bytes(&[8u8; 32]);
        assert!(verify_note(&note, &other.verifying_key()).is_err());
    }

    #[test]
    fn malformed_notes_are_refused() {
        for bad in ["", "\n\n", "o\n1\nAA==\ntime 1\n\n— o AA==\n", "o\n01\n\n"] {
            assert!(parse_note(bad).is_err(), "{bad:?}");
        }
    }
}
