//! Pixels -> f32 luma, per profile, including the meta-cpp 512x512 nearest-neighbour pre-resize.

use super::fused::Level;
use super::Profile;
use crate::pixels::{Image, Layout};

/// Side above which the meta-cpp profile first resizes to exactly `DOWNSAMPLE_DIMS` square.
pub(super) const DOWNSAMPLE_DIMS: usize = 512;

/// `pdqhash` (PyPI): numpy evaluates `R*0.299 + G*0.587 + B*0.114` left to right in f64 and
/// rounds once to f32 (`.astype('float32')`).
#[inline]
fn luma_f64(r: u8, g: u8, b: u8) -> f32 {
    ((r as f64 * 0.299 + g as f64 * 0.587) + b as f64 * 0.114) as f32
}

/// Meta's C++ `fillFloatLumaFromRGB`: f32 coefficients, every product and sum rounded to f32,
/// left to right (never fused: Rust does not contract `a * b + c`).
#[inline]
fn luma_f32(r: u8, g: u8, b: u8) -> f32 {
    (0.299f32 * r as f32 + 0.587f32 * g as f32) + 0.114f32 * b as f32
}

/// The source rows (or columns) sampled for each output of a nearest-neighbour resize from `n`
/// to `m`: CImg's default `resize` anchors at the top-left corner, `floor(dst * n / m)`. The
/// reference evaluates this in f64, where `dst * n / m` is exact for `m` a power of two, so the
/// integer quotient is the same value.
fn nearest_indices(n: usize, m: usize) -> Vec<usize> {
    (0..m).map(|d| d * n / m).collect()
}

/// Dimensions of the luma plane [`fill`] makes: 512x512 under meta-cpp when a side exceeds 512.
pub(super) fn output_dims(image: &Image, profile: Profile) -> (usize, usize) {
    let (w, h) = (image.width() as usize, image.height() as usize);
    if profile == Profile::MetaCpp && (w > DOWNSAMPLE_DIMS || h > DOWNSAMPLE_DIMS) {
        (DOWNSAMPLE_DIMS, DOWNSAMPLE_DIMS)
    } else {
        (w, h)
    }
}

/// Fills `out` with the luma of `image` under `profile` and returns `(width, height)` of it.
///
/// Grey input is taken as its own luma in both profiles (as the C++ `fillFloatLumaFromGrey`;
/// `pdqhash`'s f64 weights also give exactly the grey value). 16-bit grey uses its high byte,
/// `v >> 8`: the C++ CLI keeps the *low* byte, which turns the image into noise.
pub(super) fn fill(image: &Image, profile: Profile, out: &mut Vec<f32>) -> (usize, usize) {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let (ow, oh) = output_dims(image, profile);
    let resize = (ow, oh) != (w, h);
    if !resize {
        // Row by row through the SIMD kernels the streamed path uses (the same bits): the plane
        // the query probes need is made here for every image a scan probes, and the per-pixel
        // formula made it 13% of such a scan's CPU. Every value is overwritten, so a reused
        // buffer is not cleared first (only the part it grows by is zeroed).
        let level = Level::detect();
        out.truncate(w * h);
        out.resize(w * h, 0.0);
        if w > 0 {
            for (y, o) in out.chunks_exact_mut(w).enumerate() {
                fill_row(image, profile, level, y, o);
            }
        }
        return (ow, oh);
    }
    out.clear();
    out.reserve(ow * oh);
    // Monomorphised per formula: a runtime-chosen fn pointer costs an indirect call per pixel.
    match profile {
        Profile::Pdqhash => fill_resized(image, (ow, oh), out, luma_f64, profile),
        Profile::MetaCpp => fill_resized(image, (ow, oh), out, luma_f32, profile),
    }
    (ow, oh)
}

/// Fills `out` (`width` values) with the luma of row `y` of `image`, without any pre-resize
/// (the caller checked that [`output_dims`] equals the image's size). The same values as
/// [`fill`], one row at a time, so that the tent filter can consume them while in cache.
#[inline(always)]
pub(super) fn fill_row(image: &Image, profile: Profile, level: Level, y: usize, out: &mut [f32]) {
    let w = image.width() as usize;
    debug_assert_eq!(out.len(), w);
    match image.layout() {
        Layout::Rgb8(px) => fill_row_rgb8(&px[3 * w * y..3 * w * (y + 1)], profile, level, out),
        Layout::Gray8(px) => fill_row_gray8(&px[w * y..w * (y + 1)], out),
        Layout::Gray16(px) => {
            for (o, &v) in out.iter_mut().zip(&px[w * y..w * (y + 1)]) {
                *o = gray16(v, profile);
            }
        }
    }
}

