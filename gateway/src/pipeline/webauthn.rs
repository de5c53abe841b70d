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
    Assertion, AssertionExpected, Credential, VerifiedAssertion, check_counter, verify_assertion,
};

use signgate_audit::record::WebAuthnApproval;

use crate::{call_facts, error::GatewayError, store::ProposalStore};

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
    let previous = highest_counter(store, key.public_key.0).await?;
    check_counter(previous, verified.counter).map_err(|e| {
        call_facts::record_refusal(RefusalKind::ClonedAuthenticator);
        tracing::warn!(operator = %operator.id, %e, "WebAuthn signature counter did not increase");
        GatewayError::PermissionDenied(format!(
            "{f}: {e}; the approval is refused (if this is the only copy of the key, re-enrol \
             it)"
        ))
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

/// The highest signature counter among the stored assertions of the credential whose key id is
/// `key` (`None`: none stored).
async fn highest_counter<S: ProposalStore>(
    store: &S,
    key: [u8; 32],
) -> Result<Option<u32>, GatewayError> {
    let stored = store.signatures_by_key(key).await?;
    Ok(crate::store::highest_counter(
        stored.iter().map(Vec::as_slice),
    ))
}
