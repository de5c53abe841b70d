//! Who may call what. The client certificate's identity (a DNS subjectAltName, checked by
//! rustls-webpki against the configured names) decides the permission; anyone not listed gets
//! none. In the plaintext loopback demo mode every loopback peer is trusted with every
//! permission and any other peer is refused.
//!
//! Runs as a tonic interceptor on each service, so an unpermitted call is refused before its
//! body is decoded.

use std::sync::Arc;

use rustls_pki_types::{CertificateDer, ServerName};
use tonic::{Request, Status};
use webpki::EndEntityCert;

use crate::config::AccessLists;

/// What a caller may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// The `Gateway` service.
    Gateway,
    /// The `Admin` service.
    Admin,
}

pub use crate::domain::Caller;

/// How callers are identified; one per server.
#[derive(Debug, Clone)]
pub enum Authorizer {
    /// Plaintext demo: loopback peers only.
    Loopback,
    /// mTLS: names from the configuration.
    Certificates(Arc<AccessLists>),
}

impl Authorizer {
    /// An interceptor that admits callers with `permission` and records who they are.
    pub fn require(
        &self,
        permission: Permission,
    ) -> impl FnMut(Request<()>) -> Result<Request<()>, Status> + Clone + Send + Sync + 'static
    {
        let this = self.clone();
        move |mut req: Request<()>| {
            let caller = this.authorize(&req, permission)?;
            req.extensions_mut().insert(caller);
            Ok(req)
        }
    }

    fn authorize<T>(&self, req: &Request<T>, permission: Permission) -> Result<Caller, Status> {
        match self {
            Self::Loopback => match req.remote_addr() {
                Some(addr) if addr.ip().is_loopback() => Ok(Caller::Loopback),
                _ => Err(Status::permission_denied(
                    "plaintext mode serves loopback clients only",
                )),
            },
            Self::Certificates(access) => {
                let certs = req
                    .peer_certs()
                    .ok_or_else(|| Status::unauthenticated("a client certificate is required"))?;
                let leaf = certs
                    .first()
                    .ok_or_else(|| Status::unauthenticated("a client certificate is required"))?;
                let allowed: Vec<&String> = match permission {
                    Permission::Admin => access.admin.iter().collect(),
                    Permission::Gateway => access.gateway.iter().chain(&access.admin).collect(),
                };
                identity(leaf, &allowed)
                    .map(Caller::Certificate)
                    .ok_or_else(|| {
                        Status::permission_denied(match permission {
                            Permission::Admin => {
                                "this client certificate lacks the admin permission"
                            }
                            Permission::Gateway => {
                                "this client certificate lacks the gateway permission"
                            }
                        })
                    })
            }
        }
    }
}

/// The first configured name the (already chain-verified) certificate is valid for.
fn identity(leaf: &CertificateDer<'_>, names: &[&String]) -> Option<String> {
    let cert = EndEntityCert::try_from(leaf).ok()?;
    names
        .iter()
        .find(|name| {
            ServerName::try_from(name.as_str())
                .is_ok_and(|sn| cert.verify_is_valid_for_subject_name(&sn).is_ok())
        })
        .map(|name| (*name).clone())
}
