use chrono::TimeZone;

use super::*;

#[test]
fn a_run_archives_what_was_recorded_more_than_the_days_before_it() {
    let now = Utc.with_ymd_and_hms(2026, 12, 6, 13, 0, 0).unwrap();
    assert_eq!(
        archive_before(now, 90),
        Utc.with_ymd_and_hms(2026, 9, 7, 13, 0, 0).unwrap()
    );
    assert_eq!(archive_before(now, 0), now);
    // The largest value validation lets through stays in range.
    assert!(archive_before(now, 36_500) < now);
}

#[test]
fn the_first_run_comes_soon_after_start() {
    let hour = Duration::from_secs(3600);
    assert_eq!(first_delay(hour), FIRST_RUN_AFTER);
    assert_eq!(first_delay(Duration::from_secs(2)), Duration::from_secs(2));
}

#[test]
fn failures_are_retried_sooner_backing_off_to_the_interval() {
    let hour = Duration::from_secs(3600);
    assert_eq!(next_delay(hour, 0), hour);
    let waits: Vec<u64> = (1..=8).map(|f| next_delay(hour, f).as_secs()).collect();
    assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3600]);
    // Any number of failures neither overflows nor passes the interval.
    assert_eq!(next_delay(hour, u32::MAX), hour);
    let short = Duration::from_secs(5);
    assert_eq!(next_delay(short, 1), short);
}
