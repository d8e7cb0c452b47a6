//! One SQL text for both durable backends. Code that is the same on
//! SQLite and PostgreSQL but for the driver (the webhook deliveries) is
//! written once against [`Sql`]: statements use SQLite's numbered
//! parameters (`?1`, `?2`, ...), which PostgreSQL receives as `$1`, `$2`;
//! arguments are integers or text ([`Arg`]) and rows come back as
//! [`SqlRow`]s. Where the dialects differ (PostgreSQL's row locks) the
//! statement asks [`Sql::dialect`].

use crate::store::StoreError;

/// Which database a statement runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite: one writer at a time, so no row locks are needed.
    Sqlite,
    /// PostgreSQL: replicas write concurrently.
    Postgres,
}

impl Dialect {
    /// The clause that claims the selected rows for this transaction and
    /// skips rows another replica has claimed (nothing on SQLite).
    pub fn skip_locked(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }

    /// The clause that locks the selected rows until the transaction
    /// ends, waiting for another transaction that holds them (nothing on
    /// SQLite, whose writers take turns).
    pub fn for_update(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        }
    }
}

/// A statement's argument.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    /// An integer (`BIGINT` on PostgreSQL).
    Int(i64),
    /// Text.
    Text(&'a str),
    /// An integer that may be NULL.
    OptInt(Option<i64>),
    /// Text that may be NULL.
    OptText(Option<&'a str>),
}

impl From<i64> for Arg<'_> {
    fn from(v: i64) -> Self {
        Arg::Int(v)
    }
}
impl<'a> From<&'a str> for Arg<'a> {
    fn from(v: &'a str) -> Self {
        Arg::Text(v)
    }
}
impl<'a> From<&'a String> for Arg<'a> {
    fn from(v: &'a String) -> Self {
        Arg::Text(v)
    }
}
impl From<Option<i64>> for Arg<'_> {
    fn from(v: Option<i64>) -> Self {
        Arg::OptInt(v)
    }
}
impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Arg::OptText(v)
    }
}

/// Arguments, each converted with `Arg::from`.
#[macro_export]
#[doc(hidden)]
macro_rules! args {
    ($($v:expr),* $(,)?) => { &[$($crate::sql::Arg::from($v)),*] };
}
pub use args;

/// One column's value.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Null,
    Int(i64),
    Text(String),
}

/// A row read back.
#[derive(Debug, Clone)]
pub struct SqlRow(Vec<Cell>);

fn column_error(i: usize, wanted: &str, got: &Cell) -> StoreError {
    StoreError::Backend(format!("column {i}: expected {wanted}, found {got:?}"))
}

impl SqlRow {
    fn cell(&self, i: usize) -> Result<&Cell, StoreError> {
        self.0
            .get(i)
            .ok_or_else(|| StoreError::Backend(format!("no column {i}")))
    }

    /// An integer column.
    ///
    /// # Errors
    /// When it is NULL or text.
    pub fn int(&self, i: usize) -> Result<i64, StoreError> {
        match self.cell(i)? {
            Cell::Int(v) => Ok(*v),
            other => Err(column_error(i, "an integer", other)),
        }
    }

    /// An integer column that may be NULL.
    ///
    /// # Errors
    /// When it is text.
    pub fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        match self.cell(i)? {
            Cell::Null => Ok(None),
            _ => self.int(i).map(Some),
        }
    }

    /// A text column.
    ///
    /// # Errors
    /// When it is NULL or an integer.
    pub fn text(&self, i: usize) -> Result<String, StoreError> {
        match self.cell(i)? {
            Cell::Text(v) => Ok(v.clone()),
            other => Err(column_error(i, "text", other)),
        }
    }

    /// A text column that may be NULL.
    ///
    /// # Errors
    /// When it is an integer.
    pub fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        match self.cell(i)? {
            Cell::Null => Ok(None),
            _ => self.text(i).map(Some),
        }
    }
}

/// A connection (in a transaction, for writes) that runs statements
/// written for both backends.
pub trait Sql {
    /// Which database this is.
    fn dialect(&self) -> Dialect;

