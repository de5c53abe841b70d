//! `[alerts.webhook]`: every alert POSTed as JSON to one endpoint, signed with HMAC-SHA256,
//! from a bounded queue in a background task, so an endpoint that is down never blocks or slows
//! a call and never loses an alert silently.
//!
//! - The worker [`offer`](WebhookQueue::offer)s each recorded alert without waiting. A full
//!   queue (`queue_limit`) drops the alert: logged at error level and counted in
//!   `signgate_anomaly_webhook_dropped_total`; the alert itself stays in the audit log.
//! - The sender delivers in order, one at a time; a failed attempt (no answer within `timeout`,
//!   or a status other than 2xx) is counted in `signgate_anomaly_webhook_failures_total` and
//!   retried after a pause that doubles from [`FIRST_RETRY`] up to [`LAST_RETRY`], for as long
//!   as the gateway runs. The queue's length is `signgate_anomaly_webhook_backlog`.
//! - When the server stops, what is still queued gets one more attempt each; what fails then is
//!   counted as dropped and logged.
//!
//! # The request
//!
//! `POST url` with `content-type: application/json`, the body
//! `{"code": "anomaly.…", "message": "…", "alert": {…}}` (the alert as the audit log records
//! it), and two headers: `x-signgate-timestamp` (Unix seconds, from the gateway's clock) and
//! `x-signgate-signature: sha256=<hex>`, the HMAC-SHA256 under the configured secret of
//! `<timestamp>.<body>`. A receiver recomputes it, compares in constant time, and refuses old
//! timestamps to stop replays.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use signgate_policy::anomaly::Alert;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::{clock::SharedClock, config::WebhookSettings, metrics::Metrics};

/// The pause before the first retry of a failed delivery.
pub const FIRST_RETRY: Duration = Duration::from_millis(100);
/// The longest pause between retries.
pub const LAST_RETRY: Duration = Duration::from_secs(2);
/// The header carrying the signing time, Unix seconds.
pub const TIMESTAMP_HEADER: &str = "x-signgate-timestamp";
/// The header carrying `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`.
pub const SIGNATURE_HEADER: &str = "x-signgate-signature";

/// Why the webhook could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The secret file could not be read.
    #[error("reading the webhook secret {}: {source}", path.display())]
    Secret {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The secret file is empty.
    #[error("the webhook secret {} is empty; put a random key in it", .0.display())]
    EmptySecret(std::path::PathBuf),
    /// The HTTP client could not be built.
    #[error("webhook HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// The signature header's value for `body` signed at `timestamp` under `secret`.
pub fn signature(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The JSON body of one alert.
pub fn body(alert: &Alert) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "code": alert.code(),
        "message": alert.to_string(),
        "alert": alert,
    }))
    .unwrap_or_default()
}

/// The queue between the worker and the sender. Cheap to clone.
#[derive(Debug, Clone)]
pub struct WebhookQueue {
    inner: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    items: Mutex<VecDeque<Alert>>,
    limit: usize,
    ready: Notify,
    metrics: Arc<Metrics>,
}

impl Shared {
    fn items(&self) -> std::sync::MutexGuard<'_, VecDeque<Alert>> {
        self.items.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn backlog(&self, len: usize) {
        self.metrics
            .anomaly_webhook_backlog(i64::try_from(len).unwrap_or(i64::MAX));
    }
}

impl WebhookQueue {
    /// Queues `alert` for delivery without waiting; drops it (logged, counted) when the queue
    /// is full.
    pub fn offer(&self, alert: &Alert) {
        let mut items = self.inner.items();
        if items.len() >= self.inner.limit {
            drop(items);
            self.inner.metrics.anomaly_webhook_dropped();
            tracing::error!(
                rule = alert.code(),
                subject = ?alert.subject,
                limit = self.inner.limit,
                "webhook queue full: this alert will not be sent (it is in the audit log)"
            );
            return;
        }
        items.push_back(alert.clone());
        let len = items.len();
        drop(items);
        self.inner.backlog(len);
        self.inner.ready.notify_one();
    }
}

