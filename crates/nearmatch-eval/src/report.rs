//! Plots (SVG and PNG, drawn with plotters) and the self-contained `report.html` that inlines
//! the SVGs.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::{table, Error, Results};

/// One colour per variant column.
const COLOURS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

fn colour(i: usize) -> RGBColor {
    COLOURS[i % COLOURS.len()]
}

fn plot_err(e: impl std::fmt::Display) -> Error {
    Error::Plot(e.to_string())
}

/// The font of every PNG plot (DejaVu Sans, `fonts/LICENSE`), compiled in so that nothing is read
/// from the system at run time; SVG plots keep text as text and need none.
const FONT: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

/// One plot in both formats.
struct Plot {
    svg: String,
    png: Vec<u8>,
}

/// Encodes plotters' RGB8 buffer as PNG.
fn encode_png(rgb: &[u8], (w, h): (u32, u32)) -> Result<Vec<u8>, Error> {
    use image::codecs::png::PngEncoder;
    use image::{ExtendedColorType, ImageEncoder};
    let mut out = Vec::new();
    PngEncoder::new(&mut out)
        .write_image(rgb, w, h, ExtendedColorType::Rgb8)
        .map_err(plot_err)?;
    Ok(out)
}

/// Draws `$body` (which uses `$root`, a drawing area, and ends with `present()`) once on an SVG
/// backend and once on a bitmap backend: the same drawing code for both formats, whatever the
/// backend type.
macro_rules! render {
    ($size:expr, |$root:ident| $body:block) => {{
        let size: (u32, u32) = $size;
        let mut svg = String::new();
        {
            let $root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
            $body
        }
        let mut rgb = vec![255u8; size.0 as usize * size.1 as usize * 3];
        {
            let $root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
            $body
        }
        Ok(Plot {
            svg,
            png: encode_png(&rgb, size)?,
        })
    }};
}

/// TPR at the first fixed threshold, transform × variant.
fn heatmap(r: &Results) -> Result<Plot, Error> {
    let (nt, nv) = (r.transforms.len(), r.variants.len());
    render!((900, 60 + 16 * nt as u32 + 80), |root| {
        root.fill(&WHITE).map_err(plot_err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "TPR at PDQ ≤ 31 (others at 31/256 of their bits)",
                ("sans-serif", 18),
            )
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(110)
            .build_cartesian_2d(0f64..nv as f64, 0f64..nt as f64)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .disable_y_axis()
            .draw()
            .map_err(plot_err)?;
        // Cell labels drawn at the cells' pixel positions (the mesh labels sit at round
        // numbers, not at category centres).
        let font = ("sans-serif", 11).into_font();
        for (ti, t) in r.transforms.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(0.0, (nt - ti) as f64 - 0.5));
            root.draw(&Text::new(t.id.clone(), (px - 105, py - 6), font.clone()))
                .map_err(plot_err)?;
        }
        for (vi, v) in r.variants.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(vi as f64 + 0.1, 0.0));
            root.draw(&Text::new(v.label, (px, py + 8), font.clone()))
                .map_err(plot_err)?;
        }
        for (vi, m) in r.metrics.iter().enumerate() {
            for (ti, tm) in m.transforms.iter().enumerate() {
                let p = tm.tpr_fixed[0].rate;
                // White (0) to dark blue (1).
                let c = RGBColor(
                    (255.0 * (1.0 - 0.85 * p)) as u8,
                    (255.0 * (1.0 - 0.6 * p)) as u8,
                    255,
                );
                let y = (nt - 1 - ti) as f64;
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(vi as f64, y), (vi as f64 + 1.0, y + 1.0)],
                        c.filled(),
                    )))
                    .map_err(plot_err)?;
                let text_colour = if p > 0.6 { WHITE } else { BLACK };
                chart
                    .draw_series(std::iter::once(Text::new(
                        format!("{:.0}", 100.0 * p),
                        (vi as f64 + 0.4, y + 0.75),
                        ("sans-serif", 11).into_font().color(&text_colour),
                    )))
                    .map_err(plot_err)?;
            }
        }
        root.present().map_err(plot_err)?;
    })
}

