//! The two load shapes: saturation (closed loop) and fixed rate (open loop, latency from the
//! timetable).
//!
//! - [`saturation`] (closed loop): `concurrency` workers each send, wait for the answer, send
//!   again. It finds the throughput the server sustains; its latencies are those of a server
//!   kept exactly `concurrency` calls busy.
//! - [`fixed_rate`] (open loop): call `i` is due at `start + i / rate` whatever happened to the
//!   calls before it, and its latency runs from that scheduled instant, not from when it was
//!   actually sent. A stalled server or a stalled load generator therefore shows up in the
//!   latencies instead of silently thinning the load (no coordinated omission).
//!
//! The fixed-rate timetable is kept by a dedicated thread sleeping with the OS timer (tens of
//! microseconds late on Linux) rather than by tokio's millisecond timer wheel, which would add
//! up to a millisecond to every latency and swamp the echo floor.
//!
//! Both shapes run warm-up and measurement back to back; only calls due (fixed rate) or started
//! (saturation) inside the measurement window are counted.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::sync::mpsc;

use crate::{LoadError, report::Tally, target::Target};

/// Warm-up and measurement windows of one run.
#[derive(Debug, Clone, Copy)]
pub struct Windows {
    /// Load applied before measuring, not counted.
    pub warmup: Duration,
    /// The measurement window.
    pub duration: Duration,
}

/// Closed loop: `concurrency` workers back to back for `w.warmup + w.duration`.
pub async fn saturation(
    target: &Target,
    concurrency: usize,
    w: Windows,
) -> Result<Tally, LoadError> {
    let start = Instant::now();
    let measure_from = start + w.warmup;
    let end = measure_from + w.duration;
    let seq = Arc::new(AtomicU64::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let target = target.clone();
        let seq = seq.clone();
        workers.spawn(async move {
            let mut tally = Tally::new()?;
            while Instant::now() < end {
                let request = target.prepare(seq.fetch_add(1, Ordering::Relaxed));
                let sent = Instant::now();
                let result = target.send(request).await;
                let latency = sent.elapsed();
                if sent >= measure_from {
                    tally.record(latency, result);
                }
            }
            Ok::<_, LoadError>(tally)
        });
    }
    let mut total = Tally::new()?;
    while let Some(worker) = workers.join_next().await {
        total.merge(worker.map_err(|e| LoadError::Worker(e.to_string()))??)?;
    }
    Ok(total)
}

/// One fixed-rate call's result, sent from its task to the collector.
struct Sample {
    measured: bool,
    lag: Duration,
    missed: bool,
    latency: Duration,
    result: Result<crate::target::Outcome, crate::target::Failure>,
}

/// Open loop: `rate` calls per second for `w.warmup + w.duration`, latency from the timetable.
pub async fn fixed_rate(target: &Target, rate: f64, w: Windows) -> Result<Tally, LoadError> {
    if !(rate.is_finite() && rate > 0.0) {
        return Err(LoadError::Options(format!(
            "--rate must be a positive number, got {rate}"
        )));
    }
    let interval = Duration::try_from_secs_f64(1.0 / rate)
        .map_err(|e| LoadError::Options(format!("--rate {rate}: {e}")))?;
    let total = ((w.warmup + w.duration).as_secs_f64() * rate).round() as u64;
    let warm = (w.warmup.as_secs_f64() * rate).round() as u64;
    let (tx, mut rx) = mpsc::unbounded_channel::<Sample>();
    let runtime = tokio::runtime::Handle::current();
    let dispatch_target = target.clone();
    // Started a little ahead so the first call is not late by the thread's start-up.
    let start = Instant::now() + Duration::from_millis(20);
    let dispatcher = std::thread::Builder::new()
        .name("signgate-load-timetable".to_owned())
        .spawn(move || {
            for i in 0..total {
                let due = start + interval.mul_f64(i as f64);
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                let lag = Instant::now().saturating_duration_since(due);
                let target = dispatch_target.clone();
                let tx = tx.clone();
                runtime.spawn(async move {
                    let request = target.prepare(i);
                    let result = target.send(request).await;
                    let _ = tx.send(Sample {
                        measured: i >= warm,
                        lag,
                        missed: lag > interval,
                        latency: due.elapsed(),
                        result,
                    });
                });
            }
        })
        .map_err(|e| LoadError::Worker(format!("timetable thread: {e}")))?;
    let mut tally = Tally::new()?;
    // The channel closes once the timetable is done and every call has answered or timed out.
    while let Some(s) = rx.recv().await {
        if s.measured {
            tally.record(s.latency, s.result);
            tally.record_lag(s.lag, s.missed);
        }
    }
    tokio::task::spawn_blocking(move || dispatcher.join())
        .await
        .map_err(|e| LoadError::Worker(e.to_string()))?
        .map_err(|_| LoadError::Worker("timetable thread panicked".to_owned()))?;
    Ok(tally)
}
