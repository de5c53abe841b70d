//! Statements through the connection's statement cache.
//!
//! A statement given as text is parsed by the server on every call: one round trip to prepare
//! it, then one to run it. Each pooled connection keeps the statements it prepared
//! (`deadpool_postgres`'s cache, keyed by the text), so from a connection's second use of a
//! statement on, running it is one round trip. A submission runs about ten statements; on
//! loopback each round trip is tens of microseconds of two processes waking each other.
//!
//! The functions mirror the client's methods and return its error, so call sites read as they
//! did: `cached::execute(tx, sql, params).await.map_err(pg_error)?`.

use deadpool_postgres::GenericClient;
use tokio_postgres::{Error, Row, types::ToSql};

/// Runs `sql`; the number of rows it changed.
pub(super) async fn execute(
    c: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<u64, Error> {
    let statement = c.prepare_cached(sql).await?;
    c.execute(&statement, params).await
}

/// Runs `sql`; its rows.
pub(super) async fn query(
    c: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>, Error> {
    let statement = c.prepare_cached(sql).await?;
    c.query(&statement, params).await
}

/// Runs `sql`; its one row, if any (more than one is an error).
pub(super) async fn query_opt(
    c: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Option<Row>, Error> {
    let statement = c.prepare_cached(sql).await?;
    c.query_opt(&statement, params).await
}