/// Positive (all transforms pooled) vs negative distance distributions of one variant.
fn histogram(r: &Results, vi: usize) -> Result<Plot, Error> {
    let v = &r.variants[vi];
    let d = &r.distances[vi];
    let bits = v.bits() as usize;
    let mut pos = vec![0f64; bits + 1];
    let mut npos = 0f64;
    for x in d.positive.iter().flatten().flatten() {
        pos[*x as usize] += 1.0;
        npos += 1.0;
    }
    let norm = |h: &[u64]| -> Vec<f64> {
        let s: u64 = h.iter().sum();
        h.iter().map(|&c| c as f64 / s.max(1) as f64).collect()
    };
    // Bins of 2: median-thresholded hashes have a fixed number of ones, so most distances are
    // even and single-distance bins zig-zag.
    let pair_bins = |v: Vec<f64>| -> Vec<f64> { v.chunks(2).map(|c| c.iter().sum()).collect() };
    let pos = pair_bins(pos.iter().map(|c| c / npos.max(1.0)).collect());
    let neg = pair_bins(norm(&d.negatives.counts));
    let hard = pair_bins(norm(&d.hard_negatives.counts));
    let ymax = pos
        .iter()
        .chain(&neg)
        .chain(&hard)
        .fold(0f64, |a, &b| a.max(b))
        * 1.1;
    render!((640, 360), |root| {
        root.fill(&WHITE).map_err(plot_err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("{}: distance distributions", v.label),
                ("sans-serif", 16),
            )
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..bits as f64, 0f64..ymax.max(1e-3))
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc("Hamming distance")
            .y_desc("fraction per 2-bit bin")
            .draw()
            .map_err(plot_err)?;
        for (name, series, c) in [
            ("copies vs their original", &pos, colour(0)),
            ("distinct originals", &neg, colour(3)),
            ("hard negatives", &hard, colour(1)),
        ] {
            chart
                .draw_series(LineSeries::new(
                    series
                        .iter()
                        .enumerate()
                        .map(|(x, y)| (2.0 * x as f64 + 0.5, *y)),
                    c.stroke_width(2),
                ))
                .map_err(plot_err)?
                .label(name)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], c.stroke_width(2)));
        }
        for t in v.fixed_thresholds() {
            chart
                .draw_series(LineSeries::new(
                    [(f64::from(t), 0.0), (f64::from(t), ymax)],
                    BLACK.stroke_width(1),
                ))
                .map_err(plot_err)?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(plot_err)?;
        root.present().map_err(plot_err)?;
    })
}

/// ROC: TPR (mean over transforms) against FPR on distinct originals, log FPR axis.
fn roc(r: &Results) -> Result<Plot, Error> {
    render!((640, 420), |root| {
        root.fill(&WHITE).map_err(plot_err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "ROC: mean TPR over transforms vs FPR on distinct originals",
                ("sans-serif", 16),
            )
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(50)
            .build_cartesian_2d((1e-7f64..1.0).log_scale(), 0f64..1.0)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc("FPR (log)")
            .y_desc("TPR")
            .x_label_formatter(&|x| format!("{x:.0e}"))
            .draw()
            .map_err(plot_err)?;
        for (vi, v) in r.variants.iter().enumerate() {
            let pts = roc_points(r, vi);
            let c = colour(vi);
            chart
                .draw_series(LineSeries::new(pts, c.stroke_width(2)))
                .map_err(plot_err)?
                .label(v.label)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], c.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(plot_err)?;
        root.present().map_err(plot_err)?;
    })
}

/// (FPR on distinct originals, mean TPR over transforms) at every threshold with FPR > 0.
fn roc_points(r: &Results, vi: usize) -> Vec<(f64, f64)> {
    let d = &r.distances[vi];
    let pairs = d.negatives.pairs() as f64;
    let nt = d.positive.len().max(1) as f64;
    (0..=r.variants[vi].bits())
        .filter_map(|t| {
            let fpr = d.negatives.at_most(t) as f64 / pairs;
            let tpr = d
                .positive
                .iter()
                .map(|p| crate::metrics::matches(p, t) as f64 / p.len().max(1) as f64)
                .sum::<f64>()
                / nt;
            (fpr > 0.0).then_some((fpr, tpr))
        })
        .collect()
}

/// DET: mean miss rate (1 − TPR) against FPR, both on log axes, so the low-FPR end is legible.
fn det(r: &Results) -> Result<Plot, Error> {
    render!((640, 420), |root| {
        root.fill(&WHITE).map_err(plot_err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "DET: mean miss rate over transforms vs FPR on distinct originals",
                ("sans-serif", 16),
            )
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(50)
            .build_cartesian_2d((1e-7f64..1.0).log_scale(), (1e-3f64..1.0).log_scale())
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc("FPR (log)")
            .y_desc("miss rate (log)")
            .x_label_formatter(&|x| format!("{x:.0e}"))
            .y_label_formatter(&|y| format!("{y:.0e}"))
            .draw()
            .map_err(plot_err)?;
        for (vi, v) in r.variants.iter().enumerate() {
            // A miss rate of 0 has no place on a log axis: clamp it to the axis floor.
            let pts = roc_points(r, vi)
                .into_iter()
                .map(|(fpr, tpr)| (fpr, (1.0 - tpr).max(1e-3)));
            let c = colour(vi);
            chart
                .draw_series(LineSeries::new(pts, c.stroke_width(2)))
                .map_err(plot_err)?
                .label(v.label)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], c.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(plot_err)?;
        root.present().map_err(plot_err)?;
    })
}

