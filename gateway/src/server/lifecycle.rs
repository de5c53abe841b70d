//! The server's own audit records: `server_started` before the first call is served (the
//! append also proves the log is writable: a gateway that cannot record does not serve) and
//! `server_stopped` after a graceful shutdown has drained every call. A crash leaves no stop
//! record, which is itself evidence.

use std::sync::Arc;

use alloy_primitives::FixedBytes;
use signgate_audit::{
    AuditEvent,
    record::{ServerStarted, ServerStopped},
};

use crate::pipeline::Governance;
use crate::{
    audit::{AuditError, AuditLog},
    config::GatewayConfig,
};

async fn append(audit: &Arc<AuditLog>, event: AuditEvent) -> Result<(), AuditError> {
    let audit = audit.clone();
    tokio::task::spawn_blocking(move || audit.append(event))
        .await
        .map_err(|_| AuditError::Poisoned)?
        .map(|_| ())
}

/// Records that the gateway starts serving with `cfg` and the policy now in force.
pub async fn record_start(g: &Governance, cfg: &GatewayConfig) -> Result<(), AuditError> {
    let policy = g.policy.load();
    append(
        &g.audit,
        AuditEvent::ServerStarted(ServerStarted {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            audit_key: FixedBytes(g.audit.public_key().to_bytes()),
            release_key: Some(FixedBytes(g.release_key.to_bytes())),
            policy_hash: Some(policy.hash()),
            config_sha256: Some(cfg.effective_sha256),
        }),
    )
    .await
}

/// Records a graceful stop. Nothing is served any more, so a failure only is logged: the
/// missing record then reads like a crash, which is the conservative reading.
pub async fn record_stop(g: &Governance) {
    let recorded = append(
        &g.audit,
        AuditEvent::ServerStopped(ServerStopped {
            reason: "graceful shutdown: in-flight calls drained".to_owned(),
        }),
    )
    .await;
    if let Err(error) = recorded {
        tracing::error!(%error, "the audit log could not record the stop");
    }
}
