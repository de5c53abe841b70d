//! What one call tells the anomaly rules, gathered while it runs: the transport's facts (client
//! certificate fingerprint, peer, identity class) from the authorisation interceptor, and the
//! signing key, wallet, approval context and refusal kind from whoever learns them first.
//!
//! Works like [`crate::call_span`]: the [`crate::server::observe`] layer opens a [`CallFacts`]
//! slot around each call (a tokio task-local, so nothing has to thread it through every
//! signature), code that learns a fact records it with one of the `record_*` functions, and
//! the layer reads the slot once the call's status is known. Outside a call (unit tests of the
//! pipeline, the CLI) the `record_*` functions do nothing.

use std::{
    net::IpAddr,
    sync::{Arc, Mutex, PoisonError},
};

use alloy_primitives::{Address, B256, FixedBytes};
use sha2::{Digest as _, Sha256};
use signgate_policy::anomaly::{
    ApprovalContext, CertFingerprint, IdentityClass, KeyId, RefusalKind, WalletId,
};

use crate::domain::records::UnixMillis;

tokio::task_local! {
    static CALL: CallFacts;
}

/// The facts of one call so far. Every field is optional: a call refused before its body was
/// read has no key, a plaintext call has no certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// When the call arrived, from the gateway's clock.
    pub at: Option<UnixMillis>,
    /// Which kind of client identity the certificate was accepted (or refused) as.
    pub identity: Option<IdentityClass>,
    /// SHA-256 of the client certificate's DER, as the TLS layer verified it.
    pub client_cert: Option<CertFingerprint>,
    /// The client's address: the TCP peer, or the `x-forwarded-for` address a trusted proxy
    /// gave.
    pub peer: Option<IpAddr>,
    /// The ed25519 key the request's envelope names (whether or not its signature verified).
    pub key: Option<KeyId>,
    /// The Safe the call concerns.
    pub wallet: Option<WalletId>,
    /// For an approval: the proposal's submission time and size class.
    pub approval: Option<ApprovalContext>,
    /// Why the call was refused, when the code that refused it knows better than the status.
    pub refusal: Option<RefusalKind>,
}

/// The slot of one call's [`Facts`], shared by the layer and the code the call runs.
#[derive(Debug, Clone, Default)]
pub struct CallFacts(Arc<Mutex<Facts>>);

impl CallFacts {
    /// An empty slot for a call that arrived `at`.
    pub fn new(at: UnixMillis) -> Self {
        Self(Arc::new(Mutex::new(Facts {
            at: Some(at),
            ..Facts::default()
        })))
    }

    /// The facts gathered so far.
    pub fn snapshot(&self) -> Facts {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn update(&self, f: impl FnOnce(&mut Facts)) {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// Runs `fut` with this slot as the current call's.
    pub async fn scope<F: Future>(self, fut: F) -> F::Output {
        CALL.scope(self, fut).await
    }

    /// Runs `f` (synchronous: the interceptor) with this slot as the current call's.
    pub fn sync_scope<R>(self, f: impl FnOnce() -> R) -> R {
        CALL.sync_scope(self, f)
    }
}

fn with(f: impl FnOnce(&mut Facts)) {
    let _outside_a_call = CALL.try_with(|c| c.update(f));
}

/// The transport's facts, from the authorisation interceptor.
pub fn record_transport(identity: IdentityClass, cert_der: Option<&[u8]>, peer: Option<IpAddr>) {
    let client_cert = cert_der.map(|der| CertFingerprint(B256::from_slice(&Sha256::digest(der))));
    with(|f| {
        f.identity = Some(identity);
        f.client_cert = client_cert;
        f.peer = peer;
    });
}

/// The public key a signed envelope names; ignored unless it is 32 bytes.
pub fn record_key(public_key: &[u8]) {
    if let Ok(bytes) = <[u8; 32]>::try_from(public_key) {
        with(|f| f.key = Some(KeyId(FixedBytes(bytes))));
    }
}

/// The Safe the call concerns (the first one recorded stays: a request names its Safe before
/// the stored proposal is read, and the binding check refuses a mismatch).
pub fn record_wallet(chain_id: u64, safe: Address) {
    with(|f| {
        f.wallet.get_or_insert(WalletId { chain_id, safe });
    });
}

/// The approval's context.
pub fn record_approval(context: ApprovalContext) {
    with(|f| f.approval = Some(context));
}

/// Why the call is being refused (the first kind recorded stays: it is the most specific).
pub fn record_refusal(kind: RefusalKind) {
    with(|f| {
        f.refusal.get_or_insert(kind);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn facts_recorded_inside_a_call_reach_its_slot_and_nothing_leaks_outside() {
        record_key(&[7; 32]); // outside any call: nothing to record into, no panic
        let slot = CallFacts::new(UnixMillis(5));
        slot.clone()
            .scope(async {
                record_key(&[7; 32]);
                record_key(&[1; 5]); // not a key
                record_wallet(1, Address::repeat_byte(1));
                record_wallet(2, Address::repeat_byte(2));
                record_refusal(RefusalKind::ForgedSignature);
                record_refusal(RefusalKind::Other);
                record_transport(IdentityClass::GatewayClient, Some(b"der"), None);
            })
            .await;
        let f = slot.snapshot();
        assert_eq!(f.key, Some(KeyId(FixedBytes([7; 32]))));
        assert_eq!(f.wallet.map(|w| w.chain_id), Some(1));
        assert_eq!(f.refusal, Some(RefusalKind::ForgedSignature));
        assert_eq!(
            f.client_cert,
            Some(CertFingerprint(B256::from_slice(&Sha256::digest(b"der"))))
        );
    }
}
