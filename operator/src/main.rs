//! `rzk-operator` — the Kubernetes operator for rzk ensembles.
//!
//! ```text
//! rzk-operator crd                      print the ZookeeperCluster CRD (YAML)
//! rzk-operator render -f FILE [--uid UID] [--cluster-domain D] [--auth-key-file F]
//!                                       print the objects the operator would create for the
//!                                       ZookeeperCluster in FILE (`-`: stdin), as YAML; no API server
//! rzk-operator [run] [options]          run the controller
//!   --namespace NS        watch one namespace (env WATCH_NAMESPACE; default: all)
//!   --metrics-addr ADDR   /metrics, /healthz, /readyz (env METRICS_ADDR; default 0.0.0.0:8080)
//!   --cluster-domain D    DNS domain of the cluster (env CLUSTER_DOMAIN; default cluster.local)
//!   --auth-key-file F     key the clusters' super passwords are derived from (env AUTH_KEY_FILE;
//!                         the Helm chart mounts a generated Secret); without it a fixed,
//!                         public key is used (insecure, for development only)
//!   --log-format F        text (default; colours only on a terminal, not with NO_COLOR) or
//!                         json (one object per line) (env LOG_FORMAT)
//! ```
//! The Kubernetes client is configured from KUBECONFIG / ~/.kube/config, or in-cluster.

use std::sync::Arc;

use anyhow::{bail, Context as _};
use rzk_operator::logging::{self, LogFormat};
use rzk_operator::{builders::BuildContext, crd, metrics, reconcile, render};

const USAGE: &str = "usage: rzk-operator crd | rzk-operator render -f FILE [--uid UID] [--cluster-domain DOMAIN] [--auth-key-file FILE] | rzk-operator [run] [--namespace NS] [--metrics-addr ADDR] [--cluster-domain DOMAIN] [--auth-key-file FILE] [--log-format text|json]";

fn read_auth_key(file: Option<&str>) -> anyhow::Result<Vec<u8>> {
    match file {
        Some(f) => {
            let k = std::fs::read(f).with_context(|| format!("reading --auth-key-file {f}"))?;
            let k: Vec<u8> = k.trim_ascii().to_vec();
            if k.len() < 16 {
                bail!("--auth-key-file {f}: the key must have at least 16 bytes");
            }
            Ok(k)
        }
        None => Ok(rzk_operator::auth::INSECURE_DEFAULT_KEY.to_vec()),
    }
}

/// `render -f FILE`: the objects of the cluster in FILE, as YAML.
fn render_cmd(args: &[String]) -> anyhow::Result<()> {
    let mut file = None;
    let mut cluster_domain =
        std::env::var("CLUSTER_DOMAIN").unwrap_or_else(|_| "cluster.local".into());
    let mut auth_key_file = None;
    let mut uid = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = |name: &str| {
            it.next()
                .cloned()
                .with_context(|| format!("{name} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "-f" | "--filename" => file = Some(val("-f")?),
            "--cluster-domain" => cluster_domain = val("--cluster-domain")?,
            "--auth-key-file" => auth_key_file = Some(val("--auth-key-file")?),
            "--uid" => uid = Some(val("--uid")?),
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    let file = file.with_context(|| format!("render needs -f FILE\n{USAGE}"))?;
    let text = if file == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading stdin")?
    } else {
        std::fs::read_to_string(&file).with_context(|| format!("reading {file}"))?
    };
    let mut zk = render::parse_cluster(&text).with_context(|| file.clone())?;
    if uid.is_some() {
        zk.metadata.uid = uid;
    }
    let key = read_auth_key(auth_key_file.as_deref())?;
    print!(
        "{}",
        render::render(&zk, &BuildContext { cluster_domain }, &key)?
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("crd") => {
            print!("{}", crd::crd_yaml());
            return Ok(());
        }
        Some("render") => return render_cmd(&args[1..]),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            return Ok(());
        }
        Some("-V" | "--version" | "version") => {
            println!("rzk-operator {}", env!("CARGO_PKG_VERSION"));
            return Ok(());
        }
        Some("run") => {
            args.remove(0);
        }
        _ => {}
    }
    let mut namespace = std::env::var("WATCH_NAMESPACE")
        .ok()
        .filter(|s| !s.is_empty());
    let mut metrics_addr = std::env::var("METRICS_ADDR").unwrap_or_else(|_| "0.0.0.0:8080".into());
    let mut cluster_domain =
        std::env::var("CLUSTER_DOMAIN").unwrap_or_else(|_| "cluster.local".into());
    let mut auth_key_file = std::env::var("AUTH_KEY_FILE")
        .ok()
        .filter(|s| !s.is_empty());
    let mut log_format = std::env::var("LOG_FORMAT")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "text".into());
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let mut val = |name: &str| {
            it.next()
                .with_context(|| format!("{name} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "--namespace" => namespace = Some(val("--namespace")?),
            "--metrics-addr" => metrics_addr = val("--metrics-addr")?,
            "--cluster-domain" => cluster_domain = val("--cluster-domain")?,
            "--auth-key-file" => auth_key_file = Some(val("--auth-key-file")?),
            "--log-format" => log_format = val("--log-format")?,
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    let log_format: LogFormat = log_format
        .parse()
        .map_err(|e: String| anyhow::anyhow!("--log-format: {e}"))?;
    logging::init(log_format);
    let auth_key = read_auth_key(auth_key_file.as_deref())?;
    if auth_key_file.is_none() {
        tracing::warn!("no --auth-key-file: the clusters' super passwords derive from a public key (insecure; development only)");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let client = kube::Client::try_default()
            .await
            .context("configuring the Kubernetes client (KUBECONFIG or in-cluster)")?;
        let metrics = Arc::new(metrics::Metrics::new());
        let addr = metrics_addr
            .parse()
            .with_context(|| format!("bad --metrics-addr {metrics_addr:?}"))?;
        let m = metrics.clone();
        tokio::spawn(async move {
            if let Err(e) = metrics::serve(addr, m).await {
                tracing::error!(error = %e, "metrics endpoint failed");
            }
        });
        let ctx = Arc::new(reconcile::Context::new(
            client,
            BuildContext { cluster_domain },
            metrics,
            auth_key,
        ));
        tracing::info!(namespace = ?namespace, "rzk-operator starting");
        reconcile::run(ctx, namespace).await;
        tracing::info!("rzk-operator stopped");
        Ok(())
    })
}
