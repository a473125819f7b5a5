//! Back-pressure on client requests: at most [`limit`] requests read from clients and not yet
//! answered, server-wide (ZooKeeper's `globalOutstandingLimit`, default 1000, and
//! `requestThrottleLimit` when set). A connection that reads a request while the limit is reached
//! stops reading until an earlier request is answered, so the client's requests wait in its own
//! socket buffers and in TCP, as with ZooKeeper's throttled connections, instead of in server
//! memory. Nothing is dropped or refused.
//!
//! `requestThrottleStallTime` and `requestThrottleDropStale` need no counterpart: a waiting
//! connection holds no request in the server (ZooKeeper's stale requests are those of
//! connections that closed while their request was queued), and it resumes as soon as a slot is
//! free rather than after a stall period.

use rzk_config::ServerConfig;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub struct Throttle {
    slots: Arc<Semaphore>,
    limit: usize,
    /// Times a connection had to wait for a slot (`request_throttle_wait_count`).
    waits: AtomicU64,
}

/// The effective limit: the smaller of `globalOutstandingLimit` and a non-zero
/// `requestThrottleLimit`.
pub fn limit(cfg: &ServerConfig) -> usize {
    let global = cfg.global_outstanding_limit.max(1) as usize;
    match cfg.request_throttle_limit as usize {
        0 => global,
        r => r.min(global),
    }
}

impl Throttle {
    pub fn new(cfg: &ServerConfig) -> Self {
        let limit = limit(cfg);
        Throttle {
            slots: Arc::new(Semaphore::new(limit)),
            limit,
            waits: AtomicU64::new(0),
        }
    }

    /// A slot for one request; held until the request is answered (dropped).
    pub async fn slot(&self) -> OwnedSemaphorePermit {
        match self.slots.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                self.waits.fetch_add(1, Relaxed);
                match self.slots.clone().acquire_owned().await {
                    Ok(p) => p,
                    // The semaphore is never closed; wait forever rather than let a request by.
                    Err(_) => std::future::pending().await,
                }
            }
        }
    }

    /// Requests read and not yet answered.
    pub fn outstanding(&self) -> usize {
        self.limit - self.slots.available_permits()
    }

    pub fn waits(&self) -> u64 {
        self.waits.load(Relaxed)
    }

    pub fn limit(&self) -> usize {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn cfg(global: u32, throttle: u32) -> ServerConfig {
        let mut c = ServerConfig::default_standalone(std::path::Path::new("/tmp"));
        c.global_outstanding_limit = global;
        c.request_throttle_limit = throttle;
        c
    }

    #[test]
    fn limit_is_the_smaller_non_zero_setting() {
        assert_eq!(limit(&cfg(1000, 0)), 1000);
        assert_eq!(limit(&cfg(1000, 10)), 10);
        assert_eq!(limit(&cfg(5, 10)), 5);
    }

    #[tokio::test]
    async fn a_request_waits_for_a_free_slot() {
        let t = Arc::new(Throttle::new(&cfg(2, 0)));
        let a = t.slot().await;
        let _b = t.slot().await;
        assert_eq!(t.outstanding(), 2);
        let t2 = t.clone();
        let waiter = tokio::spawn(async move { t2.slot().await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !waiter.is_finished(),
            "third request got a slot beyond the limit"
        );
        assert_eq!(t.waits(), 1);
        drop(a);
        let c = tokio::time::timeout(Duration::from_secs(2), waiter)
            .await
            .expect("slot freed")
            .unwrap();
        assert_eq!(t.outstanding(), 2);
        drop(c);
        assert_eq!(t.outstanding(), 1);
    }
}
