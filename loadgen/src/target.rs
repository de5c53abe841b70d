//! What the load is sent to: the gateway's `SubmitProposal`, or the echo floor, behind one
//! interface so both are driven by exactly the same loop.
//!
//! A call is split in two: [`Target::prepare`] builds (and for the gateway signs) the request,
//! [`Target::send`] is the gRPC round trip. The saturation loop times only `send`; the fixed-rate
//! loop times from the scheduled instant, so preparing counts there, as it would for a client.

use std::{sync::Arc, time::Duration};

use signgate_proto::v1::{self as pb, gateway_client::GatewayClient};
use tonic::transport::{Channel, Endpoint};

use crate::{
    LoadError,
    echo::{EchoMessage, echo_client::EchoClient},
    request::Submissions,
};

/// How long the client waits for one answer (the gateway's own call deadline is 10 s).
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// The result of one call that got an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// The echo server returned the payload.
    Echoed,
    /// The gateway denied the proposal.
    Denied,
    /// The gateway stored the proposal; it waits for approvals.
    NeedsApprovals,
    /// The gateway approved the proposal outright.
    Approved,
    /// The gateway answered with a proposal that carries no decision.
    NoDecision,
}

impl Outcome {
    /// The name used in reports.
    pub fn label(self) -> &'static str {
        match self {
            Self::Echoed => "echoed",
            Self::Denied => "denied",
            Self::NeedsApprovals => "needs_approvals",
            Self::Approved => "approved",
            Self::NoDecision => "no_decision",
        }
    }

    fn of(p: &pb::Proposal) -> Self {
        match p.decision.as_ref().and_then(|d| d.outcome.as_ref()) {
            Some(pb::decision::Outcome::Denied(_)) => Self::Denied,
            Some(pb::decision::Outcome::NeedsApprovals(_)) => Self::NeedsApprovals,
            Some(pb::decision::Outcome::Approved(_)) => Self::Approved,
            None => Self::NoDecision,
        }
    }
}

/// Why a call got no answer: the gRPC status code's name, or `ClientTimeout`.
pub type Failure = String;

/// A request ready to send.
#[derive(Debug)]
pub enum Prepared {
    /// A signed submission, and the index of the replica (connection) it goes to.
    Gateway(pb::SubmitProposalRequest, usize),
    /// An echo payload.
    Echo(EchoMessage),
}

/// One server under load, reached over one HTTP/2 connection that every call shares (or
/// several gateway replicas, one connection each, called in turn).
#[derive(Debug, Clone)]
pub enum Target {
    /// The gateway, sent distinct signed submissions: one replica, or several replicas of one
    /// database, call `seq` going to replica `seq mod n`.
    Gateway {
        /// One connection per replica.
        clients: Arc<[GatewayClient<Channel>]>,
        /// The request builder (shared: the dispatcher clones the target for every call).
        submissions: Arc<Submissions>,
    },
    /// The echo floor, sent payloads as large as a submission.
    Echo {
        /// The connection.
        client: EchoClient<Channel>,
        /// The bytes echoed.
        payload: Vec<u8>,
    },
}

async fn channel(addr: &str) -> Result<Channel, LoadError> {
    let uri = if addr.contains("://") {
        addr.to_owned()
    } else {
        format!("http://{addr}")
    };
    Endpoint::from_shared(uri.clone())
        .map_err(|e| LoadError::Connect(uri.clone(), e.to_string()))?
        .tcp_nodelay(true)
        .connect()
        .await
        .map_err(|e| LoadError::Connect(uri, e.to_string()))
}

impl Target {
    /// Connects to the gateway at `addr` (`host:port` or a URL).
    pub async fn gateway(addr: &str, submissions: Submissions) -> Result<Self, LoadError> {
        Self::replicas(&[addr.to_owned()], submissions).await
    }

    /// Connects to each replica in `addrs` over a connection of its own; the calls go round
    /// robin over them, every one built from `submissions` with the one sequence number of the
    /// run (so each is distinct across the replicas too).
    pub async fn replicas(addrs: &[String], submissions: Submissions) -> Result<Self, LoadError> {
        if addrs.is_empty() {
            return Err(LoadError::Options("no gateway replica to load".to_owned()));
        }
        let mut clients = Vec::with_capacity(addrs.len());
        for addr in addrs {
            clients.push(GatewayClient::new(channel(addr).await?));
        }
        Ok(Self::Gateway {
            clients: clients.into(),
            submissions: Arc::new(submissions),
        })
    }

    /// Connects to the echo server at `addr`, echoing `size` bytes per call.
    pub async fn echo(addr: &str, size: usize) -> Result<Self, LoadError> {
        Ok(Self::Echo {
            client: EchoClient::new(channel(addr).await?),
            payload: vec![0x5a; size],
        })
    }

    /// Builds request number `seq` (for the gateway: addressed to replica `seq mod n`).
    pub fn prepare(&self, seq: u64) -> Prepared {
        match self {
            Self::Gateway {
                submissions,
                clients,
            } => {
                let n = clients.len().max(1) as u64;
                let replica = usize::try_from(seq % n).unwrap_or(0);
                Prepared::Gateway(submissions.request(seq), replica)
            }
            Self::Echo { payload, .. } => Prepared::Echo(EchoMessage {
                payload: payload.clone(),
            }),
        }
    }

    /// One round trip. A request the server answers with a status is a failure named after
    /// its code; so is one without any answer within [`CLIENT_TIMEOUT`].
    pub async fn send(&self, request: Prepared) -> Result<Outcome, Failure> {
        let call = async {
            match (self, request) {
                (Self::Gateway { clients, .. }, Prepared::Gateway(req, replica)) => {
                    let Some(client) = clients.get(replica) else {
                        return Err(tonic::Status::internal("no such replica"));
                    };
                    client
                        .clone()
                        .submit_proposal(req)
                        .await
                        .map(|r| Outcome::of(r.get_ref()))
                }
                (Self::Echo { client, .. }, Prepared::Echo(req)) => {
                    client.clone().echo(req).await.map(|_| Outcome::Echoed)
                }
                _ => Err(tonic::Status::internal(
                    "request prepared for another target",
                )),
            }
        };
        match tokio::time::timeout(CLIENT_TIMEOUT, call).await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(status)) => Err(format!("{:?}", status.code())),
            Err(_) => Err("ClientTimeout".to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{Submissions, demo_initiator};

    #[tokio::test]
    async fn calls_go_round_robin_and_stay_distinct_across_replicas() {
        let lazy = |port: u16| {
            GatewayClient::new(
                Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
                    .unwrap()
                    .connect_lazy(),
            )
        };
        let target = Target::Gateway {
            clients: vec![lazy(1), lazy(2), lazy(3)].into(),
            submissions: Arc::new(Submissions::new(demo_initiator().unwrap())),
        };
        let mut seen = std::collections::HashSet::new();
        for seq in 0..9 {
            let Prepared::Gateway(req, replica) = target.prepare(seq) else {
                panic!("a gateway target prepared something else");
            };
            assert_eq!(replica, (seq % 3) as usize);
            assert!(
                seen.insert(req.submission.unwrap().payload),
                "seq {seq} repeated"
            );
        }
    }
}
