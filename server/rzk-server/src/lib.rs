//! rzk server: client listener, sessions, watches, four-letter words, on top of rzk-raft.

pub mod admin;
pub mod audit;
pub mod conn;
pub mod fourlw;
pub mod http;
pub mod keystore;
pub mod log_limit;
pub mod metrics;
pub mod readonly;
pub mod report;
pub mod sasl;
pub mod server;
pub mod stats;
pub mod throttle;
pub mod tls;
pub mod watches;

use std::sync::Arc;
use std::time::Duration;

/// Starts a server with `cfg` and serves clients until the process ends.
pub async fn run(cfg: rzk_config::ServerConfig) -> anyhow::Result<()> {
    let cfg = Arc::new(cfg);
    let (host, port) = cfg.client_address().unwrap_or(("127.0.0.1".into(), 2181));
    let listener = tokio::net::TcpListener::bind((host.as_str(), port))
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {host}:{port}: {e}"))?;
    let sec = &cfg.security;
    let tls = if sec.tls_enabled() {
        let t = tls::Tls::load(sec)?;
        t.spawn_watcher(tls::reload_interval(&cfg));
        Some(t)
    } else {
        None
    };
    let secure_listener = match (sec.secure_client_port, &tls) {
        (Some(sport), Some(_)) => {
            let shost = sec
                .secure_client_port_address
                .clone()
                .unwrap_or_else(|| host.clone());
            let l = tokio::net::TcpListener::bind((shost.as_str(), sport))
                .await
                .map_err(|e| {
                    anyhow::anyhow!("cannot listen on {shost}:{sport} (secureClientPort): {e}")
                })?;
            Some((l, shost, sport))
        }
        _ => None,
    };
    if tls.is_some() && !sec.x509_auth {
        tracing::warn!("TLS without authProvider.x509=org.apache.zookeeper.server.auth.X509AuthenticationProvider: client certificates are checked but give no x509 ACL identity");
    }
    if sec.sasl_auth {
        let path = sasl::jaas_path(&cfg).ok_or_else(|| {
            anyhow::anyhow!("authProvider.sasl needs a JAAS file: -Djava.security.auth.login.config=<file> in SERVER_JVMFLAGS or JVMFLAGS, or rzk.jaasConfig=<file>")
        })?;
        let users = match sasl::load_users(std::path::Path::new(&path)) {
            Ok(u) => u,
            // As ZooKeeper: a JAAS file without a Server section leaves SASL without users.
            Err(e @ sasl::JaasError::NoServerSection { .. }) => {
                tracing::warn!(error = %e, "authProvider.sasl: the JAAS file has no Server section; every SASL login will fail (AuthFailed)");
                sasl::Users::default()
            }
            Err(e) => return Err(e.into()),
        };
        tracing::info!(jaas = %path, users = users.len(), "SASL DIGEST-MD5 authentication enabled");
        let _ = sasl::USERS.set(users);
    }
    tracing::info!(
        limit = throttle::limit(&cfg),
        "outstanding client requests are limited (globalOutstandingLimit, requestThrottleLimit)"
    );
    let shared = server::start(cfg.clone()).await?;
    shared
        .audit
        .system(None, audit::OP_START, None, audit::Outcome::Success);
    let observer = metrics::Observer::new();
    observer.start(shared.clone());
    metrics::spawn(shared.clone(), observer.clone()).await;
    admin::spawn(shared.clone(), observer, tls.clone()).await;
    let mode = match (&tls, sec.port_unification) {
        (Some(t), true) => conn::Mode::Unified(t.clone()),
        _ => conn::Mode::Plain,
    };
    if let (Some((l, shost, sport)), Some(t)) = (secure_listener, &tls) {
        tracing::info!(host = %shost, port = sport, client_auth = ?sec.client_auth, "serving TLS clients (secureClientPort)");
        tokio::spawn(conn::serve(shared.clone(), l, conn::Mode::Tls(t.clone())));
    }
    tokio::spawn(log_limit::report_loop());
    tokio::spawn(readonly::run(shared.clone()));
    tracing::info!(%host, port, tls = sec.port_unification, "listening for clients");
    {
        // The role is logged once it is known (a member that just started is not yet follower
        // or leader); until then `serving()` refuses sessions.
        let (s, host) = (shared.clone(), host.clone());
        tokio::spawn(async move {
            let t0 = std::time::Instant::now();
            while !s.serving() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            tracing::info!(%host, port, role = %s.role(), after_ms = t0.elapsed().as_millis() as u64, "serving clients");
        });
    }
    tokio::select! {
        _ = conn::serve(shared.clone(), listener, mode) => {}
        sig = shutdown_signal() => {
            tracing::info!(signal = sig, "shutting down");
            shared
                .audit
                .system(None, audit::OP_STOP, None, audit::Outcome::Invoked);
            hand_over_leadership(&shared).await;
        }
    }
    Ok(())
}

/// SIGTERM (Kubernetes stopping a pod, `rzk-server stop`) or SIGINT.
async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}

/// A leader that is asked to stop first hands leadership to the most caught-up voter (bounded), so
/// that clients see a hand-over instead of an election timeout. Everything acknowledged is already
/// durable: stopping without it loses nothing, it is only slower for clients.
async fn hand_over_leadership(shared: &server::Shared) {
    let Some(raft) = shared.raft.get() else {
        return;
    };
    if !shared.cfg.is_distributed() || raft.status().role != rzk_raft::Role::Leader {
        return;
    }
    let Some(to) = raft.best_transfer_target(|_| true) else {
        return;
    };
    match tokio::time::timeout(
        Duration::from_secs(8),
        raft.transfer_leadership(to, Duration::from_secs(4)),
    )
    .await
    {
        Ok(Ok(leader)) => tracing::info!(
            new_leader = leader,
            "handed leadership over before stopping"
        ),
        Ok(Err(e)) => tracing::warn!(error = %e, "no leadership hand-over before stopping"),
        Err(_) => tracing::warn!("leadership hand-over did not finish in 8 s; stopping anyway"),
    }
}
