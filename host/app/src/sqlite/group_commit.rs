//! Group commit: concurrent writers share one SQLite transaction, and so
//! one WAL append and one fsync, instead of paying one each.
//!
//! The first writer to find no transaction open begins one and leads the
//! batch. Every writer (the leader too) runs its own work inside a
//! savepoint of that transaction: work that fails is rolled back to its
//! savepoint alone, and the others' work stays. The leader commits once
//! every writer that arrived meanwhile has run its part (or the batch is
//! full, or a short wait is over); writers arriving during the commit wait
//! for the next batch. Nobody returns before its batch's COMMIT has
//! returned, so an acknowledged write is exactly as durable as with one
//! transaction per write: `synchronous = FULL` still syncs every commit.
//!
//! A lone writer finds nobody arriving and commits at once, so without
//! concurrency there is no added latency.
//!
//! A [`Durability::Deferred`] writer joins any batch. When none is open
//! but synced writes came lately, it waits a little for the next (under
//! load one opens within milliseconds, and the deferred work rides on its
//! fsync). Otherwise, or when none comes, it leads a batch of its own,
//! committed with `synchronous = NORMAL` (the WAL is appended, not
//! synced). A synced writer never joins such a batch: it waits for it to
//! settle and leads a synced one, whose fsync covers the deferred commits
//! before it too (the WAL is one file, written in order).

use crate::catalog::CommitStats;
use crate::sql::Durability;
use rusqlite::Connection;
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Writes in one batch at most: bounds the leader's wait and the work one
/// failed COMMIT takes back.
const MAX_BATCH: usize = 64;

/// How long a leader waits for writers that announced themselves but have
/// not run their part yet (normally microseconds; this bounds a writer
/// that was descheduled in between).
const MAX_WAIT: Duration = Duration::from_millis(2);

/// How long a deferred writer waits for a batch to join before it leads
/// one of its own...
const DEFERRED_WAIT: Duration = Duration::from_millis(5);
/// ...when a synced batch began this recently (else none is expected).
const SYNCED_LATELY: Duration = Duration::from_millis(20);

/// The one writing connection and its batches.
pub(super) struct GroupCommit {
    writer: Mutex<Writer>,
    /// A batch began.
    opened: Condvar,
    /// A member finished its part of the open batch.
    joined: Condvar,
    /// A batch committed or rolled back.
    settled: Condvar,
    /// Writers between announcing themselves and finishing their part.
    arriving: AtomicUsize,
    writes: AtomicU64,
    commits: AtomicU64,
    synced_commits: AtomicU64,
}

struct Writer {
    conn: Connection,
    /// The batch whose transaction is open, if any, and how it commits.
    open: Option<(u64, Durability)>,
    /// How the connection is set to commit (`synchronous` FULL or NORMAL).
    synchronous: Durability,
    /// When the last synced batch began.
    synced_began: Option<Instant>,
    /// Members of the open batch so far.
    members: usize,
    /// The id the next batch gets; batches settle in this order.
    next: u64,
    /// The last batch that committed or rolled back.
    last_settled: u64,
    /// Batches whose COMMIT failed: the error, and how many members have
    /// still to read it.
    failed: HashMap<u64, (rusqlite::ffi::Error, String, usize)>,
}

impl GroupCommit {
    /// Takes over the connection all writes go through (set to
    /// `synchronous = FULL`).
    pub(super) fn new(conn: Connection) -> GroupCommit {
        GroupCommit {
            writer: Mutex::new(Writer {
                conn,
                open: None,
                synchronous: Durability::Synced,
                synced_began: None,
                members: 0,
                next: 1,
                last_settled: 0,
                failed: HashMap::new(),
            }),
            opened: Condvar::new(),
            joined: Condvar::new(),
            settled: Condvar::new(),
            arriving: AtomicUsize::new(0),
            writes: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            synced_commits: AtomicU64::new(0),
        }
    }