/// Fills `out` with the luma of one row of 8-bit RGB pixels (`3 * out.len()` bytes): the
/// values [`fill`] gives for that row.
#[inline(always)]
pub(super) fn fill_row_rgb8(px: &[u8], profile: Profile, level: Level, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if level == Level::Avx512 || level == Level::Avx2 {
        // SAFETY: these levels are only chosen on CPUs with AVX2 and FMA (`Level::detect`).
        return unsafe { x86::rgb_row_avx2(px, out, profile) };
    }
    let _ = level;
    match profile {
        Profile::Pdqhash => rgb_row(px, out, luma_f64),
        Profile::MetaCpp => rgb_row(px, out, luma_f32),
    }
}

/// Fills `out` with one row of 8-bit grey pixels, its own luma in both profiles.
#[inline(always)]
pub(super) fn fill_row_gray8(px: &[u8], out: &mut [f32]) {
    for (o, &v) in out.iter_mut().zip(px) {
        *o = v as f32;
    }
}

/// A 16-bit grey sample as the profile's reference reduces it: `pdqhash` is fed
/// `Image.convert("RGB")`, which clips at 255 without rescaling (so most of a 16-bit picture is
/// white); Meta's C++ tool reads through CImg, whose low byte is a bug, so `meta-cpp` takes
/// the high byte, the value the spec recommends.
#[inline(always)]
fn gray16(v: u16, profile: Profile) -> f32 {
    match profile {
        Profile::Pdqhash => v.min(255) as f32,
        Profile::MetaCpp => (v >> 8) as f32,
    }
}

/// One row of RGB to luma; a plain loop that the compiler vectorises (the same IEEE operations
/// per pixel, so the same values as the scalar formula).
#[inline(always)]
fn rgb_row(px: &[u8], out: &mut [f32], rgb: impl Fn(u8, u8, u8) -> f32) {
    for (o, p) in out.iter_mut().zip(px.chunks_exact(3)) {
        *o = rgb(p[0], p[1], p[2]);
    }
}

