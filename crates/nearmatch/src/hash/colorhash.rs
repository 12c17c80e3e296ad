//! `imagehash.colorhash`: the fractions of an image that are black, grey, and of six hues in
//! faint and in bright saturation, each quantised to `binbits` bits (14 values).
//!
//! The image is not resized. Each pixel gets PIL's `convert('L')` value and PIL's
//! `convert('HSV')` hue and saturation (`Convert.c`, `rgb2hsv_row`, reproduced with its mix of
//! float and double arithmetic, so every one of the 2^24 colours gets Pillow's bytes):
//!
//! * black: `L < 32`; grey: not black and `S < 85`; the rest are colours;
//! * faint colours have `S < 170`, bright ones `S > 170`: `S == 170` is in neither;
//! * hues are binned by `numpy.histogram(h, bins=linspace(0, 255, 7))`: `[0, 42.5)`, …,
//!   `[212.5, 255]`, the last bin closed;
//! * value = `min(2^b - 1, int(fraction · 2^b))`, the fractions of black and grey over all
//!   pixels, the hue counts over the colour pixels (at least 1), in float64 as imagehash 4.3.2
//!   computes them (`int(count · 2^b · 1.0 / c)`);
//! * each value `v` becomes `b` bits, bit `i` being `(v // 2^(b-1-i)) % 2^(b-i) > 0` (imagehash's
//!   formula, which is not plain binary: 4 with 3 bits is `110`).
//!
//! ```
//! use nearmatch::hash::colorhash::colorhash_rgb;
//! // A pure red image: every pixel is a bright colour of hue 0.
//! let rgb: Vec<u8> = [255u8, 0, 0].repeat(16);
//! let h = colorhash_rgb(&rgb, 3).unwrap();
//! assert_eq!((h.rows(), h.cols()), (14, 3));
//! assert_eq!(h.to_hex(), "00000038000");
//! ```

use std::sync::OnceLock;

use crate::error::Error;
use crate::hash::imagehash::BitMatrix;
use crate::hash::luma::rgb_to_l;

/// Pillow's `rgb2hsv_row` for one pixel: `(H, S, V)` bytes.
pub fn rgb_to_hsv(r: u8, g: u8, b: u8) -> (u8, u8, u8) {
    let maxc = r.max(g).max(b);
    let minc = r.min(g).min(b);
    if minc == maxc {
        return (0, 0, maxc);
    }
    let cr = (maxc - minc) as f32;
    let s = cr / maxc as f32;
    let rc = (maxc - r) as f32 / cr;
    let gc = (maxc - g) as f32 / cr;
    let bc = (maxc - b) as f32 / cr;
    // `2.0 + rc - bc` is evaluated in double (2.0 is a double literal), then stored as float.
    let h: f32 = if r == maxc {
        bc - gc
    } else if g == maxc {
        ((2.0 + rc as f64) - bc as f64) as f32
    } else {
        ((4.0 + gc as f64) - rc as f64) as f32
    };
    let h = ((h as f64 / 6.0 + 1.0) % 1.0) as f32;
    let clip8 = |v: f64| (v as i32).clamp(0, 255) as u8;
    (clip8(h as f64 * 255.0), clip8(s as f64 * 255.0), maxc)
}

/// Hue and saturation tables: the saturation depends only on `(max, max - min)`, the hue only on
/// which channel is the maximum and the two differences `max - other` (their larger one is
/// `max - min`). 3 × 64 Ki + 64 Ki bytes, built once.
struct HsvTables {
    /// `[case][d1][d2]`: case 0 = red is the maximum (d1 = max - g, d2 = max - b), 1 = green
    /// (d1 = max - r, d2 = max - b), 2 = blue (d1 = max - r, d2 = max - g).
    hue: Vec<u8>,
    /// `[max][max - min]`.
    sat: Vec<u8>,
}

