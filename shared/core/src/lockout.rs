//! Backoff after wrong guesses of a secret (a password, an MFA code, a verification code): a
//! few free failures, then lockouts doubling from one second up to a cap. The count is
//! forgotten only after a quiet time, so waiting out a lockout does not buy fresh free guesses.

/// One backoff schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Failures allowed before the first lockout.
    pub free_failures: u32,
    /// The longest lockout.
    pub max_lockout_secs: i64,
    /// Quiet time (after the last failure and its lockout) after which the count starts over.
    pub forget_after_secs: i64,
}

impl Backoff {
    /// `(failures, locked_until_ms)` after one more failure at `now_ms`, given the count, the
    /// time of the last failure and the end of the current lockout (epoch ms).
    pub fn after_failure(
        &self,
        failures: u32,
        last_failed_ms: i64,
        locked_until_ms: i64,
        now_ms: i64,
    ) -> (u32, i64) {
        let quiet_since = last_failed_ms.max(locked_until_ms);
        let failures = if now_ms.saturating_sub(quiet_since) > self.forget_after_secs.saturating_mul(1000) {
            1
        } else {
            failures.saturating_add(1)
        };
        if failures < self.free_failures {
            return (failures, locked_until_ms);
        }
        let doublings = (failures - self.free_failures).min(40);
        let secs = (1i64 << doublings).min(self.max_lockout_secs.max(0));
        (failures, now_ms + secs * 1000)
    }

    /// The most failures an attacker can have checked against one account in `horizon_secs`:
    /// the best of keeping up the pace the schedule allows (a guess the moment each lockout
    /// ends) and of stopping after `k` failures to wait for the count to be forgotten, for
    /// every `k`. None when the schedule never locks.
    pub fn max_failures_in(&self, horizon_secs: i64) -> Option<u64> {
        if self.max_lockout_secs <= 0 {
            return None;
        }
        let horizon_ms = horizon_secs.saturating_mul(1000);
        let strategies = std::iter::once(None).chain((1..=64).map(Some));
        strategies.map(|stop_after| self.failures_with(horizon_ms, stop_after)).max()
    }

    fn failures_with(&self, horizon_ms: i64, stop_after: Option<u32>) -> u64 {
        let (mut failures, mut locked, mut now, mut count) = (0u32, 0i64, 0i64, 0u64);
        let mut last = i64::MIN / 2;
        while now < horizon_ms {
            (failures, locked) = self.after_failure(failures, last, locked, now);
            last = now;
            count += 1;
            now = locked.max(now + 1);
            if stop_after.is_some_and(|k| failures >= k) {
                // Quiet until the count is forgotten.
                now += self.forget_after_secs * 1000 + 1;
            }
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_failures_then_doubling_up_to_the_cap() {
        let b = Backoff { free_failures: 5, max_lockout_secs: 3600, forget_after_secs: 86_400 };
        let (mut failures, mut locked) = (0, 0);
        let mut lockouts = Vec::new();
        for i in 0..20 {
            let now = i * 10_000_000;
            (failures, locked) = b.after_failure(failures, now, locked, now);
            lockouts.push((locked - now).max(0) / 1000);
        }
        assert_eq!(&lockouts[..4], &[0, 0, 0, 0]);
        assert_eq!(&lockouts[4..10], &[1, 2, 4, 8, 16, 32]);
        assert_eq!(lockouts[15], 2048);
        assert_eq!(lockouts[16], 3600);
        assert_eq!(lockouts[19], 3600);
    }

    #[test]
    fn forgotten_only_after_the_quiet_time() {
        let b = Backoff { free_failures: 5, max_lockout_secs: 900, forget_after_secs: 900 };
        let (f, l) = b.after_failure(9, 0, 100_000, 100_000 + 900_000);
        assert_eq!(f, 10);
        assert!(l > 0);
        let (f, _) = b.after_failure(9, 0, 100_000, 100_000 + 900_001);
        assert_eq!(f, 1);
    }

    #[test]
    fn thirty_days_of_code_guessing_under_the_defaults() {
        // The figure docs/security.md states: 4 failures unlocked, then 12 doubling lockouts
        // (1 s … 2048 s, 4,095 s in all), then one guess an hour.
        let b = Backoff { free_failures: 5, max_lockout_secs: 3600, forget_after_secs: 86_400 };
        let n = b.max_failures_in(30 * 86_400).unwrap();
        assert_eq!(n, 4 + 12 + (30 * 86_400 - 4095) as u64 / 3600 + 1);
        assert_eq!(n, 735);
    }

    #[test]
    fn a_short_quiet_time_is_the_weak_point_of_the_password_schedule() {
        // Cognito's password schedule (15-minute cap, forgotten after 15 quiet minutes): the
        // best is 11 failures, then waiting out the quiet time: about 27,700 a month.
        let b = Backoff { free_failures: 5, max_lockout_secs: 900, forget_after_secs: 900 };
        let n = b.max_failures_in(30 * 86_400).unwrap();
        assert!((27_000..28_500).contains(&n), "{n}");
        assert_eq!(Backoff { max_lockout_secs: 0, ..b }.max_failures_in(10), None);
    }
}
