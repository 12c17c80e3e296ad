use super::layout::{self, content_boxes, trim_box};
use super::plane::Rect;
use super::*;
use crate::pixels::Layout;
use nearmatch_synth::Scene;

/// A generated picture as this crate's `Image`. nearmatch_synth returns the `Image` of the
/// ordinary build of nearmatch, another type than the one a unit-test build sees: copy the pixels.
fn generate(scene: Scene, w: u32, h: u32, seed: u64) -> Image {
    let img = nearmatch_synth::generate(scene, w, h, seed);
    Image::new(w, h, Layout::Rgb8(img.to_rgb8())).unwrap()
}

fn rgb_canvas(w: u32, h: u32, colour: [u8; 3]) -> Vec<u8> {
    colour.repeat((w * h) as usize)
}

/// `pic` pasted at (x, y) into a `w`x`h` canvas of `colour`.
fn paste(pic: &Image, w: u32, h: u32, x: u32, y: u32, colour: [u8; 3]) -> Image {
    let mut rgb = rgb_canvas(w, h, colour);
    for py in 0..pic.height() {
        for px in 0..pic.width() {
            let o = (((py + y) * w + px + x) * 3) as usize;
            rgb[o..o + 3].copy_from_slice(&pic.rgb_at(px, py));
        }
    }
    Image::new(w, h, Layout::Rgb8(rgb)).unwrap()
}

fn sub_image(img: &Image, x0: u32, y0: u32, w: u32, h: u32) -> Image {
    let mut rgb = Vec::with_capacity((w * h * 3) as usize);
    for y in y0..y0 + h {
        for x in x0..x0 + w {
            rgb.extend_from_slice(&img.rgb_at(x, y));
        }
    }
    Image::new(w, h, Layout::Rgb8(rgb)).unwrap()
}

fn plane(img: &Image) -> Plane {
    Plane::of_image(img, Profile::Pdqhash, PROBE_PLANE_MAX_SIDE)
}

fn best(probes: &[Probe], want: &Digest256) -> (u32, Probe) {
    probes
        .iter()
        .map(|p| (p.digest.distance(want), *p))
        .min_by_key(|(d, _)| *d)
        .unwrap()
}

#[test]
fn names_are_stable_and_parse_round_trips() {
    let crop = ProbeKind::Crop(CropMargins {
        left: 75,
        ..CropMargins::default()
    });
    assert_eq!(crop.name(), "crop-l7.5");
    let centre = CropMargins {
        left: 25,
        right: 25,
        top: 13,
        bottom: 12,
    };
    assert_eq!(ProbeKind::Crop(centre).name(), "crop-l2.5-r2.5-t1.3-b1.2");
    assert_eq!(ProbeKind::Rotate { decidegrees: -40 }.name(), "rotate-4");
    assert_eq!(ProbeKind::Rotate { decidegrees: 20 }.name(), "rotate+2");
    for c in [
        ProbeConfig::default(),
        ProbeConfig::none(),
        ProbeConfig::all(),
        ProbeConfig::none().with(ProbeFamily::Crop, true),
    ] {
        assert_eq!(ProbeConfig::parse(&c.spec()).unwrap(), c);
    }
    assert_eq!(ProbeConfig::parse("all").unwrap(), ProbeConfig::all());
    assert!(ProbeConfig::parse("trim,zoom").is_err());
}

#[test]
fn trim_finds_exactly_the_drawn_border_in_any_colour_and_stacked() {
    let pic = generate(Scene::DeadLeaves, 200, 150, 3);
    for colour in [[255, 255, 255], [0, 0, 0], [40, 160, 90]] {
        let img = paste(&pic, 260, 230, 37, 41, colour);
        let p = plane(&img);
        let r = trim_box(&p, p.full()).expect("a border");
        let want = Rect {
            x0: 37,
            y0: 41,
            x1: 237,
            y1: 191,
        };
        let off = [
            r.x0.abs_diff(want.x0),
            r.y0.abs_diff(want.y0),
            r.x1.abs_diff(want.x1),
            r.y1.abs_diff(want.y1),
        ];
        // The picture's own outermost line may be flat and go with the border.
        assert!(off.iter().all(|&d| d <= 2), "{colour:?}: {r:?} vs {want:?}");
    }
    // Stacked bars: a white band, then a black letterbox bar, then the picture.
    let inner = paste(&pic, 200, 200, 0, 25, [0, 0, 0]);
    let img = paste(&inner, 240, 240, 20, 20, [255, 255, 255]);
    let p = plane(&img);
    let r = trim_box(&p, p.full()).unwrap();
    assert!(r.y0.abs_diff(45) <= 2 && r.y1.abs_diff(195) <= 2, "{r:?}");
    assert!(r.x0.abs_diff(20) <= 2 && r.x1.abs_diff(220) <= 2, "{r:?}");
}

