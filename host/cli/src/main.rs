//! The `docket` command line: check and compile plugins, replay event streams through
//! tenant pipelines, and run the built-in multi-tenant demo.

mod cli;

/// mimalloc instead of the system allocator: the service allocates and
/// frees many small buffers per request on many threads, and about 8% of
/// its CPU samples were glibc's malloc and free (consolidating and
/// unlinking chunks). With mimalloc the `service_load` bench measured
/// about 6% less server CPU per request and 7% more requests per second.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// Docket: a sandboxed WebAssembly rules engine for helpdesks.
#[derive(Parser)]
#[command(name = "docket", version, about)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

/// How outcomes are printed.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    /// One readable line per event, then a summary.
    Table,
    /// One JSON outcome per line, then a JSON summary.
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a plugin (.wasm component, core module, or TOML rules) and describe what it exports.
    Check {
        /// The plugin file, or `builtin:<name>`.
        plugin: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        limits: cli::check::LimitArgs,
    },
    /// Compile no-code rules (TOML) to a WebAssembly plugin.
    Compile {
        /// The rule document.
        rules: PathBuf,
        /// Where to write the plugin.
        #[arg(short, long)]
        output: PathBuf,
        /// Write the core module instead of the component.
        #[arg(long)]
        core_module: bool,
    },
    /// Replay an event stream (JSON lines) through tenant pipelines.
    Run {
        /// A tenant config (TOML); repeat for several tenants.
        #[arg(long = "tenant-config", required = true)]
        tenant_configs: Vec<PathBuf>,
        /// The event stream, one JSON record per line.
        #[arg(long)]
        events: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// After the stream, fire timers due up to this instant (RFC 3339).
        #[arg(long)]
        until: Option<jiff::Timestamp>,
        /// Directory for precompiled artifacts (default: none, compile in memory).
        #[arg(long)]
        cache_dir: Option<PathBuf>,
    },
    /// Run Docket as an HTTP service with a durable store (SQLite in the data
    /// directory, or PostgreSQL shared by several replicas).
    Serve {
        /// Service config (TOML); every field has a default.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Listen address (overrides the config), e.g. 127.0.0.1:8080.
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Data directory (overrides the config): the SQLite database and
        /// the compiled-artifact cache.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// `sqlite` or a `postgres://` URL (overrides the config); replicas
        /// given the same PostgreSQL URL share tenants, tickets and timers.
        #[arg(long)]
        database: Option<String>,
    },
    /// Run one event through a tenant's pipeline as it is and with a
    /// candidate in place of one plugin; print what differs. Nothing is stored.
    Simulate {
        #[command(flatten)]
        history: HistoryArgs,
        #[command(flatten)]
        candidate: CandidateFlags,
        /// The event: one stream record as JSON (tenant, ticket, at, event, data).
        #[arg(long)]
        event: String,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Compare a candidate with the active pipeline over a tenant's recorded
    /// events: what would have been decided differently, per decision kind.
    Backtest {
        #[command(flatten)]
        history: HistoryArgs,
        #[command(flatten)]
        candidate: CandidateFlags,
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// Start of the window (RFC 3339; default: the first recorded event).
        #[arg(long)]
        from: Option<jiff::Timestamp>,
        /// End of the window, exclusive (RFC 3339; default: no end).
        #[arg(long)]
        to: Option<jiff::Timestamp>,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Show the four example plugins handling a realistic multi-tenant stream.
    Demo {
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
}

/// Where recorded history comes from: a service's data directory, or a
/// stream replayed (and recorded) first.
#[derive(clap::Args)]
struct HistoryArgs {
    /// A `docket serve` data directory.
    #[arg(long, conflicts_with_all = ["tenant_configs", "events"])]
    data_dir: Option<PathBuf>,
    /// The service's database (`sqlite`, the default, or a `postgres://` URL).
    #[arg(long, requires = "data_dir")]
    database: Option<String>,
    /// A tenant config (TOML) to replay a stream through; repeat for several.
    #[arg(long = "tenant-config", requires = "events")]
    tenant_configs: Vec<PathBuf>,
    /// The event stream to replay first (JSON lines).
    #[arg(long)]
    events: Option<PathBuf>,
    /// After the stream, fire timers due up to this instant (RFC 3339).
    #[arg(long, requires = "events")]
    until: Option<jiff::Timestamp>,
}

impl HistoryArgs {
    fn history(self) -> anyhow::Result<cli::trial::History> {
        match (self.data_dir, self.events) {
            (Some(data_dir), None) => Ok(cli::trial::History::Service {
                data_dir,
                database: self.database,
            }),
            (None, Some(events)) if !self.tenant_configs.is_empty() => {
                Ok(cli::trial::History::Stream {
                    configs: self.tenant_configs,
                    events,
                    until: self.until,
                })
            }
            _ => anyhow::bail!(
                "give the history as --data-dir DIR, or as --tenant-config FILE and --events FILE"
            ),
        }
    }
}

/// The candidate: exactly one of a rule document, a module, an installed version.
#[derive(clap::Args)]
struct CandidateFlags {
    /// The plugin the candidate stands in for.
    #[arg(long)]
    plugin: String,
    /// A no-code rule document (TOML).
    #[arg(long, group = "candidate")]
    rules: Option<PathBuf>,
    /// A WebAssembly component or core module.
    #[arg(long, group = "candidate")]
    module: Option<PathBuf>,
    /// An installed version (number or hash prefix).
    #[arg(long, group = "candidate")]
    version: Option<String>,
}

impl From<CandidateFlags> for cli::trial::CandidateArgs {
    fn from(f: CandidateFlags) -> Self {
        cli::trial::CandidateArgs {
            plugin: f.plugin,
            rules: f.rules,
            module: f.module,
            version: f.version,
        }
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DOCKET_LOG")
                .unwrap_or_else(|_| "error".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let result = match args.command {
        Command::Check {
            plugin,
            json,
            limits,
        } => cli::check::run(&plugin, json, &limits),
        Command::Compile {
            rules,
            output,
            core_module,
        } => cli::compile::run(&rules, &output, core_module),
        Command::Run {
            tenant_configs,
            events,
            format,
            until,
            cache_dir,
        } => cli::run::run(&tenant_configs, &events, format, until, cache_dir),
        Command::Demo { format } => cli::demo::run(format),
        Command::Simulate {
            history,
            candidate,
            event,
            format,
        } => history
            .history()
            .and_then(|h| cli::trial::simulate(&h, &candidate.into(), &event, format)),
        Command::Backtest {
            history,
            candidate,
            tenant,
            from,
            to,
            format,
        } => history
            .history()
            .and_then(|h| cli::trial::backtest(&h, &tenant, &candidate.into(), (from, to), format)),
        Command::Serve {
            config,
            listen,
            data_dir,
            database,
        } => cli::serve(config, listen, data_dir, database),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
