//! Optimistic read-modify-write. A write is conditional on the version it read; when another
//! writer got there first the condition fails, and the loser reads again and tries again, a
//! bounded number of times.
//!
//! Every bounded retry of the domain goes through [`retry_on_conflict`]. Four loops keep their
//! own shape, because they are not "read, change, write, again on a lost race":
//! - DeleteGroup (`user_pool/groups/operations.rs`) is a job of several steps (mark the group,
//!   remove the memberships in batches, delete it) that counts only its lost races;
//! - Sync's writers (`sync/records.rs`, `sync/engine/delete.rs`) wait for another writer's
//!   claim on the dataset, paced by time (`sync::engine::Backoff`), not by a count;
//! - StartUserImportJob and the job runner (`user_pool/import/jobs.rs`) take the pool's import
//!   lock, releasing a stale one once;
//! - the import's row batches (`user_pool/import/rows.rs`) drop the row that failed and write
//!   the rest: no try is repeated.

use crate::error::{Error, Result};
use crate::store::StoreError;

/// The outcome of one try.
#[derive(Debug, PartialEq, Eq)]
pub enum Attempt<T> {
    Done(T),
    /// Another writer got there first: read again and go round.
    Raced,
}

impl<T> Attempt<T> {
    /// A conditional store write's outcome: a failed condition is a lost race.
    pub fn of_write(outcome: std::result::Result<(), StoreError>, done: T) -> Result<Attempt<T>> {
        match outcome {
            Ok(()) => Ok(Attempt::Done(done)),
            Err(StoreError::ConditionFailed { .. }) => Ok(Attempt::Raced),
            Err(e) => Err(e.into()),
        }
    }

    /// The outcome of a save that reports a lost race as ConcurrentModificationException
    /// (`Service::save_user`).
    pub fn of_save(outcome: Result<()>, done: T) -> Result<Attempt<T>> {
        match outcome {
            Ok(()) => Ok(Attempt::Done(done)),
            Err(Error::ConcurrentModificationException(_)) => Ok(Attempt::Raced),
            Err(e) => Err(e),
        }
    }
}

/// Runs `attempt` until it is done, at most `tries` times. `None` when every try lost its race:
/// what that means (an error, or nothing to do) is the caller's to say.
///
/// `attempt` is a closure returning an `async move` block over copies of what it reads (not an
/// async closure: their futures are not `Send` for every lifetime, which the handlers need).
pub async fn retry_on_conflict<T, F, Fut>(tries: usize, mut attempt: F) -> Result<Option<T>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Attempt<T>>>,
{
    for _ in 0..tries {
        if let Attempt::Done(done) = attempt().await? {
            return Ok(Some(done));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .map(|rt| rt.block_on(f))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn goes_round_until_done_and_no_further() {
        let mut tries = 0;
        let done = block_on(retry_on_conflict(5, || {
            tries += 1;
            let n = tries;
            async move { Ok(if n < 3 { Attempt::Raced } else { Attempt::Done(n) }) }
        }));
        assert_eq!(done, Ok(Some(3)));
        assert_eq!(tries, 3);
    }

    #[test]
    fn gives_up_after_its_tries() {
        let mut tries = 0;
        let done = block_on(retry_on_conflict(4, || {
            tries += 1;
            async { Ok(Attempt::<()>::Raced) }
        }));
        assert_eq!(done, Ok(None));
        assert_eq!(tries, 4);
    }

    #[test]
    fn an_error_ends_it_at_once() {
        let mut tries = 0;
        let done = block_on(retry_on_conflict(4, || {
            tries += 1;
            async { Err::<Attempt<()>, _>(Error::internal("store down")) }
        }));
        assert!(done.is_err());
        assert_eq!(tries, 1);
    }

    #[test]
    fn lost_races_are_told_from_failures() {
        let lost = Err(StoreError::ConditionFailed { index: 0 });
        assert_eq!(Attempt::of_write(lost, ()), Ok(Attempt::Raced));
        assert_eq!(Attempt::of_write(Ok(()), 7), Ok(Attempt::Done(7)));
        let lost = Err(Error::ConcurrentModificationException("raced".into()));
        assert_eq!(Attempt::of_save(lost, ()), Ok(Attempt::Raced));
        assert!(Attempt::of_save(Err(Error::internal("down")), ()).is_err());
    }
}