#[test]
fn trim_leaves_borderless_pictures_alone() {
    let mut trimmed = 0;
    for (i, scene) in Scene::ALL.into_iter().enumerate() {
        let img = generate(scene, 240, 180, 40 + i as u64);
        let p = plane(&img);
        if let Some(r) = trim_box(&p, p.full()) {
            // Never below the bound, whatever the picture.
            assert!(r.width() as f32 >= 0.3 * 240.0 && r.height() as f32 >= 0.3 * 180.0);
            trimmed += 1;
        }
    }
    // A few synthetic scenes have flat outer rows; most must be left alone.
    assert!(
        trimmed * 3 <= Scene::ALL.len(),
        "{trimmed} of {}",
        Scene::ALL.len()
    );
}

#[test]
fn crop_probe_lands_closer_to_the_original_than_the_plain_hash() {
    let cfg = ProbeConfig::none().with(ProbeFamily::Crop, true);
    let (mut wins, mut total) = (0, 0);
    for seed in 0..8u64 {
        let scene = Scene::ALL[seed as usize % Scene::ALL.len()];
        let pic = generate(scene, 300, 240, 200 + seed);
        let want = pdq::hash(&pic, Profile::Pdqhash).digest;
        // 10 % cut from the left.
        let cropped = sub_image(&pic, 30, 0, 270, 240);
        let probes = pdq_probes(&cropped, Profile::Pdqhash, &cfg);
        let plain = probes[0].digest.distance(&want);
        let (d, _) = best(&probes, &want);
        total += 1;
        if d < plain {
            wins += 1;
        }
    }
    assert!(
        wins * 4 >= total * 3,
        "crop probes helped {wins} of {total}"
    );
}

#[test]
fn rotation_probe_undoes_a_small_rotation() {
    let cfg = ProbeConfig::none().with(ProbeFamily::Rotate, true);
    let (mut wins, mut total) = (0, 0);
    for seed in 0..8u64 {
        let scene = Scene::ALL[seed as usize % Scene::ALL.len()];
        let pic = generate(scene, 256, 200, 300 + seed);
        let want = pdq::hash(&pic, Profile::Pdqhash).digest;
        let p = plane(&pic).rotated(4.0);
        let turned = grey_image(&p);
        let probes = pdq_probes(&turned, Profile::Pdqhash, &cfg);
        let plain = probes[0].digest.distance(&want);
        let (d, best_probe) = best(&probes, &want);
        total += 1;
        if d < plain && best_probe.kind == (ProbeKind::Rotate { decidegrees: -40 }) {
            wins += 1;
        }
    }
    assert!(wins * 4 >= total * 3, "rotate-4 was best {wins} of {total}");
}

fn grey_image(p: &Plane) -> Image {
    let px = p
        .pixels()
        .iter()
        .map(|v| v.round().clamp(0.0, 255.0) as u8)
        .collect();
    Image::new(p.width() as u32, p.height() as u32, Layout::Gray8(px)).unwrap()
}

#[test]
fn dihedral_probes_of_a_mirrored_image_include_the_original_hash() {
    // 256 px sides: where the DCT-domain dihedrals are not exact mirrors.
    let cfg = ProbeConfig::none().with(ProbeFamily::Dihedral, true);
    for seed in 0..4u64 {
        let pic = generate(Scene::ALL[seed as usize], 256, 256, 400 + seed);
        let want = pdq::hash(&pic, Profile::Pdqhash).digest;
        let g = plane(&pic);
        for o in [Orientation::FlipY, Orientation::Rot90, Orientation::FlipX] {
            let q = grey_image(&g.oriented(o));
            let probes = pdq_probes(&q, Profile::Pdqhash, &cfg);
            let (d, _) = best(&probes, &want);
            let orig = pdq::hash(&grey_image(&g), Profile::Pdqhash).digest;
            // The grey round trip is exact, so some probe must equal the grey image's hash.
            assert!(
                probes.iter().any(|p| p.digest == orig),
                "seed {seed} {o:?}: best {d}"
            );
        }
    }
}

