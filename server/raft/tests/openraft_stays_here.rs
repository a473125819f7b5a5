//! ARCHITECTURE.md: rzk-raft is the only crate that names openraft types.

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn only_rzk_raft_depends_on_openraft() {
    let lock = std::fs::read_to_string(repo().join("Cargo.lock")).expect("Cargo.lock");
    let dependents: Vec<String> = lock
        .split("[[package]]")
        .filter(|p| {
            p.lines()
                .any(|l| l.trim().trim_end_matches(',') == "\"openraft\"")
        })
        .filter_map(|p| {
            p.lines()
                .find_map(|l| l.strip_prefix("name = "))
                .map(|n| n.trim_matches('"').to_string())
        })
        .collect();
    assert_eq!(
        dependents,
        vec!["rzk-raft".to_string()],
        "crates depending on openraft"
    );
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().to_string();
        if p.is_dir() {
            if name != "target" && !name.starts_with('.') {
                rust_files(&p, out);
            }
        } else if name.ends_with(".rs") {
            out.push(p);
        }
    }
}

#[test]
fn no_other_crate_names_openraft() {
    let root = repo();
    let mut files = Vec::new();
    for d in ["server", "operator", "bench", "fuzz", "tests"] {
        rust_files(&root.join(d), &mut files);
    }
    let raft = root.join("server/raft");
    let offenders: Vec<String> = files
        .iter()
        .filter(|f| !f.starts_with(&raft))
        .filter(|f| std::fs::read_to_string(f).is_ok_and(|s| s.contains("openraft::")))
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "openraft named outside rzk-raft: {offenders:?}"
    );
}