    /// Runs a statement; returns how many rows it changed.
    ///
    /// # Errors
    /// When the database refuses it.
    fn exec(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, StoreError>;

    /// Runs a query; returns its rows.
    ///
    /// # Errors
    /// When the database refuses it, or a value is neither an integer,
    /// text nor NULL.
    fn rows(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<SqlRow>, StoreError>;

    /// The query's first row, if any.
    ///
    /// # Errors
    /// As [`rows`](Sql::rows).
    fn row(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Option<SqlRow>, StoreError> {
        Ok(self.rows(sql, args)?.into_iter().next())
    }
}

/// When a write transaction's commit must be on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Before the write returns: it survives power loss once acknowledged.
    Synced,
    /// With the next synced commit (or the database's own background
    /// flush), not before returning. A power loss may take back such a
    /// commit, never half of it, and never one that a later synced commit
    /// followed, because both databases write their log in order.
    ///
    /// For bookkeeping that can be done again: the webhook sender's passes
    /// (a lost record means a message goes again, with the same id) save a
    /// disk flush each.
    Deferred,
}

/// A store whose transactions run [`Sql`]. A write is atomic when it
/// returns Ok, and durable as asked; when the closure fails, nothing it
/// wrote is kept.
pub trait SqlStore: Send + Sync {
    /// Runs `f` in a write transaction committed with `durability`.
    ///
    /// # Errors
    /// `f`'s error, or the backend's.
    fn sql_write(
        &self,
        durability: Durability,
        f: &mut dyn FnMut(&mut dyn Sql) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;

    /// Runs `f` on a read connection.
    ///
    /// # Errors
    /// `f`'s error, or the backend's.
    fn sql_read(
        &self,
        f: &mut dyn FnMut(&mut dyn Sql) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
}

/// Runs `f` in a write transaction of `store`, synced before it returns,
/// and returns its result.
///
/// # Errors
/// `f`'s error, or the backend's; then nothing `f` wrote is kept.
pub fn write<R>(
    store: &(impl SqlStore + ?Sized),
    f: impl FnOnce(&mut dyn Sql) -> Result<R, StoreError>,
) -> Result<R, StoreError> {
    returning(f, |run| store.sql_write(Durability::Synced, run))
}

/// As [`write`], with the commit's flush to disk [`Durability::Deferred`].
///
/// # Errors
/// `f`'s error, or the backend's; then nothing `f` wrote is kept.
pub fn write_deferred<R>(
    store: &(impl SqlStore + ?Sized),
    f: impl FnOnce(&mut dyn Sql) -> Result<R, StoreError>,
) -> Result<R, StoreError> {
    returning(f, |run| store.sql_write(Durability::Deferred, run))
}

/// Runs `f` on a read connection of `store` and returns its result.
///
/// # Errors
/// `f`'s error, or the backend's.
pub fn read<R>(
    store: &(impl SqlStore + ?Sized),
    f: impl FnOnce(&mut dyn Sql) -> Result<R, StoreError>,
) -> Result<R, StoreError> {
    returning(f, |run| store.sql_read(run))
}

/// Runs a one-shot `f` through a backend's `FnMut` callback and returns
/// what it returned.
fn returning<R>(
    f: impl FnOnce(&mut dyn Sql) -> Result<R, StoreError>,
    backend: impl FnOnce(
        &mut dyn FnMut(&mut dyn Sql) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>,
) -> Result<R, StoreError> {
    let mut f = Some(f);
    let mut out = None;
    backend(&mut |sql| {
        let f = f.take().expect("a transaction runs its closure once");
        out = Some(f(sql)?);
        Ok(())
    })?;
    Ok(out.expect("the closure ran"))
}

/// SQLite through rusqlite (statements prepared once per connection).
pub struct SqliteSql<'c>(pub &'c rusqlite::Connection);

fn sqlite_error(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl rusqlite::ToSql for Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value, ValueRef};
        Ok(match *self {
            Arg::Int(v) | Arg::OptInt(Some(v)) => ToSqlOutput::Owned(Value::Integer(v)),
            Arg::Text(v) | Arg::OptText(Some(v)) => {
                ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes()))
            }
            Arg::OptInt(None) | Arg::OptText(None) => ToSqlOutput::Owned(Value::Null),
        })
    }
}

impl Sql for SqliteSql<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn exec(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, StoreError> {
        let mut st = self.0.prepare_cached(sql).map_err(sqlite_error)?;
        let n = st
            .execute(rusqlite::params_from_iter(args))
            .map_err(sqlite_error)?;
        Ok(n as u64)
    }

    fn rows(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<SqlRow>, StoreError> {
        use rusqlite::types::ValueRef;
        let mut st = self.0.prepare_cached(sql).map_err(sqlite_error)?;
        let width = st.column_count();
        let mut rows = st
            .query(rusqlite::params_from_iter(args))
            .map_err(sqlite_error)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(sqlite_error)? {
            let mut cells = Vec::with_capacity(width);
            for i in 0..width {
                cells.push(match r.get_ref(i).map_err(sqlite_error)? {
                    ValueRef::Null => Cell::Null,
                    ValueRef::Integer(v) => Cell::Int(v),
                    ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
                    other => {
                        return Err(StoreError::Backend(format!(
                            "column {i}: unexpected {:?}",
                            other.data_type()
                        )));
                    }
                });
            }
            out.push(SqlRow(cells));
        }
        Ok(out)
    }
}

/// A statement's parameter as the `postgres` client takes it, with its type.
pub type PgParam<'a> = (
    &'a (dyn postgres::types::ToSql + Sync),
    postgres::types::Type,
);

