//! Every requested hash of one file from one read and one decode.
//!
//! The CLI's `hash` and `scan` and the Python batch API all go through [`hash_bytes`], so a file
//! is decoded once however many perceptual hashes are asked for, and the cryptographic hashes read
//! the same bytes.
//!
//! ```
//! use nearmatch::hash::{Algorithm, file::{hash_bytes, HashOptions}};
//! let out = hash_bytes(b"not an image", &[Algorithm::Md5, Algorithm::Pdq], &HashOptions::default());
//! assert_eq!(out.get(Algorithm::Md5).as_deref(), Some("f4d3390ee84008b4b4192b3a93bfa089"));
//! assert!(out.image_error.is_some());
//! ```
//!
//! [`HashMode::Fast`] decodes large images reduced (JPEG at 1/2, 1/4 or 1/8 DCT scale, other
//! formats box-averaged) before hashing: several times faster on photos, but the hashes are no
//! longer the references' and differ from the exact ones by a few bits. [`HashMode::Exact`], the
//! default, always hashes the full-resolution pixels the references see.
//!
//! [`HashOptions::orientation`] decides whether the EXIF Orientation tag is applied before
//! hashing ([`OrientationMode::Exif`]: the picture as displayed) or not (the default, the
//! pixels as stored, as the references hash JPEG, PNG and WebP); see
//! [`crate::decode::orientation`].

use super::crypto::CryptoHashes;
use super::pdq::{self, PdqDihedral, PdqHasher};
use super::Algorithm;
use crate::decode::orientation::{displayed, OrientationMode};
use crate::decode::{self, Format, Limits};
use crate::digest::AnyDigest;
use crate::error::Error;
use crate::hash::imagehash::{hashes_from_luma, ImagehashKind};
use crate::hash::luma::LumaPlane;
use crate::hash::resample::PillowVersion;
use crate::pixels::Image;
use crate::probe::{self, Plane, Probe, ProbeConfig};
use std::cell::RefCell;
use std::fmt;
use std::str::FromStr;

/// The smallest side (in pixels) the fast mode reduces an image to: PDQ samples 64x64 after a
/// tent of window `ceil(side / 128)`, and the imagehash family resizes to at most 32x32, so 256
/// leaves both at least 4x oversampled (and a window of 2-3 for the tent).
pub const FAST_MIN_SIDE: u32 = 256;

/// Whether hashes come from the full-resolution pixels or from a reduced decode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum HashMode {
    /// Full-resolution decode: bit-identical to the reference implementations.
    #[default]
    Exact,
    /// Images whose sides are all at least twice [`FAST_MIN_SIDE`] are decoded reduced (JPEG by
    /// scaled IDCT, others box-averaged) so that the short side stays at least `FAST_MIN_SIDE`;
    /// smaller images are hashed exactly.
    Fast,
}

impl HashMode {
    /// Both modes.
    pub const ALL: [HashMode; 2] = [HashMode::Exact, HashMode::Fast];

    /// The report name: `exact` or `fast`.
    pub fn name(self) -> &'static str {
        match self {
            HashMode::Exact => "exact",
            HashMode::Fast => "fast",
        }
    }
}

impl fmt::Display for HashMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A hash mode name other than `exact` or `fast`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown hash mode {0:?} (known: exact, fast)")]
pub struct UnknownHashMode(pub String);

impl FromStr for HashMode {
    type Err = UnknownHashMode;
    fn from_str(s: &str) -> Result<Self, UnknownHashMode> {
        let lower = s.trim().to_ascii_lowercase();
        HashMode::ALL
            .into_iter()
            .find(|m| m.name() == lower)
            .ok_or_else(|| UnknownHashMode(s.to_string()))
    }
}

