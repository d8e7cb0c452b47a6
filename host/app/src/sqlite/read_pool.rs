//! Reading connections: in WAL mode readers do not block the writer or
//! each other, so reads get their own connections instead of queueing
//! behind the writing one. Each read sees the last committed state.

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// Statements kept prepared per connection: the lifecycle's reads and
/// writes and the webhook records' use about a hundred; a cache smaller
/// than that parses statements again on every pass.
const STATEMENT_CACHE: usize = 256;

/// Pages read through a memory map instead of `pread` copies: a reader's
/// page cache starts empty after every commit by another connection, so
/// most reads would otherwise be system calls.
const MMAP_BYTES: i64 = 256 << 20;

/// Opens read connections on demand, up to a bound, and reuses them.
pub(super) struct ReadPool {
    path: PathBuf,
    max: usize,
    state: Mutex<PoolState>,
    returned: Condvar,
}

struct PoolState {
    idle: Vec<Connection>,
    opened: usize,
}

/// A read connection, back to the pool when dropped.
pub struct Reader<'a> {
    pool: &'a ReadPool,
    conn: Option<Connection>,
}

impl Deref for Reader<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("held until drop")
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let mut state = self.pool.lock();
            state.idle.push(conn);
            drop(state);
            self.pool.returned.notify_one();
        }
    }
}

impl ReadPool {
    /// A pool over the database file (whose WAL mode the writer has set).
    pub(super) fn new(path: PathBuf, max: usize) -> ReadPool {
        ReadPool {
            path,
            max: max.max(1),
            state: Mutex::new(PoolState {
                idle: Vec::new(),
                opened: 0,
            }),
            returned: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An idle connection, a new one while under the bound, or the next one
    /// returned.
    pub(super) fn get(&self) -> rusqlite::Result<Reader<'_>> {
        let mut state = self.lock();
        loop {
            if let Some(conn) = state.idle.pop() {
                return Ok(Reader {
                    pool: self,
                    conn: Some(conn),
                });
            }
            if state.opened < self.max {
                state.opened += 1;
                drop(state);
                return match self.open() {
                    Ok(conn) => Ok(Reader {
                        pool: self,
                        conn: Some(conn),
                    }),
                    Err(e) => {
                        self.lock().opened -= 1;
                        Err(e)
                    }
                };
            }
            state = self.returned.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        tune(&conn)?;
        Ok(conn)
    }
}

/// What every connection (the writer's and the readers') is set up with.
pub(super) fn tune(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.pragma_update(None, "mmap_size", MMAP_BYTES)?;
    // Each write of a group commit runs in a savepoint, whose journal
    // (a copy of every page it changes) went to a temporary file past
    // 64 KiB: a system call per page, on the writer's critical path. In
    // memory it is a copy; it lives only until the batch commits.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // The planner's stability guarantee: without it, a statement whose
    // plan could depend on a bound value (a `LIMIT ?`, a compared
    // parameter) is parsed and planned again whenever that value is bound,
    // so the statement cache would not save the work for those.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    Ok(())
}
