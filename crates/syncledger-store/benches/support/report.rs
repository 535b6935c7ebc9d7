//! The benchmark's table.

pub struct Line {
    backend: String,
    what: String,
    store: f64,
    raw: f64,
    target: f64,
}

impl Line {
    pub fn new(backend: &str, what: &str, store: f64, raw: f64, target: f64) -> Line {
        let line = Line {
            backend: backend.into(),
            what: what.into(),
            store,
            raw,
            target,
        };
        eprintln!("{}", line.render());
        line
    }

    fn render(&self) -> String {
        let ratio = self.store / self.raw;
        let verdict = if self.target == 0.0 {
            "-".to_owned()
        } else if ratio >= self.target {
            format!(">= {:.0}% met", self.target * 100.0)
        } else {
            format!(">= {:.0}% MISSED", self.target * 100.0)
        };
        format!(
            "| {:8} | {:36} | {:>11.0} | {:>11.0} | {:>5.0}% | {:16} |",
            self.backend,
            self.what,
            self.store,
            self.raw,
            ratio * 100.0,
            verdict
        )
    }
}

#[derive(Default)]
pub struct Report {
    lines: Vec<Line>,
}

impl Report {
    pub fn push(&mut self, line: Line) {
        self.lines.push(line);
    }

    pub fn print(&self) {
        println!(
            "| backend  | measurement (events/s)               |       store | raw ceiling | ratio | target           |"
        );
        println!(
            "|----------|--------------------------------------|-------------|-------------|-------|------------------|"
        );
        for line in &self.lines {
            println!("{}", line.render());
        }
    }
}