/// How perceptual hashes are computed: the reference profiles and decode limits.
#[derive(Clone, Debug, Default)]
pub struct HashOptions {
    /// Exact (reference pixels, the default) or fast (reduced decode of large images).
    pub mode: HashMode,
    /// PDQ reference behaviour.
    pub pdq_profile: pdq::Profile,
    /// Pillow generation whose resize order the imagehash family follows.
    pub pillow: PillowVersion,
    /// Decode limits (dimensions, memory).
    pub limits: Limits,
    /// Also compute the 8 PDQ dihedral hashes (from the same DCT).
    pub pdq_dihedral: bool,
    /// Also compute the query-side PDQ probes ([`crate::probe`]) of these families; `None`
    /// computes none.
    pub probes: Option<ProbeConfig>,
    /// Hash the pixels as stored (the default) or as the EXIF Orientation tag displays them.
    /// Only [`hash_bytes`] reads the tag: [`hash_image`] hashes the pixels it is given.
    pub orientation: OrientationMode,
}

/// The hashes of one file.
#[derive(Debug, Default)]
pub struct FileHashes {
    /// MD5, SHA-1, SHA-256 of the bytes (always computed when any is requested).
    pub crypto: Option<CryptoHashes>,
    /// The image format sniffed from magic bytes, if it is an image.
    pub format: Option<Format>,
    /// Width and height of the image (from its header: as stored, before any fast-mode
    /// reduction or EXIF orientation).
    pub dimensions: Option<(u32, u32)>,
    /// The mode that produced the perceptual hashes: [`HashMode::Fast`] only when the image was
    /// actually reduced (in fast mode small images are hashed exactly).
    pub mode: Option<HashMode>,
    /// Width and height of the pixels hashed when they were reduced (fast mode), else `None`;
    /// with an EXIF orientation applied, in the displayed orientation.
    pub hashed_dimensions: Option<(u32, u32)>,
    /// The EXIF Orientation tag (1..=8) applied before hashing: set only with
    /// [`OrientationMode::Exif`] and a valid tag (1 leaves the pixels as stored).
    pub exif_orientation: Option<u8>,
    /// Perceptual hashes in request order.
    pub perceptual: Vec<(Algorithm, AnyDigest)>,
    /// PDQ quality (0–100) when PDQ was computed.
    pub pdq_quality: Option<u8>,
    /// The 8 PDQ dihedral hashes, when requested.
    pub pdq_dihedral: Option<PdqDihedral>,
    /// The PDQ probes when requested (plain hash first), else empty.
    pub pdq_probes: Vec<Probe>,
    /// Why the perceptual hashes are missing (not an image, undecodable, over limits).
    pub image_error: Option<Error>,
}

impl FileHashes {
    /// The lower-case hex of one algorithm's result, if it was computed.
    pub fn get(&self, algo: Algorithm) -> Option<String> {
        let c = self.crypto.as_ref();
        match algo {
            Algorithm::Md5 => c.map(|c| c.md5_hex()),
            Algorithm::Sha1 => c.map(|c| c.sha1_hex()),
            Algorithm::Sha256 => c.map(|c| c.sha256_hex()),
            _ => self.digest(algo).map(|d| d.to_hex()),
        }
    }

    /// One perceptual algorithm's digest, if computed.
    pub fn digest(&self, algo: Algorithm) -> Option<AnyDigest> {
        self.perceptual
            .iter()
            .find(|(a, _)| *a == algo)
            .map(|(_, d)| *d)
    }
}

