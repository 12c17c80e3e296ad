//! Meta's PDQ: 256-bit hash, quality, and the 8 dihedral variants.
//!
//! Bit-exact to Meta's reference core (`facebook/ThreatExchange`, `pdq/cpp`) on the same luma; see
//! the PDQ spec for every rule followed here. The pipeline:
//!
//! 1. **Luma** per [`Profile`]: `pdqhash` (f64 weights, rounded once to f32, full resolution) or
//!    `meta-cpp` (f32 weights, images with a side over 512 first resized to 512x512 by nearest
//!    neighbour, as Meta's `pdq-photo-hasher` CLI).
//! 2. **Tent filter**: two passes of a running-sum box filter along rows and columns, window
//!    `ceil(side / 128)`, then a point sample at 64x64 block centres.
//! 3. **Quality** from the 64x64 gradients, **DCT** to 16x16, bits above the median.
//!
//! The 8 dihedral hashes come from the one DCT by sign flips and transposes. They approximate
//! the hashes of the transformed images (the box filter is not mirror-symmetric), so query with all
//! 8 rather than picking a canonical one.
//!
//! ```
//! use nearmatch::hash::pdq::{self, Orientation, Profile};
//! use nearmatch::pixels::{Image, Layout};
//!
//! // A benign synthetic 96x80 pattern.
//! let (w, h) = (96u32, 80u32);
//! let px: Vec<u8> = (0..w * h).map(|i| if (i % w / 8 + i / w / 8) % 2 == 0 { 30 } else { 220 }).collect();
//! let img = Image::new(w, h, Layout::Gray8(px)).unwrap();
//!
//! let plain = pdq::hash(&img, Profile::Pdqhash);
//! assert!(plain.quality >= 50);
//! let all = pdq::hash_dihedral(&img, Profile::Pdqhash);
//! assert_eq!(all.get(Orientation::Orig), plain.digest);
//! assert_eq!(all.quality, plain.quality);
//! ```

mod dct;
mod dct_table;
mod filter;
mod fused;
mod luma;
#[cfg(test)]
mod tests;

use crate::digest::Digest256;
use crate::error::Error;
use crate::pixels::Image;
use std::fmt;
use std::str::FromStr;

/// Images with a side shorter than this hash to all zeros with quality 0 (`MIN_HASHABLE_DIM`).
pub const MIN_HASHABLE_DIM: usize = 5;
/// Meta's suggested match threshold: Hamming distance at most 31.
pub const MATCH_DISTANCE: u32 = 31;
/// Meta's suggested minimum quality for a hash to be trusted.
pub const MIN_QUALITY: u8 = 50;

/// Which reference behaviour to reproduce (they differ in luma rounding and pre-resizing).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Profile {
    /// PyPI `pdqhash`, python-threatexchange, HMA, Java: full resolution, f64 luma rounded to f32.
    #[default]
    Pdqhash,
    /// Meta's C++ `pdq-photo-hasher` CLI: f32 luma, sides over 512 resized to 512x512 (nearest).
    MetaCpp,
}

impl Profile {
    /// Both profiles.
    pub const ALL: [Profile; 2] = [Profile::Pdqhash, Profile::MetaCpp];

    /// The CLI name: `pdqhash` or `meta-cpp`.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Pdqhash => "pdqhash",
            Profile::MetaCpp => "meta-cpp",
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a known PDQ profile or orientation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown PDQ {what} {name:?} (known: {known})")]
pub struct UnknownName {
    /// `"profile"` or `"orientation"`.
    pub what: &'static str,
    /// The name given.
    pub name: String,
    /// The accepted names, comma-separated.
    pub known: &'static str,
}

impl FromStr for Profile {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        let lower = s.trim().to_ascii_lowercase();
        Profile::ALL
            .into_iter()
            .find(|p| p.name() == lower || (lower == "meta_cpp" && *p == Profile::MetaCpp))
            .ok_or_else(|| UnknownName {
                what: "profile",
                name: s.to_string(),
                known: "pdqhash, meta-cpp",
            })
    }
}

/// One of the 8 dihedral transforms of an image (names and order as Meta's CLI).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Orientation {
    /// The image as stored.
    Orig,
    /// Rotated 90° counter-clockwise.
    Rot90,
    /// Rotated 180°.
    Rot180,
    /// Rotated 90° clockwise.
    Rot270,
    /// Top and bottom swapped.
    FlipX,
    /// Mirrored (left and right swapped).
    FlipY,
    /// Transposed (main diagonal fixed).
    FlipPlus1,
    /// Anti-transposed (anti-diagonal fixed).
    FlipMinus1,
}