#[test]
fn oriented_planes_agree_with_the_dct_dihedrals() {
    // Independent reference for the orientation names: PDQ's DCT-domain dihedrals. They equal the
    // hashes of re-oriented pixels up to the decimation grid's asymmetry (0 bits for some
    // orientations here, ~20 for those that reverse rows), so each pixel orientation must be
    // nearest to the DCT dihedral of the same name, and far from the others.
    let pic = generate(Scene::Landscape, 300, 200, 5);
    let g = plane(&pic);
    let d = pdq::hash_luma_dihedral(g.pixels(), g.width(), g.height()).unwrap();
    for o in Orientation::ALL {
        let p = g.oriented(o);
        let h = pdq::hash_luma(p.pixels(), p.width(), p.height()).unwrap();
        let own = h.digest.distance(&d.get(o));
        assert!(own <= 32, "{o:?}: {own}");
        for other in Orientation::ALL.into_iter().filter(|&x| x != o) {
            assert!(
                h.digest.distance(&d.get(other)) > own + 32,
                "{o:?} vs {other:?}"
            );
        }
    }
}

/// A phone-like 340x720 screenshot of `pic` (300 px wide) at (20, 160) on white: grey status
/// bar, dark app bar, two sparse text-like stripes below the picture, a navigation bar; with a
/// `corner_radius`, the picture's corners are cut round in the white of the page (pixels whose
/// centre lies outside the quarter circle, as a renderer without anti-aliasing draws them).
fn phone_layout(pic: &Image, corner_radius: u32) -> Image {
    let (pw, ph) = (pic.width(), pic.height());
    let img = paste(pic, 340, 720, 20, 160, [255, 255, 255]);
    let mut rgb = img.to_rgb8();
    let mut set = |x: u32, y: u32, c: [u8; 3]| {
        let o = ((y * 340 + x) * 3) as usize;
        rgb[o..o + 3].copy_from_slice(&c);
    };
    for (y0, y1, c) in [
        (0u32, 30u32, [60u8, 60, 60]),
        (30, 90, [20, 40, 90]),
        (670, 720, [230, 230, 230]),
    ] {
        for y in y0..y1 {
            for x in 0..340 {
                set(x, y, c);
            }
        }
    }
    for (i, y) in [490u32, 520].into_iter().enumerate() {
        for yy in y..y + 10 {
            for x in (20..300).filter(|x| (x / 6 + i as u32).is_multiple_of(4)) {
                set(x, yy, [30, 30, 30]);
            }
        }
    }
    let r = f64::from(corner_radius);
    for dy in 0..corner_radius {
        for dx in 0..corner_radius {
            let (cx, cy) = (r - f64::from(dx) - 0.5, r - f64::from(dy) - 0.5);
            if cx * cx + cy * cy > r * r {
                for (x, y) in [
                    (20 + dx, 160 + dy),
                    (20 + pw - 1 - dx, 160 + dy),
                    (20 + dx, 160 + ph - 1 - dy),
                    (20 + pw - 1 - dx, 160 + ph - 1 - dy),
                ] {
                    set(x, y, [255, 255, 255]);
                }
            }
        }
    }
    Image::new(340, 720, Layout::Rgb8(rgb)).unwrap()
}

/// Whether one of `boxes` is `want` (the picture's rectangle in the plane) within 2 pixels.
fn finds(boxes: &[layout::ContentBox], want: Rect) -> Option<layout::ContentBox> {
    boxes.iter().copied().find(|b| {
        let r = b.rect;
        [
            r.x0.abs_diff(want.x0),
            r.y0.abs_diff(want.y0),
            r.x1.abs_diff(want.x1),
            r.y1.abs_diff(want.y1),
        ]
        .iter()
        .all(|&d| d <= 2)
    })
}

#[test]
fn content_box_finds_the_picture_in_a_phone_layout() {
    // A picture whose edges differ from the white UI (a light-edged picture on a white page is
    // ambiguous: its flat margin may be page or picture, so several boxes are tried).
    let pic = generate(Scene::DeadLeaves, 300, 300, 9);
    let img = phone_layout(&pic, 0);
    let boxes = content_boxes(&plane(&img));
    let want = Rect {
        x0: 20,
        y0: 160,
        x1: 320,
        y1: 460,
    };
    let found = finds(&boxes, want).unwrap_or_else(|| panic!("{boxes:?} vs {want:?}"));
    assert_eq!(found.corner_radius, 0, "square corners taken for round");
    let cfg = ProbeConfig::parse("default,content-box").unwrap();
    let probes = pdq_probes(&img, Profile::Pdqhash, &cfg);
    let want = pdq::hash(&pic, Profile::Pdqhash).digest;
    let (d, p) = best(&probes, &want);
    assert!(
        d <= 31 && p.kind == ProbeKind::ContentBox,
        "best {d} {}",
        p.name()
    );
}

