//! When a failed delivery is tried again. The schedule is a list of
//! delays, one per attempt (Svix's by default, see
//! [`DEFAULT_RETRY_SCHEDULE_MS`](super::DEFAULT_RETRY_SCHEDULE_MS)); each
//! retry's delay is varied by up to ±20%, by an amount derived from the
//! message id and the attempt, so the retries of messages that failed
//! together (an endpoint that was down) spread out instead of arriving
//! together, and the same failure is rescheduled the same way.

use sha2::{Digest, Sha256};

/// How far a retry's delay varies: ±20%.
const JITTER_PERCENT: u64 = 20;

/// The delay before the attempt after `tries` failed ones (counted since
/// the delivery was staged or last replayed), or `None` when that was the
/// last attempt the schedule allows.
pub fn delay_after(schedule_ms: &[u64], tries: u32, message_id: &str) -> Option<u64> {
    let base = *schedule_ms.get(tries as usize)?;
    Some(jittered(base, message_id, tries))
}

fn jittered(base: u64, message_id: &str, attempt: u32) -> u64 {
    let digest = Sha256::new()
        .chain_update(message_id.as_bytes())
        .chain_update(attempt.to_le_bytes())
        .finalize();
    let draw = u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"));
    // A whole number of per-mille in [-200, 200]: integer arithmetic, no
    // float rounding to reason about.
    let span = JITTER_PERCENT * 10;
    let per_mille = (draw % (2 * span + 1)) as i64 - span as i64;
    let delta = base as i128 * per_mille as i128 / 1000;
    (base as i128 + delta).max(0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::DEFAULT_RETRY_SCHEDULE_MS;

    #[test]
    fn retries_follow_the_schedule_within_the_jitter_and_then_stop() {
        let s = DEFAULT_RETRY_SCHEDULE_MS;
        for tries in 1..s.len() as u32 {
            let base = s[tries as usize];
            let d = delay_after(&s, tries, "msg_a").unwrap();
            assert!(
                d >= base * 8 / 10 && d <= base * 12 / 10,
                "after {tries}: {d} vs {base}"
            );
            assert_eq!(d, delay_after(&s, tries, "msg_a").unwrap(), "stable");
        }
        assert_eq!(delay_after(&s, 0, "msg_a"), Some(0), "first is immediate");
        assert_eq!(delay_after(&s, s.len() as u32, "msg_a"), None);
    }

    #[test]
    fn messages_that_failed_together_spread_out() {
        let delays: std::collections::BTreeSet<u64> = (0..100)
            .map(|i| delay_after(&DEFAULT_RETRY_SCHEDULE_MS, 2, &format!("msg_{i}")).unwrap())
            .collect();
        assert!(delays.len() > 50, "only {} distinct delays", delays.len());
    }
}
