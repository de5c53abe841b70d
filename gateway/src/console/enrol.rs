//! Enrolling a security key or passkey through the console.
//!
//! The console never adds a key to the policy: it produces a **signed enrolment request** that
//! admins review and add through the governed policy change (`Admin.ApplyPolicy`, signed by
//! enough admins), where the key's `enrolled_at` starts its probation as for any other key.
//!
//! 1. `GET /enrol/options?operator=bob`: a challenge binding the operator and the time.
//! 2. The browser creates a credential (`navigator.credentials.create`, user verification
//!    required); `POST /enrol` checks the registration ([`signgate_webauthn`]: the challenge,
//!    the console's origin, the relying party, the flags, the COSE key) and answers the
//!    request to sign.
//! 3. The new credential signs the request (`navigator.credentials.get`), proving it is held by
//!    whoever asks; `POST /enrol/proof` checks that assertion and answers the signed request
//!    and the policy line to add.

use axum::{
    Json,
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use maud::html;
use serde::{Deserialize, Serialize};
use signgate_keys::signed::{ENROLMENT_CONTEXT, webauthn_challenge};
use signgate_webauthn::{
    Assertion, AssertionExpected, Credential, RegistrationExpected,
    registration::RegistrationResponse, verify_assertion,
};

use super::{
    Console,
    html::{Section, page},
    signing::b64,
};

/// How long an enrolment's challenge stays usable.
const ENROLMENT_VALIDITY_MS: i64 = 5 * 60 * 1000;

/// Longest operator id accepted.
const MAX_OPERATOR_LEN: usize = 64;

/// What the operator asks for, before the credential exists: the challenge of `create()`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct Asked {
    operator: String,
    requested_at_ms: i64,
}

/// The enrolment request: who asks, when, and for which credential. What the new credential
/// signs, and what admins read before they add the key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EnrolmentRequest {
    /// The operator the key is for, as the policy names them.
    pub operator: String,
    /// When it was asked, Unix milliseconds.
    pub requested_at_ms: i64,
    /// The new credential.
    pub credential: Credential,
}

impl EnrolmentRequest {
    /// The challenge the credential signs for this request.
    pub fn challenge(&self) -> Result<[u8; 32], serde_json::Error> {
        challenge_of(self)
    }

    /// The key as the policy's `[[operator]] keys` list holds it.
    pub fn policy_key(&self) -> String {
        let enrolled = jiff::Timestamp::from_millisecond(self.requested_at_ms)
            .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default();
        format!(
            "{{ webauthn = {{ id = \"{}\", public_key = \"{}\", rp_id = \"{}\" }}, enrolled_at = \"{enrolled}\" }}",
            self.credential.id(),
            self.credential.public_key(),
            self.credential.rp_id()
        )
    }
}

/// A request with the proof that the credential signed it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedEnrolment {
    /// The request.
    pub request: EnrolmentRequest,
    /// The credential's assertion over [`EnrolmentRequest::challenge`] (`toJSON()` form).
    pub proof: serde_json::Value,
}

impl SignedEnrolment {
    /// Checks the proof: the credential of the request signed its challenge from one of
    /// `origins`, with the user verified.
    pub fn check(&self, origins: &[String]) -> Result<(), String> {
        let assertion = Assertion::from_json(&self.proof.to_string()).map_err(|e| e.to_string())?;
        let expected = AssertionExpected {
            challenge: self
                .request
                .challenge()
                .map_err(|e| e.to_string())?
                .to_vec(),
            origins: origins.to_vec(),
            require_user_verification: true,
        };
        verify_assertion(&self.request.credential, &assertion, &expected)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

fn refused(message: impl Into<String>) -> Response {
    super::signing::refused(StatusCode::BAD_REQUEST, message)
}

/// The challenge a key signs for `value` (what is asked, then the request): SHA-256 of the
/// enrolment context and `value`'s JSON, fields in declaration order.
fn challenge_of<T: Serialize>(value: &T) -> Result<[u8; 32], serde_json::Error> {
    Ok(webauthn_challenge(
        ENROLMENT_CONTEXT,
        &serde_json::to_vec(value)?,
    ))
}

/// `GET /enrol`.
pub(super) async fn page_handler() -> Response {
    page(
        Section::Enrol,
        "Enrol a security key",
        html! {
            p { "Enrol a FIDO2 security key or a passkey to approve from this console. The key is not usable until admins add the signed request below to the policy through a governed policy change; from its enrolment date it is probationary, as any new key." }
            form #enrol-form {
                label for="operator" { "Your operator id" }
                input #operator name="operator" type="text" autocomplete="username" required;
                button #enrol-button type="submit" { "Enrol a security key" }
            }
            noscript { p { "Enrolling needs JavaScript: the browser talks to the security key." } }
            p #enrol-result role="status" aria-live="polite" {}
            section #enrolled hidden aria-labelledby="enrolled-h" {
                h2 #enrolled-h { "Signed enrolment request" }
                p { "Send this to your admins; they check it offline with " code { "signgate policy enrolment FILE" } ". The line to add under your " code { "[[operator]] keys" } ":" }
                pre #policy-line {}
                label for="request" { "The signed request (JSON)" }
                textarea #request readonly rows="8" cols="80" {}
            }
        },
    )
    .into_response()
}

