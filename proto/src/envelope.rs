//! ed25519 signatures over encoded protobuf payloads (`SignedEnvelope`, release tickets,
//! policies).
//!
//! The signed message is a context string naming the payload's message type, one zero byte,
//! then the payload bytes exactly as sent. The context stops a signature made for one purpose
//! (an approval) from being accepted for another (a ticket); signing the received bytes, not a
//! re-encoding, avoids any canonical-form disagreement. Verification is strict (no malleable or
//! small-order keys).

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use signgate_keys::signed::message;
pub use signgate_keys::signed::{
    APPROVAL_CONTEXT, CANCEL_CONTEXT, POLICY_CONTEXT, SUBMISSION_CONTEXT, TICKET_CONTEXT,
    webauthn_challenge,
};

/// Why a signed payload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// The public key is not 32 bytes or not a valid point.
    #[error("public key is not a valid ed25519 key")]
    BadKey,
    /// The signature is not 64 bytes.
    #[error("signature is not 64 bytes")]
    BadSignatureLength,
    /// The signature does not verify for this key, context and payload.
    #[error("signature does not verify")]
    Forged,
}

/// Signs `payload` under `context`.
pub fn sign(key: &SigningKey, context: &str, payload: &[u8]) -> [u8; 64] {
    key.sign(&message(context, payload)).to_bytes()
}

/// `payload` signed by `key` under `context`, as the `SignedEnvelope` every signed request
/// travels in (the key, the exact bytes, the signature).
pub fn seal(key: &SigningKey, context: &str, payload: Vec<u8>) -> crate::v1::SignedEnvelope {
    let signature = sign(key, context, &payload).to_vec();
    crate::v1::SignedEnvelope {
        payload,
        public_key: key.verifying_key().to_bytes().to_vec(),
        signature,
        webauthn: None,
    }
}

/// Parses a 32-byte public key.
pub fn verifying_key(public_key: &[u8]) -> Result<VerifyingKey, EnvelopeError> {
    let bytes: [u8; 32] = public_key.try_into().map_err(|_| EnvelopeError::BadKey)?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| EnvelopeError::BadKey)
}

/// Verifies `signature` by `key` over `payload` under `context`.
pub fn verify(
    key: &VerifyingKey,
    context: &str,
    payload: &[u8],
    signature: &[u8],
) -> Result<(), EnvelopeError> {
    let sig: [u8; 64] = signature
        .try_into()
        .map_err(|_| EnvelopeError::BadSignatureLength)?;
    key.verify_strict(&message(context, payload), &Signature::from_bytes(&sig))
        .map_err(|_| EnvelopeError::Forged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_and_payload_are_both_bound() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let vk = key.verifying_key();
        let sig = sign(&key, APPROVAL_CONTEXT, b"payload");
        assert_eq!(verify(&vk, APPROVAL_CONTEXT, b"payload", &sig), Ok(()));
        assert_eq!(
            verify(&vk, TICKET_CONTEXT, b"payload", &sig),
            Err(EnvelopeError::Forged)
        );
        assert_eq!(
            verify(&vk, APPROVAL_CONTEXT, b"payloae", &sig),
            Err(EnvelopeError::Forged)
        );
        assert_eq!(
            verify(&vk, APPROVAL_CONTEXT, b"payload", &sig[..63]),
            Err(EnvelopeError::BadSignatureLength)
        );
        assert_eq!(verifying_key(&[1; 31]), Err(EnvelopeError::BadKey));
    }
}
