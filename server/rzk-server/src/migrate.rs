//! `import-zookeeper` and `export-zookeeper`: moving a ZooKeeper database to rzk and back.
//!
//! ZooKeeper's files are read and written by rzk-zkfiles; the rzk data directory is written
//! and read by rzk-raft (`rzk_raft::import`). The rzk state lives in `<dataLogDir>/rzk`, as
//! `rzk-server start` expects.

use anyhow::{bail, Context};
use rzk_raft::import as raft_import;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

const IMPORT_USAGE: &str = "usage: rzk-server import-zookeeper ZK_DATA_DIR RZK_DATA_DIR \
     [--config zoo.cfg] [--zk-log-dir ZK_DATA_LOG_DIR] [--ignore-digest]";
const EXPORT_USAGE: &str = "usage: rzk-server export-zookeeper RZK_DATA_DIR OUT_DIR";

fn is_empty_dir(p: &Path) -> anyhow::Result<bool> {
    match std::fs::read_dir(p) {
        Ok(mut it) => Ok(it.next().is_none()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", p.display())),
    }
}

/// The members an rzk server started with `cfg` would bootstrap with (as `server::start`).
fn members_of(
    cfg_path: Option<&str>,
) -> anyhow::Result<(BTreeMap<u64, rzk_raft::Member>, BTreeSet<u64>)> {
    // Parsed without reading myid: the membership is the same on every member.
    let cfg = match cfg_path {
        Some(p) => {
            rzk_config::parse_file(Path::new(p))
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .0
        }
        None => rzk_config::ServerConfig::default_standalone(&std::env::current_dir()?),
    };
    let client = cfg.client_address().unwrap_or(("127.0.0.1".into(), 2181));
    let mut members = BTreeMap::new();
    let mut observers = BTreeSet::new();
    if cfg.is_distributed() {
        for (id, sp) in &cfg.servers {
            let (m, voter) = rzk_server::server::member_from_spec(sp, client.1);
            members.insert(*id, m);
            if !voter {
                observers.insert(*id);
            }
        }
    } else {
        let id = rzk_config::read_myid(&cfg.data_dir).ok().flatten();
        members.insert(
            id.or(cfg.server_id).unwrap_or(1),
            rzk_raft::Member {
                quorum_addr: String::new(),
                election_port: 0,
                client_addr: format!("{}:{}", client.0, client.1),
            },
        );
    }
    Ok((members, observers))
}

pub fn import(args: &[String]) -> anyhow::Result<()> {
    let mut pos = Vec::new();
    let mut cfg_path = None;
    let mut zk_log_dir = None;
    let mut ignore_digest = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--config" => cfg_path = Some(it.next().context(IMPORT_USAGE)?.clone()),
            "--ignore-digest" => ignore_digest = true,
            "--zk-log-dir" => zk_log_dir = Some(PathBuf::from(it.next().context(IMPORT_USAGE)?)),
            s if s.starts_with("--") => bail!("unknown option {s}\n{IMPORT_USAGE}"),
            _ => pos.push(PathBuf::from(a)),
        }
    }
    let [zk_dir, out] = pos.as_slice() else {
        bail!("{IMPORT_USAGE}");
    };
    if !is_empty_dir(out)? {
        bail!(
            "{} is not empty: import-zookeeper writes a new data directory",
            out.display()
        );
    }
    let (members, observers) = members_of(cfg_path.as_deref())?;
    let t0 = Instant::now();
    let log_dir = zk_log_dir.unwrap_or_else(|| zk_dir.clone());
    let (zk, report) = rzk_zkfiles::load(zk_dir, &log_dir)?;
    let digest_note = match report.digest {
        Some(d) if d.matches() => format!(
            "tree digest matches ZooKeeper's at zxid 0x{:x} ({:#x})",
            d.zxid, d.logged
        ),
        Some(d) if ignore_digest => format!(
            "WARNING: tree digest {:#x} differs from ZooKeeper's {:#x} at zxid 0x{:x} (--ignore-digest)",
            d.computed, d.logged, d.zxid
        ),
        Some(d) => bail!(
            "the replayed tree's digest {:#x} differs from the one ZooKeeper logged with its last \
             transaction (0x{:x}): {:#x}; nothing was written (--ignore-digest imports anyway)",
            d.computed,
            d.zxid,
            d.logged
        ),
        None => "no digest to check (no transaction after the snapshot, or ZooKeeper before 3.6)".into(),
    };
    let index = raft_import::import_index(zk.last_zxid);
    let tree = rzk_zkfiles::to_data_tree(&zk, raft_import::import_zxid(index))?;

    // Written beside the target and renamed into place: an interrupted import leaves no
    // directory that looks like a complete one.
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "rzk-data".into());
    std::fs::create_dir_all(&parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let tmp = parent.join(format!(".{name}.import-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let result = (|| -> anyhow::Result<()> {
        std::fs::create_dir_all(&tmp)?;
        raft_import::write_imported(&tmp.join("rzk"), &tree, members.clone(), &observers, index)?;
        let myid = zk_dir.join("myid");
        if members.len() > 1 && myid.is_file() {
            std::fs::copy(&myid, tmp.join("myid"))?;
        }
        if out.exists() {
            std::fs::remove_dir(out)
                .with_context(|| format!("cannot replace {}", out.display()))?;
        }
        std::fs::rename(&tmp, out)
            .with_context(|| format!("cannot move {} to {}", tmp.display(), out.display()))?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e.context(format!("writing {}", out.display())));
    }
    let ephemerals = tree.ephemeral_count();
    println!(
        "imported {} znodes ({} ephemeral) and {} sessions from {} ({} txns replayed from {} log file(s) after snapshot 0x{:x}{}) in {} ms",
        tree.node_count(),
        ephemerals,
        tree.sessions().len(),
        report.snapshot.display(),
        report.replay.applied,
        report.logs.len(),
        report.snapshot_zxid,
        if report.replay.reconfigs > 0 {
            format!("; {} reconfig txns applied to /zookeeper/config only, the membership comes from the config", report.replay.reconfigs)
        } else {
            String::new()
        },
        t0.elapsed().as_millis()
    );
    println!(
        "ZooKeeper's last zxid 0x{:x}; rzk continues at Raft index {index} (zxid 0x{:x}); members {:?}",
        zk.last_zxid,
        raft_import::import_zxid(index),
        members.keys().collect::<Vec<_>>()
    );
    println!("{digest_note}");
    for (f, off) in &report.torn_tails {
        println!(
            "note: {} ends in a partial record at byte {off} (a crash while appending); replay stopped there, as ZooKeeper does",
            f.display()
        );
    }
    if members.len() > 1 {
        println!(
            "copy {} to every member's dataLogDir (each with its own myid) before starting them",
            out.display()
        );
    }
    Ok(())
}

