//! Markdown tables of a run (printed on stdout by `nearmatch eval`, embedded in the report).

use std::fmt::Write;

use crate::metrics::{RecallAtPrecision, FPR_TARGETS};
use crate::stats::Proportion;
use crate::Results;

fn header(out: &mut String, first: &str, cols: &[String]) {
    let _ = write!(out, "| {first} |");
    for c in cols {
        let _ = write!(out, " {c} |");
    }
    out.push_str("\n|---|");
    for _ in cols {
        out.push_str("---:|");
    }
    out.push('\n');
}

fn labels(r: &Results) -> Vec<String> {
    r.variants.iter().map(|v| v.label.to_string()).collect()
}

fn pct(p: f64) -> String {
    format!("{:.1}", 100.0 * p)
}

fn pct_ci(p: &Proportion) -> String {
    format!(
        "{:.1} [{:.1}, {:.1}]",
        100.0 * p.rate,
        100.0 * p.lo,
        100.0 * p.hi
    )
}

fn sci(x: f64) -> String {
    if x == 0.0 {
        "0".into()
    } else {
        format!("{x:.1e}")
    }
}

fn rap(r: &RecallAtPrecision) -> String {
    match r.threshold {
        Some(t) => format!("{} (≤{t})", pct(r.recall)),
        None => "0.0 (–)".into(),
    }
}

/// TPR (%) per transform × variant at fixed threshold number `k` (0: 31/256, 1: 20/256).
pub fn tpr_fixed(r: &Results, k: usize) -> String {
    let mut out = String::new();
    let thresholds: Vec<String> = r
        .metrics
        .iter()
        .map(|m| format!("≤{}", m.fixed_thresholds[k]))
        .collect();
    let cols: Vec<String> = labels(r)
        .into_iter()
        .zip(&thresholds)
        .map(|(l, t)| format!("{l} {t}"))
        .collect();
    header(&mut out, "transform", &cols);
    for (t, info) in r.transforms.iter().enumerate() {
        let _ = write!(out, "| {} |", info.id);
        for m in &r.metrics {
            let _ = write!(out, " {} |", pct(m.transforms[t].tpr_fixed[k].rate));
        }
        out.push('\n');
    }
    let _ = write!(out, "| **mean over transforms** |");
    for m in &r.metrics {
        let _ = write!(out, " **{}** |", pct(m.mean_tpr_fixed[k]));
    }
    out.push('\n');
    let _ = write!(out, "| FPR, distinct originals |");
    for m in &r.metrics {
        let _ = write!(out, " {} |", sci(m.negatives.fpr_fixed[k].rate));
    }
    out.push('\n');
    let _ = write!(out, "| FPR, hard negatives |");
    for m in &r.metrics {
        let _ = write!(out, " {} |", sci(m.hard_negatives.fpr_fixed[k].rate));
    }
    out.push('\n');
    out
}

/// TPR (%) with 95% intervals at the threshold reaching FPR target number `k`.
pub fn tpr_at_fpr(r: &Results, k: usize) -> String {
    let mut out = String::new();
    header(&mut out, "transform", &labels(r));
    let _ = write!(out, "| threshold |");
    for m in &r.metrics {
        let f = &m.fpr_thresholds[k];
        let _ = write!(
            out,
            " {} |",
            f.threshold.map_or("none".into(), |t| format!("≤{t}"))
        );
    }
    out.push('\n');
    let _ = write!(out, "| realised FPR, distinct [95% CI] |");
    for m in &r.metrics {
        let f = &m.fpr_thresholds[k].fpr;
        let _ = write!(out, " {} [{}, {}] |", sci(f.rate), sci(f.lo), sci(f.hi));
    }
    out.push('\n');
    let _ = write!(out, "| realised FPR, hard negatives |");
    for m in &r.metrics {
        let f = &m.fpr_thresholds[k].hard_fpr;
        let _ = write!(out, " {} ({}/{}) |", sci(f.rate), f.k, f.n);
    }
    out.push('\n');
    for (t, info) in r.transforms.iter().enumerate() {
        let _ = write!(out, "| {} |", info.id);
        for m in &r.metrics {
            let _ = write!(out, " {} |", pct_ci(&m.transforms[t].tpr_at_fpr[k]));
        }
        out.push('\n');
    }
    out
}

