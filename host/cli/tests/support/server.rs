//! Runs `docket serve` as a child process on a free loopback port (shared
//! by the service tests and the load bench).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// An HTTP client that returns error statuses as responses.
pub fn client() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .build()
        .into()
}

/// The admin key the server is started with.
pub const ADMIN: &str = "test-admin-key";

/// A running server; killed when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

#[allow(dead_code)] // the replica tests name their database
/// The PostgreSQL database of a data directory's server, when the tests
/// run against PostgreSQL (`DOCKET_TEST_DATABASE_URL` is set): empty at
/// the directory's first start, kept for its restarts.
fn database_for(data: &Path) -> Option<String> {
    std::env::var_os("DOCKET_TEST_DATABASE_URL")?;
    let marker = data.join("postgres-database");
    let fresh = !marker.exists();
    let name = data.file_name()?.to_string_lossy().into_owned();
    let url = docket_app::test_database(&name, fresh)?;
    std::fs::create_dir_all(data).ok()?;
    std::fs::write(&marker, &url).ok()?;
    Some(url)
}

impl Server {
    #[allow(dead_code)] // the replica tests name their database
    /// Starts `docket serve` on the data directory (and, when the tests run
    /// against PostgreSQL, on the directory's database) and waits for its
    /// address.
    pub fn start(data: &Path) -> Server {
        Server::start_on(data, database_for(data).as_deref())
    }

    /// Starts `docket serve` on the data directory and `database` (a
    /// PostgreSQL URL; `None`: SQLite in the data directory).
    pub fn start_on(data: &Path, database: Option<&str>) -> Server {
        Server::launch(data, database, None)
    }

    #[allow(dead_code)] // only some tests configure the service
    /// [`start`](Server::start) with a service configuration (TOML), kept
    /// in the data directory.
    pub fn start_configured(data: &Path, config: &str) -> Server {
        std::fs::create_dir_all(data).unwrap();
        let path = data.join("serve.toml");
        std::fs::write(&path, config).unwrap();
        Server::launch(data, database_for(data).as_deref(), Some(&path))
    }

    fn launch(data: &Path, database: Option<&str>, config: Option<&Path>) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_docket"));
        command.arg("serve");
        if let Some(config) = config {
            command.arg("--config").arg(config);
        }
        command
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data);
        if let Some(url) = database {
            command.args(["--database", url]);
        }
        let mut child = command
            .env("DOCKET_ADMIN_KEY", ADMIN)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start docket serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        Server {
            child,
            base: format!("http://{addr}"),
        }
    }

    /// Its process id.
    #[allow(dead_code)] // only the benches read the server's CPU time
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A counter's value in its `/metrics` (0 when absent); `name` with
    /// its labels, if any.
    #[allow(dead_code)] // only the benches read counters
    pub fn counter(&self, name: &str) -> u64 {
        counter(&self.base, name)
    }

    /// Kills it with SIGKILL, as a crash would.
    #[allow(dead_code)] // the load bench does not crash its server
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A process's `/proc/<pid>/stat` fields after its command name (which
/// may hold spaces): `[0]` its state, `[1]` its parent's pid, `[11]` and
/// `[12]` its user and system time, `[13]` and `[14]` those of its reaped
/// children, in clock ticks of 10 ms on Linux. `None` if it is gone.
#[allow(dead_code)] // only the benches read CPU time
fn proc_stat(pid: &str) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    Some(after.split_whitespace().map(str::to_owned).collect())
}

#[allow(dead_code)] // only the benches read CPU time
fn ticks_ms(fields: &[String], range: std::ops::Range<usize>) -> f64 {
    fields[range]
        .iter()
        .map(|f| f.parse::<f64>().unwrap_or(0.0))
        .sum::<f64>()
        * 10.0
}

/// CPU time (user + system) a process has used, from `/proc`, in ms;
/// `pid` is a process id or `self`.
#[allow(dead_code)] // only the benches read CPU time
pub fn cpu_ms(pid: &str) -> f64 {
    ticks_ms(&proc_stat(pid).expect("the process is running"), 11..13)
}

/// CPU time (user + system) of the process `root`, its children alive and
/// the children it has reaped, in ms: a PostgreSQL server's whole work
/// (its postmaster, every connection's backend, the WAL writer, ...).
#[allow(dead_code)] // only the benches read CPU time
pub fn process_tree_cpu_ms(root: u32) -> f64 {
    let root_text = root.to_string();
    let own = proc_stat(&root_text).map_or(0.0, |f| ticks_ms(&f, 11..15));
    let children: f64 = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| name.bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|pid| proc_stat(&pid))
        .filter(|f| f.get(1) == Some(&root_text))
        .map(|f| ticks_ms(&f, 11..13))
        .sum();
    own + children
}

/// A counter's value in the `/metrics` of the server at `base` (0 when
/// absent); `name` with its labels, if any.
#[allow(dead_code)] // only the benches read counters
pub fn counter(base: &str, name: &str) -> u64 {
    let text = client()
        .get(&format!("{base}/metrics"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(0)
}