pub fn export(args: &[String]) -> anyhow::Result<()> {
    let [dir, out] = args else {
        bail!("{EXPORT_USAGE}");
    };
    let (dir, out) = (Path::new(dir), Path::new(out));
    let raft_dir = if dir.join("rzk").is_dir() {
        dir.join("rzk")
    } else {
        dir.to_path_buf()
    };
    if !raft_dir.join("snapshots").is_dir() && !raft_dir.join("log").is_dir() {
        bail!(
            "{} holds no rzk data (no rzk/ snapshots or log)",
            dir.display()
        );
    }
    if !is_empty_dir(&out.join("version-2"))? {
        bail!(
            "{} already holds ZooKeeper data",
            out.join("version-2").display()
        );
    }
    let t0 = Instant::now();
    let (tree, last_index) = raft_import::read_state(&raft_dir)?;
    let zk = rzk_zkfiles::from_data_tree(&tree);
    let path = rzk_zkfiles::write_snapshot(&zk, out)?;
    println!(
        "exported {} znodes and {} sessions (rzk log index {last_index}, zxid 0x{:x}, digest 0x{:x}) to {} in {} ms",
        zk.nodes.len(),
        zk.sessions.len(),
        zk.last_zxid,
        zk.digest() as u64,
        path.display(),
        t0.elapsed().as_millis()
    );
    Ok(())
}
