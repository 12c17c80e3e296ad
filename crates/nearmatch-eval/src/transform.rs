//! The transform suite: what happens to an image between the known original and the copy found
//! on seized media, with severities.
//!
//! Every transform is a pure function of the original pixels and a per-(image, transform) seed,
//! so a run is reproducible. JPEG steps really encode (the core's `jpeg-encoder`) and decode
//! through the core's decoder (libjpeg-turbo), so the hashed pixels are what a scan would see.

use image::imageops::{self, FilterType};
use image::{Rgb, RgbImage};
use nearmatch::decode::{self, Limits};
use nearmatch::hash::luma::rgb_to_l;
use nearmatch::pixels::{Image, Layout};
use nearmatch_synth as synth;

use crate::Error;

/// One transform of the suite, with its parameter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    /// Re-encode as baseline JPEG (4:2:0) at this quality, then decode.
    Jpeg(u8),
    /// Resize both sides by this factor (Catmull–Rom).
    Resize(f32),
    /// Resize the width only by this factor (aspect-ratio change).
    Stretch(f32),
    /// Keep a window of `1 - p` of each side at a random offset (p% of each side removed).
    Crop(f32),
    /// Add a border of `p` of each side on all four sides, in a colour.
    Pad(f32, Fill),
    /// Add black bars of `p` of the height above and below (letterbox).
    Letterbox(f32),
    /// Rotate by this many degrees about the centre, same canvas, black corners, bilinear.
    Rotate(f32),
    /// Rotate by a multiple of 90° (90, 180 or 270, counter-clockwise).
    RotateQuarter(u16),
    /// Mirror left–right.
    FlipHorizontal,
    /// Mirror top–bottom.
    FlipVertical,
    /// `v' = 255 (v / 255)^gamma`.
    Gamma(f32),
    /// Scale the distance from mid-grey by this factor.
    Contrast(f32),
    /// Add this to every sample.
    Brightness(i16),
    /// Convert to one grey channel (Pillow's `convert('L')` weights).
    Grayscale,
    /// Gaussian blur with this sigma in pixels.
    Blur(f32),
    /// Add Gaussian noise of this standard deviation to every sample.
    Noise(f32),
    /// A white band above the image (15% of its height) with a line of black text.
    Caption,
    /// Semi-transparent white text in the bottom-right corner.
    Watermark,
    /// Inside an application-window frame: title bar, margins, status bar.
    ScreenshotFrame,
    /// A full phone screenshot: status bar (a camera notch on some), app bar, account row, the
    /// picture at the screen's width (rounded corners on some cards), caption text, part of the
    /// next post, a navigation bar (layout and theme vary by seed); with `scaled`, the picture is
    /// also resampled to the screen (0.75× or 1.25×, as a phone shows a picture near its own
    /// resolution), which moves the hash on its own.
    PhoneScreenshot {
        /// Whether the picture is resampled to the screen.
        scaled: bool,
    },
    /// Cut this share of the width and of the height, half from each side.
    CropCentre(f32),
    /// Cut this share of the width (left/right) or height (top/bottom) from one side.
    CropSide(Side, f32),
    /// ×0.5, 4% crop, gamma 0.9, JPEG 70: a typical re-share.
    SocialChain,
}

/// One side of an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The left edge.
    Left,
    /// The top edge.
    Top,
}

/// A border colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fill {
    /// (0, 0, 0).
    Black,
    /// (255, 255, 255).
    White,
    /// A saturated mid-tone colour, (40, 110, 190).
    Colour,
}

impl Fill {
    fn rgb(self) -> [u8; 3] {
        match self {
            Fill::Black => [0, 0, 0],
            Fill::White => [255, 255, 255],
            Fill::Colour => [40, 110, 190],
        }
    }

    fn name(self) -> &'static str {
        match self {
            Fill::Black => "black",
            Fill::White => "white",
            Fill::Colour => "colour",
        }
    }
}

/// A named transform: an identifier for files and tables, a family for severity curves.
#[derive(Clone, Debug, PartialEq)]
pub struct Transform {
    /// Stable identifier, e.g. `jpeg-75`, `crop-5`, `rotate-4`.
    pub id: String,
    /// The family (`jpeg`, `crop`, `rotate`, …) that severity curves group by.
    pub family: &'static str,
    /// The severity on the family's axis (quality, percent, degrees, factor), if it has one.
    pub severity: Option<f64>,
    /// The operation.
    pub op: Op,
}

