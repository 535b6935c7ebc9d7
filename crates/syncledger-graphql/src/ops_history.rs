//! `opsHistory`: one tenant's minutes for the operations page, served from the ledger's
//! `ops_samples` (kept a day by the sampler) so the chart has history the moment a tab opens.
//!
//! A stored minute holds the deepest and last sampled queue and the log's running totals of
//! intake and writes at its first and last samples; a minute's own intake and writes are the
//! differences from the minute sampled before it, or, for the first minute kept (the sampler
//! just started), between its own first and last samples ([`minutes`], pure): never the whole
//! history's totals.

use async_graphql::SimpleObject;
use chrono::{DateTime, Utc};
use syncledger_store::OpsSample;

/// The most minutes one answer holds: the day the sampler keeps.
pub const MAX_MINUTES: i64 = 24 * 60;

/// One minute of one tenant's sync.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct OpsMinute {
    /// The minute's start (UTC).
    pub minute: DateTime<Utc>,
    /// The deepest pending queue sampled in the minute.
    pub queue_depth_max: i64,
    /// The queue at the minute's last sample.
    pub queue_depth_last: i64,
    /// Changes observed (webhooks, resyncs) during the minute (for the first minute kept, since
    /// its first sample); null when the totals went down (a projection rebuilt meanwhile).
    pub intake: Option<i64>,
    /// Writes that succeeded during the minute; null as for `intake`.
    pub writes_succeeded: Option<i64>,
    /// Write attempts that failed during the minute; null as for `intake`.
    pub writes_failed: Option<i64>,
}

/// The minutes from `from` on, from samples in minute order (the one before `from`, if any,
/// first). Totals that went down (a projection rebuilt meanwhile) give no figure for that minute.
pub fn minutes(samples: &[OpsSample], from: i64) -> Vec<OpsMinute> {
    let mut out = Vec::new();
    let mut before: Option<&OpsSample> = None;
    for s in samples {
        if s.minute >= from {
            // From the last total of the minute before, else from this minute's first sample.
            let delta = |last: i64, first: i64, then: fn(&OpsSample) -> i64| {
                Some(last - before.map_or(first, then)).filter(|d| *d >= 0)
            };
            out.push(OpsMinute {
                minute: DateTime::from_timestamp(s.minute * 60, 0).unwrap_or_default(),
                queue_depth_max: s.depth_max,
                queue_depth_last: s.depth_last,
                intake: delta(s.intake_total, s.intake_first, |b| b.intake_total),
                writes_succeeded: delta(s.writes_ok_total, s.writes_ok_first, |b| {
                    b.writes_ok_total
                }),
                writes_failed: delta(s.writes_failed_total, s.writes_failed_first, |b| {
                    b.writes_failed_total
                }),
            });
        }
        before = Some(s);
    }
    out
}

/// The minute `at` falls in, as the sampler numbers them.
pub fn minute_of(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(minute: i64, depth: i64, intake: i64, ok: i64, failed: i64) -> OpsSample {
        OpsSample {
            tenant: "acme".into(),
            minute,
            depth_max: depth,
            depth_last: 0,
            intake_total: intake,
            writes_ok_total: ok,
            writes_failed_total: failed,
            intake_first: intake - 10,
            writes_ok_first: ok - 4,
            writes_failed_first: failed,
        }
    }

    #[test]
    fn a_minutes_figures_are_the_differences_from_the_minute_sampled_before() {
        let samples = [
            sample(9, 0, 100, 90, 1),
            sample(10, 60, 160, 140, 1),
            sample(12, 2, 170, 160, 3),
        ];
        let got = minutes(&samples, 10);
        assert_eq!(
            got.len(),
            2,
            "the minute before the window only gives the base"
        );
        assert_eq!(got[0].queue_depth_max, 60);
        assert_eq!(
            (got[0].intake, got[0].writes_succeeded, got[0].writes_failed),
            (Some(60), Some(50), Some(0))
        );
        // A minute without samples in between: the next one counts from the last kept.
        assert_eq!(got[1].intake, Some(10));
        assert_eq!(got[1].minute.timestamp(), 12 * 60);
    }

    #[test]
    fn the_first_minute_kept_counts_from_its_own_first_sample_and_a_total_that_fell_gives_none() {
        let got = minutes(&[sample(10, 1, 100, 5, 0), sample(11, 0, 40, 6, 0)], 0);
        assert_eq!(
            (got[0].intake, got[0].writes_succeeded),
            (Some(10), Some(4)),
            "within the minute, never the whole history's 100"
        );
        assert_eq!(got[1].intake, None, "a rebuilt projection counted again");
        assert_eq!(got[1].writes_succeeded, Some(1));
    }
}
