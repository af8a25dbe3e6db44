//! SVG plots (plotters): time after Established against N, one plot per
//! receiver, one line per sender (IPv4 /32s) and one hollow marker per sender
//! for the IPv6 /128 sizes.

use std::path::{Path, PathBuf};

use plotters::prelude::*;

use crate::Results;
use crate::lab::Fam;
use crate::receivers::ReceiverKind;
use crate::report::medians;
use crate::senders::SenderKind;

fn color(s: SenderKind) -> RGBColor {
    match s {
        SenderKind::Inject => RGBColor(0xd6, 0x27, 0x28),
        SenderKind::Gobgp => RGBColor(0x1f, 0x77, 0xb4),
        SenderKind::Bird => RGBColor(0x2c, 0xa0, 0x2c),
        SenderKind::Frr => RGBColor(0x94, 0x67, 0xbd),
    }
}

/// Writes `speaker-throughput-<receiver>.svg` files into `dir`.
pub(crate) fn plots(r: &Results, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let med = medians(&r.samples);
    let mut written = Vec::new();
    for rcv in [ReceiverKind::Bird, ReceiverKind::Frr] {
        let pts: Vec<_> = med
            .iter()
            .filter(|(c, m)| c.receiver == rcv && m.after.is_some())
            .map(|(c, m)| (*c, m.after.unwrap_or_default()))
            .collect();
        if pts.is_empty() {
            continue;
        }
        let nmin = pts.iter().map(|(c, _)| c.n).min().unwrap_or(1) as f64;
        let nmax = pts.iter().map(|(c, _)| c.n).max().unwrap_or(1) as f64;
        let tmax = pts.iter().map(|(_, t)| *t).fold(0.0, f64::max);
        let tmin = pts
            .iter()
            .map(|(_, t)| *t)
            .fold(f64::MAX, f64::min)
            .max(0.001);
        let name = format!("speaker-throughput-{}.svg", rcv.name().to_lowercase());
        let path = dir.join(&name);
        {
            let root = SVGBackend::new(&path, (800, 520)).into_drawing_area();
            root.fill(&WHITE)?;
            let mut chart = ChartBuilder::on(&root)
                .caption(
                    format!(
                        "Time from Established to all routes at {} (median)",
                        rcv.name()
                    ),
                    ("sans-serif", 20),
                )
                .margin(15)
                .x_label_area_size(45)
                .y_label_area_size(60)
                .build_cartesian_2d(
                    ((nmin * 0.7)..(nmax * 1.4)).log_scale(),
                    ((tmin * 0.5)..(tmax * 2.0)).log_scale(),
                )?;
            chart
                .configure_mesh()
                .x_desc("prefixes announced (N)")
                .y_desc("seconds after Established")
                .x_label_formatter(&|x| crate::report::fmt_n(x.round() as u64))
                .y_label_formatter(&|y| format!("{y:.2}"))
                .draw()?;
            for s in [
                SenderKind::Inject,
                SenderKind::Gobgp,
                SenderKind::Bird,
                SenderKind::Frr,
            ] {
                let c = color(s);
                let v4: Vec<(f64, f64)> = pts
                    .iter()
                    .filter(|(k, _)| k.sender == s && k.fam == Fam::V4)
                    .map(|(k, t)| (k.n as f64, *t))
                    .collect();
                let v6: Vec<(f64, f64)> = pts
                    .iter()
                    .filter(|(k, _)| k.sender == s && k.fam == Fam::V6)
                    .map(|(k, t)| (k.n as f64, *t))
                    .collect();
                if !v4.is_empty() {
                    chart
                        .draw_series(LineSeries::new(v4.clone(), c.stroke_width(2)))?
                        .label(format!("{} (IPv4 /32)", s.name()))
                        .legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                        });
                    chart.draw_series(v4.iter().map(|&p| Circle::new(p, 4, c.filled())))?;
                }
                if !v6.is_empty() {
                    chart
                        .draw_series(
                            v6.iter()
                                .map(|&p| TriangleMarker::new(p, 7, c.stroke_width(2))),
                        )?
                        .label(format!("{} (IPv6 /128)", s.name()))
                        .legend(move |(x, y)| {
                            TriangleMarker::new((x + 10, y), 6, c.stroke_width(2))
                        });
                }
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()?;
            root.present()?;
        }
        written.push(path);
    }
    Ok(written)
}
