//! The admin's page: the operators of the policy in force with every key, ed25519 or security
//! key, and each one's probation, read through `Admin.ListOperators` (so only an identity the
//! gateway admits to the Admin service sees it). What admins review before and after they apply
//! an enrolment.

use axum::{
    extract::State,
    response::{IntoResponse, Response},
};
use maud::html;
use signgate_proto::v1 as pb;

use super::{
    Browser, Console,
    html::{Section, from_status, page},
    proposal_pages::when,
};

/// `GET /admin/operators`.
pub(super) async fn operators(State(console): State<Console>, browser: Browser) -> Response {
    let mut admin = console.admin(&browser);
    let listed = match admin.list_operators(pb::ListOperatorsRequest {}).await {
        Ok(r) => r.into_inner(),
        Err(status) => return from_status(&status),
    };
    page(
        Section::Admin,
        "Operators and their keys",
        html! {
            p { "From the policy in force. A security key counts only once the policy that adds it is applied; from its enrolment it is probationary like any new key." }
            table {
                caption { "Operators" }
                thead { tr {
                    th scope="col" { "Operator" }
                    th scope="col" { "Roles" }
                    th scope="col" { "Status" }
                    th scope="col" { "Probation" }
                    th scope="col" { "Keys" }
                } }
                tbody { @for o in &listed.operators {
                    tr {
                        td { strong { (o.id) } br; (o.name) }
                        td { (o.groups.join(", ")) }
                        td { (o.status) }
                        td { @if o.probation.is_empty() { "none" } @else { (o.probation) } }
                        td { ul { @for k in &o.keys {
                            li {
                                @if k.webauthn_credential_id.is_empty() {
                                    "ed25519 " code { (k.public_key) }
                                } @else {
                                    "security key " code { (k.webauthn_credential_id) } " (relying party " (k.webauthn_rp_id) ")"
                                }
                                ", enrolled " (when(k.enrolled_at.as_ref()))
                                @if k.revoked { strong.bad { ", revoked " (when(k.revoked_at.as_ref())) } }
                            }
                        } } }
                    }
                } }
            }
        },
    )
    .into_response()
}
