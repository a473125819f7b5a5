//! Per-server watch registry. Watches belong to a client connection, as in ZooKeeper.

use rzk_proto::consts::{event_type, watcher_type};
use std::collections::{HashMap, HashSet};

pub type ConnId = u64;

/// One-shot data/exist watch.
pub const DATA: u8 = 1;
/// One-shot child watch.
pub const CHILD: u8 = 2;
pub const PERSISTENT: u8 = 4;
pub const RECURSIVE: u8 = 8;

#[derive(Default)]
pub struct WatchManager {
    by_path: HashMap<String, HashMap<ConnId, u8>>,
    by_conn: HashMap<ConnId, HashSet<String>>,
    recursive: usize,
}

fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    let mut p = path;
    std::iter::from_fn(move || {
        if p == "/" {
            return None;
        }
        p = match p.rfind('/') {
            Some(0) | None => "/",
            Some(i) => &p[..i],
        };
        Some(p)
    })
}

impl WatchManager {
    pub fn add(&mut self, conn: ConnId, path: &str, bits: u8) {
        let e = self
            .by_path
            .entry(path.to_string())
            .or_default()
            .entry(conn)
            .or_insert(0);
        if bits & RECURSIVE != 0 && *e & RECURSIVE == 0 {
            self.recursive += 1;
        }
        *e |= bits;
        self.by_conn
            .entry(conn)
            .or_default()
            .insert(path.to_string());
    }

    fn set_bits(&mut self, conn: ConnId, path: &str, bits: u8) {
        let Some(m) = self.by_path.get_mut(path) else {
            return;
        };
        if let Some(old) = m.get(&conn).copied() {
            if old & RECURSIVE != 0 && bits & RECURSIVE == 0 {
                self.recursive -= 1;
            }
            if bits == 0 {
                m.remove(&conn);
                if m.is_empty() {
                    self.by_path.remove(path);
                }
                if let Some(s) = self.by_conn.get_mut(&conn) {
                    s.remove(path);
                    if s.is_empty() {
                        self.by_conn.remove(&conn);
                    }
                }
            } else {
                m.insert(conn, bits);
            }
        }
    }