/// Computes the requested hashes of `bytes` (a whole file), decoding at most once.
///
/// A file that is not an image still gets its cryptographic hashes; the reason the perceptual
/// ones are missing is in [`FileHashes::image_error`].
pub fn hash_bytes(bytes: &[u8], algos: &[Algorithm], opts: &HashOptions) -> FileHashes {
    let mut out = FileHashes::default();
    if algos.iter().any(|a| a.is_cryptographic()) {
        out.crypto = Some(CryptoHashes::of(bytes));
    }
    let wants_image = algos.iter().any(|a| !a.is_cryptographic()) || opts.pdq_dihedral;
    if !wants_image {
        out.format = decode::sniff(bytes);
        return out;
    }
    #[cfg(feature = "turbojpeg")]
    if streamed::of_jpeg(bytes, algos, opts, &mut out) {
        return out;
    }
    let decoded = match opts.mode {
        HashMode::Exact => decode::decode(bytes, &opts.limits).map(|d| {
            let dims = (d.image.width(), d.image.height());
            (d, dims, 1)
        }),
        HashMode::Fast => decode::decode_reduced(bytes, FAST_MIN_SIDE, &opts.limits)
            .map(|r| (r.decoded, r.full_dimensions, r.scale)),
    };
    match decoded {
        Ok((decoded, full, scale)) => {
            out.format = Some(decoded.format);
            out.dimensions = Some(full);
            let (image, tag) = displayed(decoded.image, bytes, opts.orientation);
            out.exif_orientation = tag;
            if scale > 1 {
                out.mode = Some(HashMode::Fast);
                out.hashed_dimensions = Some((image.width(), image.height()));
            } else {
                out.mode = Some(HashMode::Exact);
            }
            hash_image_into(&image, algos, opts, &mut out);
        }
        Err(e) => {
            out.format = decode::sniff(bytes);
            out.image_error = Some(e);
        }
    }
    out
}

fn pdq_into(
    hasher: &mut PdqHasher,
    image: &Image,
    wants_pdq: bool,
    opts: &HashOptions,
    out: &mut FileHashes,
) {
    if opts.pdq_dihedral {
        let d = hasher.hash_dihedral(image, opts.pdq_profile);
        if wants_pdq {
            // The plain hash differs from dihedral[0] only for exactly 64x64 inputs (the
            // reference skips the blur there), so compute it separately in that one case.
            let plain = if image.width() == 64 && image.height() == 64 {
                hasher.hash(image, opts.pdq_profile).digest
            } else {
                d.hashes[0]
            };
            out.perceptual.push((Algorithm::Pdq, plain.into()));
        }
        out.pdq_quality = Some(d.quality);
        out.pdq_dihedral = Some(d);
    } else if let (true, Some(config)) = (wants_pdq, opts.probes) {
        // Most files have no border: then trim needs no plane, and copying one costs more
        // than looking at the four edges.
        let (h, plane) = hasher.hash_with_luma(image, opts.pdq_profile, |l, w, h| {
            probe::needs_plane(l, w, h, &config)
                .then(|| Plane::reduced(l, w, h, probe::PROBE_PLANE_MAX_SIDE))
        });
        out.pdq_quality = Some(h.quality);
        out.perceptual.push((Algorithm::Pdq, h.digest.into()));
        match plane {
            Some(Some(plane)) => out.pdq_probes = probe::probes_from_plane(h, &plane, &config),
            Some(None) => out.pdq_probes = probe::plain_only(h),
            None => {}
        }
        return;
    } else if wants_pdq {
        let h = hasher.hash(image, opts.pdq_profile);
        out.pdq_quality = Some(h.quality);
        out.perceptual.push((Algorithm::Pdq, h.digest.into()));
    }
    if let (true, Some(config), Some(AnyDigest::D256(digest))) =
        (wants_pdq, opts.probes, out.digest(Algorithm::Pdq))
    {
        // With dihedrals requested too, the plain hash is already known: only the plane is new.
        let plane = Plane::of_image(image, opts.pdq_profile, probe::PROBE_PLANE_MAX_SIDE);
        let plain = pdq::PdqHash {
            digest,
            quality: out.pdq_quality.unwrap_or(0),
        };
        out.pdq_probes = probe::probes_from_plane(plain, &plane, &config);
    }
}

