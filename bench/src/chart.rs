//! The charts `refill bench` writes: throughput (`--chart`, GiB/s against
//! chunk size, one line per engine and workload, for one payload size) and
//! per-call latency (`--latency-chart`, refill beside the minimal binding).

use std::collections::BTreeMap;
use std::path::Path;

use plotters::prelude::*;

use crate::workload::Measurement;

/// Writes an SVG chart of `rows` (those of `payload_bytes`) to `path`.
pub fn write_svg(path: &Path, payload_bytes: u64, rows: &[Measurement]) -> Result<(), String> {
    let mut series: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for m in rows.iter().filter(|m| m.payload_bytes == payload_bytes) {
        let name = match m.engine {
            Some(engine) => format!("{engine} {}", m.workload),
            None => m.workload.to_string(),
        };
        series
            .entry(name)
            .or_default()
            .push((f64::from(m.chunk).log2(), m.gib_per_s()));
    }
    if series.is_empty() {
        return Err(format!("no measurement of {payload_bytes} bytes to chart"));
    }
    let (x_min, x_max) = series
        .values()
        .flatten()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &(x, _)| {
            (lo.min(x), hi.max(x))
        });
    let y_max = series
        .values()
        .flatten()
        .fold(0.0f64, |hi, &(_, y)| hi.max(y));

    let root = SVGBackend::new(path, (1100, 650)).into_drawing_area();
    let failed = |e: &dyn std::fmt::Display| format!("cannot draw {}: {e}", path.display());
    root.fill(&WHITE).map_err(|e| failed(&e))?;
    let title = format!(
        "refill streaming throughput, {} MiB payload",
        payload_bytes >> 20
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(x_min - 0.3..x_max + 0.3, 0.0..y_max * 1.1)
        .map_err(|e| failed(&e))?;
    chart
        .configure_mesh()
        .x_desc("chunk size")
        .y_desc("GiB/s")
        .x_labels(((x_max - x_min) as usize) + 1)
        .x_label_formatter(&|x| {
            let bytes = 2f64.powf(x.round()) as u64;
            if bytes >= 1 << 20 {
                format!("{} MiB", bytes >> 20)
            } else {
                format!("{} KiB", bytes >> 10)
            }
        })
        .draw()
        .map_err(|e| failed(&e))?;
    for (i, (name, mut points)) in series.into_iter().enumerate() {
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(|e| failed(&e))?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| failed(&e))?;
    root.present().map_err(|e| failed(&e))?;
    Ok(())
}

/// Writes an SVG bar chart of per-call latency to `path`: for each case
/// `(name, refill µs, minimal µs)`, refill's bar beside the minimal
/// binding's, on a logarithmic axis.
pub fn write_latency_svg(path: &Path, cases: &[(String, f64, f64)]) -> Result<(), String> {
    if cases.is_empty() {
        return Err("no per-call latency measured to chart (run the per-call part)".into());
    }
    let failed = |e: &dyn std::fmt::Display| format!("cannot draw {}: {e}", path.display());
    let y_max = cases
        .iter()
        .fold(1.0f64, |hi, &(_, ours, theirs)| hi.max(ours).max(theirs));
    let y_min = cases
        .iter()
        .fold(y_max, |lo, &(_, ours, theirs)| lo.min(ours).min(theirs))
        .max(0.1)
        / 2.0;
    let root = SVGBackend::new(path, (1100, 650)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| failed(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "refill call latency: fresh instance, stream, call, result",
            ("sans-serif", 22),
        )
        .margin(15)
        .x_label_area_size(90)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..cases.len() as f64, (y_min..y_max * 2.0).log_scale())
        .map_err(|e| failed(&e))?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(cases.len() * 2 + 1)
        .x_label_formatter(&|x| {
            let i = x.floor() as usize;
            match cases.get(i) {
                Some((name, ..)) if (x - x.floor() - 0.5).abs() < 0.26 => name.clone(),
                _ => String::new(),
            }
        })
        .y_desc("µs per call (log)")
        .draw()
        .map_err(|e| failed(&e))?;
    for (series, (label, color)) in [("refill", BLUE), ("minimal binding", RED)]
        .into_iter()
        .enumerate()
    {
        let bars = cases.iter().enumerate().map(move |(i, (_, ours, theirs))| {
            let value = if series == 0 { *ours } else { *theirs };
            let left = i as f64 + 0.15 + series as f64 * 0.35;
            Rectangle::new([(left, y_min), (left + 0.35, value)], color.filled())
        });
        chart
            .draw_series(bars)
            .map_err(|e| failed(&e))?
            .label(label)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 15, y + 5)], color.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| failed(&e))?;
    root.present().map_err(|e| failed(&e))?;
    Ok(())
}
