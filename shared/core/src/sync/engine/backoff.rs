//! Pauses between tries of work that lost a race with a concurrent writer.

use crate::service::Service;
use std::time::{Duration, Instant};

/// How long UpdateRecords keeps retrying a commit it lost to a concurrent writer of other keys
/// (a stale record is a conflict at once), from the start of the call. Inside the function's
/// 29-second timeout and API Gateway's 30 seconds, with room left for a SyncTrigger.
pub(crate) const RACE_BUDGET: Duration = Duration::from_secs(10);
/// Backoff after a lost commit: a random pause below `RACE_PAUSE_FIRST · 2^lost`, at most
/// `RACE_PAUSE_CAP` ("full jitter", so racing writers spread out instead of meeting again).
const RACE_PAUSE_FIRST: Duration = Duration::from_millis(10);
const RACE_PAUSE_CAP: Duration = Duration::from_secs(1);

/// Retries of work a concurrent writer got in before: exponential backoff with full jitter,
/// until [`RACE_BUDGET`] from the start of the request has gone.
pub(crate) struct Backoff {
    deadline: Instant,
    pub(crate) lost: u32,
}

impl Backoff {
    pub(crate) fn new() -> Self {
        Backoff { deadline: Instant::now() + RACE_BUDGET, lost: 0 }
    }

    /// Waits before the next try; `false` (at once) when the pause would end past the budget.
    pub(crate) async fn pause(&mut self, svc: &Service) -> bool {
        let pause = full_jitter(svc, self.lost);
        self.lost = self.lost.saturating_add(1);
        if Instant::now() + pause >= self.deadline {
            return false;
        }
        tokio::time::sleep(pause).await;
        true
    }
}

/// The pause after the `lost`-th lost race (from 0): uniform in [0, min(cap, first · 2^lost)].
fn full_jitter(svc: &Service, lost: u32) -> Duration {
    let ceiling = RACE_PAUSE_FIRST.saturating_mul(1u32 << lost.min(16)).min(RACE_PAUSE_CAP);
    let mut b = [0u8; 8];
    svc.rng.fill(&mut b);
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(u64::from_le_bytes(b) % nanos.saturating_add(1))
}
