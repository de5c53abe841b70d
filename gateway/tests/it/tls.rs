//! Mutual TLS: the client certificate's identity decides which services a caller may use.

use std::sync::{Arc, Mutex};

use rcgen::ExtendedKeyUsagePurpose;
use signgate_gateway::{
    config::GatewayConfig,
    domain::{Caller, CancelRequest, Statement, Submission},
    error::GatewayError,
    pipeline::{DecisionPipeline, Released},
    store::{ProposalId, SqliteStore, StoredProposal},
};
use signgate_proto::v1::{self as pb, admin_client::AdminClient, gateway_client::GatewayClient};
use tonic::{
    Code,
    transport::{Certificate, Channel, ClientTlsConfig, Identity},
};

use crate::{
    pki::Pki,
    support::{config, start, start_with},
};

async fn channel(
    port: u16,
    ca: &str,
    identity: Option<&(String, String)>,
) -> Result<Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca))
        .domain_name("localhost");
    if let Some((cert, key)) = identity {
        tls = tls.identity(Identity::from_pem(cert, key));
    }
    Channel::from_shared(format!("https://localhost:{port}"))
        .unwrap()
        .tls_config(tls)?
        .connect()
        .await
}

#[tokio::test]
async fn client_certificates_decide_permissions() {
    signgate_simulator::evm::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new("signgate test ca");
    let (server_cert, server_key) = pki.leaf("localhost");
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_string_lossy().into_owned()
    };
    let cert = write("server.pem", &server_cert);
    let key = write("server.key", &server_key);
    let ca = write("ca.pem", &pki.ca_pem);
    let cfg = config(
        dir.path(),
        &[
            ("SIGNGATE_TLS__PLAINTEXT_LOOPBACK", "false"),
            ("SIGNGATE_TLS__CERT", &cert),
            ("SIGNGATE_TLS__KEY", &key),
            ("SIGNGATE_TLS__CLIENT_CA", &ca),
            ("SIGNGATE_TLS__GATEWAY_CLIENTS", "ops.signgate.test"),
            ("SIGNGATE_TLS__ADMIN_CLIENTS", "admin.signgate.test"),
        ],
    );
    let store = Arc::new(
        SqliteStore::open(dir.path().join("data/signgate.sqlite3"))
            .await
            .unwrap(),
    );
    let server = start(cfg, store).await;
    let port = server.addr.port();

    let admin_id = pki.client("admin.signgate.test");
    let ops_id = pki.client("ops.signgate.test");
    let stranger_id = pki.client("stranger.signgate.test");
    let other_ca = Pki::new("someone else's ca");
    let foreign_id = other_ca.client("admin.signgate.test");

    // Admin: both services.
    let ch = channel(port, &pki.ca_pem, Some(&admin_id)).await.unwrap();
    AdminClient::new(ch.clone())
        .get_health_details(pb::GetHealthDetailsRequest {})
        .await
        .unwrap();
    let err = GatewayClient::new(ch)
        .get_proposal(pb::GetProposalRequest { id: "p-x".into() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "admin may use Gateway: {err}");

    // Operator: Gateway only.
    let ch = channel(port, &pki.ca_pem, Some(&ops_id)).await.unwrap();
    let err = GatewayClient::new(ch.clone())
        .get_proposal(pb::GetProposalRequest { id: "p-x".into() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err}");
    let err = AdminClient::new(ch)
        .get_health_details(pb::GetHealthDetailsRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err}");

    // A valid certificate for an unlisted name: nothing.
    let ch = channel(port, &pki.ca_pem, Some(&stranger_id))
        .await
        .unwrap();
    let err = GatewayClient::new(ch)
        .get_proposal(pb::GetProposalRequest { id: "p-x".into() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err}");

    // No certificate, or one from another CA: refused by the handshake.
    for identity in [None, Some(&foreign_id)] {
        let refused = match channel(port, &pki.ca_pem, identity).await {
            Err(_) => true,
            Ok(ch) => GatewayClient::new(ch)
                .get_proposal(pb::GetProposalRequest { id: "p-x".into() })
                .await
                .is_err_and(|e| e.code() != Code::NotFound),
        };
        assert!(refused);
    }
    server.stop().await;
}

/// Records the caller of every `RequestSignatures` that reaches it (then answers NOT_FOUND), so
/// a test sees the identity the gateway established for a real mTLS call.
#[derive(Clone, Default)]
struct RecordsCallers(Arc<Mutex<Vec<Caller>>>);

impl RecordsCallers {
    fn seen(&self) -> Vec<Caller> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl DecisionPipeline for RecordsCallers {
    async fn submit(&self, _: Caller, _: Submission) -> Result<StoredProposal, GatewayError> {
        Err(GatewayError::Unimplemented("not in this test"))
    }
    async fn act(&self, _: Caller, _: Statement) -> Result<StoredProposal, GatewayError> {
        Err(GatewayError::Unimplemented("not in this test"))
    }
    async fn cancel(&self, _: Caller, _: CancelRequest) -> Result<StoredProposal, GatewayError> {
        Err(GatewayError::Unimplemented("not in this test"))
    }
    async fn request_signatures(
        &self,
        caller: Caller,
        id: ProposalId,
    ) -> Result<Released, GatewayError> {
        self.0.lock().unwrap().push(caller);
        Err(GatewayError::NotFound(format!("proposal {id}")))
    }
}

/// A gateway serving mTLS with `pki` as its client CA, these access lists, and a pipeline that
/// records callers.
struct MtlsGateway {
    server: crate::support::Running,
    callers: RecordsCallers,
    _dir: tempfile::TempDir,
}

impl MtlsGateway {
    async fn start(pki: &Pki, gateway_clients: &str, admin_clients: &str) -> Self {
        signgate_simulator::evm::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let (server_cert, server_key) = pki.leaf("localhost");
        let write = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p.to_string_lossy().into_owned()
        };
        let cert = write("server.pem", &server_cert);
        let key = write("server.key", &server_key);
        let ca = write("ca.pem", &pki.ca_pem);
        let cfg = config(
            dir.path(),
            &[
                ("SIGNGATE_TLS__PLAINTEXT_LOOPBACK", "false"),
                ("SIGNGATE_TLS__CERT", &cert),
                ("SIGNGATE_TLS__KEY", &key),
                ("SIGNGATE_TLS__CLIENT_CA", &ca),
                ("SIGNGATE_TLS__GATEWAY_CLIENTS", gateway_clients),
                ("SIGNGATE_TLS__ADMIN_CLIENTS", admin_clients),
            ],
        );
        let store = Arc::new(
            SqliteStore::open(dir.path().join("data/signgate.sqlite3"))
                .await
                .unwrap(),
        );
        let callers = RecordsCallers::default();
        let server = start_with(cfg, store, callers.clone()).await;
        Self {
            server,
            callers,
            _dir: dir,
        }
    }

    /// A channel presenting `identity`; `Err` when the handshake refuses it.
    async fn channel(
        &self,
        pki: &Pki,
        identity: &(String, String),
    ) -> Result<Channel, tonic::transport::Error> {
        channel(self.server.addr.port(), &pki.ca_pem, Some(identity)).await
    }

    /// `Admin.GetHealthDetails` as `identity`.
    async fn admin_call(
        &self,
        pki: &Pki,
        identity: &(String, String),
    ) -> Result<(), tonic::Status> {
        let ch = self.channel(pki, identity).await.unwrap();
        AdminClient::new(ch)
            .get_health_details(pb::GetHealthDetailsRequest {})
            .await
            .map(drop)
    }

    /// `Gateway.RequestSignatures` as `identity`: NOT_FOUND from the recording pipeline when
    /// the call was admitted.
    async fn gateway_call(&self, pki: &Pki, identity: &(String, String)) -> tonic::Status {
        let ch = self.channel(pki, identity).await.unwrap();
        GatewayClient::new(ch)
            .request_signatures(pb::RequestSignaturesRequest { id: "p-9".into() })
            .await
            .unwrap_err()
    }
}

#[tokio::test]
async fn a_wildcard_certificate_is_not_a_listed_name() {
    let pki = Pki::new("signgate test ca");
    let gw = MtlsGateway::start(
        &pki,
        "ops.corp,ops.signgate.test",
        "admin.corp,admin.signgate.test",
    )
    .await;

    // `*.signgate.test` is what server-name rules accepted for `admin.signgate.test`; `*.corp`
    // they refuse themselves (no wildcard right above a single label), the gateway does too.
    for wildcard in ["*.signgate.test", "*.corp"] {
        let cert = pki.client(wildcard);
        let err = gw.admin_call(&pki, &cert).await.unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{wildcard}: {err}");
        assert!(err.message().contains("wildcard"), "{wildcard}: {err}");
        let err = gw.gateway_call(&pki, &cert).await;
        assert_eq!(err.code(), Code::PermissionDenied, "{wildcard}: {err}");
    }
    assert!(gw.callers.seen().is_empty());
    gw.server.stop().await;
}

#[tokio::test]
async fn an_exact_certificate_is_recorded_as_it_presents_itself() {
    let pki = Pki::new("signgate test ca");
    let gw = MtlsGateway::start(&pki, "ops.corp", "admin.corp").await;

    let admin = pki.client("admin.corp");
    gw.admin_call(&pki, &admin).await.unwrap();
    let err = gw.gateway_call(&pki, &admin).await;
    assert_eq!(err.code(), Code::NotFound, "admitted: {err}");
    // DNS names compare without case; the identity is the certificate's own spelling.
    let shouted = pki.client("ADMIN.corp");
    let err = gw.gateway_call(&pki, &shouted).await;
    assert_eq!(err.code(), Code::NotFound, "admitted: {err}");
    assert_eq!(
        gw.callers.seen(),
        vec![
            Caller::Certificate("admin.corp".into()),
            Caller::Certificate("ADMIN.corp".into())
        ]
    );
    // A longer name that ends in the listed one is not it.
    let err = gw
        .admin_call(&pki, &pki.client("x.admin.corp"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err}");
    gw.server.stop().await;
}

#[tokio::test]
async fn a_certificate_not_issued_for_client_authentication_is_refused() {
    let pki = Pki::new("signgate test ca");
    let gw = MtlsGateway::start(&pki, "ops.corp", "admin.corp").await;

    // No extended key usage at all: the handshake (webpki) lets it through, the gateway not.
    let no_usage = pki.issue(&["admin.corp"], &[]);
    let err = gw.admin_call(&pki, &no_usage).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err}");
    assert!(
        err.message().contains("clientAuth extended key usage"),
        "{err}"
    );
    let err = gw.gateway_call(&pki, &no_usage).await;
    assert_eq!(err.code(), Code::PermissionDenied, "{err}");
    assert!(err.message().contains("clientAuth"), "{err}");

    // serverAuth only: already refused by the handshake.
    let server_only = pki.issue(&["admin.corp"], &[ExtendedKeyUsagePurpose::ServerAuth]);
    let refused = match gw.channel(&pki, &server_only).await {
        Err(_) => true,
        Ok(ch) => AdminClient::new(ch)
            .get_health_details(pb::GetHealthDetailsRequest {})
            .await
            .is_err(),
    };
    assert!(refused);
    assert!(gw.callers.seen().is_empty());
    gw.server.stop().await;
}

#[tokio::test]
async fn a_spiffe_id_is_an_identity() {
    let pki = Pki::new("signgate test ca");
    let gw = MtlsGateway::start(&pki, "spiffe://corp/ops/alice", "admin.corp").await;

    let alice = pki.client("spiffe://corp/ops/alice");
    let err = gw.gateway_call(&pki, &alice).await;
    assert_eq!(err.code(), Code::NotFound, "admitted: {err}");
    assert_eq!(
        gw.callers.seen(),
        vec![Caller::Certificate("spiffe://corp/ops/alice".into())]
    );
    let err = gw.admin_call(&pki, &alice).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "gateway only: {err}");

    for other in ["spiffe://corp/ops/bob", "spiffe://corp/ops/alice/x"] {
        let err = gw.gateway_call(&pki, &pki.client(other)).await;
        assert_eq!(err.code(), Code::PermissionDenied, "{other}: {err}");
    }
    assert!(gw.callers.seen().is_empty());
    gw.server.stop().await;
}

#[test]
fn a_wildcard_in_the_access_lists_is_refused_at_load() {
    for (var, key) in [
        ("SIGNGATE_TLS__ADMIN_CLIENTS", "tls.admin_clients"),
        ("SIGNGATE_TLS__GATEWAY_CLIENTS", "tls.gateway_clients"),
    ] {
        let err = GatewayConfig::load(None, [(var.to_owned(), "*.corp".to_owned())])
            .unwrap_err()
            .to_string();
        assert!(err.contains(key), "{err}");
        assert!(err.contains("wildcard"), "{err}");
    }
}
