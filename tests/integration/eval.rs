//! `nearmatch eval`: a small run (N = 100) checked for structure, sanity and for every stored
//! rate being a recount of the stored distances.
//!
//! Size 96 px: small enough for the dev profile, and at this size PDQ's box filter (window 1)
//! and decimation are exactly mirror-symmetric, so the dihedral probes must find flipped and
//! rotated copies. (At widths that are multiples of 128 px the decimation phase shifts by one
//! pixel under a flip and mirrored copies land 10–50 bits away: a property of the reference
//! PDQ that the default-size report shows.)

use serde_json::Value;

use crate::common::nearmatch;

fn run_small() -> (Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = nearmatch()
        .args([
            "eval", "--corpus", "classic", "--n", "100", "--size", "96", "--seed", "7", "-q", "-o",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = std::fs::read(dir.path().join("results.json")).unwrap();
    // The report is self-contained: every plot inline, the lower-bound caveat stated.
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains("lighter-tailed than real photographs"));
    assert!(html.matches("<svg").count() >= 8, "plots inlined");
    assert!(!html.contains("src=\"http"), "nothing fetched");
    for plot in [
        "heatmap",
        "roc",
        "det",
        "hist-pdq",
        "severity-jpeg",
        "severity-crop",
        "severity-rotate",
    ] {
        let plots = dir.path().join("plots");
        assert!(plots.join(format!("{plot}.svg")).is_file(), "{plot}.svg");
        // The PNG decodes (image's PNG decoder) to a non-blank picture.
        let png = std::fs::read(plots.join(format!("{plot}.png"))).unwrap();
        let img = image::load_from_memory_with_format(&png, image::ImageFormat::Png)
            .unwrap_or_else(|e| panic!("{plot}.png: {e}"))
            .to_rgb8();
        assert!(img.width() >= 300 && img.height() >= 200, "{plot}.png size");
        let first = img.get_pixel(0, 0);
        assert!(img.pixels().any(|p| p != first), "{plot}.png is blank");
    }
    (
        serde_json::from_slice(&json).unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not an integer: {v}"))
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Equal up to float parsing: serde_json without `float_roundtrip` may read the last bit off.
fn assert_close(got: f64, want: f64) {
    assert!(
        (got - want).abs() <= 1e-12 * want.abs().max(1e-300),
        "{got} != {want}"
    );
}

/// Copies within `t` (nulls never match), counted directly.
fn within(d: &[Value], t: u64) -> u64 {
    d.iter()
        .filter(|x| x.as_u64().is_some_and(|x| x <= t))
        .count() as u64
}

#[test]
fn eval_small_run_is_sane_and_every_rate_recounts_from_the_distances() {
    let (r, stdout) = run_small();
    let n = 100u64;
    assert_eq!(u(&r["n"]), n);
    assert_eq!(u(&r["seed"]), 7);
    assert!(u(&r["generator"]["version"]) >= 1);
    assert_eq!(r["generator"]["corpus"], "classic");
    let transforms: Vec<&str> = r["transforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(transforms.len(), 57);
    let variants: Vec<&str> = r["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    for want in [
        "pdq",
        "pdq-dihedral",
        "pdq-q50",
        "phash",
        "phash16",
        "dhash",
        "ahash",
        "whash",
    ] {
        assert!(variants.contains(&want), "missing variant {want}");
    }
    assert_eq!(r["originals"].as_array().unwrap().len(), n as usize);
    // Every scene is in the corpus.
    let scenes: std::collections::BTreeSet<&str> = r["originals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["scene"].as_str().unwrap())
        .collect();
    assert_eq!(scenes.len(), 7);
    assert!(
        stdout.contains("## TPR (%) at the fixed thresholds"),
        "{stdout}"
    );
    assert!(stdout.contains("lower bounds"));
    // The recommended default probe set, recounted from the stored distances: within 1.5
    // probes per original, no more distinct pairs within 31 than plain PDQ, highest mean TPR.
    let vjson = r["variants"].as_array().unwrap();
    let dist = r["distances"].as_array().unwrap();
    let ids: Vec<&str> = vjson.iter().map(|v| v["id"].as_str().unwrap()).collect();
    let within31 = |k: usize| -> u64 {
        let counts = dist[k]["negatives"]["counts"].as_array().unwrap();
        counts.iter().take(32).map(u).sum()
    };
    let plain = ids.iter().position(|&i| i == "pdq").unwrap();
    let mean_tpr = |k: usize| -> f64 {
        let pos = dist[k]["positive"].as_array().unwrap();
        pos.iter()
            .map(|row| {
                let row = row.as_array().unwrap();
                row.iter()
                    .filter(|d| d.as_u64().is_some_and(|d| d <= 31))
                    .count() as f64
                    / row.len() as f64
            })
            .sum::<f64>()
            / pos.len() as f64
    };
    let best = (0..ids.len())
        .filter(|&k| ids[k].starts_with("pdq-probes"))
        .filter(|&k| f(&dist[k]["probes_per_original"]) <= 1.5 && within31(k) <= within31(plain))
        .max_by(|&a, &b| mean_tpr(a).total_cmp(&mean_tpr(b)));
    // At this tiny size most synthetic originals have flat edges, so even trim may not fit.
    let want = match best {
        Some(k) => format!(
            "Recommended default: **{}**",
            vjson[k]["label"].as_str().unwrap()
        ),
        None => "No probe set in this run fits the default's budget".to_string(),
    };
    assert!(stdout.contains(&want), "want {want}: {stdout}");

    let metrics = r["metrics"].as_array().unwrap();
    let distances = r["distances"].as_array().unwrap();
    let col = |id: &str| variants.iter().position(|v| *v == id).unwrap();
    let row = |id: &str| transforms.iter().position(|t| *t == id).unwrap();
    let pos = |v: &str, t: &str| {
        distances[col(v)]["positive"][row(t)]
            .as_array()
            .unwrap()
            .clone()
    };

    // Sanity against what PDQ is known to do.
    let jpeg95 = within(&pos("pdq", "jpeg-95"), 31) as f64 / n as f64;
    assert!(jpeg95 >= 0.95, "PDQ TPR under JPEG q95: {jpeg95}");
    for t in ["flip-h", "flip-v", "rot90", "rot180", "rot270"] {
        let plain = within(&pos("pdq", t), 31) as f64 / n as f64;
        let probed = within(&pos("pdq-dihedral", t), 31) as f64 / n as f64;
        assert!(plain <= 0.05, "{t}: plain PDQ matched {plain}");
        assert!(probed >= 0.95, "{t}: dihedral probes matched {probed}");
    }

    // Every stored rate is a recount of the stored distances.
    for (m, d) in metrics.iter().zip(distances) {
        let v = m["variant"].as_str().unwrap();
        assert_eq!(d["variant"].as_str().unwrap(), v);
        let bits = u(&m["bits"]);
        let neg = d["negatives"]["counts"].as_array().unwrap();
        let hard = d["hard_negatives"]["counts"].as_array().unwrap();
        assert_eq!(neg.len() as u64, bits + 1);
        let pairs = neg.iter().map(u).sum::<u64>() + u(&d["negatives"]["rejected"]);
        assert_eq!(pairs, n * (n - 1) / 2, "{v}: every distinct pair once");
        let hard_pairs = hard.iter().map(u).sum::<u64>() + u(&d["hard_negatives"]["rejected"]);
        assert_eq!(hard_pairs, n * 3, "{v}: 3 pairs per family of 3");
        let fp = |h: &[Value], t: u64| h.iter().take(t as usize + 1).map(u).sum::<u64>();

        for ft in m["fpr_thresholds"].as_array().unwrap() {
            let alpha = f(&ft["target"]);
            // Brute force: the largest t whose false-positive count is within alpha * pairs.
            let want = (0..=bits)
                .filter(|&t| fp(neg, t) as f64 <= alpha * pairs as f64)
                .max();
            assert_eq!(ft["threshold"].as_u64(), want, "{v} alpha {alpha}");
            let k = want.map_or(0, |t| fp(neg, t));
            assert_eq!(u(&ft["fpr"]["k"]), k);
            assert_close(f(&ft["fpr"]["rate"]), k as f64 / pairs as f64);
            let kh = want.map_or(0, |t| fp(hard, t));
            assert_eq!(u(&ft["hard_fpr"]["k"]), kh);
            assert_close(f(&ft["hard_fpr"]["rate"]), kh as f64 / hard_pairs as f64);
            let (lo, hi) = (f(&ft["fpr"]["lo"]), f(&ft["fpr"]["hi"]));
            assert!(lo <= k as f64 / pairs as f64 && k as f64 / pairs as f64 <= hi);
            assert_eq!(
                ft["supported"].as_bool().unwrap(),
                pairs as f64 >= 3.0 / alpha
            );
        }
        let fixed: Vec<u64> = m["fixed_thresholds"]
            .as_array()
            .unwrap()
            .iter()
            .map(u)
            .collect();
        for (k, &t) in fixed.iter().enumerate() {
            let a = &m["negatives"]["fpr_fixed"][k];
            assert_eq!(u(&a["k"]), fp(neg, t), "{v}");
            assert_eq!(u(&a["n"]), pairs);
        }
        for (ti, tm) in m["transforms"].as_array().unwrap().iter().enumerate() {
            assert_eq!(tm["transform"].as_str().unwrap(), transforms[ti]);
            let p = d["positive"][ti].as_array().unwrap();
            let nn = d["nn_negative"][ti].as_array().unwrap();
            assert_eq!((p.len() as u64, nn.len() as u64), (n, n));
            for (k, &t) in fixed.iter().enumerate() {
                let s = &tm["tpr_fixed"][k];
                assert_eq!(u(&s["k"]), within(p, t), "{v} {}", transforms[ti]);
                assert_close(f(&s["rate"]), within(p, t) as f64 / n as f64);
                assert!(f(&s["lo"]) <= f(&s["rate"]) && f(&s["rate"]) <= f(&s["hi"]));
            }
            for (k, ft) in m["fpr_thresholds"].as_array().unwrap().iter().enumerate() {
                let want = ft["threshold"].as_u64().map_or(0, |t| within(p, t));
                assert_eq!(u(&tm["tpr_at_fpr"][k]["k"]), want);
            }
            // Thorn's rule, brute force: the largest t such that no t' <= t with a match has
            // precision below 99.99%.
            let mut best: Option<u64> = None;
            for t in 0..=bits {
                let (tp, fpn) = (within(p, t), within(nn, t));
                if tp + fpn == 0 {
                    continue;
                }
                if (tp as f64) / ((tp + fpn) as f64) < 0.9999 {
                    break;
                }
                best = Some(t);
            }
            let rap = &tm["recall_at_precision"];
            assert_eq!(rap["threshold"].as_u64(), best, "{v} {}", transforms[ti]);
            assert_eq!(
                f(&rap["recall"]),
                best.map_or(0.0, |t| within(p, t) as f64 / n as f64)
            );
            // A nearest other original is never closer than the nearest overall allows: the
            // stored nearest negative exists exactly when the copy has a probe.
            for (a, b) in p.iter().zip(nn) {
                assert_eq!(a.is_null(), b.is_null());
            }
        }
    }
}

/// Runs `nearmatch eval` with `args` and the output folder; returns results.json and stdout.
fn eval_json(args: &[&str], out: &std::path::Path) -> (Value, String) {
    let o = nearmatch()
        .arg("eval")
        .args(args)
        .args(["-q", "-o"])
        .arg(out)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "eval {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let json = std::fs::read(out.join("results.json")).unwrap();
    (
        serde_json::from_slice(&json).unwrap(),
        String::from_utf8(o.stdout).unwrap(),
    )
}

/// `eval --images` on a folder holding a synthetic run's own originals (lossless PNGs, as
/// `--save-images` wrote them) is the same benchmark: the same pixels at the same positions get
/// the same transforms, so every positive distance of every variant equals the synthetic run's,
/// and so do the negatives. `--negatives` adds the hard negatives' files as unrelated images:
/// all pairs of originals and those are counted. A file that is not an image is listed as
/// skipped, never dropped silently.
#[test]
fn eval_on_a_folder_of_the_synthetic_originals_reproduces_the_synthetic_run() {
    let tmp = tempfile::tempdir().unwrap();
    let saved = tmp.path().join("saved");
    let common = [
        "--n",
        "12",
        "--size",
        "96",
        "--seed",
        "5",
        "--transforms",
        "jpeg-75,crop-5,flip-h,rotate-2,pad-white-10",
    ];
    let mut synth_args = common.to_vec();
    synth_args.extend(["--save-images", saved.to_str().unwrap()]);
    let (synthetic, _) = eval_json(&synth_args, &tmp.path().join("synthetic"));
    // The default corpus is the calibrated photo-like one, most originals with a camera's JPEG
    // history (which the saved PNGs hold: they are the pixels the transforms start from).
    assert_eq!(synthetic["generator"]["corpus"], "photo");
    let specs = synthetic["originals"].as_array().unwrap();
    assert!(specs.iter().all(|o| o["scene"] == "photo"));
    assert!(specs.iter().any(|o| o["camera_jpeg"].is_u64()));

    // The reviewer's folders: the originals (o00000.png ...) in one, the hard negatives in
    // another, plus a file that is not an image.
    let (originals, negatives) = (tmp.path().join("originals"), tmp.path().join("negatives"));
    std::fs::create_dir_all(&originals).unwrap();
    std::fs::create_dir_all(negatives.join("sub")).unwrap();
    let mut n_neg = 0;
    for e in std::fs::read_dir(&saved).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        if name.len() == "o00000.png".len() && name.ends_with(".png") {
            std::fs::copy(saved.join(&name), originals.join(&name)).unwrap();
        } else if name.contains("-hard") {
            std::fs::copy(saved.join(&name), negatives.join("sub").join(&name)).unwrap();
            n_neg += 1;
        }
    }
    std::fs::write(originals.join("notes.txt"), b"not a picture").unwrap();
    assert_eq!(n_neg, 24, "12 originals x 2 hard negatives saved");

    let mut img_args = common[4..].to_vec(); // --seed and --transforms; --n and --size do not apply
    img_args.extend(["--images", originals.to_str().unwrap()]);
    let (files, stdout) = eval_json(&img_args, &tmp.path().join("files"));
    assert_eq!(u(&files["n"]), 12);
    let skipped = files["skipped_files"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(skipped[0]["file"].as_str().unwrap().ends_with("notes.txt"));
    assert!(
        stdout.contains("notes.txt"),
        "skipped files are listed with the tables"
    );
    for (a, b) in synthetic["distances"]
        .as_array()
        .unwrap()
        .iter()
        .zip(files["distances"].as_array().unwrap())
    {
        assert_eq!(a["variant"], b["variant"]);
        assert_eq!(a["positive"], b["positive"], "{}", a["variant"]);
        assert_eq!(a["nn_negative"], b["nn_negative"], "{}", a["variant"]);
        assert_eq!(a["negatives"], b["negatives"], "{}", a["variant"]);
    }

    img_args.extend(["--negatives", negatives.to_str().unwrap()]);
    let (with_neg, _) = eval_json(&img_args, &tmp.path().join("with-negatives"));
    assert_eq!(with_neg["negative_files"].as_array().unwrap().len(), 24);
    let all = 12 + 24u64;
    for d in with_neg["distances"].as_array().unwrap() {
        let h = &d["negatives"];
        let pairs: u64 =
            h["counts"].as_array().unwrap().iter().map(u).sum::<u64>() + u(&h["rejected"]);
        assert_eq!(pairs, all * (all - 1) / 2, "{}", d["variant"]);
    }
    // Each hard negative is closer to its original than the other originals are, for plain
    // PDQ: the nearest non-matching entry can only have come nearer.
    let pdq = |r: &Value| {
        r["distances"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["variant"] == "pdq")
            .unwrap()["nn_negative"]
            .clone()
    };
    for (a, b) in pdq(&files)
        .as_array()
        .unwrap()
        .iter()
        .zip(pdq(&with_neg).as_array().unwrap())
    {
        for (x, y) in a.as_array().unwrap().iter().zip(b.as_array().unwrap()) {
            if let (Some(x), Some(y)) = (x.as_u64(), y.as_u64()) {
                assert!(
                    y <= x,
                    "a bigger list made the nearest negative farther: {x} -> {y}"
                );
            }
        }
    }

    // Usage errors: hard negatives need generated originals; --negatives needs --images.
    for (flags, dir) in [
        (
            &["eval", "--hard-negatives", "2", "--images"][..],
            &originals,
        ),
        (&["eval", "--negatives"][..], &negatives),
    ] {
        let o = nearmatch().args(flags).arg(dir).output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(64),
            "{flags:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}
