//! `docket serve`: the engine as an HTTP service with a durable store
//! (SQLite in the data directory, or PostgreSQL shared by replicas),
//! per-tenant API keys, an audit log, SLA clocks and durable timers.

pub mod api;
pub mod auth;
mod authoring;
mod console;
pub mod delivery;
pub mod error;
mod feed;
mod handler;
mod request;
pub mod rule_changes;
pub mod schema;
mod strict_json;
pub mod timers;
mod webhooks;

use docket_app::webhook::WebhookSettings;
use docket_app::{Database, Service, service};
use docket_engine::EngineConfig;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The service's TOML configuration; every field has a default.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Where the SQLite database and the compiled artifacts live.
    pub data_dir: PathBuf,
    /// `sqlite` (the default: `docket.db` in the data directory) or a
    /// `postgres://` URL, which any number of replicas may share.
    pub database: String,
    /// The most PostgreSQL connections this process opens.
    pub database_connections: u32,
    /// Largest request body (plugin uploads included), in bytes.
    pub max_body_bytes: usize,
    /// How often due timers are looked for, in milliseconds.
    pub timer_poll_ms: u64,
    /// Engine settings.
    pub engine: EngineConfig,
    /// Webhook delivery: address policy, timeout, retry schedule.
    pub webhooks: WebhookSettings,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("docket-data"),
            database: "sqlite".into(),
            database_connections: 16,
            max_body_bytes: 8 << 20,
            timer_poll_ms: 50,
            engine: EngineConfig::default(),
            webhooks: WebhookSettings::default(),
        }
    }
}

impl ServiceConfig {
    /// Reads a config file.
    pub fn from_file(path: &Path) -> anyhow::Result<ServiceConfig> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
        let config: ServiceConfig =
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        config
            .webhooks
            .validate()
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok(config)
    }
}

/// Opens the store, loads the tenants, fires overdue timers, and serves
/// until SIGINT or SIGTERM. The admin key comes from `DOCKET_ADMIN_KEY`, or
/// is generated on first start and printed once.
pub fn serve(config: ServiceConfig) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let database = Database::parse(&config.database, config.database_connections)
            .map_err(|e| anyhow::anyhow!(e))?;
        let shown = database.display(&config.data_dir);
        let data_dir = config.data_dir.clone();
        let engine = config.engine.clone();
        let admin = std::env::var("DOCKET_ADMIN_KEY")
            .ok()
            .filter(|k| !k.is_empty());
        // The store's clients block: everything that touches it runs on
        // the blocking pool, never on the async workers.
        let webhooks = config.webhooks.clone();
        let (service, generated) = tokio::task::spawn_blocking(move || {
            let mut service =
                Service::open_database(&database, data_dir, engine, Box::new(service::now_ms))?;
            service
                .set_webhook_settings(webhooks)
                .map_err(|e| anyhow::anyhow!(e))?;
            let generated = service.ensure_admin_key(admin.as_deref())?;
            anyhow::Ok((service, generated))
        })
        .await??;
        if let Some(generated) = generated {
            eprintln!("generated admin key (shown once, store it): {generated}");
        }
        let service = Arc::new(service);
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        // Tests and scripts read this line to find the port.
        println!("docket serve listening on http://{addr} ({shown})");
        use std::io::Write as _;
        std::io::stdout().flush()?;
        let poll = std::time::Duration::from_millis(config.timer_poll_ms.max(1));
        let timer_task = tokio::spawn(timers::run(service.clone(), poll));
        let sender = delivery::Sender::new(service.webhook_settings())?;
        let sender_task = tokio::spawn(delivery::run(service.clone(), sender));
        let app = api::router(service, config.max_body_bytes);
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await?;
        timer_task.abort();
        sender_task.abort();
        Ok(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}