impl HsvTables {
    fn get() -> &'static HsvTables {
        static T: OnceLock<HsvTables> = OnceLock::new();
        T.get_or_init(|| {
            let mut hue = vec![0u8; 3 * 65536];
            for d1 in 0..=255u8 {
                for d2 in 0..=255u8 {
                    let m = 255u8;
                    let idx = (d1 as usize) << 8 | d2 as usize;
                    // Red max: g = m - d1, b = m - d2 (r == max wins ties, as in Pillow).
                    hue[idx] = rgb_to_hsv(m, m - d1, m - d2).0;
                    // Green max with red below it: r = m - d1 (d1 > 0), b = m - d2.
                    hue[65536 + idx] = rgb_to_hsv(m - d1.max(1), m, m - d2).0;
                    // Blue max with red and green below it.
                    hue[2 * 65536 + idx] = rgb_to_hsv(m - d1.max(1), m - d2.max(1), m).0;
                }
            }
            let mut sat = vec![0u8; 65536];
            for maxc in 1..=255u8 {
                for cr in 1..=maxc {
                    sat[(maxc as usize) << 8 | cr as usize] = rgb_to_hsv(maxc, maxc - cr, maxc).1;
                }
            }
            HsvTables { hue, sat }
        })
    }

    /// Hue and saturation of one pixel.
    #[inline]
    fn hs(&self, r: u8, g: u8, b: u8) -> (u8, u8) {
        let maxc = r.max(g).max(b);
        let minc = r.min(g).min(b);
        if maxc == minc {
            return (0, 0);
        }
        let sat = self.sat[(maxc as usize) << 8 | (maxc - minc) as usize];
        let (case, d1, d2) = if r == maxc {
            (0, maxc - g, maxc - b)
        } else if g == maxc {
            (1, maxc - r, maxc - b)
        } else {
            (2, maxc - r, maxc - g)
        };
        (self.hue[case << 16 | (d1 as usize) << 8 | d2 as usize], sat)
    }
}

/// The counts colorhash quantises.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ColorCounts {
    /// Number of pixels.
    pub pixels: u64,
    /// Pixels with `L < 32`.
    pub black: u64,
    /// Not black, `S < 85`.
    pub gray: u64,
    /// Neither black nor grey.
    pub colors: u64,
    /// Faint colours (`S < 170`) per hue bin.
    pub faint: [u64; 6],
    /// Bright colours (`S > 170`) per hue bin.
    pub bright: [u64; 6],
}

/// `numpy.histogram(h, bins=numpy.linspace(0, 255, 7))`'s bin of an integer hue: edges at
/// 0, 42.5, 85, 127.5, 170, 212.5, 255, the last bin closed.
#[inline]
fn hue_bin(h: u8) -> usize {
    match h {
        0..=42 => 0,
        43..=84 => 1,
        85..=127 => 2,
        128..=169 => 3,
        170..=212 => 4,
        _ => 5,
    }
}

impl ColorCounts {
    /// Adds one pixel given its `L`, hue and saturation.
    #[inline]
    pub fn add(&mut self, l: u8, h: u8, s: u8) {
        self.pixels += 1;
        if l < 32 {
            self.black += 1;
        } else if s < 85 {
            self.gray += 1;
        } else {
            self.colors += 1;
            if s < 170 {
                self.faint[hue_bin(h)] += 1;
            } else if s > 170 {
                self.bright[hue_bin(h)] += 1;
            }
        }
    }

    /// The hash: 14 values of `binbits` bits each, a 14 × `binbits` matrix.
    pub fn hash(&self, binbits: u32) -> Result<BitMatrix, Error> {
        if !(1..=48).contains(&binbits) {
            return Err(Error::InvalidArgument(format!(
                "binbits must be between 1 and 48, got {binbits}"
            )));
        }
        let maxvalue = (1u64 << binbits) as f64;
        let top = (1u64 << binbits) - 1;
        let quantise = |v: f64| (v as u64).min(top);
        let mut values = Vec::with_capacity(14);
        // `mask.mean()` is count / N in float64 (NaN for an empty image, as numpy gives).
        let n = self.pixels as f64;
        values.push(frac_value(self.black as f64 / n, maxvalue, top)?);
        values.push(frac_value(self.gray as f64 / n, maxvalue, top)?);
        let c = self.colors.max(1) as f64;
        for &count in self.faint.iter().chain(&self.bright) {
            values.push(quantise((count as f64 * maxvalue) / c));
        }
        let b = binbits as usize;
        let mut bits = Vec::with_capacity(14 * b);
        for v in values {
            for i in 0..b {
                let shifted = v >> (b - 1 - i);
                let modulus = 1u64 << (b - i);
                bits.push(!shifted.is_multiple_of(modulus));
            }
        }
        BitMatrix::new(14, b, bits)
    }
}

/// `min(top, int(frac · maxvalue))`, refusing NaN as Python's `int()` does.
fn frac_value(frac: f64, maxvalue: f64, top: u64) -> Result<u64, Error> {
    if frac.is_nan() {
        return Err(Error::InvalidArgument(
            "cannot convert float NaN to integer (colorhash of an empty image)".into(),
        ));
    }
    Ok(((frac * maxvalue) as u64).min(top))
}

