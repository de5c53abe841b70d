//! Changes committed by other replicas, heard through `LISTEN`: every change transaction
//! `NOTIFY`s `signgate_changes` with the proposal, its revision and state (delivered only if
//! it commits), and every record that puts a policy in force `signgate_policy` with its position. One
//! connection of its own listens and reconnects after a failure; a watcher that missed
//! announcements while it was down re-reads when it next hears one (its revision tells it).

use std::{future::poll_fn, time::Duration};

use tokio::sync::{broadcast, watch};
use tokio_postgres::{AsyncMessage, NoTls, Socket, tls::MakeTlsConnect};

use super::Connector;
use crate::store::{ProposalChange, ProposalId};

/// The announcement of `c` by the replica `origin`: `<origin> <revision> <state> <id>`.
pub(super) fn payload(origin: u64, c: &ProposalChange) -> String {
    format!("{origin} {} {} {}", c.revision, c.state.as_str(), c.id)
}

fn parse(payload: &str) -> Option<(u64, ProposalChange)> {
    let mut parts = payload.splitn(4, ' ');
    let origin = parts.next()?.parse().ok()?;
    let revision = parts.next()?.parse().ok()?;
    let state = parts.next()?.parse().ok()?;
    let id = ProposalId::new(parts.next()?.to_owned());
    Some((
        origin,
        ProposalChange {
            id,
            revision,
            state,
        },
    ))
}

/// The listening task; it stops when this is dropped.
pub(super) struct Listener {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Listener {
    /// Listens on the database of `config`, forwarding other replicas' changes to `changes`
    /// and the position of every record that put a policy in force to `policy`.
    pub(super) fn spawn(
        config: tokio_postgres::Config,
        tls: Connector,
        changes: broadcast::Sender<ProposalChange>,
        policy: watch::Sender<u64>,
        origin: u64,
    ) -> Self {
        let task = tokio::spawn(async move {
            loop {
                let listened = match &tls {
                    Connector::Plain => listen(&config, NoTls, &changes, &policy, origin).await,
                    Connector::Tls(t) => {
                        listen(&config, t.clone(), &changes, &policy, origin).await
                    }
                };
                if let Err(e) = listened {
                    tracing::warn!(error = %e, "change feed from the database lost; reconnecting");
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
        Self { task }
    }
}

async fn listen<T>(
    config: &tokio_postgres::Config,
    tls: T,
    changes: &broadcast::Sender<ProposalChange>,
    policy: &watch::Sender<u64>,
    origin: u64,
) -> Result<(), tokio_postgres::Error>
where
    T: MakeTlsConnect<Socket>,
    T::Stream: Send + 'static,
{
    let (client, mut connection) = config.connect(tls).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        while let Some(message) = poll_fn(|cx| connection.poll_message(cx)).await {
            match message {
                Ok(AsyncMessage::Notification(n)) => {
                    if tx
                        .send((n.channel().to_owned(), n.payload().to_owned()))
                        .is_err()
                    {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    });
    client
        .batch_execute("LISTEN signgate_changes; LISTEN signgate_policy")
        .await?;
    tracing::debug!("listening for changes committed by other replicas");
    while let Some((channel, payload)) = rx.recv().await {
        match channel.as_str() {
            "signgate_changes" => match parse(&payload) {
                Some((from, change)) if from != origin => {
                    let _ = changes.send(change);
                }
                Some(_) => {}
                None => tracing::warn!(payload, "unreadable change announcement ignored"),
            },
            "signgate_policy" => {
                if let Ok(index) = payload.parse::<u64>() {
                    policy.send_replace(index);
                }
            }
            _ => {}
        }
    }
    drop(client);
    match driver.await {
        Ok(result) => result,
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ProposalState;

    #[test]
    fn an_announcement_reads_back() {
        let c = ProposalChange {
            id: ProposalId::new("p-1 with space".to_owned()),
            revision: 7,
            state: ProposalState::Approved,
        };
        assert_eq!(parse(&payload(42, &c)), Some((42, c)));
        assert_eq!(parse("x 1 approved id"), None);
    }
}