fn t(id: impl Into<String>, family: &'static str, severity: Option<f64>, op: Op) -> Transform {
    Transform {
        id: id.into(),
        family,
        severity,
        op,
    }
}

/// The full suite of issue #6, in table order.
pub fn suite() -> Vec<Transform> {
    let mut v = Vec::new();
    for q in [95u8, 75, 50, 30, 10] {
        v.push(t(format!("jpeg-{q}"), "jpeg", Some(q.into()), Op::Jpeg(q)));
    }
    for (name, f) in [("0.25", 0.25f32), ("0.5", 0.5), ("2", 2.0)] {
        v.push(t(
            format!("resize-{name}"),
            "resize",
            Some(f.into()),
            Op::Resize(f),
        ));
    }
    for (name, f) in [("0.8", 0.8f32), ("1.25", 1.25)] {
        v.push(t(
            format!("stretch-{name}"),
            "stretch",
            Some(f.into()),
            Op::Stretch(f),
        ));
    }
    for p in [2u8, 5, 10, 20] {
        v.push(t(
            format!("crop-{p}"),
            "crop",
            Some(p.into()),
            Op::Crop(f32::from(p) / 100.0),
        ));
    }
    for p in [2u8, 5, 10] {
        v.push(t(
            format!("crop-centre-{p}"),
            "crop-centre",
            Some(p.into()),
            Op::CropCentre(f32::from(p) / 100.0),
        ));
    }
    for (side, name) in [(Side::Left, "left"), (Side::Top, "top")] {
        for p in [5u8, 10] {
            v.push(t(
                format!("crop-{name}-{p}"),
                "crop-side",
                Some(p.into()),
                Op::CropSide(side, f32::from(p) / 100.0),
            ));
        }
    }
    // 20 % is Thorn's `pad0.2` (black bars above and below, each a fifth of the height).
    for p in [5u8, 10, 20, 25] {
        v.push(t(
            format!("letterbox-{p}"),
            "letterbox",
            Some(p.into()),
            Op::Letterbox(f32::from(p) / 100.0),
        ));
    }
    for fill in [Fill::White, Fill::Colour] {
        for p in [5u8, 10, 25] {
            v.push(t(
                format!("pad-{}-{p}", fill.name()),
                if fill == Fill::White {
                    "pad-white"
                } else {
                    "pad-colour"
                },
                Some(p.into()),
                Op::Pad(f32::from(p) / 100.0, fill),
            ));
        }
    }
    for d in [1u8, 2, 3, 4, 10] {
        v.push(t(
            format!("rotate-{d}"),
            "rotate",
            Some(d.into()),
            Op::Rotate(f32::from(d)),
        ));
    }
    for d in [90u16, 180, 270] {
        v.push(t(
            format!("rot{d}"),
            "rot90s",
            Some(d.into()),
            Op::RotateQuarter(d),
        ));
    }
    v.push(t("flip-h", "flip", None, Op::FlipHorizontal));
    v.push(t("flip-v", "flip", None, Op::FlipVertical));
    for (name, g) in [("0.5", 0.5f32), ("2", 2.0)] {
        v.push(t(
            format!("gamma-{name}"),
            "gamma",
            Some(g.into()),
            Op::Gamma(g),
        ));
    }
    for (name, c) in [("0.5", 0.5f32), ("1.5", 1.5)] {
        v.push(t(
            format!("contrast-{name}"),
            "contrast",
            Some(c.into()),
            Op::Contrast(c),
        ));
    }
    v.push(t(
        "brightness+40",
        "brightness",
        Some(40.0),
        Op::Brightness(40),
    ));
    v.push(t(
        "brightness-40",
        "brightness",
        Some(-40.0),
        Op::Brightness(-40),
    ));
    v.push(t("grayscale", "grayscale", None, Op::Grayscale));
    for s in [1u8, 2] {
        v.push(t(
            format!("blur-{s}"),
            "blur",
            Some(s.into()),
            Op::Blur(f32::from(s)),
        ));
    }
    v.push(t("noise-8", "noise", Some(8.0), Op::Noise(8.0)));
    v.push(t("caption", "overlay", None, Op::Caption));
    v.push(t("watermark", "overlay", None, Op::Watermark));
    v.push(t("screenshot", "overlay", None, Op::ScreenshotFrame));
    v.push(t(
        "phone-screenshot",
        "overlay",
        None,
        Op::PhoneScreenshot { scaled: false },
    ));
    v.push(t(
        "phone-screenshot-scaled",
        "overlay",
        None,
        Op::PhoneScreenshot { scaled: true },
    ));
    v.push(t("social-chain", "chain", None, Op::SocialChain));
    v
}