/// `?operator=bob`.
#[derive(Debug, Deserialize)]
pub(super) struct OptionsQuery {
    operator: String,
}

/// `GET /enrol/options`.
pub(super) async fn options(
    State(console): State<Console>,
    Query(q): Query<OptionsQuery>,
) -> Response {
    let operator = q.operator.trim();
    if operator.is_empty() || operator.len() > MAX_OPERATOR_LEN {
        return refused(format!("operator id: 1 to {MAX_OPERATOR_LEN} characters"));
    }
    let asked = Asked {
        operator: operator.to_owned(),
        requested_at_ms: console.clock.now().0,
    };
    let Ok(challenge) = challenge_of(&asked) else {
        return refused("the enrolment could not be prepared");
    };
    Json(serde_json::json!({
        "ok": true,
        "operator": asked.operator,
        "requested_at_ms": asked.requested_at_ms,
        "challenge": b64(&challenge),
        "rp_id": console.site.rp_id,
        "user_id": b64(asked.operator.as_bytes()),
    }))
    .into_response()
}

/// The body of `POST /enrol`.
#[derive(Debug, Deserialize)]
pub(super) struct RegisterBody {
    operator: String,
    requested_at_ms: i64,
    /// `PublicKeyCredential.toJSON()` of the `create()` response.
    credential: serde_json::Value,
}

/// `POST /enrol`: the registration checked; the request for the new credential to sign.
pub(super) async fn register(
    State(console): State<Console>,
    Json(body): Json<RegisterBody>,
) -> Response {
    let now = console.clock.now().0;
    if body.requested_at_ms > now || now - body.requested_at_ms > ENROLMENT_VALIDITY_MS {
        return refused("the enrolment expired; start again");
    }
    let asked = Asked {
        operator: body.operator.clone(),
        requested_at_ms: body.requested_at_ms,
    };
    let response = match RegistrationResponse::from_json(&body.credential.to_string()) {
        Ok(r) => r,
        Err(e) => return refused(format!("registration: {e}")),
    };
    let expected = RegistrationExpected {
        challenge: match challenge_of(&asked) {
            Ok(c) => c.to_vec(),
            Err(_) => return refused("the enrolment could not be checked"),
        },
        origins: console.origins().to_vec(),
        rp_id: console.site.rp_id.clone(),
        require_user_verification: true,
    };
    let enrolment = match response.verify(&expected) {
        Ok(e) => e,
        Err(e) => return refused(format!("registration refused: {e}")),
    };
    let request = EnrolmentRequest {
        operator: asked.operator,
        requested_at_ms: asked.requested_at_ms,
        credential: enrolment.credential,
    };
    Json(serde_json::json!({
        "ok": true,
        "challenge": match request.challenge() {
            Ok(c) => b64(&c),
            Err(_) => return refused("the enrolment request could not be prepared"),
        },
        "credential_id": b64(request.credential.id().as_bytes()),
        "request": request,
    }))
    .into_response()
}

/// `POST /enrol/proof`: the request signed by its credential, checked; the line for the policy.
pub(super) async fn proof(
    State(console): State<Console>,
    Json(signed): Json<SignedEnrolment>,
) -> Response {
    if let Err(e) = signed.check(console.origins()) {
        return refused(format!("the proof does not check: {e}"));
    }
    Json(serde_json::json!({
        "ok": true,
        "policy_key": signed.request.policy_key(),
        "signed_request": signed,
    }))
    .into_response()
}