/// Negative distance distributions beside the binomial of independent bits.
pub fn negatives(r: &Results) -> String {
    let mut out = String::new();
    out.push_str("| variant | bits | pairs | mean | SD | min | 0.1th pct | binomial mean | binomial SD | binomial 0.1th pct | hard pairs | hard mean | hard SD | hard min | hard 0.1th pct |\n");
    out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    let opt = |v: Option<u32>| v.map_or("–".into(), |v| v.to_string());
    for (v, m) in r.variants.iter().zip(&r.metrics) {
        let (a, h) = (&m.negatives, &m.hard_negatives);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.1} | {:.1} | {} | {} | {:.1} | {:.1} | {} | {} | {:.1} | {:.1} | {} | {} |",
            v.label,
            m.bits,
            a.pairs,
            a.distances.mean,
            a.distances.sd,
            opt(a.distances.min),
            opt(a.distances.p0_1),
            a.binomial.mean,
            a.binomial.sd,
            a.binomial.p0_1,
            h.pairs,
            h.distances.mean,
            h.distances.sd,
            opt(h.distances.min),
            opt(h.distances.p0_1),
        );
    }
    out
}

/// Recall (%) at precision ≥ 99.99% with nearest-neighbour negatives, with the threshold.
pub fn recall_at_precision(r: &Results) -> String {
    let mut out = String::new();
    header(&mut out, "transform", &labels(r));
    let _ = write!(out, "| **all transforms pooled** |");
    for m in &r.metrics {
        let _ = write!(out, " **{}** |", rap(&m.pooled_recall_at_precision));
    }
    out.push('\n');
    for (t, info) in r.transforms.iter().enumerate() {
        let _ = write!(out, "| {} |", info.id);
        for m in &r.metrics {
            let _ = write!(out, " {} |", rap(&m.transforms[t].recall_at_precision));
        }
        out.push('\n');
    }
    out
}

/// PDQ quality: distribution of the originals and share below the gate.
pub fn quality(r: &Results) -> String {
    let q = &r.quality;
    let mut out = String::from("| PDQ quality of originals | count |\n|---|---:|\n");
    for (b, c) in q.originals_histogram.iter().enumerate() {
        let hi = if b == 9 { 100 } else { b * 10 + 9 };
        let _ = writeln!(out, "| {}–{} | {c} |", b * 10, hi);
    }
    out.push_str("\n| scene | originals below 50 |\n|---|---:|\n");
    for (s, below, n) in &q.originals_below_gate_by_scene {
        let _ = writeln!(out, "| {s} | {below} / {n} |");
    }
    out
}

/// One line on what was measured: how many originals from where, transforms, negatives.
pub fn describe(r: &Results) -> String {
    if r.source == "synthetic" {
        return format!(
            "N = {} synthetic originals ({} px long side, seed {}), {} transforms, {} hard negatives per original",
            r.n,
            r.size,
            r.seed,
            r.transforms.len(),
            r.hard_negatives_per_original
        );
    }
    let negatives = match &r.negatives_source {
        Some(dir) => format!(
            ", {} unrelated images from {} as extra negatives",
            r.negative_files.len(),
            dir.display()
        ),
        None => String::new(),
    };
    format!(
        "N = {} originals from {} (seed {}), {} transforms{negatives}; {} files skipped",
        r.n,
        r.source,
        r.seed,
        r.transforms.len(),
        r.skipped_files.len()
    )
}

/// What the false-positive rates can and cannot say for this run's negatives.
pub fn caveat(r: &Results) -> &'static str {
    if r.source == "synthetic" {
        "Synthetic negatives are lighter-tailed than real photographs: the FPRs below are lower bounds. Positive distances (robustness) are fair."
    } else {
        "Negatives are the pairs of your own images: the FPRs say how often these images collide, with intervals as wide as their number allows (a threshold is only supported with at least 3/alpha pairs)."
    }
}