impl Orientation {
    /// All 8, in the reference's output order (`compute_dihedral`, `--pdqdih-across`).
    pub const ALL: [Orientation; 8] = [
        Orientation::Orig,
        Orientation::Rot90,
        Orientation::Rot180,
        Orientation::Rot270,
        Orientation::FlipX,
        Orientation::FlipY,
        Orientation::FlipPlus1,
        Orientation::FlipMinus1,
    ];

    /// The report name: `orig`, `rot90`, …, `flipminus1`.
    pub fn name(self) -> &'static str {
        match self {
            Orientation::Orig => "orig",
            Orientation::Rot90 => "rot90",
            Orientation::Rot180 => "rot180",
            Orientation::Rot270 => "rot270",
            Orientation::FlipX => "flipx",
            Orientation::FlipY => "flipy",
            Orientation::FlipPlus1 => "flipplus1",
            Orientation::FlipMinus1 => "flipminus1",
        }
    }

    /// Position in [`Orientation::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether the transform swaps width and height (the quarter turns and the transposes).
    ///
    /// ```
    /// use nearmatch::hash::pdq::Orientation;
    /// assert!(Orientation::Rot90.swaps_sides());
    /// assert!(!Orientation::FlipY.swaps_sides());
    /// ```
    pub fn swaps_sides(self) -> bool {
        matches!(
            self,
            Orientation::Rot90
                | Orientation::Rot270
                | Orientation::FlipPlus1
                | Orientation::FlipMinus1
        )
    }

    /// The source pixel `(sx, sy)` of a `w`x`h` image that this transform moves to `(x, y)` of
    /// its output (as the name says: `Rot90` is a quarter turn counter-clockwise). The one
    /// pixel map that every dihedral re-orientation (probe planes, EXIF orientation) shares.
    ///
    /// ```
    /// use nearmatch::hash::pdq::Orientation;
    /// // A quarter turn counter-clockwise brings the top-right pixel to the top-left.
    /// assert_eq!(Orientation::Rot90.source(0, 0, 3, 2), (2, 0));
    /// ```
    pub fn source(self, x: usize, y: usize, w: usize, h: usize) -> (usize, usize) {
        match self {
            Orientation::Orig => (x, y),
            Orientation::Rot90 => (w - 1 - y, x),
            Orientation::Rot180 => (w - 1 - x, h - 1 - y),
            Orientation::Rot270 => (y, h - 1 - x),
            Orientation::FlipX => (x, h - 1 - y),
            Orientation::FlipY => (w - 1 - x, y),
            Orientation::FlipPlus1 => (y, x),
            Orientation::FlipMinus1 => (w - 1 - y, h - 1 - x),
        }
    }

    /// The transform that shows an image stored with this EXIF Orientation tag as displayed
    /// (what Pillow's `ImageOps.exif_transpose` does); `None` for values outside 1..=8.
    ///
    /// ```
    /// use nearmatch::hash::pdq::Orientation;
    /// // Tag 6: the camera was turned clockwise, so the stored picture is turned back.
    /// assert_eq!(Orientation::from_exif(6), Some(Orientation::Rot270));
    /// assert_eq!(Orientation::from_exif(9), None);
    /// ```
    pub fn from_exif(tag: u8) -> Option<Orientation> {
        // Pillow: 2 FLIP_LEFT_RIGHT, 3 ROTATE_180, 4 FLIP_TOP_BOTTOM, 5 TRANSPOSE,
        // 6 ROTATE_270, 7 TRANSVERSE, 8 ROTATE_90 (Pillow's rotations are counter-clockwise).
        Some(match tag {
            1 => Orientation::Orig,
            2 => Orientation::FlipY,
            3 => Orientation::Rot180,
            4 => Orientation::FlipX,
            5 => Orientation::FlipPlus1,
            6 => Orientation::Rot270,
            7 => Orientation::FlipMinus1,
            8 => Orientation::Rot90,
            _ => return None,
        })
    }
}

