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

use alloy_primitives::{Address, FixedBytes};
use signgate_policy::{
    Policy,
    anomaly::{
        Alert, ApprovalContext, CallKind, CertFingerprint, IdentityClass, KeyId, Observation,
        Outcome, ProbationFacts, RefusalKind, SourceNetwork, WalletId,
    },
    time::Timestamp,
};
use tonic::Code;

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
    /// Whether the call was judged while it ran, its observation and alerts recorded with the
    /// state change it made ([`judged`]): the layer must not hand it to the rules again.
    pub judged: bool,
    /// The alerts of a call judged while it ran, for the layer to announce once it ends.
    pub alerts: Vec<Alert>,
}

/// The slot of one call's [`Facts`], shared by the layer and the code the call runs.
#[derive(Debug, Clone, Default)]
pub struct CallFacts {
    facts: Arc<Mutex<Facts>>,
}

impl CallFacts {
    /// An empty slot for a call that arrived `at`.
    pub fn new(at: UnixMillis) -> Self {
        Self {
            facts: Arc::new(Mutex::new(Facts {
                at: Some(at),
                ..Facts::default()
            })),
        }
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

/// The facts of the current call so far, when it is observed (the layer opened its slot at a
/// known instant); `None` outside a call, or in a gateway built without the anomaly rules.
pub fn current() -> Option<Facts> {
    CALL.try_with(CallFacts::snapshot)
        .ok()
        .filter(|f| f.at.is_some())
}

/// Marks the current call as judged while it ran, with the alerts its state change recorded:
/// the layer announces them when the call ends, instead of judging it again.
pub fn judged(alerts: Vec<Alert>) {
    with(|f| {
        f.judged = true;
        f.alerts = alerts;
    });
}

/// The call's instant as the policy counts time: whole seconds.
fn seconds(at: UnixMillis) -> Timestamp {
    Timestamp(u64::try_from(at.0).unwrap_or(0) / 1000)
}

/// The observation of a call, under `policy`, as it ended with `code` (or as it stands, with
/// `Code::Ok`, for a call judged while it runs): the operator is whoever holds the key the
/// request named; the outcome is the refusal the code that refused recorded, else what the
/// status says.
pub fn observation(policy: &Policy, call: CallKind, facts: &Facts, code: Code) -> Observation {
    let at = seconds(facts.at.unwrap_or(UnixMillis(0)));
    let holder = facts.key.as_ref().and_then(|k| policy.key_holder(&k.0));
    let operator = holder.map(|(op, _)| op.id.clone());
    let outcome = match (facts.refusal, code) {
        (Some(kind), _) => Outcome::Refused(kind),
        (None, Code::Ok) => Outcome::Allowed,
        (None, _) if facts.key.is_some() && holder.is_none() => {
            Outcome::Refused(RefusalKind::UnknownKey)
        }
        (None, Code::PermissionDenied | Code::Unauthenticated) => {
            Outcome::Refused(RefusalKind::PermissionDenied)
        }
        (None, _) => Outcome::Refused(RefusalKind::Other),
    };
    let identity = if operator.is_some() {
        IdentityClass::Operator
    } else {
        facts.identity.unwrap_or(IdentityClass::GatewayClient)
    };
    let probation = match (&operator, &facts.wallet) {
        (Some(op), Some(w)) => ProbationFacts::from_policy(policy, op, facts.key.as_ref(), w, at),
        _ => None,
    };
    Observation {
        at,
        operator,
        key: facts.key,
        client_cert: facts.client_cert,
        network: facts.peer.map(SourceNetwork::of),
        identity,
        call,
        wallet: facts.wallet,
        outcome,
        approval: if call == CallKind::Approve {
            facts.approval
        } else {
            None
        },
        probation,
    }
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
