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
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
};

use alloy_primitives::{Address, FixedBytes};
use signgate_policy::anomaly::{
    Alert, ApprovalContext, CallKind, CertFingerprint, IdentityClass, KeyId, RefusalKind, WalletId,
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
    /// Whether the call was already judged while it ran ([`judge_now`]): the layer must not
    /// hand it to the rules a second time.
    pub judged: bool,
}

/// The alerts of a call judged while it runs, once they are in the audit log.
pub type Judged = Pin<Box<dyn Future<Output = Result<Vec<Alert>, JudgeUnavailable>> + Send>>;

/// Judges a call while it runs, in order with every call observed before it: what a policy
/// whose anomaly rules change decisions needs before the decision is committed. The anomaly
/// module implements it; the layer puts it in each call's slot, so the pipeline (below the
/// anomaly module) reaches it without depending on it.
pub trait JudgeNow: Send + Sync + 'static {
    /// The alerts of the call `call` with `facts`, recorded.
    fn judge(&self, call: CallKind, facts: Facts) -> Judged;
}

/// The anomaly rules could not judge the call in time, or could not record their judgement;
/// the call must fail closed (a decision that should have had an alert's effect cannot be
/// taken without it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the anomaly rules could not judge this call: {0}")]
pub struct JudgeUnavailable(pub String);

impl From<JudgeUnavailable> for crate::error::GatewayError {
    /// A call the anomaly rules must judge before its decision, and could not: nothing is
    /// decided without the alerts that might have changed it.
    fn from(e: JudgeUnavailable) -> Self {
        Self::Unavailable(e.to_string())
    }
}

/// The slot of one call's [`Facts`], shared by the layer and the code the call runs, and the
/// judge the layer gave it.
#[derive(Clone, Default)]
pub struct CallFacts {
    facts: Arc<Mutex<Facts>>,
    judge: Option<Arc<dyn JudgeNow>>,
}

impl std::fmt::Debug for CallFacts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallFacts")
            .field("facts", &self.snapshot())
            .field("judge", &self.judge.is_some())
            .finish()
    }
}

impl CallFacts {
    /// An empty slot for a call that arrived `at`.
    pub fn new(at: UnixMillis) -> Self {
        Self {
            facts: Arc::new(Mutex::new(Facts {
                at: Some(at),
                ..Facts::default()
            })),
            judge: None,
        }
    }

    /// The slot with `judge` for calls that must be judged while they run.
    #[must_use]
    pub fn with_judge(mut self, judge: Arc<dyn JudgeNow>) -> Self {
        self.judge = Some(judge);
        self
    }

    /// The facts gathered so far.
    pub fn snapshot(&self) -> Facts {
        self.facts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn update(&self, f: impl FnOnce(&mut Facts)) {
        f(&mut self.facts.lock().unwrap_or_else(PoisonError::into_inner));
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
    let client_cert = cert_der.map(CertFingerprint::of_der);
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

/// Judges the current call now, with the facts gathered so far, and marks it judged so the
/// layer does not judge it again when it ends. Outside a call, or in a call whose layer has no
/// judge (a gateway built without the anomaly rules), there is nothing to judge: no alerts.
///
/// The caller decides whether the policy needs this (rules whose action changes decisions);
/// the judge resolves once the alerts and the call's observation are in the audit log.
pub async fn judge_now(call: CallKind) -> Result<Vec<Alert>, JudgeUnavailable> {
    let Ok(Some((judge, facts))) = CALL.try_with(|c| {
        let judge = c.judge.clone()?;
        c.update(|f| f.judged = true);
        Some((judge, c.snapshot()))
    }) else {
        return Ok(Vec::new());
    };
    judge.judge(call, facts).await
}

#[cfg(test)]
mod tests {
    use alloy_primitives::B256;
    use sha2::{Digest as _, Sha256};

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