impl fmt::Display for Orientation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Orientation {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        let lower = s.trim().to_ascii_lowercase();
        Orientation::ALL
            .into_iter()
            .find(|o| o.name() == lower)
            .ok_or_else(|| UnknownName {
                what: "orientation",
                name: s.to_string(),
                known: "orig, rot90, rot180, rot270, flipx, flipy, flipplus1, flipminus1",
            })
    }
}

/// A PDQ hash and its quality (0..=100; below [`MIN_QUALITY`] the hash is unreliable).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PdqHash {
    /// The 256 bits; hex equals the reference's hex.
    pub digest: Digest256,
    /// Gradient-based quality, 0..=100.
    pub quality: u8,
}

/// The 8 dihedral PDQ hashes of one image, with their shared quality.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PdqDihedral {
    /// Hashes in [`Orientation::ALL`] order.
    pub hashes: [Digest256; 8],
    /// Gradient-based quality, 0..=100 (the same for every orientation).
    pub quality: u8,
}

impl PdqDihedral {
    /// The hash for one orientation.
    pub fn get(&self, o: Orientation) -> Digest256 {
        self.hashes[o.index()]
    }

    /// `(orientation, hash)` pairs in [`Orientation::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Orientation, Digest256)> + '_ {
        Orientation::ALL.into_iter().zip(self.hashes)
    }
}

/// PDQ hash of an image under a profile (plain entry point, `pdqHash256FromFloatLuma`).
pub fn hash(image: &Image, profile: Profile) -> PdqHash {
    PdqHasher::new().hash(image, profile)
}

/// The 8 dihedral PDQ hashes of an image under a profile (`pdqDihedralHash256esFromFloatLuma`).
pub fn hash_dihedral(image: &Image, profile: Profile) -> PdqDihedral {
    PdqHasher::new().hash_dihedral(image, profile)
}

/// PDQ hash of a row-major f32 luma plane (`width * height` values), as the C++ core.
///
/// For callers that make luma themselves (a decoder's Y plane, a numpy array). Errors only if
/// `luma.len() != width * height`.
pub fn hash_luma(luma: &[f32], width: usize, height: usize) -> Result<PdqHash, Error> {
    PdqHasher::new().hash_luma(luma, width, height)
}

/// The 8 dihedral PDQ hashes of a row-major f32 luma plane, as the C++ core.
pub fn hash_luma_dihedral(luma: &[f32], width: usize, height: usize) -> Result<PdqDihedral, Error> {
    PdqHasher::new().hash_luma_dihedral(luma, width, height)
}

/// A PDQ hasher that keeps its working buffers between images (one per thread).
///
/// The tent filter streams through tiles of a few dozen rows and a ring of rows; reusing those
/// buffers (and the luma plane, where one is needed) means no allocation per image once they
/// have grown. The free functions build a fresh one per call.
#[derive(Default, Debug)]
pub struct PdqHasher {
    luma: Vec<f32>,
    /// One row of 8-bit pixels for [`PdqHasher::hash_rows`].
    row8: Vec<u8>,
    a: Vec<f32>,
    scratch: filter::Scratch,
    fused: fused::Scratch,
}

/// Whether the plain-hash 64x64 shortcut applies.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Entry {
    /// `pdqHash256FromFloatLuma`: a 64x64 luma is used as is, unblurred.
    Plain,
    /// `pdqDihedralHash256esFromFloatLuma`: always blurs (window 1 at 64x64).
    Dihedral,
}

impl PdqHasher {
    /// A hasher with empty buffers (they grow to the largest image seen).
    pub fn new() -> Self {
        Self::default()
    }

    /// Frees the working buffers if any holds more than `max_values` f32 values (so a thread
    /// that once hashed a giant image does not keep gigabytes for the rest of its life).
    pub fn release_if_over(&mut self, max_values: usize) {
        let cap = self
            .luma
            .capacity()
            .max(self.a.capacity())
            .max(self.fused.capacity());
        if cap > max_values {
            *self = PdqHasher::new();
        }
    }

    /// [`hash`] with reused buffers.
    pub fn hash(&mut self, image: &Image, profile: Profile) -> PdqHash {
        plain_from(self.coefficients_of_image(image, profile, Entry::Plain))
    }

