//! WebAuthn (FIDO2 security keys and passkeys) for operators' approvals: enrolments and
//! assertions checked against the credential a policy holds, by the gateway online and by the
//! auditor's offline verifier alike, with no I/O and no clock.
//!
//! An operator who approves from the browser console signs with a WebAuthn credential instead of
//! an ed25519 key: the gateway passes SHA-256 of the domain-separated statement as the
//! challenge, the browser returns an [`Assertion`], and [`verify_assertion`] decides whether it
//! is a genuine signature of that challenge by that [`Credential`] from an allowed origin with
//! the user present and verified. [`check_counter`] is WebAuthn's clone detection, applied by
//! the caller that stores the highest counter seen. [`verify_registration`] turns a
//! `navigator.credentials.create()` response into the [`Credential`] the policy will hold.
//!
//! Every input is untrusted: sizes are bounded before anything is parsed, nothing panics, and
//! every refusal is a typed error naming the check that failed (the console shows it).
//!
//! Which crate does what, and why:
//! - `ciborium` decodes every CBOR item (the attestation object, the credential public key's
//!   CBOR item inside authenticatorData, extension maps), with its recursion limit;
//! - `coset` (Google's COSE crate) interprets the COSE_Key (key type, algorithm, curve,
//!   coordinates) and writes the one canonical encoding [`key_id`](Credential::key_id) hashes;
//! - `p256` (RustCrypto, the version the workspace already locks) verifies ES256;
//! - `ed25519-dalek` verifies EdDSA with `verify_strict`;
//! - `serde_json` reads clientDataJSON and the browser's `toJSON()` forms.
//!
//! authenticatorData's fixed header (rpIdHash 32 bytes, flags 1, signCount 4 big-endian) and
//! the attested credential data's framing (AAGUID 16, credential id length 2, credential id)
//! are read here, in [`authenticator_data`]. 1Password's `passkey-types` parses the same
//! structures, but it brings `passkey-crypto` (a second p256, 0.14, hmac 0.13, ML-DSA) and turns
//! on serde_json's `preserve_order` for every crate in the workspace; a few dozen lines of
//! fixed-offset slicing cost less than that graph.
//!
//! Modules:
//! - [`assertion`] — the [`Assertion`] a browser returns, its bounded binary form (the audit
//!   log's) and its JSON form (the console's);
//! - [`authenticator_data`] — authenticatorData: header, [`Flags`], attested credential data,
//!   extensions;
//! - [`client_data`] — clientDataJSON and its checks (type, challenge, origin, cross-origin);
//! - [`counter`] — the signature counter rule;
//! - [`credential`] — the enrolled [`Credential`] and its text forms;
//! - [`public_key`] — the credential public key (ES256 or EdDSA only) and signature checks;
//! - [`registration`] — enrolment ([`verify_registration`]);
//! - [`verification`] — [`verify_assertion`].

#![deny(missing_docs)]
#![warn(unreachable_pub)]

pub mod assertion;
pub mod authenticator_data;
mod base64url;
pub mod client_data;
pub mod counter;
pub mod credential;
pub mod public_key;
pub mod registration;
#[cfg(feature = "testing")]
pub mod testing;
pub mod verification;

pub use assertion::{Assertion, AssertionFormatError};
pub use authenticator_data::{AuthenticatorDataError, Flags};
pub use client_data::ClientDataError;
pub use counter::{CounterError, check_counter};
pub use credential::{Credential, CredentialError, CredentialId};
pub use public_key::{Algorithm, CredentialPublicKey, PublicKeyError, SignatureError};
pub use registration::{
    AttestationFormat, Enrolment, RegistrationError, RegistrationExpected, RegistrationJsonError,
    RegistrationResponse, verify_registration,
};
pub use verification::{AssertionError, AssertionExpected, VerifiedAssertion, verify_assertion};
