//! Mutual TLS: the client certificate's identity decides which services a caller may use.

use std::sync::Arc;

use signgate_gateway::store::SqliteStore;
use signgate_proto::v1::{self as pb, admin_client::AdminClient, gateway_client::GatewayClient};
use tonic::{
    Code,
    transport::{Certificate, Channel, ClientTlsConfig, Identity},
};

use crate::{
    pki::Pki,
    support::{config, start},
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