/// RGB rows to luma with AVX2 and FMA, 8 pixels per step, the same bits as [`luma_f64`] /
/// [`luma_f32`].
///
/// `pdqhash`'s f64 formula is evaluated exactly instead. `n = 299 R + 587 G + 114 B` is an
/// integer (two `pmaddwd`). For `n / 1000` in `[2^e, 2^(e+1))` the f64 sum of the three rounded
/// products is within about `2^(e-50)` of it, while the points halfway between two f32 there
/// are multiples of `2^(e-24)`: `n / 1000` is either one of the f32 itself (when 125 divides
/// `n`) or at least `2^(e-24) / 1000` away from every such midpoint. So the f64 result, rounded
/// once to f32, is `n / 1000` correctly rounded, which `n` (exact in f32: below 2^24) divided
/// by 1000 gives through the fused multiply-adds of [`super::fused`]'s division. The test
/// `pdqhash_luma_equals_the_f64_formula_for_every_colour` checks all 2^24 colours. Measured:
/// a third of the f64 kernel's cost per pixel (its 4 f64 lanes per AVX2 register, and
/// 3 conversions, 3 products and 2 sums per pixel, made the luma 12% of an exact hash with its
/// decode).
#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::super::fused::x86::div8;
    use super::{luma_f32, luma_f64, Profile};
    use std::arch::x86_64::*;

    /// A pshufb mask that moves, within each 16-byte lane, byte `b0 + 3 * i` (and `b1 + 3 *
    /// i` unless `b1` is negative) of pixel `i` to the low byte of word 0 (word 1) of dword
    /// `i`, zeroing the other bytes (0x80 makes pshufb write a zero).
    const fn mask(b0: i8, b1: i8) -> [i8; 32] {
        let mut m = [-1i8; 32];
        let mut i = 0;
        while i < 4 {
            m[4 * i] = b0 + 3 * i as i8;
            m[16 + 4 * i] = b0 + 3 * i as i8;
            if b1 >= 0 {
                m[4 * i + 2] = b1 + 3 * i as i8;
                m[16 + 4 * i + 2] = b1 + 3 * i as i8;
            }
            i += 1;
        }
        m
    }

    /// Each channel alone into dwords: R, G, B.
    const PICK: [[i8; 32]; 3] = [mask(0, -1), mask(1, -1), mask(2, -1)];
    /// R and G into the two words of each dword.
    const PICK_RG: [i8; 32] = mask(0, 1);

    /// The row kernel.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn rgb_row_avx2(px: &[u8], out: &mut [f32], profile: Profile) {
        assert_eq!(px.len(), out.len() * 3, "RGB row length");
        // A step loads 32 bytes for its 24: stop while 8 more bytes stay inside the row.
        let steps = if px.len() >= 32 {
            (px.len() - 32) / 24 + 1
        } else {
            0
        };
        // Dwords 0..2 (pixels 0..3) into the low lane, 3..5 (pixels 4..7) into the high one.
        let spread = _mm256_setr_epi32(0, 1, 2, 3, 3, 4, 5, 6);
        let pick = |mask: [i8; 32]| {
            // SAFETY: 32 bytes read from a 32-byte array (unaligned load).
            unsafe { _mm256_loadu_si256(mask.as_ptr().cast()) }
        };
        let (prg, pb) = (pick(PICK_RG), pick(PICK[2]));
        let (pr, pg) = (pick(PICK[0]), pick(PICK[1]));
        // (R, G) word pairs times (299, 587), B times 114: `n` exactly, in 32-bit lanes.
        let w_rg = _mm256_set1_epi32(299 | (587 << 16));
        let w_b = _mm256_set1_epi32(114);
        let (thousand, milli) = (_mm256_set1_ps(1000.0), _mm256_set1_ps(1.0 / 1000.0));
        for i in 0..steps {
            // SAFETY: i * 24 + 32 <= px.len() by the choice of `steps`.
            let v = unsafe { _mm256_loadu_si256(px.as_ptr().add(i * 24).cast()) };
            let v = _mm256_permutevar8x32_epi32(v, spread);
            let y = match profile {
                Profile::Pdqhash => {
                    let n = _mm256_add_epi32(
                        _mm256_madd_epi16(_mm256_shuffle_epi8(v, prg), w_rg),
                        _mm256_madd_epi16(_mm256_shuffle_epi8(v, pb), w_b),
                    );
                    // `n / 1000` correctly rounded.
                    div8(_mm256_cvtepi32_ps(n), thousand, milli)
                }
                Profile::MetaCpp => {
                    let (r, g, b) = (
                        _mm256_cvtepi32_ps(_mm256_shuffle_epi8(v, pr)),
                        _mm256_cvtepi32_ps(_mm256_shuffle_epi8(v, pg)),
                        _mm256_cvtepi32_ps(_mm256_shuffle_epi8(v, pb)),
                    );
                    // Products and sums rounded one by one, never fused (as the C++).
                    let s = _mm256_add_ps(
                        _mm256_mul_ps(_mm256_set1_ps(0.299), r),
                        _mm256_mul_ps(_mm256_set1_ps(0.587), g),
                    );
                    _mm256_add_ps(s, _mm256_mul_ps(_mm256_set1_ps(0.114), b))
                }
            };
            // SAFETY: i * 8 + 8 <= out.len() since i * 24 + 24 <= px.len() = 3 * out.len().
            unsafe { _mm256_storeu_ps(out.as_mut_ptr().add(i * 8), y) };
        }
        let done = steps * 8;
        for (o, p) in out[done..].iter_mut().zip(px[3 * done..].chunks_exact(3)) {
            *o = match profile {
                Profile::Pdqhash => luma_f64(p[0], p[1], p[2]),
                Profile::MetaCpp => luma_f32(p[0], p[1], p[2]),
            };
        }
    }
}