    /// Connections to notify of event `typ` at `path`; one-shot watches that fire are removed.
    pub fn trigger(&mut self, path: &str, typ: i32) -> Vec<ConnId> {
        let mut out: Vec<ConnId> = Vec::new();
        let mut updates: Vec<(ConnId, u8)> = Vec::new();
        if let Some(m) = self.by_path.get(path) {
            for (&conn, &bits) in m {
                let oneshot = match typ {
                    event_type::NODE_CREATED | event_type::NODE_DATA_CHANGED => DATA,
                    event_type::NODE_DELETED => DATA | CHILD,
                    event_type::NODE_CHILDREN_CHANGED => CHILD,
                    _ => 0,
                };
                let persistent = bits & PERSISTENT != 0
                    || bits & RECURSIVE != 0 && typ != event_type::NODE_CHILDREN_CHANGED;
                if bits & oneshot != 0 || persistent {
                    out.push(conn);
                }
                if bits & oneshot != 0 {
                    updates.push((conn, bits & !oneshot));
                }
            }
        }
        for (conn, bits) in updates {
            self.set_bits(conn, path, bits);
        }
        if self.recursive > 0 && typ != event_type::NODE_CHILDREN_CHANGED {
            for a in ancestors(path) {
                if let Some(m) = self.by_path.get(a) {
                    for (&conn, &bits) in m {
                        if bits & RECURSIVE != 0 && !out.contains(&conn) {
                            out.push(conn);
                        }
                    }
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    pub fn remove_conn(&mut self, conn: ConnId) {
        if let Some(paths) = self.by_conn.remove(&conn) {
            for p in paths {
                if let Some(m) = self.by_path.get_mut(&p) {
                    if let Some(bits) = m.remove(&conn) {
                        if bits & RECURSIVE != 0 {
                            self.recursive -= 1;
                        }
                    }
                    if m.is_empty() {
                        self.by_path.remove(&p);
                    }
                }
            }
        }
    }

    fn mask(typ: i32) -> u8 {
        match typ {
            watcher_type::CHILDREN => CHILD,
            watcher_type::DATA => DATA,
            watcher_type::ANY => DATA | CHILD | PERSISTENT | RECURSIVE,
            watcher_type::PERSISTENT => PERSISTENT,
            watcher_type::PERSISTENT_RECURSIVE => RECURSIVE,
            _ => 0,
        }
    }

    /// Whether `conn` has a watch of `typ` (WatcherType) on `path`.
    pub fn has(&self, conn: ConnId, path: &str, typ: i32) -> bool {
        let m = Self::mask(typ);
        let bits = self
            .by_path
            .get(path)
            .and_then(|m| m.get(&conn))
            .copied()
            .unwrap_or(0);
        // A persistent watch also counts as a data and child watch (ZooKeeper 3.6+).
        let bits = if bits & (PERSISTENT | RECURSIVE) != 0 {
            bits | DATA | CHILD
        } else {
            bits
        };
        bits & m != 0
    }

    /// Removes watches of `typ` on `path` for `conn`; false when there was none.
    pub fn remove(&mut self, conn: ConnId, path: &str, typ: i32) -> bool {
        if !self.has(conn, path, typ) {
            return false;
        }
        let bits = self
            .by_path
            .get(path)
            .and_then(|m| m.get(&conn))
            .copied()
            .unwrap_or(0);
        let m = match typ {
            watcher_type::DATA => DATA | PERSISTENT | RECURSIVE,
            watcher_type::CHILDREN => CHILD | PERSISTENT | RECURSIVE,
            _ => Self::mask(typ),
        };
        self.set_bits(conn, path, bits & !m);
        true
    }

    pub fn watch_count(&self) -> usize {
        self.by_path.values().map(|m| m.len()).sum()
    }
    pub fn path_count(&self) -> usize {
        self.by_path.len()
    }
    pub fn conn_count(&self) -> usize {
        self.by_conn.len()
    }
    pub fn paths_of(&self, conn: ConnId) -> Vec<String> {
        let mut v: Vec<String> = self
            .by_conn
            .get(&conn)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        v.sort();
        v
    }
    pub fn by_path(&self) -> Vec<(String, Vec<ConnId>)> {
        let mut v: Vec<(String, Vec<ConnId>)> = self
            .by_path
            .iter()
            .map(|(p, m)| (p.clone(), m.keys().copied().collect()))
            .collect();
        v.sort();
        v
    }
    pub fn by_conn(&self) -> Vec<(ConnId, Vec<String>)> {
        let mut v: Vec<(ConnId, Vec<String>)> = self
            .by_conn
            .keys()
            .map(|c| (*c, self.paths_of(*c)))
            .collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use event_type::*;

    #[test]
    fn one_shot_fires_once() {
        let mut w = WatchManager::default();
        w.add(1, "/a", DATA);
        assert_eq!(w.trigger("/a", NODE_DATA_CHANGED), vec![1]);
        assert!(w.trigger("/a", NODE_DATA_CHANGED).is_empty());
        assert_eq!(w.watch_count(), 0);
    }

    #[test]
    fn child_watch_ignores_data_changes() {
        let mut w = WatchManager::default();
        w.add(1, "/a", CHILD);
        assert!(w.trigger("/a", NODE_DATA_CHANGED).is_empty());
        assert_eq!(w.trigger("/a", NODE_CHILDREN_CHANGED), vec![1]);
        w.add(1, "/a", CHILD | DATA);
        assert_eq!(
            w.trigger("/a", NODE_DELETED),
            vec![1],
            "one event per connection"
        );
        assert_eq!(w.watch_count(), 0);
    }

    #[test]
    fn persistent_and_recursive() {
        let mut w = WatchManager::default();
        w.add(1, "/a", PERSISTENT);
        w.add(2, "/a", RECURSIVE);
        for _ in 0..3 {
            assert_eq!(w.trigger("/a", NODE_DATA_CHANGED), vec![1, 2]);
        }
        assert_eq!(
            w.trigger("/a", NODE_CHILDREN_CHANGED),
            vec![1],
            "recursive gets no child events"
        );
        assert_eq!(w.trigger("/a/b/c", NODE_CREATED), vec![2]);
        assert!(w.trigger("/ab", NODE_CREATED).is_empty());
        assert!(w.remove(2, "/a", watcher_type::ANY));
        assert!(w.trigger("/a/b", NODE_CREATED).is_empty());
        assert!(!w.remove(2, "/a", watcher_type::ANY));
        w.remove_conn(1);
        assert_eq!(w.watch_count(), 0);
    }
}