/// The transforms of [`suite`] named in a comma-separated list of ids or families, in suite
/// order; an unknown name is an error that lists the known ones.
pub fn select(list: &str) -> Result<Vec<Transform>, String> {
    let all = suite();
    let names: Vec<&str> = list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    for n in &names {
        if !all.iter().any(|t| t.id == *n || t.family == *n) {
            let mut known: Vec<&str> = all.iter().map(|t| t.family).collect();
            known.dedup();
            return Err(format!(
                "unknown transform {n:?}: give transform ids or families ({})",
                known.join(", ")
            ));
        }
    }
    let chosen: Vec<Transform> = all
        .into_iter()
        .filter(|t| names.iter().any(|n| t.id == *n || t.family == *n))
        .collect();
    if chosen.is_empty() {
        return Err("--transforms: name at least one transform".into());
    }
    Ok(chosen)
}

/// The pixels a transform produced, and the JPEG file when the last step was a JPEG encode.
#[derive(Debug)]
pub struct Transformed {
    /// What gets hashed (for JPEG steps: the decoded JPEG).
    pub image: Image,
    /// The encoded JPEG whose decoding is `image` (for `--save-images` and the peers script).
    pub jpeg: Option<Vec<u8>>,
}

/// Applies `op` to an RGB original; `seed` drives the random parts (crop offset, noise).
pub fn apply(op: Op, original: &RgbImage, seed: u64) -> Result<Transformed, Error> {
    let mut rng = SplitMix(seed);
    let plain = |img: RgbImage| Transformed {
        image: to_image(img),
        jpeg: None,
    };
    Ok(match op {
        Op::Jpeg(q) => jpeg(original, q)?,
        Op::Resize(f) => plain(scale(original, f, f)),
        Op::Stretch(f) => plain(scale(original, f, 1.0)),
        Op::Crop(p) => plain(crop(original, p, &mut rng)),
        Op::Pad(p, fill) => plain(pad(original, p, p, fill.rgb())),
        Op::Letterbox(p) => plain(pad(original, 0.0, p, [0, 0, 0])),
        Op::Rotate(deg) => plain(rotate(original, deg)),
        Op::RotateQuarter(90) => plain(imageops::rotate270(original)),
        Op::RotateQuarter(180) => plain(imageops::rotate180(original)),
        Op::RotateQuarter(270) => plain(imageops::rotate90(original)),
        Op::RotateQuarter(d) => {
            return Err(Error::Transform(format!(
                "rotation by {d}° is not a multiple of 90"
            )))
        }
        Op::FlipHorizontal => plain(imageops::flip_horizontal(original)),
        Op::FlipVertical => plain(imageops::flip_vertical(original)),
        Op::Gamma(g) => plain(map_samples(original, |v| {
            (255.0 * (f32::from(v) / 255.0).powf(g)).round() as u8
        })),
        Op::Contrast(c) => plain(map_samples(original, |v| {
            (127.5 + (f32::from(v) - 127.5) * c)
                .round()
                .clamp(0.0, 255.0) as u8
        })),
        Op::Brightness(b) => plain(map_samples(original, |v| {
            (i16::from(v) + b).clamp(0, 255) as u8
        })),
        Op::Grayscale => {
            let (w, h) = original.dimensions();
            let grey = original
                .pixels()
                .map(|p| rgb_to_l(p[0], p[1], p[2]))
                .collect();
            Transformed {
                image: Image::new(w, h, Layout::Gray8(grey))
                    .map_err(|e| Error::Transform(e.to_string()))?,
                jpeg: None,
            }
        }
        Op::Blur(sigma) => plain(imageops::blur(original, sigma)),
        Op::Noise(sd) => {
            let mut img = original.clone();
            for v in img.iter_mut() {
                *v = (f64::from(*v) + rng.gaussian() * f64::from(sd))
                    .round()
                    .clamp(0.0, 255.0) as u8;
            }
            plain(img)
        }
        Op::Caption => plain(caption(original, &mut rng)),
        Op::Watermark => plain(watermark(original)),
        Op::ScreenshotFrame => plain(screenshot(original)),
        Op::PhoneScreenshot { scaled } => plain(phone_screenshot(original, scaled, &mut rng)),
        Op::CropCentre(p) => {
            let (w, h) = original.dimensions();
            let (cw, ch) = (
                ((w as f32 * p).round() as u32).min(w - 1),
                ((h as f32 * p).round() as u32).min(h - 1),
            );
            plain(imageops::crop_imm(original, cw / 2, ch / 2, w - cw, h - ch).to_image())
        }
        Op::CropSide(side, p) => {
            let (w, h) = original.dimensions();
            let img = match side {
                Side::Left => {
                    let c = ((w as f32 * p).round() as u32).min(w - 1);
                    imageops::crop_imm(original, c, 0, w - c, h)
                }
                Side::Top => {
                    let c = ((h as f32 * p).round() as u32).min(h - 1);
                    imageops::crop_imm(original, 0, c, w, h - c)
                }
            };
            plain(img.to_image())
        }
        Op::SocialChain => {
            let half = scale(original, 0.5, 0.5);
            let cropped = crop(&half, 0.04, &mut rng);
            let g = map_samples(&cropped, |v| {
                (255.0 * (f32::from(v) / 255.0).powf(0.9)).round() as u8
            });
            jpeg(&g, 70)?
        }
    })
}