/// Appends to `out` the luma of `image` resized to `ow x oh` by [`nearest_indices`] (the
/// meta-cpp pre-resize), with `rgb` as the RGB formula.
fn fill_resized(
    image: &Image,
    (ow, oh): (usize, usize),
    out: &mut Vec<f32>,
    rgb: impl Fn(u8, u8, u8) -> f32,
    profile: Profile,
) {
    let (w, h) = (image.width() as usize, image.height() as usize);
    // The CLI resizes the uint8 pixels and then takes luma; luma is per pixel, so sampling the
    // luma of the selected source pixels is the same thing without the intermediate image.
    let xs = nearest_indices(w, ow);
    for sy in nearest_indices(h, oh) {
        let row = sy * w;
        match image.layout() {
            Layout::Rgb8(px) => out.extend(xs.iter().map(|&sx| {
                let p = 3 * (row + sx);
                rgb(px[p], px[p + 1], px[p + 2])
            })),
            Layout::Gray8(px) => out.extend(xs.iter().map(|&sx| px[row + sx] as f32)),
            Layout::Gray16(px) => out.extend(xs.iter().map(|&sx| gray16(px[row + sx], profile))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grey_through_f64_weights_is_exact_but_f32_is_not() {
        // Why grey is taken directly: the f64 formula returns v for every v (so pdqhash on a
        // stacked grey image agrees), the f32 formula misses some by an ulp.
        let mut f32_misses = 0;
        for v in 0..=255u8 {
            assert_eq!(luma_f64(v, v, v), v as f32);
            if luma_f32(v, v, v) != v as f32 {
                f32_misses += 1;
            }
        }
        assert_eq!(f32_misses, 35);
    }

    #[test]
    fn simd_rows_equal_the_scalar_formulas_bit_for_bit() {
        // Every byte value in every channel and position, plus seeded noise, rows of 0..=70
        // pixels (all tail lengths) and one long row.
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut rows: Vec<Vec<u8>> = (0..=70usize)
            .map(|n| {
                (0..3 * n)
                    .map(|_| {
                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        (rng >> 56) as u8
                    })
                    .collect()
            })
            .collect();
        for c in 0..3 {
            rows.push(
                (0..256 * 3)
                    .map(|i| if i % 3 == c { (i / 3) as u8 } else { 0 })
                    .collect(),
            );
            rows.push(
                (0..256 * 3)
                    .map(|i| if i % 3 == c { 255 - (i / 3) as u8 } else { 255 })
                    .collect(),
            );
        }
        rows.push((0..256 * 3).map(|i| (i / 3) as u8).collect());
        for level in Level::supported() {
            for profile in Profile::ALL {
                for px in &rows {
                    let n = px.len() / 3;
                    let image = Image::new(
                        n.max(1) as u32,
                        1,
                        Layout::Rgb8(if n == 0 { vec![0; 3] } else { px.clone() }),
                    )
                    .unwrap();
                    let n = n.max(1);
                    let mut got = vec![0f32; n];
                    fill_row(&image, profile, level, 0, &mut got);
                    // The scalar formulas pixel by pixel (`fill` itself uses the kernels now).
                    let formula = match profile {
                        Profile::Pdqhash => luma_f64,
                        Profile::MetaCpp => luma_f32,
                    };
                    let want: Vec<f32> = match image.layout() {
                        Layout::Rgb8(px) => px
                            .chunks_exact(3)
                            .map(|p| formula(p[0], p[1], p[2]))
                            .collect(),
                        _ => unreachable!("RGB rows"),
                    };
                    let mut plane = Vec::new();
                    fill(&image, profile, &mut plane);
                    for k in 0..n {
                        assert_eq!(
                            plane[k].to_bits(),
                            want[k].to_bits(),
                            "fill {profile} n={n}"
                        );
                        assert_eq!(
                            got[k].to_bits(),
                            want[k].to_bits(),
                            "{level:?} {profile} n={n} k={k}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn pdqhash_luma_equals_the_f64_formula_for_every_colour() {
        // The SIMD kernels compute `(299 R + 587 G + 114 B) / 1000` in f32 instead of the f64
        // formula: every one of the 2^24 colours, one row of 256 blues per (red, green).
        let blues: Vec<u8> = (0..=255u8).collect();
        let mut row = vec![0u8; 3 * 256];
        let mut got = vec![0f32; 256];
        for level in Level::supported() {
            for r in 0..=255u8 {
                for g in 0..=255u8 {
                    for (p, &b) in row.chunks_exact_mut(3).zip(&blues) {
                        p.copy_from_slice(&[r, g, b]);
                    }
                    fill_row_rgb8(&row, Profile::Pdqhash, level, &mut got);
                    for (&b, y) in blues.iter().zip(&got) {
                        let want = luma_f64(r, g, b);
                        assert_eq!(y.to_bits(), want.to_bits(), "{level:?} rgb({r}, {g}, {b})");
                    }
                }
            }
        }
    }

    #[test]
    fn nearest_is_corner_anchored_and_upsamples() {
        let xs = nearest_indices(1024, 512);
        assert_eq!(&xs[..3], &[0, 2, 4]);
        let ys = nearest_indices(300, 512);
        assert_eq!(ys.len(), 512);
        assert_eq!(ys[511], 299);
        assert_eq!(&ys[..4], &[0, 0, 1, 1]);
    }
}