/// The queue and its sender task, which runs until `ended` is cancelled and then makes one
/// last attempt at what is queued.
pub fn start(
    settings: &WebhookSettings,
    metrics: Arc<Metrics>,
    clock: SharedClock,
    ended: CancellationToken,
) -> Result<(WebhookQueue, tokio::task::JoinHandle<()>), WebhookError> {
    let secret = std::fs::read(&settings.secret_file).map_err(|source| WebhookError::Secret {
        path: settings.secret_file.clone(),
        source,
    })?;
    let secret = secret.trim_ascii_end().to_vec();
    if secret.is_empty() {
        return Err(WebhookError::EmptySecret(settings.secret_file.clone()));
    }
    let client = reqwest::Client::builder()
        .timeout(settings.timeout)
        .build()?;
    let queue = WebhookQueue {
        inner: Arc::new(Shared {
            items: Mutex::new(VecDeque::new()),
            limit: settings.queue_limit.get(),
            ready: Notify::new(),
            metrics,
        }),
    };
    let sender = Sender {
        queue: queue.clone(),
        client,
        url: settings.url.clone(),
        secret,
        clock,
    };
    let task = tokio::spawn(sender.run(ended));
    Ok((queue, task))
}

struct Sender {
    queue: WebhookQueue,
    client: reqwest::Client,
    url: reqwest::Url,
    secret: Vec<u8>,
    clock: SharedClock,
}

impl Sender {
    async fn run(self, ended: CancellationToken) {
        let shared = &self.queue.inner;
        let mut pause = FIRST_RETRY;
        loop {
            let next = shared.items().front().cloned();
            let Some(alert) = next else {
                tokio::select! {
                    () = shared.ready.notified() => continue,
                    () = ended.cancelled() => return,
                }
            };
            if self.deliver(&alert).await {
                let len = {
                    let mut items = shared.items();
                    items.pop_front();
                    items.len()
                };
                shared.backlog(len);
                pause = FIRST_RETRY;
                continue;
            }
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = ended.cancelled() => break,
            }
            pause = pause.saturating_mul(2).min(LAST_RETRY);
        }
        // Stopping: one more attempt each, then what is left is dropped, loudly.
        let left: Vec<Alert> = shared.items().drain(..).collect();
        shared.backlog(0);
        for alert in left {
            if !self.deliver(&alert).await {
                shared.metrics.anomaly_webhook_dropped();
                tracing::error!(rule = alert.code(), subject = ?alert.subject,
                    "gateway stopping: this alert was not delivered to the webhook (it is in the audit log)");
            }
        }
    }

    /// One attempt; true on a 2xx answer.
    async fn deliver(&self, alert: &Alert) -> bool {
        let body = body(alert);
        let timestamp = u64::try_from(self.clock.now().0 / 1000).unwrap_or(0);
        let answer = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, signature(&self.secret, timestamp, &body))
            .body(body)
            .send()
            .await;
        match answer {
            Ok(r) if r.status().is_success() => true,
            Ok(r) => {
                self.queue.inner.metrics.anomaly_webhook_failed();
                tracing::warn!(status = %r.status(), rule = alert.code(), "webhook refused an alert; retrying");
                false
            }
            Err(e) => {
                self.queue.inner.metrics.anomaly_webhook_failed();
                tracing::warn!(error = %e, rule = alert.code(), "webhook unreachable; retrying");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // RFC 4231 test case 2 ("Jefe"), with the message split as the webhook signs it.
        let sig = signature(b"Jefe", 0, b"what do ya want for nothing?");
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"0.what do ya want for nothing?");
        assert_eq!(
            sig,
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        );
        assert_ne!(sig, signature(b"Jefe", 1, b"what do ya want for nothing?"));
    }
}
