//! Who may call what. Under mutual TLS the handshake (rustls-webpki, against `tls.client_ca`)
//! has verified the client certificate's chain; this module then decides who the certificate
//! names and what that identity may call. Anyone not listed gets nothing. In the plaintext
//! loopback demo mode every loopback peer is trusted with every permission and any other peer
//! is refused.
//!
//! A client identity is an exact DNS subjectAltName (compared ignoring ASCII case, as DNS is)
//! or an exact SPIFFE ID in a URI subjectAltName (compared byte for byte) from the configured
//! lists ([`ClientName`]). Server-name rules are deliberately not used: they expand wildcards,
//! so a `*.corp` certificate from the same CA would pass for `admin.corp`. A certificate that
//! presents a wildcard subjectAltName is refused outright, and so is one without the clientAuth
//! extended key usage: webpki accepts a certificate that has no extended key usage at all, but
//! a certificate that was not issued for client authentication is not an operator's.
//!
//! Runs as a tonic interceptor on each service, so an unpermitted call is refused before its
//! body is decoded.
//!
//! The web console calls the same services in process, on behalf of the browser whose request
//! it serves: it tags each call with that browser's connection ([`ConsolePeer`]: its address
//! and the client certificate its TLS handshake verified), and the interceptor decides on
//! those exactly as on a direct caller's. The tag is a request extension, which only code in
//! this process can set; a network client cannot forge one.

use std::{fmt, net::IpAddr, sync::Arc};

use signgate_policy::anomaly::IdentityClass;

use rustls_pki_types::CertificateDer;
use tonic::{Request, Status};
use x509_parser::{certificate::X509Certificate, extensions::GeneralName, prelude::FromDer};

use crate::{
    call_facts,
    config::{AccessLists, ClientName},
};

/// What a caller may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// The `Gateway` service.
    Gateway,
    /// The `Admin` service.
    Admin,
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Gateway => "gateway",
            Self::Admin => "admin",
        })
    }
}

pub use crate::domain::Caller;

/// The browser connection a console call is made for: what the interceptor would read from the
/// transport had the browser called gRPC itself.
#[derive(Debug, Clone)]
pub struct ConsolePeer {
    /// The browser's TCP address.
    pub addr: std::net::SocketAddr,
    /// The certificate chain its TLS handshake verified against `tls.client_ca` (leaf first);
    /// `None` in the plaintext loopback demo.
    pub certs: Option<Arc<Vec<CertificateDer<'static>>>>,
}

/// The caller's address: the console's browser for a console call, else the TCP peer.
fn remote_addr<T>(req: &Request<T>) -> Option<std::net::SocketAddr> {
    match req.extensions().get::<ConsolePeer>() {
        Some(peer) => Some(peer.addr),
        None => req.remote_addr(),
    }
}

/// The caller's verified certificate chain: the console's browser's for a console call, else
/// the TLS connection's.
fn peer_certs<T>(req: &Request<T>) -> Option<Arc<Vec<CertificateDer<'static>>>> {
    match req.extensions().get::<ConsolePeer>() {
        Some(peer) => peer.certs.clone(),
        None => req.peer_certs(),
    }
}

/// How callers are identified; one per server.
#[derive(Debug, Clone)]
pub enum Authorizer {
    /// Plaintext demo: loopback peers only.
    Loopback,
    /// mTLS: names from the configuration.
    Certificates(Arc<AccessLists>),
}

impl Authorizer {
    /// An interceptor that admits callers with `permission` and records who they are. It also
    /// hands the anomaly rules the transport's facts, refused or not ([`crate::call_facts`]): the
    /// client certificate's fingerprint, its identity class, and the client's address — the
    /// TCP peer, or the `x-forwarded-for` address when the peer is one of `trusted_proxies`.
    pub fn require(
        &self,
        permission: Permission,
        trusted_proxies: Arc<[IpAddr]>,
    ) -> impl FnMut(Request<()>) -> Result<Request<()>, Status> + Clone + Send + Sync + 'static
    {
        let this = self.clone();
        move |mut req: Request<()>| {
            this.record_transport(&req, permission, &trusted_proxies);
            let caller = this.authorize(&req, permission)?;
            req.extensions_mut().insert(caller);
            Ok(req)
        }
    }