/// Moves an `RgbImage` into the core's pixel type.
pub fn to_image(img: RgbImage) -> Image {
    let (w, h) = img.dimensions();
    Image::new(w, h, Layout::Rgb8(img.into_raw())).expect("an RgbImage holds w * h * 3 samples")
}

/// Copies the core's RGB8 pixels into an `RgbImage` (grey is expanded).
pub fn to_rgb_image(img: &Image) -> RgbImage {
    RgbImage::from_raw(img.width(), img.height(), img.to_rgb8())
        .expect("to_rgb8 gives w * h * 3 samples")
}

fn jpeg(img: &RgbImage, quality: u8) -> Result<Transformed, Error> {
    let core = to_image(img.clone());
    let bytes = synth::encode_jpeg(&core, quality);
    if bytes.is_empty() {
        return Err(Error::Transform(format!(
            "cannot encode a {}x{} image as JPEG",
            img.width(),
            img.height()
        )));
    }
    let decoded = decode::decode(&bytes, &Limits::default())
        .map_err(|e| Error::Transform(format!("decoding our own JPEG: {e}")))?;
    Ok(Transformed {
        image: decoded.image,
        jpeg: Some(bytes),
    })
}

fn scale(img: &RgbImage, fx: f32, fy: f32) -> RgbImage {
    let (w, h) = img.dimensions();
    let nw = ((w as f32 * fx).round() as u32).max(1);
    let nh = ((h as f32 * fy).round() as u32).max(1);
    imageops::resize(img, nw, nh, FilterType::CatmullRom)
}

fn crop(img: &RgbImage, p: f32, rng: &mut SplitMix) -> RgbImage {
    let (w, h) = img.dimensions();
    let (cw, ch) = (
        ((w as f32 * p).round() as u32).min(w - 1),
        ((h as f32 * p).round() as u32).min(h - 1),
    );
    // The removed strip is split between the two sides at random: real crops are rarely centred.
    let x = (rng.unit() * f64::from(cw + 1)) as u32;
    let y = (rng.unit() * f64::from(ch + 1)) as u32;
    imageops::crop_imm(img, x.min(cw), y.min(ch), w - cw, h - ch).to_image()
}

fn pad(img: &RgbImage, px: f32, py: f32, colour: [u8; 3]) -> RgbImage {
    let (w, h) = img.dimensions();
    let (bx, by) = (
        (w as f32 * px).round() as u32,
        (h as f32 * py).round() as u32,
    );
    let mut out = RgbImage::from_pixel(w + 2 * bx, h + 2 * by, Rgb(colour));
    imageops::replace(&mut out, img, i64::from(bx), i64::from(by));
    out
}

