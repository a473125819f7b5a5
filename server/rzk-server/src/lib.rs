//! rzk server: client listener, sessions, watches, four-letter words, on top of rzk-raft.

pub mod admin;
pub mod conn;
pub mod fourlw;
pub mod http;
pub mod metrics;
pub mod server;
pub mod stats;
pub mod watches;

use std::sync::Arc;

/// Starts a server with `cfg` and serves clients until the process ends.
pub async fn run(cfg: rzk_config::ServerConfig) -> anyhow::Result<()> {
    let cfg = Arc::new(cfg);
    let (host, port) = cfg.client_address().unwrap_or(("127.0.0.1".into(), 2181));
    let listener = tokio::net::TcpListener::bind((host.as_str(), port))
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {host}:{port}: {e}"))?;
    let shared = server::start(cfg.clone()).await?;
    let observer = metrics::Observer::new();
    observer.start(shared.clone());
    metrics::spawn(shared.clone(), observer.clone()).await;
    admin::spawn(shared.clone(), observer).await;
    tracing::info!(%host, port, mode = shared.mode(), "serving clients");
    conn::serve(shared, listener).await;
    Ok(())
}
