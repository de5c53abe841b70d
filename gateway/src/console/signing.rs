//! Approving and rejecting from the console with a security key or passkey.
//!
//! The console makes the statement (`GET /proposals/{id}/statement`): the proposal's id, chain,
//! Safe and safeTxHash as the gateway reports them, the verdict and the time, encoded as the
//! `ApprovalStatement` the CLI signs. The browser asks the operator's authenticator to sign
//! SHA-256 of the domain-separated statement (the challenge), with user verification, and
//! posts the assertion back (`POST /proposals/{id}/sign`); the console puts statement and
//! assertion in a `SignedEnvelope` and calls `Approve` or `Reject` like any client. Nothing
//! here is trusted: the gateway checks the credential against the policy, the challenge
//! against the statement, the origin, the flags, the signature and the counter.

use axum::{
    Json,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use prost::Message as _;
use serde::{Deserialize, Serialize};
use signgate_keys::signed::{APPROVAL_CONTEXT, webauthn_challenge};
use signgate_proto::v1 as pb;
use signgate_webauthn::Assertion;

use super::{Browser, Console};

/// Base64url without padding, as WebAuthn's JSON forms write bytes.
pub(super) fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()
}

/// `?kind=approve|reject`.
#[derive(Debug, Deserialize)]
pub(super) struct KindQuery {
    kind: String,
}

fn kind_of(word: &str) -> Option<pb::ApprovalKind> {
    match word {
        "approve" => Some(pb::ApprovalKind::Approve),
        "reject" => Some(pb::ApprovalKind::Reject),
        _ => None,
    }
}

/// What the page shows and the authenticator signs.
#[derive(Debug, Serialize)]
pub(super) struct StatementView {
    /// The encoded `ApprovalStatement`, base64url.
    payload: String,
    /// SHA-256 of the domain-separated statement, base64url: the WebAuthn challenge.
    challenge: String,
    /// The statement in words, to read before touching the key.
    fields: Vec<(String, String)>,
}

/// An error as JSON, for the page's script to show.
pub(super) fn refused(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(serde_json::json!({ "ok": false, "message": message.into() })),
    )
        .into_response()
}

fn from_status(status: &tonic::Status) -> Response {
    refused(
        super::html::http_status(status.code()),
        format!("{:?}: {}", status.code(), status.message()),
    )
}

/// `GET /proposals/{id}/statement?kind=approve`.
pub(super) async fn statement(
    State(console): State<Console>,
    browser: Browser,
    Path(id): Path<String>,
    Query(q): Query<KindQuery>,
) -> Response {
    let Some(kind) = kind_of(&q.kind) else {
        return refused(StatusCode::BAD_REQUEST, "kind must be approve or reject");
    };
    let p = match console
        .client(&browser)
        .get_proposal(pb::GetProposalRequest { id })
        .await
    {
        Ok(p) => p.into_inner(),
        Err(status) => return from_status(&status),
    };
    let Some(hashes) = &p.hashes else {
        return refused(StatusCode::BAD_GATEWAY, "the gateway sent no safeTxHash");
    };
    let now = console.clock.now().0;
    let statement = pb::ApprovalStatement {
        proposal_id: p.id.clone(),
        chain_id: p.chain_id,
        safe: p.safe.clone(),
        safe_tx_hash: hashes.safe_tx_hash.clone(),
        kind: kind.into(),
        issued_at: Some(signgate_proto::prost_types::Timestamp {
            seconds: now.div_euclid(1000),
            nanos: 0,
        }),
        comment: "approved in the console with a security key".to_owned(),
    };
    let payload = statement.encode_to_vec();
    let issued = statement
        .issued_at
        .as_ref()
        .map(|t| super::proposal_pages::when(Some(t)))
        .unwrap_or_default();
    Json(StatementView {
        challenge: b64(&webauthn_challenge(APPROVAL_CONTEXT, &payload)),
        payload: b64(&payload),
        fields: vec![
            ("verdict".to_owned(), q.kind.clone()),
            ("proposal".to_owned(), p.id),
            ("chain".to_owned(), p.chain_id.to_string()),
            ("Safe".to_owned(), p.safe),
            ("safeTxHash".to_owned(), hashes.safe_tx_hash.clone()),
            ("issued at (UTC)".to_owned(), issued),
        ],
    })
    .into_response()
}

/// The body of `POST /proposals/{id}/sign`.
#[derive(Debug, Deserialize)]
pub(super) struct SignBody {
    /// `approve` or `reject`.
    kind: String,
    /// The statement from `statement`, base64url.
    payload: String,
    /// `PublicKeyCredential.toJSON()` of the assertion.
    credential: serde_json::Value,
}

/// `POST /proposals/{id}/sign`: the assertion to the gateway as an `Approve` or `Reject`.
pub(super) async fn sign(
    State(console): State<Console>,
    browser: Browser,
    Path(id): Path<String>,
    Json(body): Json<SignBody>,
) -> Response {
    let Some(kind) = kind_of(&body.kind) else {
        return refused(StatusCode::BAD_REQUEST, "kind must be approve or reject");
    };
    let Some(payload) = unb64(&body.payload) else {
        return refused(StatusCode::BAD_REQUEST, "payload is not base64url");
    };
    // The statement must be for the proposal of this page (the gateway checks the rest).
    match pb::ApprovalStatement::decode(payload.as_slice()) {
        Ok(s) if s.proposal_id == id => {}
        _ => {
            return refused(
                StatusCode::BAD_REQUEST,
                "the statement is not for this proposal",
            );
        }
    }
    let assertion = match Assertion::from_json(&body.credential.to_string()) {
        Ok(a) => a,
        Err(e) => return refused(StatusCode::BAD_REQUEST, format!("assertion: {e}")),
    };
    let envelope = pb::SignedEnvelope {
        payload,
        public_key: Vec::new(),
        signature: Vec::new(),
        webauthn: Some(pb::WebAuthnAssertion {
            credential_id: assertion.credential_id().to_vec(),
            authenticator_data: assertion.authenticator_data().to_vec(),
            client_data_json: assertion.client_data_json().to_vec(),
            signature: assertion.signature().to_vec(),
        }),
    };
    let mut client = console.client(&browser);
    let answer = match kind {
        pb::ApprovalKind::Reject => {
            client
                .reject(pb::RejectRequest {
                    rejection: Some(envelope),
                })
                .await
        }
        _ => {
            client
                .approve(pb::ApproveRequest {
                    approval: Some(envelope),
                })
                .await
        }
    };
    match answer {
        Ok(p) => {
            let p = p.into_inner();
            Json(serde_json::json!({
                "ok": true,
                "state": super::proposal_pages::state_words(p.state),
                "revision": p.revision,
            }))
            .into_response()
        }
        Err(status) => from_status(&status),
    }
}