/// Computes the requested perceptual hashes of decoded pixels (cryptographic ones are ignored).
///
/// The pixels are hashed as given: [`HashOptions::mode`] only changes how files are decoded.
pub fn hash_image(image: &Image, algos: &[Algorithm], opts: &HashOptions) -> FileHashes {
    let mut out = FileHashes {
        dimensions: Some((image.width(), image.height())),
        mode: Some(HashMode::Exact),
        ..FileHashes::default()
    };
    hash_image_into(image, algos, opts, &mut out);
    out
}

/// Bytes a thread's streamed Lanczos resizer keeps between images.
#[cfg(feature = "turbojpeg")]
const KEEP_RESIZE_BYTES: usize = 32 << 20;

/// Buffer size (f32 values per buffer) a thread's PDQ hasher keeps between images.
const KEEP_PDQ_VALUES: usize = 16 << 20;

thread_local! {
    /// One PDQ hasher per thread: its full-size buffers (tens of MB for a photo) are allocated
    /// once and reused by every image the thread hashes, instead of per file.
    static PDQ: RefCell<PdqHasher> = RefCell::new(PdqHasher::new());
}

/// Exact PDQ and imagehash-family hashes of a JPEG decoded row by row: each row goes straight
/// into the tent filter and the Lanczos resizes while it is in cache, so the image is never held
/// whole and nothing image-sized is written or allocated. Taken when the request needs nothing
/// else of the pixels.
#[cfg(feature = "turbojpeg")]
mod streamed {
    use super::*;
    use crate::decode::jpeg_rows::{Header, RowDecoder};
    use crate::hash::imagehash::HashSize;
    use crate::hash::luma::rgb_strided_to_l_into;
    use crate::hash::resample::RowResize;

    /// A thread's row decoder, row buffers, resizers and the outermost lines of luma the trim
    /// probe looks at, kept between files so that a file costs no allocation here.
    #[derive(Default)]
    struct State {
        decoder: Option<RowDecoder>,
        top: Vec<f32>,
        bottom: Vec<f32>,
        left: Vec<f32>,
        right: Vec<f32>,
        scratch: Vec<f32>,
        /// One decoded row (when PDQ does not read the rows itself) and its PIL `L`.
        row8: Vec<u8>,
        row_l: Vec<u8>,
        /// One resizer per distinct resize target of the requested imagehash functions.
        resizers: Vec<RowResize>,
    }

    thread_local! {
        static STATE: RefCell<State> = RefCell::new(State::default());
    }

    /// The imagehash-family functions among `algos`, in request order.
    fn family_of(algos: &[Algorithm]) -> Vec<(Algorithm, (ImagehashKind, HashSize))> {
        algos
            .iter()
            .filter_map(|&a| ImagehashKind::from_algorithm(a).map(|k| (a, k)))
            .collect()
    }

    /// Fills `out` and returns `true` when `bytes` is a JPEG this path hashes exactly as the
    /// whole-image path would: exact mode, no EXIF orientation, PDQ (plain, dihedral or both)
    /// and the resize-based imagehash functions (aHash, dHash, pHash, wHash) the only perceptual
    /// hashes, no probe but trim on an image that is its own probe plane and shows no bar at its
    /// edges (and none with dihedrals), and a decode with no warning. Otherwise `false`, `out`
    /// untouched: the whole-image path then decodes again and reports whatever went wrong as it
    /// always has.
    pub(super) fn of_jpeg(
        bytes: &[u8],
        algos: &[Algorithm],
        opts: &HashOptions,
        out: &mut FileHashes,
    ) -> bool {
        let streamable = algos.iter().all(|a| {
            a.is_cryptographic()
                || *a == Algorithm::Pdq
                || ImagehashKind::from_algorithm(*a).is_some()
        });
        let pdq = algos.contains(&Algorithm::Pdq) || opts.pdq_dihedral;
        let family = family_of(algos);
        if opts.mode != HashMode::Exact
            || opts.orientation == OrientationMode::Exif
            || !streamable
            || (!pdq && family.is_empty())
            || (opts.pdq_dihedral && opts.probes.is_some())
            || decode::sniff(bytes) != Some(Format::Jpeg)
        {
            return false;
        }
        STATE.with_borrow_mut(|state| hash_into(state, bytes, algos, &family, opts, out).is_some())
    }

