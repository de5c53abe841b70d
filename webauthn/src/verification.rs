//! [`verify_assertion`]: is this assertion a genuine signature of the expected challenge by the
//! enrolled credential, from an allowed origin, with the user present (and verified)?
//!
//! A pure function of the credential, the assertion and the expectation; the signature counter
//! is reported for the caller to apply [`crate::check_counter`] against what it stored.

use crate::{
    assertion::Assertion,
    authenticator_data::{self, AuthenticatorDataError, Ceremony, Flags},
    client_data::{self, ClientDataError},
    credential::Credential,
    public_key::SignatureError,
};

/// What an assertion must match, decided by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertionExpected {
    /// The challenge the browser was given: for approvals, SHA-256 of the domain-separated
    /// statement being approved, so an assertion approves exactly one statement.
    pub challenge: Vec<u8>,
    /// The allowed origins, each compared exactly with clientDataJSON's `origin` (scheme, host
    /// and port, e.g. `https://console.example:8443`); an empty list allows none.
    pub origins: Vec<String>,
    /// Whether the UV flag is required (the gateway always requires it).
    pub require_user_verification: bool,
}

/// What a verified assertion says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VerifiedAssertion {
    /// The signature counter (0 when the authenticator keeps none).
    pub counter: u32,
    /// The authenticator's flags.
    pub flags: Flags,
}

/// Why an assertion is refused; each check has its own variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssertionError {
    /// The assertion names another credential.
    #[error("the assertion was made with another credential")]
    CredentialMismatch,
    /// clientDataJSON is refused.
    #[error("{0}")]
    ClientData(#[from] ClientDataError),
    /// authenticatorData is refused.
    #[error("{0}")]
    AuthenticatorData(#[from] AuthenticatorDataError),
    /// The signature is refused.
    #[error("{0}")]
    Signature(#[from] SignatureError),
}

/// Verifies `assertion` against `credential` and `expected`.
///
/// Checks, in this order: the credential id; clientDataJSON (size, JSON, `type ==
/// "webauthn.get"`, the challenge, the origin, `crossOrigin` absent or false, no `topOrigin`);
/// authenticatorData (the header, rpIdHash == SHA-256 of the credential's rp id, UP, UV when
/// required, no AT, BS only with BE, ED iff an extensions map follows); then the signature over
/// `authenticatorData || SHA-256(clientDataJSON)` with the credential's key.
pub fn verify_assertion(
    credential: &Credential,
    assertion: &Assertion,
    expected: &AssertionExpected,
) -> Result<VerifiedAssertion, AssertionError> {
    if assertion.credential_id() != credential.id().as_bytes() {
        return Err(AssertionError::CredentialMismatch);
    }
    let client_data_hash = client_data::check(
        assertion.client_data_json(),
        client_data::Ceremony::Get,
        &expected.challenge,
        &expected.origins,
    )?;
    let checked = authenticator_data::check(
        assertion.authenticator_data(),
        credential.rp_id(),
        expected.require_user_verification,
        Ceremony::Assertion,
    )?;
    let mut message = Vec::with_capacity(assertion.authenticator_data().len() + 32);
    message.extend_from_slice(assertion.authenticator_data());
    message.extend_from_slice(&client_data_hash);
    credential
        .public_key()
        .verify(&message, assertion.signature())?;
    Ok(VerifiedAssertion {
        counter: checked.header.counter,
        flags: checked.flags,
    })
}