/// All tables with headings, as printed on stdout.
pub fn all(r: &Results) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# nearmatch eval: {}\n", describe(r));
    out.push_str(caveat(r));
    out.push_str("\n\n");
    for s in &r.skipped_files {
        let _ = writeln!(out, "skipped: {}: {}", s.file.display(), s.reason);
    }
    if !r.skipped_files.is_empty() {
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "## TPR (%) at the fixed thresholds (PDQ ≤ 31, others at 31/256 of their bits)\n"
    );
    out.push_str(&tpr_fixed(r, 0));
    out.push_str("\n## TPR (%) at PDQ ≤ 20 (others at 20/256 of their bits)\n\n");
    out.push_str(&tpr_fixed(r, 1));
    let pairs = r.metrics.first().map_or(0, |m| m.negatives.pairs);
    for (k, &target) in FPR_TARGETS.iter().enumerate() {
        let supported = r.metrics.iter().all(|m| m.fpr_thresholds[k].supported);
        if !supported && k == FPR_TARGETS.len() - 1 {
            let _ = writeln!(
                out,
                "\n(FPR {target:.0e}: not reported, {pairs} distinct-original pairs; needs ≥ {:.0})",
                3.0 / target
            );
            continue;
        }
        let _ = writeln!(
            out,
            "\n## TPR (%) [95% CI] at the threshold giving FPR ≤ {target:.0e} on {pairs} distinct-original pairs{}\n",
            if supported {
                ""
            } else {
                " (too few pairs to support this target: ≥ 3/α needed)"
            }
        );
        out.push_str(&tpr_at_fpr(r, k));
    }
    let _ = writeln!(
        out,
        "\n## Recall (%) at precision ≥ 99.99% with nearest-neighbour negatives (Thorn's protocol; N = {} per transform)\n",
        r.n
    );
    out.push_str(&recall_at_precision(r));
    out.push_str("\n## Negative distances (distinct originals and hard negatives) vs Binomial(bits, 1/2)\n\n");
    out.push_str(&negatives(r));
    if let Some(sets) = probe_sets(r) {
        out.push_str(
            "\n## Probe sets: cost, recall, false matches, and the recommended default\n\n",
        );
        out.push_str(&sets);
    }
    out.push_str("\n## PDQ quality\n\n");
    out.push_str(&quality(r));
    out.push_str("\n## Fast mode (`--fast`) against exact\n\n");
    out.push_str(&fast_mode(r));
    out
}

/// Exact-vs-fast distances per group, the TPR drops per transform and issue #8's verdict.
pub fn fast_mode(r: &Results) -> String {
    use crate::fast::{MAX_PDQ_P99, MAX_TPR_DROP_POINTS};
    let f = &r.fast_mode;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Distance between the exact and the fast hash of the same image (images whose sides are \
         all ≥ {} px are reduced; the others are hashed exactly in a fast scan):\n",
        2 * nearmatch::hash::file::FAST_MIN_SIDE
    );
    out.push_str("| images | reduced | PDQ mean | PDQ p99 | PDQ max | pHash mean | pHash p99 | pHash max |\n");
    out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for g in &f.groups {
        let _ = write!(out, "| {} | {}/{} |", g.name, g.reduced, g.images);
        for (_, d) in &g.distances {
            match d {
                Some(d) => {
                    let _ = write!(out, " {:.2} | {} | {} |", d.mean, d.p99, d.max);
                }
                None => out.push_str(" – | – | – |"),
            }
        }
        out.push('\n');
    }
    if f.tpr.is_empty() {
        return out;
    }
    out.push_str("\nTPR (%) per transform, exact → fast (drop in points):\n\n");
    let cols: Vec<String> = f
        .tpr
        .iter()
        .map(|c| format!("{} → {} ≤{}", c.exact_variant, c.fast_variant, c.threshold))
        .collect();
    header(&mut out, "transform", &cols);
    for (t, info) in r.transforms.iter().enumerate() {
        let _ = write!(out, "| {} |", info.id);
        for c in &f.tpr {
            let d = &c.transforms[t];
            let _ = write!(
                out,
                " {} → {} ({:+.1}) |",
                pct(d.exact),
                pct(d.fast),
                // `+ 0.0` turns a negative zero into "+0.0".
                -d.points() + 0.0
            );
        }
        out.push('\n');
    }
    let _ = write!(out, "| **largest drop** |");
    for c in &f.tpr {
        match c.largest_drop() {
            Some(d) => {
                let _ = write!(out, " **{:.1}** ({}) |", d.points(), d.transform);
            }
            None => out.push_str(" – |"),
        }
    }
    out.push('\n');
    let verdict = match f.verdict() {
        None => "no image was large enough to be reduced (use `--size 1024`): nothing to judge".to_string(),
        Some(ok) => format!(
            "rule \"PDQ p99 ≤ {MAX_PDQ_P99} bits and no TPR drop > {MAX_TPR_DROP_POINTS} points\": {}",
            if ok { "met: fast mode may be the scan default" } else { "not met: fast mode stays opt-in" }
        ),
    };
    let _ = writeln!(out, "\nVerdict (issue #8): {verdict}.");
    out
}