    /// [`hash`], also handing the luma plane to `f` before it is filtered, so a caller that
    /// needs the luma too (the query probes) does not convert the image twice. `f` is not called
    /// for images below the minimum size.
    pub fn hash_with_luma<R>(
        &mut self,
        image: &Image,
        profile: Profile,
        f: impl FnOnce(&[f32], usize, usize) -> R,
    ) -> (PdqHash, Option<R>) {
        let (w, h) = luma::output_dims(image, profile);
        if w < MIN_HASHABLE_DIM || h < MIN_HASHABLE_DIM {
            return (plain_from(None), None);
        }
        let mut luma = std::mem::take(&mut self.luma);
        let (w, h) = luma::fill(image, profile, &mut luma);
        let r = f(&luma[..w * h], w, h);
        let a = self.downsample_plane(&luma[..w * h], w, h, Entry::Plain);
        self.luma = luma;
        (plain_from(Some(finish(&a))), Some(r))
    }

    /// [`hash`] of a `width x height` image of 8-bit rows (`channels`: 1 grey, 3 RGB) that
    /// `next_row(y, row)` writes in order, top to bottom, while the filter consumes them: the
    /// image is never held whole (the streamed JPEG decode feeds this). `next_row` returns
    /// `false` to stop (its source failed, or the caller gave up on this path): the hash is then
    /// `None` and no further row is asked for. `edges` sees each row's luma as it passes. `None`,
    /// with no row asked for, where the hash needs the whole image first: below the minimum
    /// size, the unblurred 64x64 shortcut, the meta-cpp pre-resize.
    ///
    /// ```
    /// use nearmatch::hash::pdq::{PdqHasher, Profile};
    /// use nearmatch::pixels::{Image, Layout};
    /// let (w, h) = (40usize, 30usize);
    /// let px: Vec<u8> = (0..w * h * 3).map(|i| (i * 7 % 251) as u8).collect();
    /// let mut hasher = PdqHasher::new();
    /// let streamed = hasher
    ///     .hash_rows(w, h, 3, Profile::Pdqhash, |y, row| {
    ///         row.copy_from_slice(&px[y * w * 3..][..w * 3]);
    ///         true
    ///     }, |_, _| {})
    ///     .unwrap();
    /// let image = Image::new(w as u32, h as u32, Layout::Rgb8(px.clone())).unwrap();
    /// assert_eq!(streamed, hasher.hash(&image, Profile::Pdqhash));
    /// ```
    pub fn hash_rows(
        &mut self,
        width: usize,
        height: usize,
        channels: usize,
        profile: Profile,
        next_row: impl FnMut(usize, &mut [u8]) -> bool,
        edges: impl FnMut(usize, &[f32]),
    ) -> Option<PdqHash> {
        if (width, height) == (64, 64) {
            return None;
        }
        self.coefficients_of_rows(width, height, channels, profile, next_row, edges)
            .map(|c| plain_from(Some(c)))
    }

    /// [`hash_dihedral`] of an image whose rows `next_row` writes in order, as
    /// [`PdqHasher::hash_rows`] (here a 64x64 image streams too: the dihedral entry point
    /// always blurs).
    pub fn hash_rows_dihedral(
        &mut self,
        width: usize,
        height: usize,
        channels: usize,
        profile: Profile,
        next_row: impl FnMut(usize, &mut [u8]) -> bool,
        edges: impl FnMut(usize, &[f32]),
    ) -> Option<PdqDihedral> {
        self.coefficients_of_rows(width, height, channels, profile, next_row, edges)
            .map(|c| dihedral_from(Some(c)))
    }

    fn coefficients_of_rows(
        &mut self,
        width: usize,
        height: usize,
        channels: usize,
        profile: Profile,
        mut next_row: impl FnMut(usize, &mut [u8]) -> bool,
        mut edges: impl FnMut(usize, &[f32]),
    ) -> Option<([f32; 256], u8)> {
        assert!(channels == 1 || channels == 3, "1 or 3 channels");
        let streamable = width >= MIN_HASHABLE_DIM
            && height >= MIN_HASHABLE_DIM
            && (profile == Profile::Pdqhash
                || (width <= luma::DOWNSAMPLE_DIMS && height <= luma::DOWNSAMPLE_DIMS));
        if !streamable {
            return None;
        }
        let mut row8 = std::mem::take(&mut self.row8);
        // Off alignment, so that a JPEG row decoder writes it in place, through the caches.
        let row = crate::decode::row_off_alignment(&mut row8, width * channels);
        let level = fused::Level::detect();
        let a = fused::downsample(width, height, level, &mut self.fused, |y, out| {
            if !next_row(y, row) {
                return false;
            }
            if channels == 3 {
                luma::fill_row_rgb8(row, profile, level, out);
            } else {
                luma::fill_row_gray8(row, out);
            }
            edges(y, out);
            true
        });
        self.row8 = row8;
        Some(finish(&a?))
    }

