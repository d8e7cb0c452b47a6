//! Pooled PostgreSQL connections that prepare each statement once.
//!
//! A statement sent with its text on every execution is parsed, analysed
//! and planned by the server every time; an event runs about twenty small
//! statements, so that work was a large share of the database's CPU per
//! request. Each pooled connection instead keeps the statements it has
//! prepared, by text: the first execution on a connection prepares (one
//! extra round trip), every later one binds and executes the prepared
//! statement, whose plan the server may keep.
//!
//! Named statements outlive transactions (a rolled-back transaction does
//! not unprepare them) and are dropped with their connection. The cache
//! holds at most [`MAX_PREPARED`] statements per connection; a statement
//! beyond that is prepared for its one execution and closed again (two
//! round trips), so text built at run time can never grow it without
//! bound.

use postgres::types::{ToSql, Type};
use postgres::{Client, Config, Error, GenericClient, NoTls, Row, Statement};
use std::collections::HashMap;

/// The most statements one connection keeps prepared. The store's own
/// statements number well under a hundred.
pub const MAX_PREPARED: usize = 256;

/// A parameter with its PostgreSQL type.
pub use crate::sql::PgParam as Param;

/// One connection of the pool and the statements prepared on it.
pub struct Connection {
    client: Client,
    statements: HashMap<String, Statement>,
}

impl Connection {
    /// The connection, preparing through its cache, outside a transaction.
    pub fn prepared(&mut self) -> Prepared<'_, Client> {
        Prepared {
            client: &mut self.client,
            statements: &mut self.statements,
        }
    }

    /// Begins a transaction whose statements prepare through the cache.
    pub fn transaction(&mut self) -> Result<Transaction<'_>, Error> {
        Ok(Transaction {
            tx: self.client.transaction()?,
            statements: &mut self.statements,
        })
    }

    /// How many statements this connection has prepared.
    #[cfg(test)]
    pub fn prepared_count(&self) -> usize {
        self.statements.len()
    }
}

/// An open transaction of a [`Connection`]; rolled back if dropped
/// without [`commit`](Transaction::commit).
pub struct Transaction<'a> {
    tx: postgres::Transaction<'a>,
    statements: &'a mut HashMap<String, Statement>,
}

impl<'a> Transaction<'a> {
    /// The transaction, preparing through its connection's cache.
    pub fn prepared(&mut self) -> Prepared<'_, postgres::Transaction<'a>> {
        Prepared {
            client: &mut self.tx,
            statements: self.statements,
        }
    }

    /// Commits.
    pub fn commit(self) -> Result<(), Error> {
        self.tx.commit()
    }
}

/// A client (or transaction) and its connection's prepared statements:
/// the `postgres` client's typed calls, each statement prepared on first use.
pub struct Prepared<'a, C: GenericClient> {
    client: &'a mut C,
    statements: &'a mut HashMap<String, Statement>,
}

