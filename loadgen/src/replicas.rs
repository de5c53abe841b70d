//! `--replicas-on URL` (issue 15): in one run and under the same load, the echo floor, the
//! in-process gateway on SQLite, and one, two and three gateway replicas on PostgreSQL.
//!
//! Each PostgreSQL configuration gets a fresh database on the server at the base URL (created
//! and dropped here with `psql`, like the test kit's `TestDatabase`), replicas started as
//! [`servers::start_replicas`] does (one after the other, so the schema is created once; each
//! with a data directory of its own and one shared release key), and the calls of the run spread
//! round robin over them, each replica over a connection of its own. The submissions come from
//! one builder and one sequence number per target, so every one is distinct whichever replica
//! gets it.
//!
//! Beside latency and throughput, the database's committed and rolled-back transactions
//! (`pg_stat_database`) from the moment the replicas are ready to after they stopped, divided
//! by the proposals stored (warm-up included): the transactions one submission costs.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prost::Message as _;

use crate::{
    LoadError, Options, apply, drive,
    report::{self, DbFigures, MatrixReport, MatrixRow},
    request, servers, target,
};

/// A fresh database on the server at `base`, dropped (its connections terminated) on drop.
#[derive(Debug)]
pub struct Database {
    base: String,
    name: String,
}

fn psql(url: &str, sql: &str) -> Result<String, LoadError> {
    let out = signgate_testkit::postgres::psql_output(url, sql)
        .map_err(|e| LoadError::Server(format!("running psql: {e}")))?;
    if !out.status.success() {
        return Err(LoadError::Server(format!(
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

impl Database {
    /// Creates `signgate_load_<pid>_<n>_<nanos>` on the server at `base` (a URL without a
    /// database, such as `postgres://postgres@127.0.0.1:5432`).
    pub fn create(base: &str, n: usize) -> Result<Self, LoadError> {
        let base = base.trim_end_matches('/').to_owned();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("signgate_load_{}_{n}_{nanos}", std::process::id());
        psql(
            &format!("{base}/postgres"),
            &format!("CREATE DATABASE \"{name}\""),
        )?;
        Ok(Self { base, name })
    }

    /// The database's URL.
    pub fn url(&self) -> String {
        format!("{}/{}", self.base, self.name)
    }

    /// Committed and rolled-back transactions so far (`pg_stat_database`).
    pub fn transactions(&self) -> Result<(u64, u64), LoadError> {
        let row = psql(
            &format!("{}/postgres", self.base),
            &format!(
                "SELECT coalesce(sum(xact_commit), 0) || ' ' || coalesce(sum(xact_rollback), 0) \
                 FROM pg_stat_database WHERE datname = '{}'",
                self.name
            ),
        )?;
        let mut it = row.split_whitespace().map(str::parse::<u64>);
        match (it.next(), it.next()) {
            (Some(Ok(c)), Some(Ok(r))) => Ok((c, r)),
            _ => Err(LoadError::Server(format!("pg_stat_database: {row:?}"))),
        }
    }

    /// Proposals stored.
    pub fn proposals(&self) -> Result<u64, LoadError> {
        let n = psql(&self.url(), "SELECT count(*) FROM proposals")?;
        n.parse()
            .map_err(|_| LoadError::Server(format!("count(*) FROM proposals: {n:?}")))
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = psql(
            &format!("{}/postgres", self.base),
            &format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name),
        );
    }
}

/// The replica counts measured on PostgreSQL.
pub const REPLICA_COUNTS: [usize; 3] = [1, 2, 3];

/// Runs the load against the echo floor, the gateway on SQLite and 1, 2 and 3 replicas on
/// PostgreSQL (fresh databases on the server at `base`), one after the other, and reports them
/// in one table.
pub async fn run_replicas(opts: &Options, base: &str) -> Result<MatrixReport, LoadError> {
    if opts.duration.is_zero() {
        return Err(LoadError::Options("--duration must be positive".to_owned()));
    }
    let windows = drive::Windows {
        warmup: opts.warmup,
        duration: opts.duration,
    };
    let submissions = request::Submissions::new(request::demo_initiator()?);
    let request_bytes = submissions.request(0).encoded_len();
    let mut rows = Vec::new();

    eprintln!("echo floor …");
    let echo_server = servers::start_echo().await?;
    let echo_addr = echo_server.addr.to_string();
    let echo = target::Target::echo(&echo_addr, request_bytes).await?;
    let echo_tally = apply(&echo, opts.load, windows).await;
    echo_server.stop().await?;
    rows.push(MatrixRow::new(
        "echo floor",
        echo_tally?.report(format!("{echo_addr} (in-process)"), opts.duration),
        None,
    ));

    eprintln!("gateway on SQLite …");
    let sqlite = servers::start_gateway().await?;
    let sqlite_addr = sqlite.addr.to_string();
    let gateway = target::Target::gateway(&sqlite_addr, submissions.clone()).await?;
    let tally = apply(&gateway, opts.load, windows).await;
    sqlite.stop().await?;
    rows.push(MatrixRow::new(
        "SQLite, 1 gateway",
        tally?.report(
            format!("{sqlite_addr} (in-process, embedded demo)"),
            opts.duration,
        ),
        None,
    ));

    for n in REPLICA_COUNTS {
        eprintln!("{n} replica(s) on PostgreSQL …");
        let db = Database::create(base, n)?;
        let group = servers::start_replicas(&db.url(), n).await?;
        let addrs = group.addrs();
        let gateway = target::Target::replicas(&addrs, submissions.clone()).await?;
        let before = db.transactions()?;
        let tally = apply(&gateway, opts.load, windows).await;
        drop(gateway);
        group.stop().await?;
        // Statistics reach pg_stat_database when a backend ends or within a second.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let after = db.transactions()?;
        let proposals = db.proposals()?;
        let database = DbFigures::new(
            proposals,
            after.0.saturating_sub(before.0),
            after.1.saturating_sub(before.1),
        );
        rows.push(MatrixRow::new(
            &format!("PostgreSQL, {n} replica{}", if n == 1 { "" } else { "s" }),
            tally?.report(
                format!("{} (in-process, {})", addrs.join(" "), db.name),
                opts.duration,
            ),
            Some(database),
        ));
    }

    Ok(MatrixReport::new(
        report::ModeReport::of(opts),
        request_bytes,
        rows,
    ))
}