    /// [`hash_dihedral`] with reused buffers.
    pub fn hash_dihedral(&mut self, image: &Image, profile: Profile) -> PdqDihedral {
        dihedral_from(self.coefficients_of_image(image, profile, Entry::Dihedral))
    }

    /// [`hash_luma`] with reused buffers.
    pub fn hash_luma(
        &mut self,
        luma: &[f32],
        width: usize,
        height: usize,
    ) -> Result<PdqHash, Error> {
        check_plane(luma, width, height)?;
        Ok(plain_from(self.coefficients_of_luma(
            luma,
            width,
            height,
            Entry::Plain,
        )))
    }

    /// [`hash_luma_dihedral`] with reused buffers.
    pub fn hash_luma_dihedral(
        &mut self,
        luma: &[f32],
        width: usize,
        height: usize,
    ) -> Result<PdqDihedral, Error> {
        check_plane(luma, width, height)?;
        Ok(dihedral_from(self.coefficients_of_luma(
            luma,
            width,
            height,
            Entry::Dihedral,
        )))
    }

    /// DCT coefficients and quality, or `None` below the minimum size.
    fn coefficients_of_image(
        &mut self,
        image: &Image,
        profile: Profile,
        entry: Entry,
    ) -> Option<([f32; 256], u8)> {
        // The minimum-size rule sees the dimensions after any pre-resize: under meta-cpp a 4x600
        // image is stretched to 512x512 first and gets a real hash.
        let (w, h) = luma::output_dims(image, profile);
        if w < MIN_HASHABLE_DIM || h < MIN_HASHABLE_DIM {
            return None;
        }
        if (w, h) != (image.width() as usize, image.height() as usize)
            || (entry == Entry::Plain && w == 64 && h == 64)
        {
            // The meta-cpp pre-resize (at most 512x512) and the unblurred 64x64 shortcut work
            // from a whole luma plane.
            let mut luma = std::mem::take(&mut self.luma);
            let (w, h) = luma::fill(image, profile, &mut luma);
            let a = self.downsample_plane(&luma[..w * h], w, h, entry);
            self.luma = luma;
            return Some(finish(&a));
        }
        // Luma made row by row inside the filter's sweep, while the rows are in cache: no
        // full-size luma plane at all.
        let level = fused::Level::detect();
        let a = fused::downsample(w, h, level, &mut self.fused, |y, out| {
            luma::fill_row(image, profile, level, y, out);
            true
        });
        a.as_ref().map(finish)
    }

    fn coefficients_of_luma(
        &mut self,
        luma: &[f32],
        w: usize,
        h: usize,
        entry: Entry,
    ) -> Option<([f32; 256], u8)> {
        if w < MIN_HASHABLE_DIM || h < MIN_HASHABLE_DIM {
            return None;
        }
        let a = self.downsample_plane(luma, w, h, entry);
        Some(finish(&a))
    }

    /// The luma plane through both passes of PDQ's tent filter with every sample kept: what
    /// PDQ point-samples to 64x64. Probes that move the sampling grid (a re-extended crop, a
    /// small rotation) resample this one blur instead of filtering a new canvas each.
    ///
    /// The box windows are PDQ's for a `window_dims` image (a padded plane is blurred as the
    /// plane inside it would be: a window one step wider changes a dozen bits).
    pub(crate) fn tent_blurred(
        &mut self,
        luma: &[f32],
        w: usize,
        h: usize,
        window_dims: (usize, usize),
    ) -> Vec<f32> {
        let n = w * h;
        let mut out = vec![0f32; n];
        let a = filter::take(&mut self.a, n);
        let (wr, wc) = (filter::window(window_dims.0), filter::window(window_dims.1));
        filter::box_rows(luma, a, w, h, wr, &mut self.scratch);
        filter::box_cols(a, &mut out, w, h, wc, &mut self.scratch);
        filter::box_rows(&out, a, w, h, wr, &mut self.scratch);
        filter::box_cols(a, &mut out, w, h, wc, &mut self.scratch);
        out
    }

