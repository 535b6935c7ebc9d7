//! `syncledger archive --before <date|position> --to DIR`: old events to verified segment files,
//! then out of the live database (docs/log.md, "Archiving"; docs/operations.md).

use std::path::PathBuf;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use syncledger_engine::snapshots::StreamSnapshots;
use syncledger_store::Store;
use syncledger_store::archive::{ArchiveProgress, ArchiveReport, ArchiveRequest, Before};

/// `--before`: a position (digits), a date (`2026-12-01`, midnight UTC) or an RFC 3339 time.
pub fn parse_before(text: &str) -> anyhow::Result<Before> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let position = text
            .parse::<i64>()
            .with_context(|| format!("--before {text}: position out of range"))?;
        return Ok(Before::Position(position));
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let midnight = date.and_hms_opt(0, 0, 0).context("a date's midnight")?;
        return Ok(Before::Time(midnight.and_utc()));
    }
    match DateTime::parse_from_rfc3339(text) {
        Ok(time) => Ok(Before::Time(time.with_timezone(&Utc))),
        Err(_) => anyhow::bail!(
            "--before {text:?}: expected a position (digits), a date (2026-12-01) or an RFC 3339 \
             time (2026-12-01T00:00:00Z)"
        ),
    }
}

/// Runs one archive with a progress bar on stderr; returns what it did.
pub async fn run(store: &Store, before: Before, dir: PathBuf) -> anyhow::Result<ArchiveReport> {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len}")?.progress_chars("=> "),
    );
    let progress = |p: ArchiveProgress| match p {
        ArchiveProgress::Written { done, total } => {
            bar.set_message("archived");
            bar.set_length(total);
            bar.set_position(done);
        }
        ArchiveProgress::Snapshotted { done, total } => {
            bar.set_message("snapshots");
            bar.set_length(total);
            bar.set_position(done);
        }
        ArchiveProgress::Removed { done } => {
            bar.set_message("removed");
            bar.set_length(done.max(bar.length().unwrap_or(0)));
            bar.set_position(done);
        }
    };
    let request = ArchiveRequest { before, dir };
    let report = store
        .archives()
        .archive(&request, &StreamSnapshots, &progress)
        .await
        .context("archiving")?;
    bar.finish_and_clear();
    Ok(report)
}

/// The report as lines for a person.
pub fn summary(report: &ArchiveReport, dir: &std::path::Path) -> String {
    let mut lines = Vec::new();
    match (report.segments.first(), report.segments.last()) {
        (Some(first), Some(last)) => lines.push(format!(
            "archived {} events (positions {}..={}) to {} in segment{} {:04}{}",
            report.archived,
            first.from_position,
            last.to_position,
            dir.display(),
            if report.segments.len() == 1 { "" } else { "s" },
            first.segment,
            if report.segments.len() == 1 {
                String::new()
            } else {
                format!("-{:04}", last.segment)
            },
        )),
        _ => lines.push("nothing new to archive before that point".to_string()),
    }
    if report.snapshots > 0 {
        lines.push(format!("snapshotted {} streams", report.snapshots));
    }
    lines.push(format!(
        "removed {} events from the live database; archived through position {}",
        report.removed,
        report
            .through
            .map_or("(none)".to_string(), |p| p.to_string())
    ));
    lines.push(format!(
        "live database: {} -> {} bytes",
        report.bytes_before, report.bytes_after
    ));
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn before_reads_positions_dates_and_times_and_refuses_the_rest() {
        assert_eq!(parse_before("1200").unwrap(), Before::Position(1200));
        let midnight = "2026-12-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(parse_before("2026-12-01").unwrap(), Before::Time(midnight));
        assert_eq!(
            parse_before("2026-12-01T00:00:00Z").unwrap(),
            Before::Time(midnight)
        );
        assert!(parse_before("yesterday").is_err());
        assert!(parse_before("99999999999999999999").is_err());
    }
}
