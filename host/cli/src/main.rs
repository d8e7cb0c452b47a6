//! The `docket` command line: check and compile plugins, replay event streams through
//! tenant pipelines, and run the built-in multi-tenant demo.

mod cli;

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
    /// Show the four example plugins handling a realistic multi-tenant stream.
    Demo {
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
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
        Command::Check { plugin, json } => cli::check::run(&plugin, json),
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