/// colorhash of interleaved RGB pixels (3 bytes each); `convert('L')` and `convert('HSV')` are
/// computed per pixel as Pillow does for RGB, RGBA and palette images.
pub fn colorhash_rgb(rgb: &[u8], binbits: u32) -> Result<BitMatrix, Error> {
    color_counts_rgb(rgb, 3).hash(binbits)
}

/// The counts of interleaved pixels of `stride` bytes whose first three are R, G, B (stride 4
/// for RGBA and RGBX, whose fourth byte Pillow ignores for both conversions).
pub fn color_counts_rgb(pixels: &[u8], stride: usize) -> ColorCounts {
    let t = HsvTables::get();
    let mut c = ColorCounts::default();
    for p in pixels.chunks_exact(stride) {
        let (r, g, b) = (p[0], p[1], p[2]);
        let (h, s) = t.hs(r, g, b);
        c.add(rgb_to_l(r, g, b), h, s);
    }
    c
}

/// The counts of a greyscale image: every pixel has hue and saturation 0 (Pillow converts grey
/// to HSV through RGB), so only the black fraction and grey fraction can be non-zero.
pub fn color_counts_gray(luma: &[u8]) -> ColorCounts {
    let mut c = ColorCounts::default();
    for &l in luma {
        c.add(l, 0, 0);
    }
    c
}

/// The counts from planes Pillow produced itself (`convert('L')` and the H and S bands of
/// `convert('HSV')`), for the image modes whose conversions nearmatch does not reproduce.
pub fn color_counts_planes(l: &[u8], h: &[u8], s: &[u8]) -> Result<ColorCounts, Error> {
    if l.len() != h.len() || l.len() != s.len() {
        return Err(Error::InvalidPixels(format!(
            "colorhash planes differ in size: L {}, H {}, S {}",
            l.len(),
            h.len(),
            s.len()
        )));
    }
    let mut c = ColorCounts::default();
    for ((&l, &h), &s) in l.iter().zip(h).zip(s) {
        c.add(l, h, s);
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_agree_with_the_formula_on_every_colour() {
        let t = HsvTables::get();
        // Every colour would be 16.7 M calls; every 3rd value per channel covers all cases
        // (each maximum, ties, both saturation extremes) in 86^3 = 636 k.
        for r in (0..=255u8).step_by(3) {
            for g in (0..=255u8).step_by(3) {
                for b in (0..=255u8).step_by(3) {
                    let (h, s, _) = rgb_to_hsv(r, g, b);
                    assert_eq!(t.hs(r, g, b), (h, s), "{r} {g} {b}");
                }
            }
        }
        for (r, g, b) in [
            (255, 255, 0),
            (0, 255, 255),
            (255, 0, 255),
            (7, 7, 9),
            (9, 7, 7),
        ] {
            let (h, s, _) = rgb_to_hsv(r, g, b);
            assert_eq!(t.hs(r, g, b), (h, s));
        }
    }

    #[test]
    fn hsv_values_from_pillow() {
        // Image.new('RGB', (1, 1), c).convert('HSV').getpixel((0, 0)), Pillow 13.
        assert_eq!(rgb_to_hsv(255, 0, 0), (0, 255, 255));
        assert_eq!(rgb_to_hsv(0, 255, 0), (85, 255, 255));
        assert_eq!(rgb_to_hsv(0, 0, 255), (170, 255, 255));
        assert_eq!(rgb_to_hsv(200, 30, 90), (240, 216, 200));
        assert_eq!(rgb_to_hsv(10, 10, 10), (0, 0, 10));
        assert_eq!(rgb_to_hsv(1, 2, 3), (148, 170, 3));
    }

    #[test]
    fn bit_formula_is_imagehash_s() {
        // v = 4 with 3 bits is 110 in imagehash (not 100).
        let mut c = ColorCounts {
            pixels: 2,
            black: 1, // frac 0.5 -> int(0.5 * 8) = 4
            ..ColorCounts::default()
        };
        c.gray = 0;
        let h = c.hash(3).unwrap();
        assert_eq!(&h.bits()[..3], &[true, true, false]);
        assert!(ColorCounts::default().hash(3).is_err(), "NaN fractions");
        assert!(c.hash(0).is_err());
    }
}
