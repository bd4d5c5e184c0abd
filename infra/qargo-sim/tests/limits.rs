//! The two limiters on their own, on explicit instants.

use std::time::{Duration, Instant};

use qargo_sim::limits::{SlidingLog, TokenBucket};
use qargo_sim::{ApiLimit, TokenLimit};

#[test]
fn sliding_log_allows_five_per_rolling_hour() {
    let start = Instant::now();
    let mut log = SlidingLog::new(TokenLimit::qargo());
    for i in 0..5 {
        assert!(log.admit(start + Duration::from_secs(i * 60)).is_ok(), "call {i}");
    }
    let refused = log.admit(start + Duration::from_secs(600)).unwrap_err();
    assert_eq!(refused.0, Duration::from_secs(3000), "the first call leaves the window at 3600 s");
    assert_eq!(refused.header_seconds(), 3000);
    assert!(log.admit(start + Duration::from_secs(3600)).is_ok(), "the first call left the window");
    assert!(log.admit(start + Duration::from_secs(3601)).is_err(), "the second is still in it");
}

#[test]
fn bucket_bursts_three_then_refills_two_per_second() {
    let start = Instant::now();
    let mut bucket = TokenBucket::new(ApiLimit::qargo());
    for i in 0..3 {
        assert!(bucket.admit(start).is_ok(), "burst request {i}");
    }
    let refused = bucket.admit(start).unwrap_err();
    assert_eq!(refused.0, Duration::from_millis(500));
    assert_eq!(refused.header_seconds(), 1, "Retry-After is whole seconds, at least 1");
    assert!(bucket.admit(start + Duration::from_millis(500)).is_ok());
    assert!(bucket.admit(start + Duration::from_millis(500)).is_err());
    assert!(bucket.admit(start + Duration::from_millis(1000)).is_ok());
    // A long pause refills to the burst, not beyond.
    let later = start + Duration::from_secs(60);
    for _ in 0..3 {
        assert!(bucket.admit(later).is_ok());
    }
    assert!(bucket.admit(later).is_err());
}

#[test]
fn sustained_rate_is_two_per_second() {
    let start = Instant::now();
    let mut bucket = TokenBucket::new(ApiLimit::qargo());
    let mut admitted = 0;
    // One request every 100 ms for 10 s: the burst plus 2 per second.
    for tick in 0..100 {
        if bucket.admit(start + Duration::from_millis(tick * 100)).is_ok() {
            admitted += 1;
        }
    }
    assert!((21..=23).contains(&admitted), "admitted {admitted}");
}
