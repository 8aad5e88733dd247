//! The retry schedule: when a failed delivery is tried again, and when it gives up.
//!
//! The configured schedule lists the delays before the 2nd, 3rd, ... attempt. Each delay is
//! spread by ±20 % so that deliveries queued during an outage do not all retry at the same
//! instant, and never falls short of a delay the receiver announced (`Retry-After`, already
//! clamped by `classify`). Once the schedule is used up the delivery is a dead letter. The
//! randomness is a parameter, so tests are deterministic.

use std::time::Duration;

use rand::Rng;

/// How far a delay may stray from the schedule, either way.
pub const JITTER: f64 = 0.2;

/// A random factor in `[1 - JITTER, 1 + JITTER]`.
pub fn jitter_factor(rng: &mut impl Rng) -> f64 {
    rng.random_range((1.0 - JITTER)..=(1.0 + JITTER))
}

/// The delay before the next attempt, given the attempts made so far (counting the one that
/// just failed), the configured schedule, a delay the receiver announced, and a jitter factor
/// (see [`jitter_factor`]; values outside the allowed spread are pulled back into it).
/// `None` means the schedule is used up: the delivery is dead.
pub fn next_delay(
    schedule: &[Duration],
    attempts_made: u32,
    announced: Option<Duration>,
    jitter: f64,
) -> Option<Duration> {
    let index = attempts_made.max(1) as usize - 1;
    let base = *schedule.get(index)?;
    let factor = jitter.clamp(1.0 - JITTER, 1.0 + JITTER);
    let spread = base.mul_f64(factor);
    Some(match announced {
        Some(a) => spread.max(a),
        None => spread,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn follows_the_schedule_then_gives_up() {
        let schedule = [secs(5), secs(60), secs(300)];
        assert_eq!(next_delay(&schedule, 1, None, 1.0), Some(secs(5)));
        assert_eq!(next_delay(&schedule, 2, None, 1.0), Some(secs(60)));
        assert_eq!(next_delay(&schedule, 3, None, 1.0), Some(secs(300)));
        assert_eq!(next_delay(&schedule, 4, None, 1.0), None);
        assert_eq!(next_delay(&[], 1, None, 1.0), None);
    }

    #[test]
    fn jitter_spreads_by_at_most_a_fifth() {
        let schedule = [secs(100)];
        assert_eq!(next_delay(&schedule, 1, None, 0.8), Some(secs(80)));
        assert_eq!(next_delay(&schedule, 1, None, 1.2), Some(secs(120)));
        assert_eq!(next_delay(&schedule, 1, None, 5.0), Some(secs(120)));
        assert_eq!(next_delay(&schedule, 1, None, 0.0), Some(secs(80)));
        let mut rng = StdRng::seed_from_u64(7);
        let mut seen = Vec::new();
        for _ in 0..1000 {
            let f = jitter_factor(&mut rng);
            assert!((0.8..=1.2).contains(&f));
            seen.push(f);
        }
        assert!(seen.iter().any(|f| *f < 0.9) && seen.iter().any(|f| *f > 1.1));
    }

    #[test]
    fn an_announced_delay_is_respected() {
        let schedule = [secs(5), secs(60)];
        assert_eq!(
            next_delay(&schedule, 1, Some(secs(30)), 1.0),
            Some(secs(30))
        );
        assert_eq!(
            next_delay(&schedule, 2, Some(secs(30)), 1.0),
            Some(secs(60))
        );
        assert_eq!(next_delay(&schedule, 3, Some(secs(30)), 1.0), None);
    }
}