#[test]
fn content_box_fills_the_rounded_corners_of_a_card() {
    // Drawn with radii from 4 to 20 px; the radius found is the drawn one (the detector allows
    // half a pixel of anti-aliasing, so one less is as good), and the probe of the filled box
    // is nearer the square original than the box as shown.
    for (seed, radius) in [(3u64, 4u32), (4, 9), (5, 14), (6, 20)] {
        let pic = generate(Scene::DeadLeaves, 300, 260, seed);
        let img = phone_layout(&pic, radius);
        let p = plane(&img);
        let want = Rect {
            x0: 20,
            y0: 160,
            x1: 320,
            y1: 420,
        };
        let boxes = content_boxes(&p);
        let found = finds(&boxes, want).unwrap_or_else(|| panic!("{boxes:?} vs {want:?}"));
        assert!(
            (radius - 1..=radius).contains(&(found.corner_radius as u32)),
            "radius {radius}: found {}",
            found.corner_radius
        );
        let orig = pdq::hash(&pic, Profile::Pdqhash).digest;
        let shown = pdq::hash_luma(
            p.crop(found.rect).pixels(),
            found.rect.width(),
            found.rect.height(),
        )
        .unwrap()
        .digest
        .distance(&orig);
        let cfg = ProbeConfig::parse("default,content-box").unwrap();
        let (d, best_probe) = best(&pdq_probes(&img, Profile::Pdqhash, &cfg), &orig);
        assert!(
            d <= 31 && best_probe.kind == ProbeKind::ContentBox && (d < shown || shown == 0),
            "radius {radius}: filled {d}, as shown {shown}"
        );
    }
}

#[test]
fn rounded_corner_fill_replicates_each_row_beyond_the_arc() {
    // Brute force over every pixel: a pixel changes exactly when its centre lies more than half
    // a pixel inside the corner beyond the arc, and takes the value of the first pixel of its row
    // that does not.
    for radius in [1usize, 2, 5, 11] {
        let (w, h) = (3 * radius + 7, 2 * radius + 3);
        let px: Vec<f32> = (0..w * h).map(|i| (i * 7 % 251) as f32).collect();
        let before = Plane::new(w, h, px).unwrap();
        let mut after = before.clone();
        after.fill_rounded_corners(radius);
        let r = radius as f64;
        let beyond = |dx: usize, dy: usize| {
            let (cx, cy) = (r - dx as f64 - 0.5, r - dy as f64 - 0.5);
            dx < radius && dy < radius && (cx * cx + cy * cy).sqrt() > r - 0.5
        };
        for y in 0..h {
            let dy = y.min(h - 1 - y);
            let first = (0..w).find(|&x| !beyond(x, dy)).unwrap();
            for x in 0..w {
                let (dx, from) = if x < w / 2 {
                    (x, first)
                } else {
                    (w - 1 - x, w - 1 - first)
                };
                let want = if beyond(dx, dy) {
                    before.at(from, y)
                } else {
                    before.at(x, y)
                };
                assert_eq!(after.at(x, y), want, "radius {radius} at ({x}, {y})");
            }
        }
    }
}

#[test]
fn reduced_plane_is_the_block_average() {
    // Brute force: every output value is the mean of its (possibly partial) k x k block.
    let (w, h) = (23usize, 17usize);
    let luma: Vec<f32> = (0..w * h).map(|i| ((i * 37) % 251) as f32).collect();
    for max_side in [23, 12, 8, 5] {
        let p = Plane::reduced(&luma, w, h, max_side);
        let k = w.div_ceil(max_side);
        assert_eq!((p.width(), p.height()), (w.div_ceil(k), h.div_ceil(k)));
        for oy in 0..p.height() {
            for ox in 0..p.width() {
                let (mut sum, mut n) = (0f32, 0f32);
                for y in oy * k..((oy + 1) * k).min(h) {
                    for x in ox * k..((ox + 1) * k).min(w) {
                        sum += luma[y * w + x];
                        n += 1.0;
                    }
                }
                assert!((p.at(ox, oy) - sum / n).abs() < 1e-3, "k {k} at {ox},{oy}");
            }
        }
    }
}