    /// The counters since the store opened.
    pub(super) fn stats(&self) -> CommitStats {
        CommitStats {
            writes: self.writes.load(Ordering::Relaxed),
            commits: self.commits.load(Ordering::Relaxed),
            synced_commits: self.synced_commits.load(Ordering::Relaxed),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Writer> {
        // A member's panic is caught before it can poison the lock; this
        // only guards against a panic in this module's own bookkeeping.
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` as part of a synced batch and returns once the batch is
    /// durable.
    ///
    /// The outer error is the batch's (BEGIN or COMMIT failed: nothing of
    /// `f` persists); the inner result is `f`'s own, and when that is an
    /// error, `f`'s writes were rolled back and the others' were not.
    pub(super) fn run<R, E>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R, E>,
    ) -> rusqlite::Result<Result<R, E>> {
        self.run_with(Durability::Synced, f)
    }

    /// As [`run`](Self::run), committed as durably as `durability` asks
    /// (or more: a deferred write may share a synced batch).
    pub(super) fn run_with<R, E>(
        &self,
        durability: Durability,
        f: impl FnOnce(&Connection) -> Result<R, E>,
    ) -> rusqlite::Result<Result<R, E>> {
        self.arriving.fetch_add(1, Ordering::SeqCst);
        let mut w = self.lock();
        let synced_lately = w.synced_began.is_some_and(|t| t.elapsed() < SYNCED_LATELY);
        let patience = (durability == Durability::Deferred && synced_lately)
            .then(|| Instant::now() + DEFERRED_WAIT);
        let (batch, leader) = loop {
            match w.open {
                Some((id, open_as))
                    if w.members < MAX_BATCH
                        && (open_as == Durability::Synced
                            || durability == Durability::Deferred) =>
                {
                    break (id, false);
                }
                Some(_) => w = self.settled.wait(w).unwrap_or_else(|p| p.into_inner()),
                None => {
                    if let Some(left) =
                        patience.and_then(|until| until.checked_duration_since(Instant::now()))
                    {
                        w = self
                            .opened
                            .wait_timeout(w, left)
                            .unwrap_or_else(|p| p.into_inner())
                            .0;
                        continue;
                    }
                    if let Err(e) = begin(&mut w, durability) {
                        self.arriving.fetch_sub(1, Ordering::SeqCst);
                        return Err(e);
                    }
                    let id = w.next;
                    w.next += 1;
                    w.open = Some((id, durability));
                    w.members = 0;
                    if durability == Durability::Synced {
                        w.synced_began = Some(Instant::now());
                    }
                    self.opened.notify_all();
                    break (id, true);
                }
            }
        };
        w.members += 1;
        let own = in_savepoint(&w.conn, f);
        self.arriving.fetch_sub(1, Ordering::SeqCst);
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.joined.notify_all();

        let settled = if leader {
            self.lead(w, batch)
        } else {
            while w.last_settled < batch {
                w = self.settled.wait(w).unwrap_or_else(|p| p.into_inner());
            }
            follower_outcome(&mut w, batch)
        };
        let own = match own {
            Ok(own) => own,
            Err(Unwound::Panic(payload)) => resume_unwind(payload),
            Err(Unwound::Savepoint(e)) => return Err(e),
        };
        settled.map(|()| own)
    }

    /// Waits for the writers on their way, then commits the batch. A
    /// deferred batch commits at once: it has no flush to share, and the
    /// synced writers on their way would not join it.
    fn lead(&self, mut w: MutexGuard<'_, Writer>, batch: u64) -> rusqlite::Result<()> {
        let started = Instant::now();
        let durability = w.open.map_or(Durability::Synced, |(_, d)| d);
        while durability == Durability::Synced
            && self.arriving.load(Ordering::SeqCst) > 0
            && w.members < MAX_BATCH
        {
            let Some(left) = MAX_WAIT.checked_sub(started.elapsed()) else {
                break;
            };
            w = self
                .joined
                .wait_timeout(w, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        let committed = run_sql(&w.conn, "COMMIT");
        if committed.is_err() {
            let _ = run_sql(&w.conn, "ROLLBACK");
        }

        let followers = w.members - 1;
        if let Err(e) = &committed
            && followers > 0
        {
            let code = match e {
                rusqlite::Error::SqliteFailure(code, _) => *code,
                _ => rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_IOERR),
            };
            w.failed.insert(batch, (code, e.to_string(), followers));
        }
        w.open = None;
        w.members = 0;
        w.last_settled = batch;
        self.commits
            .fetch_add(u64::from(committed.is_ok()), Ordering::Relaxed);
        if durability == Durability::Synced {
            self.synced_commits
                .fetch_add(u64::from(committed.is_ok()), Ordering::Relaxed);
        }
        self.settled.notify_all();
        committed
    }
}

/// A follower's view of its settled batch: Ok if it committed.
fn follower_outcome(w: &mut Writer, batch: u64) -> rusqlite::Result<()> {
    let Some((code, message, readers)) = w.failed.get_mut(&batch) else {
        return Ok(());
    };
    let error = rusqlite::Error::SqliteFailure(*code, Some(message.clone()));
    *readers -= 1;
    if *readers == 0 {
        w.failed.remove(&batch);
    }
    Err(error)
}

/// Begins a batch's transaction, the connection first set to sync its
/// commit or not (the setting cannot change inside a transaction).
fn begin(w: &mut Writer, durability: Durability) -> rusqlite::Result<()> {
    if w.synchronous != durability {
        run_sql(
            &w.conn,
            match durability {
                Durability::Synced => "PRAGMA synchronous = FULL",
                Durability::Deferred => "PRAGMA synchronous = NORMAL",
            },
        )?;
        w.synchronous = durability;
    }
    run_sql(&w.conn, "BEGIN IMMEDIATE")
}

/// Runs a transaction-control statement, prepared once per connection
/// (these run several times per write).
fn run_sql(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// What stopped a member's part early.
enum Unwound {
    /// `f` panicked; resumed in the member's thread after the batch settles.
    Panic(Box<dyn std::any::Any + Send>),
    /// The savepoint itself could not be made or released.
    Savepoint(rusqlite::Error),
}

/// Runs `f` in a savepoint of the open transaction: released when `f`
/// succeeds, rolled back when it fails or panics.
fn in_savepoint<R, E>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<R, E>,
) -> Result<Result<R, E>, Unwound> {
    run_sql(conn, "SAVEPOINT member").map_err(Unwound::Savepoint)?;
    let result = catch_unwind(AssertUnwindSafe(|| f(conn)));
    let keep = matches!(result, Ok(Ok(_)));
    let closed = if keep {
        run_sql(conn, "RELEASE member")
    } else {
        run_sql(conn, "ROLLBACK TO member").and_then(|()| run_sql(conn, "RELEASE member"))
    };
    let result = result.map_err(Unwound::Panic)?;
    closed.map_err(Unwound::Savepoint)?;
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn scratch(name: &str) -> (Arc<GroupCommit>, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("docket-group-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("db");
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute_batch("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)")
            .unwrap();
        (Arc::new(GroupCommit::new(conn)), path)
    }

    fn count(path: &std::path::Path) -> i64 {
        Connection::open(path)
            .unwrap()
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_synced_write_never_commits_in_a_deferred_batch() {
        let (group, path) = scratch("durability");
        group
            .lock()
            .conn
            .execute_batch("PRAGMA synchronous = FULL")
            .unwrap();
        // Half the writers defer; each notes the setting its batch commits
        // with (2: FULL, 1: NORMAL).
        let threads: Vec<_> = (0..6)
            .map(|t| {
                let group = group.clone();
                std::thread::spawn(move || {
                    let durability = if t % 2 == 0 {
                        Durability::Synced
                    } else {
                        Durability::Deferred
                    };
                    (0..100)
                        .map(|i| {
                            let level: i64 = group
                                .run_with(durability, |c| {
                                    c.execute("INSERT INTO t VALUES (?1, 'x')", [t * 1000 + i])?;
                                    c.query_row("PRAGMA synchronous", [], |r| r.get(0))
                                })
                                .unwrap()
                                .unwrap();
                            (durability, level)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let seen: Vec<(Durability, i64)> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        assert!(
            seen.iter()
                .filter(|(d, _)| *d == Durability::Synced)
                .all(|(_, level)| *level == 2),
            "a synced write committed unsynced"
        );
        assert!(
            seen.iter().any(|(_, level)| *level == 1),
            "deferred writers led no batch of their own"
        );
        assert_eq!(count(&path), 600);
        // After deferred batches the next synced one syncs again.
        let level: i64 = group
            .run(|c| c.query_row("PRAGMA synchronous", [], |r| r.get(0)))
            .unwrap()
            .unwrap();
        assert_eq!(level, 2);
    }

    #[test]
    fn concurrent_writers_share_commits_and_every_acknowledged_write_is_there() {
        let (group, path) = scratch("share");
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let group = group.clone();
                std::thread::spawn(move || {
                    for i in 0..100 {
                        group
                            .run(|c| c.execute("INSERT INTO t VALUES (?1, 'x')", [t * 1000 + i]))
                            .unwrap()
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        // Acknowledged means committed: a fresh connection sees all 800.
        assert_eq!(count(&path), 800);
        let stats = group.stats();
        assert_eq!(stats.writes, 800);
        assert!(stats.commits <= 800, "{stats:?}");
    }

    #[test]
    fn a_failing_member_is_rolled_back_alone() {
        let (group, path) = scratch("fail");
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let group = group.clone();
                std::thread::spawn(move || {
                    for i in 0..50 {
                        let r = group
                            .run(|c| {
                                c.execute("INSERT INTO t VALUES (?1, 'x')", [t * 1000 + i])?;
                                if i % 2 == 1 {
                                    // Violates NOT NULL after a good insert: the
                                    // whole member must go, the insert included.
                                    c.execute(
                                        "INSERT INTO t VALUES (?1, NULL)",
                                        [-(t * 1000 + i)],
                                    )?;
                                }
                                Ok::<_, rusqlite::Error>(())
                            })
                            .unwrap();
                        assert_eq!(r.is_ok(), i % 2 == 0);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(count(&path), 4 * 25);
    }

    #[test]
    fn a_panicking_member_panics_in_its_own_thread_and_the_batch_goes_on() {
        let (group, path) = scratch("panic");
        let g = group.clone();
        let panicked = std::thread::spawn(move || {
            g.run(|c| {
                c.execute("INSERT INTO t VALUES (1, 'x')", []).unwrap();
                panic!("boom");
                #[allow(unreachable_code)]
                Ok::<_, rusqlite::Error>(())
            })
        })
        .join();
        assert!(panicked.is_err());
        group
            .run(|c| c.execute("INSERT INTO t VALUES (2, 'y')", []))
            .unwrap()
            .unwrap();
        assert_eq!(count(&path), 1);
    }

    #[test]
    fn a_failed_commit_fails_every_member_of_the_batch() {
        let (group, path) = scratch("commit");
        // A deferred foreign key fails at COMMIT, after every member's part
        // succeeded: all of the batch must report it and none persist.
        group
            .run(|c| {
                c.execute_batch(
                    "CREATE TABLE parent (id INTEGER PRIMARY KEY);
                     CREATE TABLE child (p INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED);
                     PRAGMA foreign_keys = ON;",
                )
            })
            .unwrap()
            .unwrap();
        // `PRAGMA foreign_keys` is a no-op inside a transaction: set it now.
        group
            .lock()
            .conn
            .execute_batch("PRAGMA foreign_keys = ON")
            .unwrap();
        let r = group.run(|c| {
            c.execute("INSERT INTO t VALUES (7, 'x')", [])?;
            c.execute("INSERT INTO child VALUES (42)", [])
        });
        assert!(r.is_err(), "the commit must fail: {r:?}");
        assert_eq!(count(&path), 0);
        // The store goes on after the failed batch.
        group
            .run(|c| c.execute("INSERT INTO t VALUES (8, 'y')", []))
            .unwrap()
            .unwrap();
        assert_eq!(count(&path), 1);
    }
}