    /// The transport's facts of one call, for the anomaly rules. The identity class is
    /// `admin_client` for a certificate listed for Admin (or any loopback call to Admin) and
    /// `gateway_client` otherwise, so a service identity trying Admin calls shows as one.
    fn record_transport<T>(&self, req: &Request<T>, permission: Permission, trusted: &[IpAddr]) {
        let peer = client_address(req, trusted);
        match self {
            Self::Loopback => {
                let class = match permission {
                    Permission::Admin => IdentityClass::AdminClient,
                    Permission::Gateway => IdentityClass::GatewayClient,
                };
                call_facts::record_transport(class, None, peer);
            }
            Self::Certificates(access) => {
                let certs = peer_certs(req);
                let leaf = certs.as_ref().and_then(|c| c.first());
                let class = match leaf {
                    Some(l) if certificate_caller(l, access, Permission::Admin).is_ok() => {
                        IdentityClass::AdminClient
                    }
                    _ => IdentityClass::GatewayClient,
                };
                call_facts::record_transport(class, leaf.map(AsRef::as_ref), peer);
            }
        }
    }

    fn authorize<T>(&self, req: &Request<T>, permission: Permission) -> Result<Caller, Status> {
        self.decide(remote_addr(req), peer_certs(req), permission)
    }

    /// Whether the browser on `peer` may use `permission`, decided as for a gRPC call of its
    /// own: the console asks this before serving what it reads without gRPC (the audit log,
    /// enrolment).
    pub fn console_caller(
        &self,
        peer: &ConsolePeer,
        permission: Permission,
    ) -> Result<Caller, Status> {
        self.decide(Some(peer.addr), peer.certs.clone(), permission)
    }

    fn decide(
        &self,
        addr: Option<std::net::SocketAddr>,
        certs: Option<Arc<Vec<CertificateDer<'static>>>>,
        permission: Permission,
    ) -> Result<Caller, Status> {
        match self {
            Self::Loopback => match addr {
                Some(addr) if addr.ip().is_loopback() => Ok(Caller::Loopback),
                _ => Err(Status::permission_denied(
                    "plaintext mode serves loopback clients only",
                )),
            },
            Self::Certificates(access) => {
                let certs = certs
                    .ok_or_else(|| Status::unauthenticated("a client certificate is required"))?;
                let leaf = certs
                    .first()
                    .ok_or_else(|| Status::unauthenticated("a client certificate is required"))?;
                certificate_caller(leaf, access, permission).map_err(Status::from)
            }
        }
    }
}

/// The client's address: the TCP peer, unless the peer is a trusted proxy and names the client
/// in `x-forwarded-for`, whose last entry (the address the trusted proxy itself saw) is taken.
/// A header that does not parse leaves the peer's own address.
fn client_address<T>(req: &Request<T>, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = remote_addr(req)?.ip();
    if !trusted.contains(&peer.to_canonical()) && !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded = req
        .metadata()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|last| last.trim().parse::<IpAddr>().ok());
    Some(forwarded.unwrap_or(peer))
}

/// Why a client certificate, whose chain the handshake has already verified, is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateRefusal {
    /// The certificate is not a DER X.509 certificate this gateway can read, or an extension it
    /// relies on is malformed or repeated.
    #[error("the client certificate could not be read: {0}")]
    Unreadable(String),
    /// The certificate has no extended key usage extension, or one without clientAuth.
    #[error(
        "the client certificate lacks the clientAuth extended key usage \
         (id-kp-clientAuth, 1.3.6.1.5.5.7.3.2); issue it for TLS client authentication"
    )]
    NoClientAuth,
    /// A subjectAltName contains `*`. Identities are exact, and a certificate that claims a
    /// wildcard is not one client's.
    #[error(
        "the client certificate presents the wildcard subjectAltName {0:?}; client identities \
         are matched exactly and wildcard certificates are not accepted"
    )]
    Wildcard(String),
    /// More than one SPIFFE ID: an X509-SVID carries exactly one, so the identity would be
    /// ambiguous.
    #[error("the client certificate presents {0} SPIFFE IDs; an X509-SVID carries exactly one")]
    SeveralSpiffeIds(usize),
    /// No presented name is listed for the permission.
    #[error("this client certificate lacks the {0} permission")]
    NotListed(Permission),
}