#[test]
fn crop_grid_splits_each_total_between_the_sides_without_repeats() {
    let grid = crop_grid();
    for (i, m) in grid.iter().enumerate() {
        assert!(!grid[..i].contains(m), "{} twice", m.name());
        let (x, y) = (m.left + m.right, m.top + m.bottom);
        // Aspect-preserving (the same total on both axes) or one axis alone.
        assert!(
            CROP_TOTALS_PERMILLE.contains(&x.max(y)) && (x == y || x == 0 || y == 0),
            "{}",
            m.name()
        );
    }
    for (total, steps) in CROP_TOTALS_PERMILLE.into_iter().zip(CROP_SPLIT_STEPS) {
        let both = grid
            .iter()
            .filter(|m| m.left + m.right == total && m.top + m.bottom == total)
            .count();
        // The grid, plus the centre when rounding puts it off the grid.
        let n = usize::from((steps + 1) * (steps + 1));
        assert!(both == n || both == n + 1, "total {total}: {both}");
        // The central crop and every one-sided and corner crop are there.
        let half = total / 2;
        for m in [
            CropMargins {
                left: half,
                right: total - half,
                top: half,
                bottom: total - half,
            },
            CropMargins {
                left: total,
                ..CropMargins::default()
            },
            CropMargins {
                bottom: total,
                ..CropMargins::default()
            },
            CropMargins {
                right: total,
                top: total,
                ..CropMargins::default()
            },
        ] {
            assert!(grid.contains(&m), "{} missing", m.name());
        }
    }
}

/// PDQ of a materialised plane through the bit-exact pipeline.
fn pdq_of(hasher: &mut PdqHasher, p: &Plane) -> Digest256 {
    hasher
        .hash_luma(p.pixels(), p.width(), p.height())
        .unwrap()
        .digest
}

/// The resampled probes against an independent reference: the materialised canvas (re-extended
/// or rotated pixels) through the bit-exact PDQ pipeline.
#[test]
fn resampled_blur_probes_agree_with_hashing_the_materialised_canvas() {
    let mut hasher = PdqHasher::new();
    let (mut worst_crop, mut worst_rotate) = (0, 0);
    for (i, scene) in Scene::ALL.into_iter().enumerate() {
        let img = generate(scene, 300 + 7 * i as u32, 220, 40 + i as u64);
        let p = plane(&img);
        let b = Blurred::of(&p, 100, &mut hasher);
        for m in [
            CropMargins {
                left: 25,
                right: 25,
                top: 25,
                bottom: 25,
            },
            CropMargins {
                left: 100,
                ..CropMargins::default()
            },
            CropMargins {
                left: 13,
                right: 37,
                top: 50,
                bottom: 0,
            },
        ] {
            let want = pdq_of(&mut hasher, &p.extended(m));
            let got = crate::hash::pdq::hash_of_samples(&b.extended_samples(m));
            worst_crop = worst_crop.max(got.digest.distance(&want));
        }
        for deg in [2.0f32, -4.0] {
            let want = pdq_of(&mut hasher, &p.rotated(deg));
            let got = crate::hash::pdq::hash_of_samples(&b.rotated_samples(deg));
            worst_rotate = worst_rotate.max(got.digest.distance(&want));
        }
    }
    // A crop canvas's samples are the same blurred values (replicated edges blur to the same
    // sums) unless its box windows differ from the plane's, which these sizes avoid.
    assert!(worst_crop <= 2, "worst crop distance {worst_crop}");
    // Rotating the blur is not blurring the rotation, but close: far inside PDQ's 31.
    assert!(worst_rotate <= 8, "worst rotate distance {worst_rotate}");
}

#[test]
fn trim_peels_a_coloured_pad_beside_content_of_the_same_luma() {
    // A flat block of the pad's luma at the picture's edges: no sharp edge ends the pad, but
    // the pad is flat in depth and the picture is not.
    let pic = generate(Scene::DeadLeaves, 200, 150, 9);
    let mut rgb = Vec::new();
    for y in 0..150u32 {
        for x in 0..200u32 {
            if x < 30 || y < 20 {
                rgb.extend_from_slice(&[120, 110, 95]);
            } else {
                rgb.extend_from_slice(&pic.rgb_at(x, y));
            }
        }
    }
    let pic = Image::new(200, 150, Layout::Rgb8(rgb)).unwrap();
    let pad = [40, 110, 190];
    let padded = paste(&pic, 240, 190, 20, 20, pad);
    let want = pdq::hash(&pic, Profile::Pdqhash).digest;
    let probes = pdq_probes(&padded, Profile::Pdqhash, &ProbeConfig::default());
    let (d, p) = best(&probes, &want);
    assert!(d <= 8, "closest probe {} at {d}", p.name());
    assert_eq!(p.kind, ProbeKind::Trim);
}
