//! The `Signer` gRPC service: verify the ticket, record it in the ledger, then sign.

use std::sync::Arc;

use alloy_signer::SignerSync;
use signgate_proto::v1 as pb;
use tonic::{Request, Response, Status};

use crate::{SignerSetup, error::SignError, response, ticket};

/// The `Signer` service.
#[derive(Debug)]
pub struct SignerService {
    setup: Arc<SignerSetup>,
}

impl SignerService {
    /// A service signing with `setup.key`.
    pub fn new(setup: SignerSetup) -> Self {
        Self {
            setup: Arc::new(setup),
        }
    }
}

/// Verify, record, then sign: the order that makes a crash or a ledger failure end with no
/// signature rather than an unrecorded one. One clock reading serves both the expiry check and
/// the ledger's record.
fn sign_blocking(
    setup: &SignerSetup,
    signed: &pb::SignedReleaseTicket,
) -> Result<pb::SignResponse, SignError> {
    let now = setup.clock.now();
    let ticket = ticket::verify(&setup.gateway_key, signed, now)?;
    // A legacy Safe's signature is valid on every chain, so its nonce is recorded for all.
    setup.ledger.record(
        ticket
            .context
            .version
            .signature_chain(ticket.context.chain_id),
        ticket.safe(),
        ticket.nonce(),
        ticket.safe_tx_hash,
        now,
    )?;
    let signature = setup
        .key
        .sign_hash_sync(&ticket.safe_tx_hash)
        .map_err(|e| SignError::Internal(format!("signing failed: {e}")))?;
    tracing::info!(
        ticket = %ticket.ticket_id,
        proposal = %ticket.proposal_id,
        safe_tx_hash = %ticket.safe_tx_hash,
        "signed"
    );
    Ok(response::answer(
        setup.key.address(),
        &signature,
        ticket.safe_tx_hash,
    ))
}

#[tonic::async_trait]
impl pb::signer_server::Signer for SignerService {
    async fn sign(
        &self,
        req: Request<pb::SignRequest>,
    ) -> Result<Response<pb::SignResponse>, Status> {
        let signed = req
            .into_inner()
            .ticket
            .ok_or_else(|| ticket::TicketError::Malformed {
                field: "ticket".to_owned(),
                reason: "required".to_owned(),
            })
            .map_err(SignError::from)?;
        let setup = self.setup.clone();
        let resp = tokio::task::spawn_blocking(move || sign_blocking(&setup, &signed))
            .await
            .map_err(|e| SignError::Internal(format!("signing task: {e}")))??;
        Ok(Response::new(resp))
    }

    async fn get_signer_info(
        &self,
        _req: Request<pb::GetSignerInfoRequest>,
    ) -> Result<Response<pb::SignerInfo>, Status> {
        Ok(Response::new(pb::SignerInfo {
            owner: self.setup.key.address().to_checksum(None),
            gateway_public_key: hex::encode(self.setup.gateway_key.as_bytes()),
        }))
    }
}