    fn hash_into(
        state: &mut State,
        bytes: &[u8],
        algos: &[Algorithm],
        family: &[(Algorithm, (ImagehashKind, HashSize))],
        opts: &HashOptions,
        out: &mut FileHashes,
    ) -> Option<()> {
        if state.decoder.is_none() {
            state.decoder = RowDecoder::new().ok();
        }
        let State {
            decoder,
            top,
            bottom,
            left,
            right,
            scratch,
            row8,
            row_l,
            resizers,
        } = state;
        let mut rows = decoder
            .as_mut()?
            .start(bytes, |w, h| opts.limits.check(w, h))
            .ok()?
            .ok()?;
        let Header {
            width,
            height,
            channels,
        } = rows.header;
        let wants_pdq = algos.contains(&Algorithm::Pdq);
        let pdq = wants_pdq || opts.pdq_dihedral;
        let edges = match (&opts.probes, wants_pdq) {
            (Some(config), true) if probe::edges_decide(width, height, config) => true,
            (Some(_), true) => return None,
            _ => false,
        };
        // The distinct resize targets, one resizer each: requests with equal targets share it,
        // as in `hashes_from_luma`.
        let mut targets: Vec<(usize, usize)> = Vec::new();
        for &(_, (kind, size)) in family {
            let t = kind.resize_target(size, width, height);
            if !targets.contains(&t) {
                targets.push(t);
            }
        }
        if resizers.len() < targets.len() {
            resizers.resize_with(targets.len(), RowResize::default);
        }
        for (r, &(tw, th)) in resizers.iter_mut().zip(&targets) {
            r.start(width, height, tw, th, opts.pillow).ok()?;
        }
        let resizers = &mut resizers[..targets.len()];
        row_l.clear();
        row_l.resize(width, 0);
        // PIL's `convert('L')` of a decoded row, fed to every resizer.
        let mut feed = |row: &[u8]| {
            if resizers.is_empty() {
                return;
            }
            let l: &[u8] = if channels == 3 {
                rgb_strided_to_l_into(row, 3, row_l);
                row_l
            } else {
                row
            };
            for r in resizers.iter_mut() {
                r.push_row(l);
            }
        };
        left.clear();
        right.clear();
        let mut failed = false;
        // Set when the top row already shows a bar: the whole-image path will hash this file
        // (the trim probe needs its plane), so the rest is not decoded here. Screenshots with
        // a status bar then cost one filter pass more, not a second decode.
        let abandon = std::cell::Cell::new(false);
        // `false` once the decode failed or was abandoned: the hash stops there (it would
        // otherwise sweep the rest of the image for nothing).
        let mut next_row = |_: usize, row: &mut [u8]| {
            if abandon.get() {
                failed = true;
            }
            if !failed && rows.next_row(row).is_err() {
                failed = true;
            }
            if !failed {
                feed(row);
            }
            !failed
        };
        let edge_lines = |y: usize, luma: &[f32]| {
            if edges {
                if y == 0 {
                    top.clear();
                    top.extend_from_slice(luma);
                    abandon.set(probe::line_starts_bar(top, scratch));
                }
                if y + 1 == height {
                    bottom.clear();
                    bottom.extend_from_slice(luma);
                }
                left.push(luma[0]);
                right.push(luma[luma.len() - 1]);
            }
        };
        let profile = opts.pdq_profile;
        let hashes = if pdq {
            PDQ.with_borrow_mut(|hasher| {
                let hashes = if opts.pdq_dihedral {
                    // The plain hash is the first dihedral one except at exactly 64x64, where the
                    // reference's plain entry point skips the blur: that one image size goes whole.
                    if wants_pdq && (width, height) == (64, 64) {
                        None
                    } else {
                        hasher
                            .hash_rows_dihedral(
                                width,
                                height,
                                channels,
                                profile,
                                &mut next_row,
                                edge_lines,
                            )
                            .map(|d| {
                                let plain = pdq::PdqHash {
                                    digest: d.hashes[0],
                                    quality: d.quality,
                                };
                                (Some(plain), Some(d))
                            })
                    }
                } else {
                    hasher
                        .hash_rows(width, height, channels, profile, &mut next_row, edge_lines)
                        .map(|h| (Some(h), None))
                };
                hasher.release_if_over(KEEP_PDQ_VALUES);
                hashes
            })?
        } else {
            row8.clear();
            row8.resize(width * channels, 0);
            for y in 0..height {
                if !next_row(y, row8) {
                    break;
                }
            }
            (None, None)
        };
        let (plain, dihedral) = hashes;
        if failed || rows.finish().is_err() {
            return None;
        }
        // A bar at an edge: the trim probe needs the plane, which the whole-image path makes.
        if edges && probe::needs_plane_at_edges(top, bottom, left, right, scratch) {
            return None;
        }
        out.format = Some(Format::Jpeg);
        out.dimensions = Some((width as u32, height as u32));
        out.mode = Some(HashMode::Exact);
        if let Some(plain) = plain {
            out.pdq_quality = Some(plain.quality);
            if wants_pdq {
                out.perceptual.push((Algorithm::Pdq, plain.digest.into()));
            }
            out.pdq_dihedral = dihedral;
            if opts.probes.is_some() && wants_pdq {
                out.pdq_probes = probe::plain_only(plain);
            }
        }
        for &(algo, (kind, size)) in family {
            let t = kind.resize_target(size, width, height);
            let i = targets
                .iter()
                .position(|x| *x == t)
                .expect("a resizer per target");
            out.perceptual
                .push((algo, kind.core(size, resizers[i].finish(), t.0)));
        }
        for r in resizers.iter_mut() {
            // Keep buffers for everyday photos (a wHash of a 12 MP one holds ~10 MB), not for the
            // rare giant image.
            r.release_if_over(KEEP_RESIZE_BYTES);
        }
        Some(())
    }
}

