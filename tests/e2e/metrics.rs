//! Reading the Prometheus text exposition of `/metrics`: enough to find a series by name and
//! labels, sum a family, and tell whether a family is exported at all.

use std::collections::BTreeMap;

/// One scrape of `/metrics`.
#[derive(Debug, Clone)]
pub struct Metrics {
    text: String,
}

/// One sample line: the series name, its labels, and its value.
struct Sample<'a> {
    name: &'a str,
    labels: BTreeMap<&'a str, &'a str>,
    value: f64,
}

impl Metrics {
    pub fn parse(text: String) -> Metrics {
        Metrics { text }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    fn samples(&self) -> impl Iterator<Item = Sample<'_>> {
        self.text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(parse_line)
    }

    /// The value of the series `name{labels}` (exactly those labels); 0 when it was never
    /// touched, which is how a counter that has not counted anything yet looks.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let wanted: BTreeMap<&str, &str> = labels.iter().copied().collect();
        self.samples()
            .find(|s| s.name == name && s.labels == wanted)
            .map_or(0.0, |s| s.value)
    }

    /// The sum of every series of `name`, whatever its labels.
    pub fn sum(&self, name: &str) -> f64 {
        self.samples()
            .filter(|s| s.name == name)
            .map(|s| s.value)
            .sum()
    }

    /// Every value of `name`, one per label set.
    pub fn values(&self, name: &str) -> Vec<f64> {
        self.samples()
            .filter(|s| s.name == name)
            .map(|s| s.value)
            .collect()
    }

    /// Whether the family `name` is exported: a sample of it, or of its histogram or summary
    /// series (`_bucket`, `_sum`, `_count`).
    pub fn has(&self, name: &str) -> bool {
        self.samples().any(|s| {
            s.name == name
                || s.name
                    .strip_prefix(name)
                    .is_some_and(|rest| matches!(rest, "_bucket" | "_sum" | "_count"))
        })
    }
}

fn parse_line(line: &str) -> Option<Sample<'_>> {
    let (series, value) = line.trim().rsplit_once(' ')?;
    let value = value.parse::<f64>().ok()?;
    let (name, labels) = match series.split_once('{') {
        None => (series, BTreeMap::new()),
        Some((name, rest)) => {
            let labels = rest
                .strip_suffix('}')?
                .split(',')
                .filter(|pair| !pair.is_empty())
                .filter_map(|pair| {
                    let (k, v) = pair.split_once('=')?;
                    Some((k.trim(), v.trim().trim_matches('"')))
                })
                .collect();
            (name, labels)
        }
    };
    Some(Sample {
        name,
        labels,
        value,
    })
}

#[test]
fn a_scrape_is_read_by_name_and_labels() {
    let m = Metrics::parse(
        "# TYPE syncledger_writes_total counter\n\
         syncledger_writes_total{outcome=\"succeeded\"} 3\n\
         syncledger_writes_total{outcome=\"failed\"} 1\n\
         syncledger_queue_depth 0\n\
         syncledger_latency_seconds_bucket{le=\"0.5\"} 2\n"
            .to_string(),
    );
    assert_eq!(
        m.value("syncledger_writes_total", &[("outcome", "succeeded")]),
        3.0
    );
    assert_eq!(m.sum("syncledger_writes_total"), 4.0);
    assert_eq!(m.value("syncledger_retries_total", &[]), 0.0);
    assert!(m.has("syncledger_queue_depth"));
    assert!(m.has("syncledger_latency_seconds"));
    assert!(!m.has("syncledger_writes"));
}
