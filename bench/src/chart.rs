//! The throughput chart `refill bench --chart` writes: GiB/s against chunk
//! size, one line per engine and workload, for one payload size.

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