fn hash_image_into(image: &Image, algos: &[Algorithm], opts: &HashOptions, out: &mut FileHashes) {
    let wants_pdq = algos.contains(&Algorithm::Pdq);
    if opts.pdq_dihedral || wants_pdq {
        PDQ.with_borrow_mut(|hasher| {
            pdq_into(hasher, image, wants_pdq, opts, out);
            // Keep buffers for everyday photos (up to ~16 MP), not for the rare giant image.
            hasher.release_if_over(KEEP_PDQ_VALUES);
        });
    }
    let family: Vec<(Algorithm, (ImagehashKind, super::imagehash::HashSize))> = algos
        .iter()
        .filter_map(|&a| ImagehashKind::from_algorithm(a).map(|k| (a, k)))
        .collect();
    if family.is_empty() {
        return;
    }
    // One luma plane serves the whole imagehash family; equal resize targets are shared.
    let requests: Vec<_> = family.iter().map(|(_, k)| *k).collect();
    let result = LumaPlane::from_image(image)
        .and_then(|plane| hashes_from_luma(&plane, &requests, opts.pillow));
    match result {
        Ok(digests) => {
            for ((algo, _), d) in family.iter().zip(digests) {
                out.perceptual.push((*algo, d));
            }
        }
        Err(e) => out.image_error = Some(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_names_round_trip_and_exact_is_the_default() {
        for m in HashMode::ALL {
            assert_eq!(m.name().parse::<HashMode>(), Ok(m));
        }
        assert_eq!(HashOptions::default().mode, HashMode::Exact);
        assert!("quick".parse::<HashMode>().is_err());
    }
}
