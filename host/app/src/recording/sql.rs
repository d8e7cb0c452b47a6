//! Recordings in SQL, one text for SQLite and PostgreSQL: the input record
//! is a column of the event's audit row; blobs live once per tenant and
//! hash in `recording_blobs`.

use crate::sql::{Arg, Sql};
use crate::store::{Blob, RecordedRow, RecordingQuery, StoreError};

/// The schema step for recordings, the same on SQLite and PostgreSQL:
/// the input record beside each audit entry, an index for windows of a
/// tenant's recorded events, and the blobs.
pub const SCHEMA: &str = r#"
ALTER TABLE audit ADD COLUMN input TEXT;
CREATE INDEX audit_recorded ON audit (tenant, at, seq) WHERE input IS NOT NULL;
CREATE TABLE recording_blobs (
    tenant TEXT NOT NULL,
    hash TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (tenant, hash)
);
"#;

/// The recording methods of a [`Store`](crate::Store) whose backend is a
/// [`SqlStore`](crate::sql::SqlStore): one text for both databases.
macro_rules! store_methods {
    () => {
        fn recordings(
            &self,
            tenant: &str,
            query: &crate::store::RecordingQuery,
        ) -> Result<Vec<crate::store::RecordedRow>, StoreError> {
            crate::sql::read(self, |sql| {
                crate::recording::sql::recordings(sql, tenant, query)
            })
        }

        fn recording_blob(&self, tenant: &str, hash: &str) -> Result<Option<String>, StoreError> {
            crate::sql::read(self, |sql| crate::recording::sql::blob(sql, tenant, hash))
        }

        fn count_recordings(&self, tenant: &str, from: i64, until: i64) -> Result<u64, StoreError> {
            crate::sql::read(self, |sql| {
                crate::recording::sql::count(sql, tenant, from, until)
            })
        }
    };
}
pub(crate) use store_methods;

/// Stores the blobs an event's input names, each once per tenant.
///
/// # Errors
/// When the backend fails.
pub fn put_blobs(sql: &mut dyn Sql, tenant: &str, blobs: &[Blob]) -> Result<(), StoreError> {
    for blob in blobs {
        sql.exec(
            "INSERT INTO recording_blobs (tenant, hash, body) VALUES (?1, ?2, ?3)
             ON CONFLICT (tenant, hash) DO NOTHING",
            &[
                Arg::Text(tenant),
                Arg::Text(&blob.hash),
                Arg::Text(&blob.body),
            ],
        )?;
    }
    Ok(())
}

/// A page of recorded events (see [`RecordingQuery`]).
///
/// # Errors
/// When the backend fails.
pub fn recordings(
    sql: &mut dyn Sql,
    tenant: &str,
    q: &RecordingQuery,
) -> Result<Vec<RecordedRow>, StoreError> {
    let (at, seq) = q.lower_bound();
    let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
    sql.rows(
        "SELECT seq, ticket, event_id, at, entry, input, kind FROM audit
         WHERE tenant = ?1 AND input IS NOT NULL AND (at, seq) > (?2, ?3) AND at < ?4
         ORDER BY at, seq LIMIT ?5",
        &[
            Arg::Text(tenant),
            Arg::Int(at),
            Arg::Int(i64::try_from(seq).unwrap_or(i64::MAX)),
            Arg::Int(q.until),
            Arg::Int(limit),
        ],
    )?
    .iter()
    .map(|r| {
        Ok(RecordedRow {
            seq: r.int(0)? as u64,
            ticket: r.text(1)?,
            event_id: r.text(2)?,
            at: r.int(3)?,
            entry: r.text(4)?,
            input: r.text(5)?,
            kind: r.text(6)?,
        })
    })
    .collect()
}

/// A blob by hash.
///
/// # Errors
/// When the backend fails.
pub fn blob(sql: &mut dyn Sql, tenant: &str, hash: &str) -> Result<Option<String>, StoreError> {
    sql.row(
        "SELECT body FROM recording_blobs WHERE tenant = ?1 AND hash = ?2",
        &[Arg::Text(tenant), Arg::Text(hash)],
    )?
    .map(|r| r.text(0))
    .transpose()
}

/// How many recorded events lie in the window.
///
/// # Errors
/// When the backend fails.
pub fn count(sql: &mut dyn Sql, tenant: &str, from: i64, until: i64) -> Result<u64, StoreError> {
    let row = sql.row(
        "SELECT COUNT(*) FROM audit WHERE tenant = ?1 AND input IS NOT NULL AND at >= ?2 AND at < ?3",
        &[Arg::Text(tenant), Arg::Int(from), Arg::Int(until)],
    )?;
    Ok(row.map(|r| r.int(0)).transpose()?.unwrap_or(0) as u64)
}