    /// Tent filter and decimation of a luma plane (`w * h` values, row-major).
    fn downsample_plane(&mut self, luma: &[f32], w: usize, h: usize, entry: Entry) -> [f32; 4096] {
        // pdqFloat256FromFloatLuma copies a 64x64 luma unblurred ("already downsampled by
        // ffmpeg"); the dihedral entry point has no such shortcut and always blurs.
        if entry == Entry::Plain && w == 64 && h == 64 {
            return std::array::from_fn(|k| luma[k]);
        }
        let level = fused::Level::detect();
        let a = fused::downsample(w, h, level, &mut self.fused, |y, out| {
            out.copy_from_slice(&luma[y * w..(y + 1) * w]);
            true
        });
        a.expect("every row is given, so the sweep runs to its end")
    }
}

/// The pipeline's stages one by one, for the per-stage benchmarks (`benches/stages.rs`,
/// `examples/bench_hash.rs profile`). Not a stable API: use [`hash`] and friends.
#[doc(hidden)]
pub mod stages {
    use super::{dct, luma, PdqHasher, Profile};
    use crate::digest::Digest256;
    use crate::pixels::Image;

    /// Stage 1: the f32 luma plane under a profile; returns its (width, height).
    pub fn luma(image: &Image, profile: Profile, out: &mut Vec<f32>) -> (usize, usize) {
        luma::fill(image, profile, out)
    }

    /// Stage 2: both tent-filter passes and the 64x64 decimation (`luma` is left as it was).
    pub fn tent(hasher: &mut PdqHasher, luma: &mut [f32], w: usize, h: usize) -> [f32; 4096] {
        hasher.downsample_plane(luma, w, h, super::Entry::Dihedral)
    }

    /// Stage 3: the 64x64 -> 16x16 DCT.
    pub fn dct(a: &[f32; 4096]) -> [f32; 256] {
        dct::dct64_to_16(a)
    }

    /// Stage 3b: the quality metric on the 64x64 buffer.
    pub fn quality(a: &[f32; 4096]) -> u8 {
        dct::quality(a)
    }

    /// Stage 4: median threshold to the 256 bits.
    pub fn bits(b: &[f32; 256]) -> Digest256 {
        dct::bits(b)
    }
}

/// Quality (before the DCT, from the 64x64 buffer) and the 16x16 coefficients.
fn finish(a: &[f32; 4096]) -> ([f32; 256], u8) {
    (dct::dct64_to_16(a), dct::quality(a))
}

pub(crate) use filter::decimation_indices;

/// The hash of 64x64 samples of a tent-blurred plane (see [`PdqHasher::tent_blurred`]).
pub(crate) fn hash_of_samples(a: &[f32; 4096]) -> PdqHash {
    plain_from(Some(finish(a)))
}

/// The 8 dihedral hashes of 64x64 samples of a tent-blurred plane.
pub(crate) fn dihedral_of_samples(a: &[f32; 4096]) -> PdqDihedral {
    dihedral_from(Some(finish(a)))
}

/// The plain hash from the DCT coefficients and quality (the zero hash below the minimum size).
fn plain_from(coefficients: Option<([f32; 256], u8)>) -> PdqHash {
    match coefficients {
        Some((b, quality)) => PdqHash {
            digest: dct::bits(&b),
            quality,
        },
        None => PdqHash {
            digest: Digest256::ZERO,
            quality: 0,
        },
    }
}

/// The 8 dihedral hashes from the DCT coefficients and quality (all zero below the minimum size).
fn dihedral_from(coefficients: Option<([f32; 256], u8)>) -> PdqDihedral {
    match coefficients {
        Some((b, quality)) => PdqDihedral {
            hashes: Orientation::ALL.map(|o| dct::bits(&dct::dihedral(&b, o))),
            quality,
        },
        None => PdqDihedral {
            hashes: [Digest256::ZERO; 8],
            quality: 0,
        },
    }
}

fn check_plane(luma: &[f32], width: usize, height: usize) -> Result<(), Error> {
    match width.checked_mul(height) {
        Some(n) if n == luma.len() => Ok(()),
        _ => Err(Error::InvalidPixels(format!(
            "a {width}x{height} luma plane needs {} values, got {}",
            width as u128 * height as u128,
            luma.len()
        ))),
    }
}
