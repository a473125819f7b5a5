//! The log's in-memory side: which indices exist, and a bounded cache of the newest payloads.
//!
//! Every retained entry is in the segment files; memory holds the bounds (first, last, purge
//! point) and the payloads of the newest entries, at most `LogOptions::cache_bytes` of them
//! once they are on disk. Entries not yet written and fsynced are always cached (they exist
//! nowhere else). Older entries are read from their segment (see `segment::read_record`).

use std::collections::VecDeque;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use crate::error::StorageError;

#[derive(Debug, Default)]
pub(crate) struct MemLog {
    /// First retained index (meaningful when `len > 0`).
    first: u64,
    len: u64,
    /// Payloads of the last `cache.len()` entries.
    cache: VecDeque<Arc<[u8]>>,
    cache_bytes: usize,
    pub(crate) purged: Option<u64>,
    /// Bumped by every truncation, so the writer thread can tell whether the cached entries
    /// below its written index are still the ones it wrote.
    pub(crate) truncations: u64,
}

/// Where the payload of one entry is.
pub(crate) enum Slot {
    Cached(Arc<[u8]>),
    OnDisk,
}

impl MemLog {
    pub(crate) fn with_purged(purged: Option<u64>) -> Self {
        MemLog {
            purged,
            ..MemLog::default()
        }
    }

    pub(crate) fn first_index(&self) -> Option<u64> {
        (self.len > 0).then_some(self.first)
    }