impl<C: GenericClient> Prepared<'_, C> {
    /// The statement for `sql` with these parameter types, prepared now if
    /// this connection has not prepared it before (or prepared it for other
    /// types).
    fn statement(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Statement, Error> {
        let types_match = |s: &Statement| {
            s.params().len() == params.len()
                && s.params().iter().zip(params).all(|(a, (_, b))| a == b)
        };
        if let Some(s) = self.statements.get(sql).filter(|s| types_match(s)) {
            return Ok(s.clone());
        }
        let types: Vec<Type> = params.iter().map(|(_, t)| t.clone()).collect();
        let statement = self.client.prepare_typed(sql, &types)?;
        if self.statements.len() < MAX_PREPARED || self.statements.contains_key(sql) {
            self.statements.insert(sql.to_owned(), statement.clone());
        }
        Ok(statement)
    }

    fn values<'p>(params: &'p [Param<'p>]) -> Vec<&'p (dyn ToSql + Sync)> {
        params.iter().map(|(v, _)| *v).collect()
    }

    /// Executes `sql`; the number of rows it changed.
    pub fn execute_typed(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64, Error> {
        let statement = self.statement(sql, params)?;
        self.client.execute(&statement, &Self::values(params))
    }

    /// Runs `sql`; its rows.
    pub fn query_typed(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, Error> {
        let statement = self.statement(sql, params)?;
        self.client.query(&statement, &Self::values(params))
    }

    /// Runs `sql`, which returns at most one row.
    pub fn query_typed_opt(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Option<Row>, Error> {
        let statement = self.statement(sql, params)?;
        self.client.query_opt(&statement, &Self::values(params))
    }

    /// Runs `sql`, which returns exactly one row.
    pub fn query_typed_one(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Row, Error> {
        let statement = self.statement(sql, params)?;
        self.client.query_one(&statement, &Self::values(params))
    }

    /// Runs statements without parameters or results (not prepared).
    pub fn batch_execute(&mut self, sql: &str) -> Result<(), Error> {
        self.client.batch_execute(sql)
    }
}

impl<C: GenericClient> crate::sql::PgClient for Prepared<'_, C> {
    fn execute_typed(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64, Error> {
        Prepared::execute_typed(self, sql, params)
    }

    fn query_typed(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, Error> {
        Prepared::query_typed(self, sql, params)
    }
}

/// The pool's connection manager.
#[derive(Debug)]
pub struct Manager {
    config: Config,
}

impl Manager {
    /// Connections to the database `config` names, without TLS.
    pub fn new(config: Config) -> Manager {
        Manager { config }
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = Connection;
    type Error = Error;

    fn connect(&self) -> Result<Connection, Error> {
        Ok(Connection {
            client: self.config.connect(NoTls)?,
            statements: HashMap::new(),
        })
    }

    fn is_valid(&self, c: &mut Connection) -> Result<(), Error> {
        c.client.simple_query("").map(|_| ())
    }

    fn has_broken(&self, c: &mut Connection) -> bool {
        c.client.is_closed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use r2d2::ManageConnection;

    /// A connection to a fresh test database, or `None` (skipped) without
    /// a test server.
    fn connection(name: &str) -> Option<Connection> {
        let url = crate::pg::test_database(name, true)?;
        Some(Manager::new(url.parse().unwrap()).connect().unwrap())
    }

    /// The named statements the server holds for this connection (the
    /// count itself goes out unnamed).
    fn server_prepared(c: &mut Connection) -> i64 {
        c.client
            .query_typed_one(
                "SELECT count(*) FROM pg_prepared_statements WHERE from_sql = false",
                &[],
            )
            .unwrap()
            .get(0)
    }

    #[test]
    fn a_statement_is_prepared_once_per_connection() {
        let Some(mut c) = connection("prepared_once") else {
            return;
        };
        c.prepared()
            .batch_execute("CREATE TABLE t (a BIGINT PRIMARY KEY, b TEXT)")
            .unwrap();
        for i in 0..5i64 {
            let n = c
                .prepared()
                .execute_typed(
                    "INSERT INTO t (a, b) VALUES ($1, $2)",
                    &[(&i, Type::INT8), (&"x", Type::TEXT)],
                )
                .unwrap();
            assert_eq!(n, 1);
        }
        let rows = c
            .prepared()
            .query_typed(
                "SELECT a FROM t WHERE a >= $1 ORDER BY a",
                &[(&3i64, Type::INT8)],
            )
            .unwrap();
        let found: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
        assert_eq!(found, [3, 4]);
        assert_eq!(c.prepared_count(), 2);
        assert_eq!(server_prepared(&mut c), 2);
    }

    #[test]
    fn prepared_statements_outlive_failed_and_rolled_back_transactions() {
        let Some(mut c) = connection("prepared_rollback") else {
            return;
        };
        c.prepared()
            .batch_execute("CREATE TABLE t (a BIGINT PRIMARY KEY)")
            .unwrap();
        let insert = "INSERT INTO t (a) VALUES ($1)";
        {
            let mut tx = c.transaction().unwrap();
            tx.prepared()
                .execute_typed(insert, &[(&1i64, Type::INT8)])
                .unwrap();
            let duplicate = tx
                .prepared()
                .execute_typed(insert, &[(&1i64, Type::INT8)])
                .unwrap_err();
            assert!(
                duplicate
                    .as_db_error()
                    .is_some_and(|e| e.constraint() == Some("t_pkey")),
                "{duplicate:?}"
            );
            // Dropped: rolled back.
        }
        assert_eq!(c.prepared_count(), 1);
        c.prepared()
            .execute_typed(insert, &[(&1i64, Type::INT8)])
            .expect("the row was rolled back, the statement is still prepared");
        let mut tx = c.transaction().unwrap();
        tx.prepared()
            .execute_typed(insert, &[(&2i64, Type::INT8)])
            .unwrap();
        tx.commit().unwrap();
        let count: i64 = c
            .prepared()
            .query_typed_one("SELECT count(*) FROM t", &[])
            .unwrap()
            .get(0);
        assert_eq!(count, 2);
        assert_eq!(c.prepared_count(), 2);
        // A schema change under a prepared statement: the server plans it
        // again.
        c.prepared()
            .batch_execute("ALTER TABLE t ADD COLUMN b TEXT")
            .unwrap();
        c.prepared()
            .execute_typed(insert, &[(&3i64, Type::INT8)])
            .unwrap();
    }

    #[test]
    fn the_same_text_with_other_types_is_prepared_again() {
        let Some(mut c) = connection("prepared_types") else {
            return;
        };
        let sql = "SELECT $1::text";
        let as_text: String = c
            .prepared()
            .query_typed_one(sql, &[(&"seven", Type::TEXT)])
            .unwrap()
            .get(0);
        assert_eq!(as_text, "seven");
        let from_int: String = c
            .prepared()
            .query_typed_one(sql, &[(&7i64, Type::INT8)])
            .unwrap()
            .get(0);
        assert_eq!(from_int, "7");
        assert_eq!(c.prepared_count(), 1, "the newer preparation replaces it");
    }

    #[test]
    fn the_cache_is_bounded() {
        let Some(mut c) = connection("prepared_bound") else {
            return;
        };
        for i in 0..MAX_PREPARED as i64 + 20 {
            let sql = format!("SELECT $1::bigint + {i}");
            let v: i64 = c
                .prepared()
                .query_typed_one(&sql, &[(&1i64, Type::INT8)])
                .unwrap()
                .get(0);
            assert_eq!(v, 1 + i);
        }
        assert_eq!(c.prepared_count(), MAX_PREPARED);
        // The ones past the bound were closed again on the server.
        assert_eq!(server_prepared(&mut c), MAX_PREPARED as i64);
    }
}