impl From<CertificateRefusal> for Status {
    fn from(refusal: CertificateRefusal) -> Self {
        let message = refusal.to_string();
        match refusal {
            CertificateRefusal::Unreadable(_) => Self::unauthenticated(message),
            CertificateRefusal::NoClientAuth
            | CertificateRefusal::Wildcard(_)
            | CertificateRefusal::SeveralSpiffeIds(_)
            | CertificateRefusal::NotListed(_) => Self::permission_denied(message),
        }
    }
}

/// The caller `leaf` (already chain-verified) identifies, if it may use `permission`: admins
/// may use both services, gateway clients the `Gateway` service only.
pub fn certificate_caller(
    leaf: &CertificateDer<'_>,
    access: &AccessLists,
    permission: Permission,
) -> Result<Caller, CertificateRefusal> {
    let allowed: Vec<&ClientName> = match permission {
        Permission::Admin => access.admin.iter().collect(),
        Permission::Gateway => access.gateway.iter().chain(&access.admin).collect(),
    };
    identity(leaf, &allowed)?
        .map(Caller::Certificate)
        .ok_or(CertificateRefusal::NotListed(permission))
}

/// The first subjectAltName of `leaf`, in the certificate's order, that exactly matches one of
/// `names`, as the certificate spells it (never the configured name, so logs and the audit
/// log show what the client presented). `Ok(None)` when the certificate is acceptable but
/// names no one listed.
fn identity(
    leaf: &CertificateDer<'_>,
    names: &[&ClientName],
) -> Result<Option<String>, CertificateRefusal> {
    let (rest, cert) = X509Certificate::from_der(leaf.as_ref())
        .map_err(|e| CertificateRefusal::Unreadable(e.to_string()))?;
    if !rest.is_empty() {
        return Err(CertificateRefusal::Unreadable(
            "trailing bytes after the certificate".into(),
        ));
    }
    let unreadable =
        |e: x509_parser::error::X509Error| CertificateRefusal::Unreadable(e.to_string());

    let client_auth = cert
        .extended_key_usage()
        .map_err(unreadable)?
        .is_some_and(|eku| eku.value.client_auth);
    if !client_auth {
        return Err(CertificateRefusal::NoClientAuth);
    }

    let san = cert.subject_alternative_name().map_err(unreadable)?;
    let presented: &[GeneralName<'_>] = san.as_ref().map_or(&[], |san| &san.value.general_names);
    // Refused before any comparison: a wildcard must never count, whatever else is listed.
    if let Some(wildcard) = presented.iter().find_map(|name| match name {
        GeneralName::DNSName(text) | GeneralName::URI(text) if text.contains('*') => Some(*text),
        _ => None,
    }) {
        return Err(CertificateRefusal::Wildcard(wildcard.to_owned()));
    }
    let spiffe_ids = presented
        .iter()
        .filter(|name| matches!(name, GeneralName::URI(uri) if is_spiffe(uri)))
        .count();
    if spiffe_ids > 1 {
        return Err(CertificateRefusal::SeveralSpiffeIds(spiffe_ids));
    }

    let listed = |wanted: &dyn Fn(&ClientName) -> bool| names.iter().any(|name| wanted(name));
    Ok(presented.iter().find_map(|name| match name {
        GeneralName::DNSName(dns)
            if listed(
                &|n| matches!(n, ClientName::Dns(want) if want.eq_ignore_ascii_case(dns)),
            ) =>
        {
            Some((*dns).to_owned())
        }
        GeneralName::URI(uri)
            if listed(&|n| matches!(n, ClientName::Spiffe(want) if want.as_str() == *uri)) =>
        {
            Some((*uri).to_owned())
        }
        _ => None,
    }))
}

/// Whether a URI subjectAltName is a SPIFFE ID, by its scheme (which URI schemes spell in any
/// case).
fn is_spiffe(uri: &str) -> bool {
    uri.get(.."spiffe:".len())
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("spiffe:"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, SanType,
    };

    use super::*;

    /// Client certificates from one throwaway CA, as the handshake would hand them over.
    struct Ca(Issuer<'static, KeyPair>);

    impl Ca {
        fn new() -> Self {
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params
                .distinguished_name
                .push(DnType::CommonName, "auth test ca");
            Self(Issuer::new(params, KeyPair::generate().unwrap()))
        }

        /// A leaf with these subjectAltNames (`spiffe:`… as URIs, the rest as DNS names) and
        /// extended key usages.
        fn leaf(
            &self,
            sans: &[&str],
            usages: &[ExtendedKeyUsagePurpose],
        ) -> CertificateDer<'static> {
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.subject_alt_names = sans
                .iter()
                .map(|san| {
                    let text = (*san).try_into().unwrap();
                    if san.starts_with("spiffe:") {
                        SanType::URI(text)
                    } else {
                        SanType::DnsName(text)
                    }
                })
                .collect();
            params.extended_key_usages = usages.to_vec();
            let key = KeyPair::generate().unwrap();
            params.signed_by(&key, &self.0).unwrap().der().clone()
        }

        fn client(&self, sans: &[&str]) -> CertificateDer<'static> {
            self.leaf(sans, &[ExtendedKeyUsagePurpose::ClientAuth])
        }
    }

    fn lists(gateway: &[&str], admin: &[&str]) -> AccessLists {
        let parse = |names: &[&str]| {
            names
                .iter()
                .map(|n| ClientName::parse(n).unwrap())
                .collect()
        };
        AccessLists {
            gateway: parse(gateway),
            admin: parse(admin),
        }
    }

    #[test]
    fn a_wildcard_certificate_does_not_pass_for_a_listed_name() {
        let ca = Ca::new();
        let access = lists(&["ops.corp"], &["admin.corp", "admin.signgate.test"]);
        for name in ["*.corp", "*.signgate.test", "admin.*.test", "a*.corp"] {
            let wildcard = ca.client(&[name]);
            for permission in [Permission::Admin, Permission::Gateway] {
                let refusal = certificate_caller(&wildcard, &access, permission).unwrap_err();
                assert_eq!(refusal, CertificateRefusal::Wildcard(name.into()));
                assert!(refusal.to_string().contains("wildcard"), "{refusal}");
            }
        }
        // Not even beside an exact name.
        let both = ca.client(&["admin.corp", "*.corp"]);
        assert_eq!(
            certificate_caller(&both, &access, Permission::Admin),
            Err(CertificateRefusal::Wildcard("*.corp".into()))
        );
    }

    #[test]
    fn an_exact_dns_name_is_the_identity_as_presented() {
        let ca = Ca::new();
        let access = lists(&[], &["admin.corp"]);
        assert_eq!(
            certificate_caller(&ca.client(&["admin.corp"]), &access, Permission::Admin),
            Ok(Caller::Certificate("admin.corp".into()))
        );
        // DNS is case-insensitive; the identity recorded is the certificate's spelling.
        assert_eq!(
            certificate_caller(&ca.client(&["Admin.CORP"]), &access, Permission::Gateway),
            Ok(Caller::Certificate("Admin.CORP".into()))
        );
        // The first listed name in the certificate's order, unlisted ones skipped.
        assert_eq!(
            certificate_caller(
                &ca.client(&["other.corp", "admin.corp"]),
                &access,
                Permission::Admin
            ),
            Ok(Caller::Certificate("admin.corp".into()))
        );
    }

    #[test]
    fn names_match_whole_not_by_suffix_or_prefix() {
        let ca = Ca::new();
        let access = lists(&[], &["admin.corp"]);
        for san in ["x.admin.corp", "admin.corp.evil", "admin.cor", "dmin.corp"] {
            assert_eq!(
                certificate_caller(&ca.client(&[san]), &access, Permission::Admin),
                Err(CertificateRefusal::NotListed(Permission::Admin)),
                "{san}"
            );
        }
    }

    #[test]
    fn permissions_follow_the_lists() {
        let ca = Ca::new();
        let access = lists(&["ops.corp"], &["admin.corp"]);
        let ops = ca.client(&["ops.corp"]);
        assert!(certificate_caller(&ops, &access, Permission::Gateway).is_ok());
        assert_eq!(
            certificate_caller(&ops, &access, Permission::Admin),
            Err(CertificateRefusal::NotListed(Permission::Admin))
        );
        let status = Status::from(CertificateRefusal::NotListed(Permission::Admin));
        assert_eq!(status.code(), tonic::Code::PermissionDenied);
        assert!(status.message().contains("admin permission"));
    }

    #[test]
    fn client_auth_usage_is_required() {
        let ca = Ca::new();
        let access = lists(&[], &["admin.corp"]);
        for usages in [
            &[][..],
            &[ExtendedKeyUsagePurpose::ServerAuth][..],
            &[
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::CodeSigning,
            ][..],
        ] {
            let cert = ca.leaf(&["admin.corp"], usages);
            let refusal = certificate_caller(&cert, &access, Permission::Admin).unwrap_err();
            assert_eq!(refusal, CertificateRefusal::NoClientAuth, "{usages:?}");
            let status = Status::from(refusal);
            assert_eq!(status.code(), tonic::Code::PermissionDenied);
            assert!(status.message().contains("clientAuth"), "{status:?}");
        }
        let both = ca.leaf(
            &["admin.corp"],
            &[
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ],
        );
        assert!(certificate_caller(&both, &access, Permission::Admin).is_ok());
    }

    #[test]
    fn spiffe_ids_match_exactly() {
        let ca = Ca::new();
        let access = lists(&["spiffe://corp/ops/alice"], &[]);
        assert_eq!(
            certificate_caller(
                &ca.client(&["spiffe://corp/ops/alice"]),
                &access,
                Permission::Gateway
            ),
            Ok(Caller::Certificate("spiffe://corp/ops/alice".into()))
        );
        for other in [
            "spiffe://corp/ops/bob",
            "spiffe://corp/ops/alice/x",
            "spiffe://corp/ops/Alice",
            "spiffe://corp/ops",
            "spiffe://other/ops/alice",
        ] {
            assert_eq!(
                certificate_caller(&ca.client(&[other]), &access, Permission::Gateway),
                Err(CertificateRefusal::NotListed(Permission::Gateway)),
                "{other}"
            );
        }
        // A DNS name spelled like the SPIFFE ID's trust domain is not the SPIFFE ID.
        assert!(certificate_caller(&ca.client(&["corp"]), &access, Permission::Gateway).is_err());
    }

    #[test]
    fn several_spiffe_ids_are_refused() {
        let ca = Ca::new();
        let access = lists(&["spiffe://corp/ops/alice"], &[]);
        let cert = ca.client(&["spiffe://corp/ops/alice", "spiffe://corp/ops/bob"]);
        assert_eq!(
            certificate_caller(&cert, &access, Permission::Gateway),
            Err(CertificateRefusal::SeveralSpiffeIds(2))
        );
    }

    #[test]
    fn a_wildcard_spiffe_id_is_refused() {
        let ca = Ca::new();
        let access = lists(&["spiffe://corp/ops/alice"], &[]);
        let cert = ca.client(&["spiffe://corp/ops/*"]);
        assert_eq!(
            certificate_caller(&cert, &access, Permission::Gateway),
            Err(CertificateRefusal::Wildcard("spiffe://corp/ops/*".into()))
        );
    }

    #[test]
    fn garbage_is_unreadable() {
        let access = lists(&[], &["admin.corp"]);
        let refusal = certificate_caller(
            &CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x01]),
            &access,
            Permission::Admin,
        )
        .unwrap_err();
        assert!(matches!(refusal, CertificateRefusal::Unreadable(_)));
        assert_eq!(Status::from(refusal).code(), tonic::Code::Unauthenticated);
    }

    fn from_peer(peer: &str, forwarded: Option<&str>) -> Request<()> {
        let mut req = Request::new(());
        req.extensions_mut()
            .insert(tonic::transport::server::TcpConnectInfo {
                local_addr: None,
                remote_addr: Some(peer.parse().unwrap()),
            });
        if let Some(f) = forwarded {
            req.metadata_mut()
                .insert("x-forwarded-for", f.parse().unwrap());
        }
        req
    }

    #[test]
    fn a_forwarded_address_is_believed_only_from_a_trusted_proxy() {
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        let client: IpAddr = "203.0.113.7".parse().unwrap();
        let header = Some("198.51.100.1, 203.0.113.7");
        // From the proxy: the last entry, the address the proxy itself saw.
        let req = from_peer("10.0.0.5:4000", header);
        assert_eq!(client_address(&req, &[proxy]), Some(client));
        // From anyone else, or with no proxy configured: the peer.
        let req = from_peer("10.0.0.6:4000", header);
        assert_eq!(client_address(&req, &[proxy]), "10.0.0.6".parse().ok());
        let req = from_peer("10.0.0.5:4000", header);
        assert_eq!(client_address(&req, &[]), Some(proxy));
        // A header that does not parse leaves the peer.
        let req = from_peer("10.0.0.5:4000", Some("unknown"));
        assert_eq!(client_address(&req, &[proxy]), Some(proxy));
    }
}
