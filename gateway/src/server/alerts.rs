//! `Admin.WatchAlerts`: every anomaly alert this gateway raises from the moment the watcher
//! subscribes, each sent after it is in the audit log (the worker announces only durable
//! alerts). A watcher that falls [`ALERT_BUFFER`](crate::anomaly::observer::ALERT_BUFFER)
//! alerts behind is ended with `RESOURCE_EXHAUSTED` naming how many it missed, never left to
//! believe it saw them all; the stream also ends when the server stops.

use signgate_policy::anomaly::Alert;
use signgate_proto::v1 as pb;
use tokio::sync::{broadcast, broadcast::error::RecvError, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::Status;
use tracing::Instrument as _;

use crate::api;

/// Alerts queued per watcher connection before the forwarder waits for the client.
const SEND_BUFFER: usize = 16;

/// The stream of one `WatchAlerts` call.
pub fn watch(
    mut alerts: broadcast::Receiver<Alert>,
    stopping: CancellationToken,
) -> ReceiverStream<Result<pb::AnomalyAlert, Status>> {
    let (tx, rx) = mpsc::channel(SEND_BUFFER);
    tokio::spawn(
        async move {
            loop {
                let next = tokio::select! {
                    () = tx.closed() => return,
                    () = stopping.cancelled() => return,
                    next = alerts.recv() => next,
                };
                let item = match next {
                    Ok(a) => Ok(api::alert::alert(&a)),
                    Err(RecvError::Lagged(missed)) => Err(Status::resource_exhausted(format!(
                        "this watcher fell {missed} alerts behind and was ended; every alert is \
                         in the audit log (`signgate audit show`)"
                    ))),
                    Err(RecvError::Closed) => return,
                };
                let end = item.is_err();
                if tx.send(item).await.is_err() || end {
                    return;
                }
            }
        }
        .in_current_span(),
    );
    ReceiverStream::new(rx)
}
