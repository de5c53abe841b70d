//! The gateway's client to the signer backends: send one release ticket to every configured
//! backend, check each answer (the signature must recover to the owner the backend names, over
//! the hash the gateway released), and pack the good ones owner-sorted for `execTransaction`.
//!
//! The ticket and the answer are defined once, in `signgate-signer` ([`signgate_signer::ticket`]
//! issues, [`signgate_signer::response::check`] checks); what stays here is the gateway's own
//! part: its configured endpoints, its TLS identity, deadlines and fan-out, and packing.
//!
//! A backend that is down, slow, or answers with anything that does not verify contributes no
//! signature and an error in words; it never makes the call fail as a whole, and never adds an
//! unverified signature to the blob.

use std::{str::FromStr, time::Duration};

use alloy_primitives::{Address, B256, Bytes, Signature};
use signgate_proto::v1::{self as pb, signer_client::SignerClient};
use signgate_signer::response;
use signgate_simulator::signature::{OwnerSignature, PackError, pack_signatures};
use tonic::transport::{Channel, Endpoint};
use tracing::Instrument as _;

use crate::config::SignerEndpoint;

/// The gateway's TLS material towards `https://` signer backends: its own certificate and key,
/// and the CA of the backends ([`ClientTls::from_files`]).
pub use crate::tls::ClientTls;

/// One backend's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendSignature {
    /// The configured endpoint.
    pub endpoint: String,
    /// The owner and its verified signature, or why there is none.
    pub result: Result<(Address, Signature), String>,
}

impl BackendSignature {
    /// The API form of this outcome.
    pub fn to_proto(&self) -> pb::SignerOutcome {
        match &self.result {
            Ok((owner, _)) => pb::SignerOutcome {
                endpoint: self.endpoint.clone(),
                owner: owner.to_checksum(None),
                error: String::new(),
            },
            Err(e) => pb::SignerOutcome {
                endpoint: self.endpoint.clone(),
                owner: String::new(),
                error: e.clone(),
            },
        }
    }
}

async fn channel(
    endpoint: &str,
    tls: Option<&ClientTls>,
    deadline: Duration,
) -> Result<Channel, String> {
    let mut ep = Endpoint::from_str(endpoint)
        .map_err(|e| format!("bad endpoint: {e}"))?
        .connect_timeout(deadline)
        .timeout(deadline);
    if endpoint.starts_with("https://") {
        let tls = tls.ok_or("an https signer needs the gateway's TLS client certificate")?;
        ep = tls.apply(ep).map_err(|e| format!("tls: {e}"))?;
    }
    ep.connect().await.map_err(|e| format!("connect: {e}"))
}

async fn ask(
    endpoint: &SignerEndpoint,
    ticket: pb::SignedReleaseTicket,
    expected: B256,
    tls: Option<&ClientTls>,
    deadline: Duration,
) -> BackendSignature {
    let result = async {
        let mut client = SignerClient::new(channel(&endpoint.endpoint, tls, deadline).await?);
        let resp = client
            .sign(pb::SignRequest {
                ticket: Some(ticket),
            })
            .await
            .map_err(|s| format!("{:?}: {}", s.code(), s.message()))?
            .into_inner();
        response::check(&resp, expected).map_err(|e| e.to_string())
    };
    let result = tokio::time::timeout(deadline, result)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {}ms", deadline.as_millis())));
    BackendSignature {
        endpoint: endpoint.endpoint.clone(),
        result,
    }
}

/// Sends `ticket` (releasing `safe_tx_hash`) to every backend at once and returns each outcome,
/// in the configured order.
pub async fn collect(
    endpoints: &[SignerEndpoint],
    ticket: &pb::SignedReleaseTicket,
    safe_tx_hash: B256,
    tls: Option<&ClientTls>,
    deadline: Duration,
) -> Vec<BackendSignature> {
    let mut set = tokio::task::JoinSet::new();
    for (i, endpoint) in endpoints.iter().enumerate() {
        let (endpoint, ticket, tls) = (endpoint.clone(), ticket.clone(), tls.cloned());
        // In the caller's span: the backends' answers are logged with the proposal's tags.
        set.spawn(
            async move {
                (
                    i,
                    ask(&endpoint, ticket, safe_tx_hash, tls.as_ref(), deadline).await,
                )
            }
            .in_current_span(),
        );
    }
    let mut out: Vec<BackendSignature> = endpoints
        .iter()
        .map(|e| BackendSignature {
            endpoint: e.endpoint.clone(),
            result: Err("the request task failed".into()),
        })
        .collect();
    while let Some(joined) = set.join_next().await {
        if let Ok((i, outcome)) = joined
            && let Some(slot) = out.get_mut(i)
        {
            *slot = outcome;
        }
    }
    out
}

/// The verified signatures packed owner-sorted, as `execTransaction` expects.
pub fn pack(outcomes: &[BackendSignature]) -> Result<Bytes, PackError> {
    pack_with(outcomes, &[])
}

/// [`pack`] plus verified ECDSA signatures of other owners (supplied with the submission). An
/// owner is packed once: a backend's signature wins over a supplied one of the same owner.
pub fn pack_with(
    outcomes: &[BackendSignature],
    supplied: &[(Address, Signature)],
) -> Result<Bytes, PackError> {
    let mut sigs: Vec<(Address, OwnerSignature)> = outcomes
        .iter()
        .filter_map(|o| o.result.as_ref().ok())
        .map(|(owner, sig)| (*owner, OwnerSignature::Ecdsa(*sig)))
        .collect();
    for (owner, sig) in supplied {
        if !sigs.iter().any(|(o, _)| o == owner) {
            sigs.push((*owner, OwnerSignature::Ecdsa(*sig)));
        }
    }
    pack_signatures(&sigs)
}