/// What [`PgSql`] needs of a PostgreSQL connection: statements with typed
/// parameters (the store's pooled connections prepare each one once).
pub trait PgClient {
    /// Executes `sql`; the number of rows it changed.
    ///
    /// # Errors
    /// The server's or the connection's.
    fn execute_typed(&mut self, sql: &str, params: &[PgParam<'_>]) -> Result<u64, postgres::Error>;

    /// Runs `sql`; its rows.
    ///
    /// # Errors
    /// The server's or the connection's.
    fn query_typed(
        &mut self,
        sql: &str,
        params: &[PgParam<'_>],
    ) -> Result<Vec<postgres::Row>, postgres::Error>;
}

/// PostgreSQL through a connection (or a transaction of it).
pub struct PgSql<'c, C: PgClient>(pub &'c mut C);

impl postgres::types::ToSql for Arg<'_> {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match *self {
            Arg::Int(v) | Arg::OptInt(Some(v)) => v.to_sql(ty, out),
            Arg::Text(v) | Arg::OptText(Some(v)) => v.to_sql(ty, out),
            Arg::OptInt(None) | Arg::OptText(None) => Ok(postgres::types::IsNull::Yes),
        }
    }

    fn accepts(ty: &postgres::types::Type) -> bool {
        <i64 as postgres::types::ToSql>::accepts(ty)
            || <&str as postgres::types::ToSql>::accepts(ty)
    }

    postgres::types::to_sql_checked!();
}

impl Arg<'_> {
    fn pg_type(&self) -> postgres::types::Type {
        match self {
            Arg::Int(_) | Arg::OptInt(_) => postgres::types::Type::INT8,
            Arg::Text(_) | Arg::OptText(_) => postgres::types::Type::TEXT,
        }
    }
}

/// `?1` → `$1`: SQLite's numbered parameters as PostgreSQL writes them.
/// (The statements here have no `?` inside string literals.)
fn numbered_for_postgres(sql: &str) -> String {
    sql.replace('?', "$")
}

fn pg_error(e: postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(db) => StoreError::Backend(format!("PostgreSQL: {db}")),
        None => StoreError::Backend(format!("PostgreSQL: {e}")),
    }
}

impl<C: PgClient> PgSql<'_, C> {
    fn typed<'a>(args: &'a [Arg<'a>]) -> Vec<PgParam<'a>> {
        args.iter()
            .map(|a| (a as &(dyn postgres::types::ToSql + Sync), a.pg_type()))
            .collect()
    }
}

impl<C: PgClient> Sql for PgSql<'_, C> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn exec(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, StoreError> {
        self.0
            .execute_typed(&numbered_for_postgres(sql), &Self::typed(args))
            .map_err(pg_error)
    }

    fn rows(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<SqlRow>, StoreError> {
        use postgres::types::Type;
        let rows = self
            .0
            .query_typed(&numbered_for_postgres(sql), &Self::typed(args))
            .map_err(pg_error)?;
        rows.iter()
            .map(|r| {
                let cells = r
                    .columns()
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        let ty = c.type_();
                        Ok(if *ty == Type::INT8 {
                            r.get::<_, Option<i64>>(i).map_or(Cell::Null, Cell::Int)
                        } else if *ty == Type::INT4 {
                            r.get::<_, Option<i32>>(i)
                                .map_or(Cell::Null, |v| Cell::Int(v.into()))
                        } else if *ty == Type::TEXT {
                            r.get::<_, Option<String>>(i).map_or(Cell::Null, Cell::Text)
                        } else {
                            return Err(StoreError::Backend(format!(
                                "column {i}: unexpected type {ty}"
                            )));
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(SqlRow(cells))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_renumbered_for_postgres() {
        assert_eq!(
            numbered_for_postgres("SELECT a FROM t WHERE b = ?1 AND c > ?2"),
            "SELECT a FROM t WHERE b = $1 AND c > $2"
        );
    }

    #[test]
    fn sqlite_rows_and_their_types() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let mut sql = SqliteSql(&conn);
        sql.exec("CREATE TABLE t (a INTEGER, b TEXT, c INTEGER)", &[])
            .unwrap();
        let n = sql
            .exec(
                "INSERT INTO t VALUES (?1, ?2, ?3)",
                args![7i64, "x", None::<i64>],
            )
            .unwrap();
        assert_eq!(n, 1);
        let row = sql.row("SELECT a, b, c FROM t", &[]).unwrap().unwrap();
        assert_eq!(row.int(0).unwrap(), 7);
        assert_eq!(row.text(1).unwrap(), "x");
        assert_eq!(row.opt_int(2).unwrap(), None);
        let wrong = row.text(0).unwrap_err().to_string();
        assert!(wrong.contains("column 0: expected text"), "{wrong}");
        assert!(row.int(9).is_err());
    }
}