/// TPR at the first fixed threshold against a family's severity.
fn severity(r: &Results, family: &str, axis: &str) -> Result<Plot, Error> {
    let rows: Vec<(usize, f64)> = r
        .transforms
        .iter()
        .enumerate()
        .filter(|(_, t)| t.family == family)
        .filter_map(|(i, t)| t.severity.map(|s| (i, s)))
        .collect();
    let (lo, hi) = rows
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &(_, s)| (a.min(s), b.max(s)));
    render!((420, 320), |root| {
        root.fill(&WHITE).map_err(plot_err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("TPR at ≤31/256 vs {axis}"), ("sans-serif", 15))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(45)
            .build_cartesian_2d(lo.min(0.0)..hi * 1.05, 0f64..1.0)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc(axis)
            .y_desc("TPR")
            .draw()
            .map_err(plot_err)?;
        for (vi, m) in r.metrics.iter().enumerate() {
            let c = colour(vi);
            let mut pts: Vec<(f64, f64)> = rows
                .iter()
                .map(|&(i, s)| (s, m.transforms[i].tpr_fixed[0].rate))
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            chart
                .draw_series(LineSeries::new(pts, c.stroke_width(2)))
                .map_err(plot_err)?
                .label(r.variants[vi].label)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], c.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .label_font(("sans-serif", 10))
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(plot_err)?;
        root.present().map_err(plot_err)?;
    })
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Writes the SVG plots and `report.html` (plots inlined, tables included) into `dir`.
pub fn write(r: &Results, dir: &Path) -> Result<(), Error> {
    // Registering twice (a second eval in one process) is harmless: the same bytes again.
    plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
        .map_err(|_| Error::Plot("the bundled font does not parse".into()))?;
    let mut plots: Vec<(String, Plot)> = vec![
        ("heatmap".into(), heatmap(r)?),
        ("roc".into(), roc(r)?),
        ("det".into(), det(r)?),
    ];
    for (vi, v) in r.variants.iter().enumerate() {
        if ["pdq", "phash16", "phash"].contains(&v.id) {
            plots.push((format!("hist-{}", v.id), histogram(r, vi)?));
        }
    }
    for (family, axis) in [
        ("jpeg", "JPEG quality"),
        ("crop", "crop (%)"),
        ("rotate", "rotation (degrees)"),
    ] {
        // A run restricted with --transforms may have no row of the family.
        if r.transforms
            .iter()
            .any(|t| t.family == family && t.severity.is_some())
        {
            plots.push((format!("severity-{family}"), severity(r, family, axis)?));
        }
    }
    let plot_dir = dir.join("plots");
    std::fs::create_dir_all(&plot_dir).map_err(|e| Error::io(&plot_dir, e))?;
    for (name, plot) in &plots {
        let p = plot_dir.join(format!("{name}.svg"));
        std::fs::write(&p, &plot.svg).map_err(|e| Error::io(&p, e))?;
        let p = plot_dir.join(format!("{name}.png"));
        std::fs::write(&p, &plot.png).map_err(|e| Error::io(&p, e))?;
    }
    let mut html = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>nearmatch eval</title>\n\
         <style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;}\
         .note{background:#fff4d6;border:1px solid #e0c060;padding:.8em;}\
         pre{font-size:11px;overflow-x:auto;background:#f6f6f6;padding:.5em;}\
         .plots svg{margin:4px;vertical-align:top;}</style></head><body>\n",
    );
    html.push_str(&format!(
        "<h1>nearmatch eval</h1><p>{}, {} hash variants; generator version {}; {}.</p>\n",
        escape(&table::describe(r)),
        r.variants.len(),
        r.generator.version,
        escape(&r.tool)
    ));
    html.push_str(&format!(
        "<p class=\"note\">{}</p>\n<div class=\"plots\">\n",
        escape(table::caveat(r))
    ));
    for (_, plot) in &plots {
        let svg = &plot.svg;
        // Drop the XML prolog so the SVG can sit inline.
        let body = svg.find("<svg").map_or(svg.as_str(), |i| &svg[i..]);
        html.push_str(body);
        html.push('\n');
    }
    html.push_str("</div>\n<h2>Tables</h2>\n<pre>");
    html.push_str(&escape(&table::all(r)));
    html.push_str("</pre>\n<h2>Protocol</h2><ul>");
    for p in &r.protocol {
        html.push_str(&format!("<li>{}</li>", escape(p)));
    }
    html.push_str("</ul></body></html>\n");
    let p = dir.join("report.html");
    std::fs::write(&p, html).map_err(|e| Error::io(&p, e))
}
