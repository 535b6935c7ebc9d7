//! The run as a picture: queue depth, oldest pending age and RSS over time, one panel each on
//! one time axis, with the phases (intake, outage, drain) marked. SVG through `plotters`.

use std::path::Path;

use plotters::prelude::*;

use crate::observe::Sample;

/// One panel's value of a sample.
type Series = Box<dyn Fn(&Sample) -> f64>;

pub fn draw(
    path: &Path,
    title: &str,
    samples: &[Sample],
    phase_starts: &[(f64, &str)],
) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (1000, 900)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, body) = root.split_vertically(40);
    top.titled(title, ("sans-serif", 20))?;
    let panels = body.split_evenly((3, 1));
    let t_max = samples.last().map_or(1.0, |s| s.t).max(1.0);
    let series: [(&str, &str, Series, RGBColor); 3] = [
        (
            "queue depth",
            "rows",
            Box::new(|s: &Sample| s.depth.1.max(0) as f64),
            BLUE,
        ),
        ("oldest pending age", "s", Box::new(|s: &Sample| s.age), RED),
        (
            "RSS (all processes)",
            "MiB",
            Box::new(|s: &Sample| s.rss.iter().sum()),
            RGBColor(0, 140, 60),
        ),
    ];
    for (panel, (name, unit, value, color)) in panels.iter().zip(series) {
        let y_max = samples.iter().map(&value).fold(1.0_f64, f64::max) * 1.1;
        let mut chart = ChartBuilder::on(panel)
            .caption(name, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..t_max, 0.0..y_max)?;
        chart
            .configure_mesh()
            .x_desc("seconds since the first webhook")
            .y_desc(unit)
            .light_line_style(WHITE)
            .draw()?;
        chart.draw_series(LineSeries::new(
            samples.iter().map(|s| (s.t, value(s))),
            color.stroke_width(2),
        ))?;
        // Labels step down so that phases a few seconds apart (the outage) stay readable.
        for (n, (at, label)) in phase_starts.iter().enumerate() {
            chart.draw_series(LineSeries::new([(*at, 0.0), (*at, y_max)], BLACK.mix(0.4)))?;
            chart.draw_series(std::iter::once(Text::new(
                label.to_string(),
                (*at + t_max * 0.005, y_max * (0.92 - 0.1 * n as f64)),
                ("sans-serif", 13),
            )))?;
        }
    }
    root.present()?;
    Ok(())
}