/// Rotation about the centre with bilinear sampling; samples outside the source are black, so
/// the corners fill black as in an editor's "rotate, keep canvas".
fn rotate(img: &RgbImage, degrees: f32) -> RgbImage {
    let (w, h) = img.dimensions();
    let (sin, cos) = f64::from(degrees).to_radians().sin_cos();
    let (cx, cy) = (f64::from(w) / 2.0, f64::from(h) / 2.0);
    let src = img.as_raw();
    let at = |x: i64, y: i64, c: usize| -> f64 {
        if x < 0 || y < 0 || x >= i64::from(w) || y >= i64::from(h) {
            0.0
        } else {
            f64::from(src[(y as usize * w as usize + x as usize) * 3 + c])
        }
    };
    RgbImage::from_fn(w, h, |x, y| {
        // Inverse mapping: the source point that lands on this output pixel's centre
        // (counter-clockwise rotation on screen, y pointing down).
        let (dx, dy) = (f64::from(x) + 0.5 - cx, f64::from(y) + 0.5 - cy);
        let sx = cos * dx - sin * dy + cx - 0.5;
        let sy = sin * dx + cos * dy + cy - 0.5;
        let (x0, y0) = (sx.floor(), sy.floor());
        let (fx, fy) = (sx - x0, sy - y0);
        let (x0, y0) = (x0 as i64, y0 as i64);
        let mut px = [0u8; 3];
        for (c, out) in px.iter_mut().enumerate() {
            let top = at(x0, y0, c) * (1.0 - fx) + at(x0 + 1, y0, c) * fx;
            let bottom = at(x0, y0 + 1, c) * (1.0 - fx) + at(x0 + 1, y0 + 1, c) * fx;
            *out = (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8;
        }
        Rgb(px)
    })
}

fn map_samples(img: &RgbImage, f: impl Fn(u8) -> u8) -> RgbImage {
    let lut: Vec<u8> = (0..=255u8).map(f).collect();
    let mut out = img.clone();
    for v in out.iter_mut() {
        *v = lut[*v as usize];
    }
    out
}

/// Blends `colour` into `img` where the text mask is set, top-left at (x, y), clipped.
fn stamp(img: &mut RgbImage, text: &str, scale: usize, x: i64, y: i64, colour: [u8; 3], a: f32) {
    let (tw, th, mask) = synth::text_mask(text, scale);
    let (w, h) = (i64::from(img.width()), i64::from(img.height()));
    for ty in 0..th {
        for tx in 0..tw {
            let (px, py) = (x + tx as i64, y + ty as i64);
            if mask[ty * tw + tx] == 0 || px < 0 || py < 0 || px >= w || py >= h {
                continue;
            }
            let p = img.get_pixel_mut(px as u32, py as u32);
            for c in 0..3 {
                let v = f32::from(p[c]) * (1.0 - a) + f32::from(colour[c]) * a;
                p[c] = v.round() as u8;
            }
        }
    }
}

/// The largest font scale at which `chars` characters fit in `width` pixels (at least 1).
fn fit_scale(chars: usize, width: u32) -> usize {
    (width as usize / (chars * 6).max(1)).max(1)
}

fn caption(img: &RgbImage, rng: &mut SplitMix) -> RgbImage {
    let (w, h) = img.dimensions();
    let band = (h * 15 / 100).max(9);
    let mut out = RgbImage::from_pixel(w, h + band, Rgb([255, 255, 255]));
    imageops::replace(&mut out, img, 0, i64::from(band));
    const CAPTIONS: [&str; 4] = [
        "WHEN THE WEEKEND FINALLY ARRIVES",
        "NOBODY: ME AT 3 AM",
        "THIS IS FINE",
        "TAG SOMEONE WHO NEEDS THIS",
    ];
    let text = CAPTIONS[(rng.next() % CAPTIONS.len() as u64) as usize];
    let s = fit_scale(text.len() + 2, w).min((band as usize * 6 / 10 / 7).max(1));
    let (tw, th, _) = synth::text_mask(text, s);
    let x = (i64::from(w) - tw as i64) / 2;
    let y = (i64::from(band) - th as i64) / 2;
    stamp(&mut out, text, s, x, y, [0, 0, 0], 1.0);
    out
}

fn watermark(img: &RgbImage) -> RgbImage {
    let (w, h) = img.dimensions();
    let text = "SAMPLE.ORG";
    // About a third of the width, as stock-photo and reposting watermarks are.
    let s = fit_scale(text.len() * 3, w);
    let (tw, th, _) = synth::text_mask(text, s);
    let margin = i64::from(w.min(h) / 30);
    let mut out = img.clone();
    let (x, y) = (
        i64::from(w) - tw as i64 - margin,
        i64::from(h) - th as i64 - margin,
    );
    stamp(&mut out, text, s, x + 1, y + 1, [0, 0, 0], 0.35);
    stamp(&mut out, text, s, x, y, [255, 255, 255], 0.6);
    out
}

fn screenshot(img: &RgbImage) -> RgbImage {
    let (w, h) = img.dimensions();
    let margin = (w * 4 / 100).max(2);
    let title = (h * 10 / 100).max(8);
    let status = (h * 7 / 100).max(6);
    let (fw, fh) = (w + 2 * margin, h + title + status + margin);
    let mut out = RgbImage::from_pixel(fw, fh, Rgb([236, 236, 236]));
    for y in 0..title {
        for x in 0..fw {
            out.put_pixel(x, y, Rgb([52, 56, 64]));
        }
    }
    for y in fh - status..fh {
        for x in 0..fw {
            out.put_pixel(x, y, Rgb([210, 212, 216]));
        }
    }
    let s = ((title as usize * 5 / 10) / 7).max(1);
    stamp(
        &mut out,
        "IMAGE VIEWER - IMG 0042.JPG",
        s,
        i64::from(margin),
        i64::from(title.saturating_sub(7 * s as u32) / 2),
        [230, 230, 230],
        1.0,
    );
    let ss = ((status as usize * 5 / 10) / 7).max(1);
    stamp(
        &mut out,
        "100% 1024 X 768",
        ss,
        i64::from(margin),
        i64::from(fh - status + status.saturating_sub(7 * ss as u32) / 2),
        [60, 60, 60],
        1.0,
    );
    imageops::replace(&mut out, img, i64::from(margin), i64::from(title));
    out
}

fn fill_rect(img: &mut RgbImage, x0: u32, y0: u32, x1: u32, y1: u32, c: [u8; 3]) {
    for y in y0..y1.min(img.height()) {
        for x in x0..x1.min(img.width()) {
            img.put_pixel(x, y, Rgb(c));
        }
    }
}

/// A phone screenshot of a social-media post showing `img`: a 9:19.5 screen whose width is the
/// displayed picture's plus optional side margins, light or dark theme, text in every bar, a
/// camera notch in the status bar on some, rounded picture corners on some cards with margins;
/// when `scaled`, the picture resampled to the screen as apps show it (0.75× or 1.25×,
/// bilinear).
fn phone_screenshot(img: &RgbImage, scaled: bool, rng: &mut SplitMix) -> RgbImage {
    let margin_draw = rng.next();
    let dark = rng.next().is_multiple_of(3);
    let scale_draw = rng.next();
    let scale = match (scaled, scale_draw.is_multiple_of(2)) {
        (false, _) => 1.0f32,
        (true, true) => 0.75,
        (true, false) => 1.25,
    };
    let notch = rng.next().is_multiple_of(3);
    let rounded = rng.next().is_multiple_of(2);
    let shown;
    let img = if scale == 1.0 {
        img
    } else {
        let (w, h) = img.dimensions();
        let (nw, nh) = (
            (w as f32 * scale).round() as u32,
            (h as f32 * scale).round() as u32,
        );
        shown = imageops::resize(img, nw, nh, FilterType::Triangle);
        &shown
    };
    let (w, h) = img.dimensions();
    let margin = if margin_draw.is_multiple_of(2) {
        0
    } else {
        (w * 3 / 100).max(2)
    };
    let sw = w + 2 * margin;
    let sh = (sw as f32 * 19.5 / 9.0).round() as u32;
    let (bg, fg, dim) = if dark {
        ([18, 18, 18], [235, 235, 235], [150, 150, 150])
    } else {
        ([255, 255, 255], [20, 20, 20], [110, 110, 110])
    };
    let unit = (sw / 40).max(2); // ~ one text line's height
    let text_scale = |px: u32| ((px as usize * 6 / 10) / 7).max(1);
    let status = unit * 2;
    let appbar = unit * 3;
    let account = unit * 3;
    let mut out = RgbImage::from_pixel(sw, sh, Rgb(bg));
    // Status bar: clock left, battery and signal right.
    let s = text_scale(status);
    stamp(
        &mut out,
        "9:41",
        s,
        i64::from(unit),
        i64::from(unit / 2),
        fg,
        1.0,
    );
    fill_rect(
        &mut out,
        sw - 4 * unit,
        unit / 2,
        sw - 2 * unit,
        status - unit / 2,
        fg,
    );
    fill_rect(
        &mut out,
        sw - 6 * unit,
        unit,
        sw - 5 * unit,
        status - unit / 2,
        fg,
    );
    // A camera notch: a black pill in the middle of the status bar.
    if notch {
        let (nw, nh) = (sw * 3 / 10, status * 4 / 5);
        let (nx, ny) = ((sw - nw) / 2, 0);
        fill_rect(
            &mut out,
            nx + nh / 2,
            ny,
            nx + nw - nh / 2,
            ny + nh,
            [0, 0, 0],
        );
        for (cx, sign) in [(nx + nh / 2, -1i64), (nx + nw - nh / 2, 1)] {
            disc_half(&mut out, cx, ny + nh / 2, nh / 2, sign);
        }
    }
    // App bar with a title, in a brand colour or the background.
    let brand = [[30, 60, 140], [200, 40, 80], bg][(rng.next() % 3) as usize];
    fill_rect(&mut out, 0, status, sw, status + appbar, brand);
    let title_colour = if brand == bg { fg } else { [255, 255, 255] };
    let s = text_scale(appbar);
    stamp(
        &mut out,
        "PHOTOGRAM",
        s,
        i64::from(unit),
        i64::from(status + unit),
        title_colour,
        1.0,
    );
    // Account row: avatar disc and a user name.
    let y0 = status + appbar;
    let r = unit;
    for y in 0..2 * r {
        for x in 0..2 * r {
            let (dx, dy) = (x as i64 - r as i64, y as i64 - r as i64);
            if dx * dx + dy * dy <= (r * r) as i64 {
                out.put_pixel(unit + x, y0 + unit / 2 + y, Rgb([90, 150, 200]));
            }
        }
    }
    let s = text_scale(account * 2 / 3);
    stamp(
        &mut out,
        "SUNNY_DAYS_42",
        s,
        i64::from(4 * unit),
        i64::from(y0 + unit),
        fg,
        1.0,
    );
    // The picture; a card with margins may round its corners into the background.
    let py = y0 + account;
    imageops::replace(&mut out, img, i64::from(margin), i64::from(py));
    if rounded && margin > 0 {
        round_corners(
            &mut out,
            (margin, py, margin + w, py + h),
            (w / 25).max(2),
            bg,
        );
    }
    // Action icons, likes and two caption lines.
    let mut y = py + h + unit / 2;
    for i in 0..3 {
        fill_rect(
            &mut out,
            unit + i * 3 * unit,
            y,
            3 * unit + i * 3 * unit,
            y + 2 * unit,
            fg,
        );
    }
    y += 3 * unit;
    let s = text_scale(unit * 3 / 2);
    for line in [
        "1,024 LIKES",
        "SUNNY_DAYS_42 WHAT A VIEW TODAY",
        "VIEW ALL 56 COMMENTS",
    ] {
        if y + unit * 2 >= sh {
            break;
        }
        stamp(
            &mut out,
            line,
            s,
            i64::from(unit),
            i64::from(y),
            if line.starts_with("VIEW") { dim } else { fg },
            1.0,
        );
        y += unit * 2;
    }
    // The top of the next post, cut off by the navigation bar.
    let nav = unit * 3;
    y += unit;
    if y + nav < sh {
        let next = [[120, 90, 60], [60, 110, 70], [100, 100, 140]][(rng.next() % 3) as usize];
        fill_rect(&mut out, 0, y, sw, sh - nav, next);
    }
    let nav_colour = if dark { [30, 30, 30] } else { [245, 245, 245] };
    fill_rect(&mut out, 0, sh - nav, sw, sh, nav_colour);
    for i in 0..4 {
        let cx = sw * (2 * i + 1) / 8;
        fill_rect(
            &mut out,
            cx - unit / 2,
            sh - nav + unit,
            cx + unit / 2,
            sh - unit,
            dim,
        );
    }
    out
}

/// Paints the corners of `rect` (x0, y0, x1, y1) outside quarter circles of `radius` in `bg`.
fn round_corners(img: &mut RgbImage, rect: (u32, u32, u32, u32), radius: u32, bg: [u8; 3]) {
    let (x0, y0, x1, y1) = rect;
    let r = i64::from(radius);
    for dy in 0..radius {
        for dx in 0..radius {
            // Distance from the corner's circle centre, at pixel centres.
            let (ox, oy) = (r - i64::from(dx), r - i64::from(dy));
            if 4 * (ox * ox + oy * oy) - 4 * (ox + oy) + 2 <= 4 * r * r {
                continue;
            }
            for (x, y) in [
                (x0 + dx, y0 + dy),
                (x1 - 1 - dx, y0 + dy),
                (x0 + dx, y1 - 1 - dy),
                (x1 - 1 - dx, y1 - 1 - dy),
            ] {
                if x < img.width() && y < img.height() {
                    img.put_pixel(x, y, Rgb(bg));
                }
            }
        }
    }
}

/// Fills the half disc of `radius` around (cx, cy) on the side `sign` (-1 left, 1 right) in black.
fn disc_half(img: &mut RgbImage, cx: u32, cy: u32, radius: u32, sign: i64) {
    let r = i64::from(radius);
    for dy in -r..=r {
        for dx in 0..=r {
            if dx * dx + dy * dy > r * r {
                continue;
            }
            let (x, y) = (i64::from(cx) + sign * dx, i64::from(cy) + dy);
            if x >= 0 && y >= 0 && (x as u32) < img.width() && (y as u32) < img.height() {
                img.put_pixel(x as u32, y as u32, Rgb([0, 0, 0]));
            }
        }
    }
}

/// SplitMix64: a tiny seeded generator for crop offsets and noise (reproducible per image).
#[derive(Clone, Debug)]
pub(crate) struct SplitMix(pub(crate) u64);

impl SplitMix {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(self.0)
    }

    /// Uniform in [0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    pub(crate) fn gaussian(&mut self) -> f64 {
        let u1 = 1.0 - self.unit(); // (0, 1]
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// The SplitMix64 finaliser: a bijective 64-bit mix.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            Rgb([
                (x * 255 / w) as u8,
                (y * 255 / h) as u8,
                ((x + y) % 256) as u8,
            ])
        })
    }

    #[test]
    fn suite_ids_are_unique_and_cover_the_issue() {
        let s = suite();
        let mut ids: Vec<&str> = s.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(s.len(), 57);
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), s.len());
    }

    #[test]
    fn every_transform_runs_and_gives_plausible_sizes() {
        let img = gradient(80, 60);
        for tr in suite() {
            let out = apply(tr.op, &img, 7).unwrap();
            let (w, h) = (out.image.width(), out.image.height());
            assert!(
                w >= 15 && h >= 15 && w <= 200 && h <= 200,
                "{}: {w}x{h}",
                tr.id
            );
            assert_eq!(
                out.jpeg.is_some(),
                tr.family == "jpeg" || tr.id == "social-chain"
            );
        }
    }

    #[test]
    fn geometry_is_what_it_says() {
        let img = gradient(80, 60);
        let size = |op| {
            let o = apply(op, &img, 1).unwrap().image;
            (o.width(), o.height())
        };
        assert_eq!(size(Op::Resize(0.5)), (40, 30));
        assert_eq!(size(Op::Stretch(1.25)), (100, 60));
        assert_eq!(size(Op::Crop(0.1)), (72, 54));
        assert_eq!(size(Op::Letterbox(0.25)), (80, 90));
        assert_eq!(size(Op::Pad(0.1, Fill::White)), (96, 72));
        assert_eq!(size(Op::RotateQuarter(90)), (60, 80));
        // Rotating by 0° is the identity; 90° counter-clockwise moves the top-right corner to
        // the top-left.
        assert_eq!(rotate(&img, 0.0), img);
        let r = to_rgb_image(&apply(Op::RotateQuarter(90), &img, 0).unwrap().image);
        assert_eq!(r.get_pixel(0, 0), img.get_pixel(79, 0));
        // Bilinear rotation by 90° agrees with the exact quarter turn away from the edges.
        let sq = gradient(40, 40);
        let a = rotate(&sq, 90.0);
        let b = imageops::rotate270(&sq);
        for y in 2..38 {
            for x in 2..38 {
                for c in 0..3 {
                    let d = i16::from(a.get_pixel(x, y)[c]) - i16::from(b.get_pixel(x, y)[c]);
                    assert!(d.abs() <= 1, "({x},{y}) {d}");
                }
            }
        }
    }

    #[test]
    fn jpeg_round_trip_is_close_and_seeds_are_reproducible() {
        let img = gradient(64, 48);
        let out = apply(Op::Jpeg(95), &img, 0).unwrap();
        let back = to_rgb_image(&out.image);
        let mean_err: f64 = img
            .iter()
            .zip(back.iter())
            .map(|(a, b)| f64::from((i16::from(*a) - i16::from(*b)).abs()))
            .sum::<f64>()
            / img.len() as f64;
        assert!(mean_err < 4.0, "{mean_err}");
        let n1 = apply(Op::Noise(8.0), &img, 3).unwrap().image;
        assert_eq!(n1, apply(Op::Noise(8.0), &img, 3).unwrap().image);
        assert_ne!(n1, apply(Op::Noise(8.0), &img, 4).unwrap().image);
    }
}