/// The cost budget of a default probe set, in probe hashes per unedited image: at most one
/// extra PDQ hash on every second file. The limit (scan throughput within 25 % of plain
/// PDQ) is checked where it can be measured, `benches/scan_throughput.sh`: trim alone, 1.21
/// hashes per file there, cost 1.32x plain PDQ's CPU per file.
pub const DEFAULT_SET_MAX_PROBES: f64 = 1.5;

/// The probe-set comparison (one row per query-side probe variant, plain PDQ first) and the
/// recommendation: the set with the highest mean TPR at PDQ ≤ 31 among those within the cost
/// budget ([`DEFAULT_SET_MAX_PROBES`] probes per unedited original) that add no false match over plain PDQ
/// on distinct originals. `None` when the run has no probe variant.
pub fn probe_sets(r: &Results) -> Option<String> {
    use crate::variant::Probes;
    let rows: Vec<usize> = (0..r.variants.len())
        .filter(|&i| {
            matches!(r.variants[i].probes, Probes::PdqProbes(_)) || r.variants[i].id == "pdq"
        })
        .collect();
    if !rows.iter().any(|&i| r.variants[i].id != "pdq") {
        return None;
    }
    let plain = rows.iter().copied().find(|&i| r.variants[i].id == "pdq");
    let fp = |i: usize| r.metrics[i].negatives.fpr_fixed[0].rate;
    let mut out = String::new();
    header(
        &mut out,
        "variant",
        &[
            "families".into(),
            "probes / original".into(),
            "probes / copy".into(),
            "mean TPR ≤31 (%)".into(),
            "FPR distinct ≤31".into(),
            "FPR hard ≤31".into(),
        ],
    );
    let families = |i: usize| match r.variants[i].probes {
        Probes::PdqProbes(c) => Some(c.spec()),
        _ => None,
    };
    for &i in &rows {
        let v = &r.variants[i];
        let families = families(i).unwrap_or_else(|| "–".into());
        let _ = writeln!(
            out,
            "| {} | {families} | {:.2} | {:.2} | {} | {} | {} |",
            v.label,
            r.distances[i].probes_per_original,
            r.distances[i].probes_per_query,
            pct(r.metrics[i].mean_tpr_fixed[0]),
            sci(fp(i)),
            sci(r.metrics[i].hard_negatives.fpr_fixed[0].rate),
        );
    }
    let budget = plain.map_or(0.0, fp);
    let best = rows
        .iter()
        .copied()
        .filter(|&i| families(i).is_some())
        .filter(|&i| {
            r.distances[i].probes_per_original <= DEFAULT_SET_MAX_PROBES && fp(i) <= budget
        })
        .max_by(|&a, &b| r.metrics[a].mean_tpr_fixed[0].total_cmp(&r.metrics[b].mean_tpr_fixed[0]));
    out.push('\n');
    match best {
        Some(i) => {
            let _ = writeln!(
                out,
                "Recommended default: **{}** ({}): the highest mean TPR among the sets within {DEFAULT_SET_MAX_PROBES} probes per unedited original (the scan-cost budget) that add no false match over plain PDQ on these distinct pairs. The others are opt-in: they buy recall on the edits they undo with more probes and, where the FPR column shows it, more false candidates.",
                r.variants[i].label,
                families(i).unwrap_or_default()
            );
        }
        None => {
            let _ = writeln!(
                out,
                "No probe set in this run fits the default's budget ({DEFAULT_SET_MAX_PROBES} probes per unedited original, no false match over plain PDQ): keep plain PDQ as the default."
            );
        }
    }
    Some(out)
}
