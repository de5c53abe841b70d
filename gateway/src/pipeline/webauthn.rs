//! Approvals signed with a security key or passkey: the assertion checked against the
//! credential the policy in force enrols, for the exact statement, from the console's origin,
//! with the user verified, and with a signature counter above every one this credential showed
//! before (WebAuthn's clone detection).
//!
//! The counter is read back from the approvals already stored for the credential, not kept
//! apart: the store holds each assertion as received, so the highest counter seen is what the
//! store says it is, on one gateway or on replicas sharing PostgreSQL, with nothing to keep in
//! step. A cloned authenticator whose counter lags is refused, and the refusal goes to the
//! anomaly rules (`cloned_authenticator`).

use alloy_primitives::FixedBytes;
use signgate_policy::{Policy, anomaly::RefusalKind};
use signgate_proto::envelope::{APPROVAL_CONTEXT, webauthn_challenge};
use signgate_webauthn::{
    Assertion, AssertionExpected, Credential, VerifiedAssertion, verify_assertion,
};

use signgate_audit::record::WebAuthnApproval;

use crate::{
    call_facts,
    error::GatewayError,
    store::{ProposalStore, StoreError, counter_above},
};

/// What an assertion is checked against apart from the credential: the challenge of the
/// statement and the console's origins; user verification is always required.
pub fn expected(payload: &[u8], origins: &[String]) -> AssertionExpected {
    AssertionExpected {
        challenge: webauthn_challenge(APPROVAL_CONTEXT, payload).to_vec(),
        origins: origins.to_vec(),
        require_user_verification: true,
    }
}

/// Verifies a stored or received assertion over `payload` by `credential`.
pub fn verify(
    credential: &Credential,
    payload: &[u8],
    assertion: &Assertion,
    origins: &[String],
) -> Result<VerifiedAssertion, signgate_webauthn::AssertionError> {
    verify_assertion(credential, assertion, &expected(payload, origins))
}

/// The key id of the credential that signed `assertion` over `payload`, once everything about
/// it holds, the approval's evidence for the audit log, and the assertion's signature counter
/// (which the store checks again in the transaction that stores the approval); `field` names the envelope in
/// errors. Every refusal is also a refusal the anomaly
/// rules count.
pub(super) async fn signer<S: ProposalStore>(
    store: &S,
    policy: &Policy,
    origins: &[String],
    payload: &[u8],
    assertion: &Assertion,
    field: &str,
) -> Result<(FixedBytes<32>, WebAuthnApproval, u32), GatewayError> {
    let f = format!("{field}.webauthn");
    let Some((operator, key, credential)) = policy.webauthn_credential(assertion.credential_id())
    else {
        call_facts::record_refusal(RefusalKind::UnknownKey);
        return Err(GatewayError::PermissionDenied(format!(
            "{f}: credential {} is not enrolled in the policy in force; enrol it through the \
             console and have an admin apply the policy change that adds it",
            signgate_webauthn::credential::CredentialId::new(assertion.credential_id().to_vec())
                .map_or_else(|_| "(malformed)".to_owned(), |c| c.to_string())
        )));
    };
    call_facts::record_key(key.public_key.as_slice());
    let verified = verify(credential, payload, assertion, origins).map_err(|e| {
        call_facts::record_refusal(RefusalKind::ForgedSignature);
        GatewayError::invalid(f.clone(), e.to_string())
    })?;
    // Early, before any work; the store checks again in the transaction that stores.
    let stored = store.signatures_by_key(key.public_key.0).await?;
    counter_above(stored.iter().map(Vec::as_slice), verified.counter).map_err(|e| {
        note_counter_refusal(&operator.id, &e);
        GatewayError::from(e)
    })?;
    Ok((
        key.public_key,
        WebAuthnApproval {
            statement: payload.to_vec().into(),
            assertion: assertion.to_bytes().into(),
            credential: credential.clone(),
            origins: origins.to_vec(),
        },
        verified.counter,
    ))
}

/// Notes a lagging counter (the store's [`counter_above`] refused it, early or in the storing
/// transaction) as a `cloned_authenticator` refusal for the anomaly rules. Any other store
/// error (an unreadable stored assertion) is the store's fault, not the caller's.
pub(super) fn note_counter_refusal(
    operator: &signgate_policy::operators::OperatorId,
    e: &StoreError,
) {
    if let StoreError::CounterNotAbove(why) = e {
        call_facts::record_refusal(RefusalKind::ClonedAuthenticator);
        tracing::warn!(%operator, %why, "WebAuthn signature counter did not increase");
    }
}
