//! Subcommands of the `docket` binary.

pub mod check;
pub mod compile;
pub mod demo;
pub mod render;
pub mod run;
pub mod trial;

/// `docket serve`.
pub fn serve(
    config: Option<std::path::PathBuf>,
    listen: Option<std::net::SocketAddr>,
    data_dir: Option<std::path::PathBuf>,
    database: Option<String>,
) -> anyhow::Result<std::process::ExitCode> {
    let mut c = match config {
        Some(path) => docket_server::ServiceConfig::from_file(&path)?,
        None => docket_server::ServiceConfig::default(),
    };
    c.listen = listen.unwrap_or(c.listen);
    c.data_dir = data_dir.unwrap_or(c.data_dir);
    c.database = database.unwrap_or(c.database);
    docket_server::serve(c)?;
    Ok(std::process::ExitCode::SUCCESS)
}