    pub(crate) fn last_index(&self) -> Option<u64> {
        (self.len > 0).then(|| self.first + self.len - 1)
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    fn cache_first(&self) -> u64 {
        self.first + self.len - self.cache.len() as u64
    }

    /// Bytes of payload held in the cache.
    pub(crate) fn cache_bytes(&self) -> usize {
        self.cache_bytes
    }

    /// Validates that `items` (index, payload length) may be appended.
    pub(crate) fn check_append(
        &self,
        items: impl Iterator<Item = (u64, usize)>,
    ) -> Result<(), StorageError> {
        let mut next = self.last_index().map(|l| l + 1);
        for (index, len) in items {
            match next {
                Some(n) if n != index => {
                    return Err(StorageError::NonContiguous {
                        expected: n,
                        got: index,
                    })
                }
                None => {
                    if let Some(p) = self.purged.filter(|p| index <= *p) {
                        return Err(StorageError::NonContiguous {
                            expected: p.saturating_add(1),
                            got: index,
                        });
                    }
                }
                _ => {}
            }
            if len > u32::MAX as usize {
                return Err(StorageError::EntryTooLarge { index, len });
            }
            next = Some(index.checked_add(1).ok_or(StorageError::NonContiguous {
                expected: index,
                got: u64::MAX,
            })?);
        }
        Ok(())
    }

    /// Appends an entry (cached until it is on disk and evicted).
    pub(crate) fn push(&mut self, index: u64, data: Arc<[u8]>) {
        if self.len == 0 {
            self.first = index;
        }
        self.len += 1;
        self.cache_bytes += data.len();
        self.cache.push_back(data);
    }

    /// Records entries recovered from disk (not cached).
    pub(crate) fn push_on_disk(&mut self, index: u64) {
        debug_assert!(self.cache.is_empty());
        if self.len == 0 {
            self.first = index;
        }
        self.len += 1;
    }

    pub(crate) fn truncate_from(&mut self, from: u64) {
        self.truncations += 1;
        if self.len == 0 {
            return;
        }
        let keep = from.saturating_sub(self.first).min(self.len);
        let drop_n = (self.len - keep).min(self.cache.len() as u64) as usize;
        for _ in 0..drop_n {
            if let Some(d) = self.cache.pop_back() {
                self.cache_bytes -= d.len();
            }
        }
        self.len = keep;
    }

    pub(crate) fn purge_upto(&mut self, upto: u64) {
        if self.purged.is_some_and(|p| p >= upto) {
            return;
        }
        self.purged = Some(upto);
        if self.len == 0 {
            return;
        }
        let drop_n = (upto.saturating_add(1).saturating_sub(self.first)).min(self.len);
        let uncached = self.len - self.cache.len() as u64;
        let drop_cached = drop_n.saturating_sub(uncached) as usize;
        for _ in 0..drop_cached {
            if let Some(d) = self.cache.pop_front() {
                self.cache_bytes -= d.len();
            }
        }
        self.first += drop_n;
        self.len -= drop_n;
    }

    /// Drops the oldest cached payloads while the cache holds more than `budget` bytes, but
    /// only entries at or below `written` (on disk and fsynced), and only if no truncation
    /// happened since the writer's last processed request (`truncations`): then the cached
    /// entries up to `written` are exactly the ones in the files.
    pub(crate) fn evict(&mut self, written: Option<u64>, truncations: u64, budget: usize) {
        let Some(written) = written else { return };
        if truncations != self.truncations {
            return;
        }
        while self.cache_bytes > budget && !self.cache.is_empty() && self.cache_first() <= written {
            if let Some(d) = self.cache.pop_front() {
                self.cache_bytes -= d.len();
            }
        }
    }

    pub(crate) fn get(&self, index: u64) -> Option<Slot> {
        let last = self.last_index()?;
        if index < self.first || index > last {
            return None;
        }
        let cf = self.cache_first();
        Some(if index >= cf {
            Slot::Cached(self.cache[(index - cf) as usize].clone())
        } else {
            Slot::OnDisk
        })
    }

    /// The retained indices in `r`, split into the part to read from disk and the cached
    /// payloads that follow it.
    pub(crate) fn range(&self, r: &impl RangeBounds<u64>) -> (Option<(u64, u64)>, super::Entries) {
        let (Some(first), Some(last)) = (self.first_index(), self.last_index()) else {
            return (None, Vec::new());
        };
        let start = match r.start_bound() {
            Bound::Included(&s) => s,
            Bound::Excluded(&s) => match s.checked_add(1) {
                Some(s) => s,
                None => return (None, Vec::new()),
            },
            Bound::Unbounded => first,
        }
        .max(first);
        let end = match r.end_bound() {
            Bound::Included(&e) => e,
            Bound::Excluded(&e) => match e.checked_sub(1) {
                Some(e) => e,
                None => return (None, Vec::new()),
            },
            Bound::Unbounded => last,
        }
        .min(last);
        if start > end {
            return (None, Vec::new());
        }
        let cf = self.cache_first();
        let disk = (start < cf).then(|| (start, end.min(cf - 1)));
        let from = start.max(cf);
        let cached = if from <= end {
            self.cache
                .range((from - cf) as usize..=(end - cf) as usize)
                .enumerate()
                .map(|(i, d)| (from + i as u64, d.clone()))
                .collect()
        } else {
            Vec::new()
        };
        (disk, cached)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(i: u64, n: usize) -> Arc<[u8]> {
        Arc::from(vec![i as u8; n])
    }

    #[test]
    fn eviction_respects_budget_written_index_and_truncations() {
        let mut m = MemLog::default();
        for i in 1..=10 {
            m.push(i, p(i, 100));
        }
        assert_eq!(m.cache_bytes(), 1000);
        // Nothing written yet: nothing can go.
        m.evict(None, 0, 0);
        assert_eq!(m.cache_bytes(), 1000);
        // Written up to 6: at most 1..=6 may go, down to the budget.
        m.evict(Some(6), 0, 550);
        assert_eq!(m.cache_bytes(), 500);
        assert!(matches!(m.get(5), Some(Slot::OnDisk)));
        assert!(matches!(m.get(6), Some(Slot::Cached(_))));
        m.evict(Some(6), 0, 0);
        assert!(matches!(m.get(6), Some(Slot::OnDisk)));
        assert!(matches!(m.get(7), Some(Slot::Cached(_))));
        // A truncation the writer has not seen blocks eviction.
        m.truncate_from(9);
        m.push(9, p(99, 100));
        m.evict(Some(10), 0, 0);
        assert!(matches!(m.get(9), Some(Slot::Cached(d)) if d[0] == 99));
        m.evict(Some(9), 1, 0);
        assert!(matches!(m.get(9), Some(Slot::OnDisk)));
        assert_eq!(m.last_index(), Some(9));
        let (disk, cached) = m.range(&(3..=9));
        assert_eq!(disk, Some((3, 9)));
        assert!(cached.is_empty());
    }

    #[test]
    fn range_splits_disk_and_cache_and_purge_drops_both() {
        let mut m = MemLog::default();
        for i in 5..=14 {
            m.push(i, p(i, 10));
        }
        m.evict(Some(14), 0, 50); // keeps 10..=14 cached
        let (disk, cached) = m.range(&(7..12));
        assert_eq!(disk, Some((7, 9)));
        assert_eq!(
            cached.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            vec![10, 11]
        );
        m.purge_upto(11);
        assert_eq!(m.first_index(), Some(12));
        assert_eq!(m.cache_bytes(), 30);
        let (disk, cached) = m.range(&(..));
        assert_eq!(disk, None);
        assert_eq!(cached.len(), 3);
    }
}
