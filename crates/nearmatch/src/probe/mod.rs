//! Query-side probes: several PDQ digests of one image, so that padded, letterboxed, cropped,
//! rotated, flipped and screenshot copies of a known image still match its listed hash.
//!
//! Known-image lists hold hashes only, so robustness has to come from the query side: each probe
//! undoes one likely edit (peels a border, finds the picture inside a screenshot, re-extends a
//! crop, rotates back, mirrors), and a file matches an entry when any probe is within the radius.
//! The plain probe is always first and is the exact, reference-identical PDQ hash; the others are
//! computed on a reduced-resolution luma plane (PDQ ends at 64x64 anyway), from the one decode.
//!
//! ```
//! use nearmatch::probe::{pdq_probes, ProbeConfig, ProbeKind};
//! use nearmatch::hash::pdq::{self, Profile};
//! use nearmatch::pixels::{Image, Layout};
//! use nearmatch_synth::{generate, Scene};
//!
//! // A picture with a 40-pixel white border on every side.
//! let pic = generate(Scene::DeadLeaves, 240, 180, 7);
//! let (w, h) = (320u32, 260u32);
//! let mut rgb = vec![255u8; (w * h * 3) as usize];
//! for y in 0..180u32 {
//!     for x in 0..240u32 {
//!         let o = (((y + 40) * w + x + 40) * 3) as usize;
//!         rgb[o..o + 3].copy_from_slice(&pic.rgb_at(x, y));
//!     }
//! }
//! let padded = Image::new(w, h, Layout::Rgb8(rgb)).unwrap();
//! let probes = pdq_probes(&padded, Profile::Pdqhash, &ProbeConfig::default());
//! assert_eq!(probes[0].kind, ProbeKind::Plain);
//! let trim = probes.iter().find(|p| p.kind == ProbeKind::Trim).unwrap();
//! let want = pdq::hash(&pic, Profile::Pdqhash).digest;
//! assert!(trim.digest.distance(&want) < probes[0].digest.distance(&want));
//! ```

mod layout;
mod plane;
#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::fmt;
use std::str::FromStr;

use crate::digest::Digest256;
use crate::hash::pdq::{self, Orientation, PdqDihedral, PdqHash, PdqHasher, Profile};
use crate::pixels::Image;
pub use plane::{Blurred, Plane};

/// A family of query-side probes that can be switched on or off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProbeFamily {
    /// Peel uniform borders (padding, letterbox bars, stacked bars).
    Trim,
    /// Find the picture inside a screenshot-like layout (status bars, captions).
    ContentBox,
    /// Re-extend the query as the central or one-sided part of a larger original.
    Crop,
    /// Rotate back by small angles.
    Rotate,
    /// The 8 rotations by 90° and mirror images of every other probe.
    Dihedral,
}

impl ProbeFamily {
    /// Every family, in the order reports list them.
    pub const ALL: [ProbeFamily; 5] = [
        ProbeFamily::Trim,
        ProbeFamily::ContentBox,
        ProbeFamily::Crop,
        ProbeFamily::Rotate,
        ProbeFamily::Dihedral,
    ];

    /// The name the CLI and Python accept: `trim`, `content-box`, `crop`, `rotate`, `dihedral`.
    pub fn name(self) -> &'static str {
        match self {
            ProbeFamily::Trim => "trim",
            ProbeFamily::ContentBox => "content-box",
            ProbeFamily::Crop => "crop",
            ProbeFamily::Rotate => "rotate",
            ProbeFamily::Dihedral => "dihedral",
        }
    }
}

impl fmt::Display for ProbeFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A probe family or list name that is not known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown probe family {0:?} (known: default, none, all, trim, content-box, crop, rotate, dihedral)")]
pub struct UnknownProbeFamily(pub String);

impl FromStr for ProbeFamily {
    type Err = UnknownProbeFamily;
    fn from_str(s: &str) -> Result<Self, UnknownProbeFamily> {
        let lower = s.trim().to_ascii_lowercase().replace('_', "-");
        ProbeFamily::ALL
            .into_iter()
            .find(|f| f.name() == lower || (lower == "contentbox" && *f == ProbeFamily::ContentBox))
            .ok_or_else(|| UnknownProbeFamily(s.to_string()))
    }
}

/// Which probe families a query computes. The default is trim alone: it costs a fraction of a
/// PDQ hash per image; the others are opt-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProbeConfig {
    /// Peel uniform borders.
    pub trim: bool,
    /// Find the picture inside a screenshot layout (opt-in: up to 8 extra probes on layouts).
    pub content_box: bool,
    /// Crop compensation (opt-in: 251 extra probes, each a resampling of one blur).
    pub crop: bool,
    /// Rotation by ±2° and ±4° (opt-in: 4 extra probes).
    pub rotate: bool,
    /// Every probe in its 8 dihedral orientations (opt-in).
    pub dihedral: bool,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            trim: true,
            content_box: false,
            crop: false,
            rotate: false,
            dihedral: false,
        }
    }
}

impl ProbeConfig {
    /// The plain hash only.
    pub fn none() -> Self {
        ProbeConfig {
            trim: false,
            content_box: false,
            crop: false,
            rotate: false,
            dihedral: false,
        }
    }

    /// Every family.
    pub fn all() -> Self {
        ProbeConfig {
            trim: true,
            content_box: true,
            crop: true,
            rotate: true,
            dihedral: true,
        }
    }

    /// This configuration with one family switched on or off.
    pub fn with(mut self, f: ProbeFamily, on: bool) -> Self {
        *self.flag(f) = on;
        self
    }

    fn flag(&mut self, f: ProbeFamily) -> &mut bool {
        match f {
            ProbeFamily::Trim => &mut self.trim,
            ProbeFamily::ContentBox => &mut self.content_box,
            ProbeFamily::Crop => &mut self.crop,
            ProbeFamily::Rotate => &mut self.rotate,
            ProbeFamily::Dihedral => &mut self.dihedral,
        }
    }

    /// Whether a family is switched on.
    pub fn has(&self, f: ProbeFamily) -> bool {
        match f {
            ProbeFamily::Trim => self.trim,
            ProbeFamily::ContentBox => self.content_box,
            ProbeFamily::Crop => self.crop,
            ProbeFamily::Rotate => self.rotate,
            ProbeFamily::Dihedral => self.dihedral,
        }
    }

    /// The families switched on, in [`ProbeFamily::ALL`] order.
    pub fn families(&self) -> Vec<ProbeFamily> {
        ProbeFamily::ALL
            .into_iter()
            .filter(|&f| self.has(f))
            .collect()
    }

    /// Whether any probe besides the plain hash is computed.
    pub fn is_none(&self) -> bool {
        self.families().is_empty()
    }

    /// Parses a list: `default`, `none`, `all`, or comma-separated family names (which add to
    /// nothing: `trim,crop` is exactly those two; `default,crop` is the default set plus crop).
    ///
    /// ```
    /// use nearmatch::probe::ProbeConfig;
    /// assert_eq!(ProbeConfig::parse("default").unwrap(), ProbeConfig::default());
    /// assert!(ProbeConfig::parse("none").unwrap().is_none());
    /// let c = ProbeConfig::parse("default,crop").unwrap();
    /// assert!(c.trim && c.crop && !c.content_box && !c.rotate);
    /// assert!(ProbeConfig::parse("zoom").is_err());
    /// ```
    pub fn parse(spec: &str) -> Result<ProbeConfig, UnknownProbeFamily> {
        let mut c = ProbeConfig::none();
        for part in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match part.to_ascii_lowercase().as_str() {
                "none" => {}
                "default" => c.trim = true,
                "all" => c = ProbeConfig::all(),
                _ => c = c.with(part.parse()?, true),
            }
        }
        Ok(c)
    }

    /// The list [`ProbeConfig::parse`] reads back: `none` or the family names.
    pub fn spec(&self) -> String {
        let f = self.families();
        if f.is_empty() {
            "none".into()
        } else {
            f.iter().map(|f| f.name()).collect::<Vec<_>>().join(",")
        }
    }
}

/// The margins a crop-compensation probe assumes were cut away, per mille of the original's
/// side: its width for left and right, its height for top and bottom.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CropMargins {
    /// Cut from the left side.
    pub left: u16,
    /// Cut from the right side.
    pub right: u16,
    /// Cut from the top.
    pub top: u16,
    /// Cut from the bottom.
    pub bottom: u16,
}

impl CropMargins {
    /// The report name: `crop` and each non-zero margin in percent, e.g. `crop-l2.5-r2.5`,
    /// `crop-l5-t1.2-b3.8`.
    pub fn name(&self) -> String {
        let mut s = String::from("crop");
        for (tag, m) in [
            ('l', self.left),
            ('r', self.right),
            ('t', self.top),
            ('b', self.bottom),
        ] {
            if m > 0 {
                s.push('-');
                s.push(tag);
                s.push_str(&tenths(i32::from(m), 10));
            }
        }
        s
    }
}

/// Every crop-compensation probe, most likely first: for each total margin of
/// [`CROP_TOTALS_PERMILLE`] (smallest first), the aspect-preserving crops (the same total cut
/// from the width and from the height, split between the two sides in steps) and the crops of
/// one axis alone, each split the same way.
pub fn crop_grid() -> Vec<CropMargins> {
    let mut out = Vec::new();
    for (total, steps) in CROP_TOTALS_PERMILLE.into_iter().zip(CROP_SPLIT_STEPS) {
        let splits: Vec<u16> = (0..=steps)
            .map(|i| {
                ((u32::from(total) * u32::from(i) + u32::from(steps) / 2) / u32::from(steps)) as u16
            })
            .collect();
        let mid = total / 2;
        let mut add = |m: CropMargins| {
            if !out.contains(&m) {
                out.push(m);
            }
        };
        add(CropMargins {
            left: mid,
            right: total - mid,
            top: mid,
            bottom: total - mid,
        });
        for &a in &splits {
            for &b in &splits {
                add(CropMargins {
                    left: a,
                    right: total - a,
                    top: b,
                    bottom: total - b,
                });
            }
        }
        for &a in &splits {
            add(CropMargins {
                left: a,
                right: total - a,
                top: 0,
                bottom: 0,
            });
            add(CropMargins {
                left: 0,
                right: 0,
                top: a,
                bottom: total - a,
            });
        }
    }
    out
}

/// What one probe is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProbeKind {
    /// The file's own hash (exact, reference-identical).
    Plain,
    /// Uniform borders peeled.
    Trim,
    /// The picture found inside a screenshot-like layout.
    ContentBox,
    /// The canvas re-extended by these margins, as the part of a larger original.
    Crop(CropMargins),
    /// Rotated back by this angle in tenths of a degree (+ = counter-clockwise).
    Rotate {
        /// The angle, 1/10 degree.
        decidegrees: i16,
    },
}

impl ProbeKind {
    /// The stable report name: `plain`, `trim`, `content-box`, `crop-l2.5-r2.5-t2.5-b2.5`, `crop-l5`,
    /// `rotate+2`, `rotate-4`.
    pub fn name(&self) -> String {
        match *self {
            ProbeKind::Plain => "plain".into(),
            ProbeKind::Trim => "trim".into(),
            ProbeKind::ContentBox => "content-box".into(),
            ProbeKind::Crop(m) => m.name(),
            ProbeKind::Rotate { decidegrees } => {
                let sign = if decidegrees < 0 { '-' } else { '+' };
                format!("rotate{sign}{}", tenths(i32::from(decidegrees).abs(), 10))
            }
        }
    }

    /// The family that makes this kind (`None` for the plain hash).
    pub fn family(&self) -> Option<ProbeFamily> {
        match self {
            ProbeKind::Plain => None,
            ProbeKind::Trim => Some(ProbeFamily::Trim),
            ProbeKind::ContentBox => Some(ProbeFamily::ContentBox),
            ProbeKind::Crop(_) => Some(ProbeFamily::Crop),
            ProbeKind::Rotate { .. } => Some(ProbeFamily::Rotate),
        }
    }
}

/// `v / div` with at most one decimal, no trailing `.0`.
fn tenths(v: i32, div: i32) -> String {
    if v % div == 0 {
        (v / div).to_string()
    } else {
        format!("{}.{}", v / div, (v % div).abs())
    }
}

impl fmt::Display for ProbeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// One probe digest of a query image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    /// What the probe undoes.
    pub kind: ProbeKind,
    /// `Orig` unless the dihedral family produced it.
    pub orientation: Orientation,
    /// The PDQ digest of the probe's pixels.
    pub digest: Digest256,
    /// PDQ quality of the probe's pixels.
    pub quality: u8,
}

impl Probe {
    /// The report name: the kind's name, plus `+<orientation>` when not `orig` (`trim+flipy`).
    pub fn name(&self) -> String {
        if self.orientation == Orientation::Orig {
            self.kind.name()
        } else {
            format!("{}+{}", self.kind.name(), self.orientation.name())
        }
    }

    /// Whether this is the plain, unmodified hash.
    pub fn is_plain(&self) -> bool {
        self.kind == ProbeKind::Plain && self.orientation == Orientation::Orig
    }
}

/// Default match radius for probes other than the plain one; the plain probe keeps the set's
/// radius. Chosen from `nearmatch eval` (the README's probe section): with the default probes
/// and PDQ's quality gate, 5·10^7 distinct pairs gave no false match at 31, so a tighter radius
/// would only cost recall; `--probe-max-distance` tightens it for the opt-in families.
pub const DEFAULT_PROBE_RADIUS: u32 = 31;

/// Long side the probe plane is box-reduced to at most (PDQ then samples 64x64 of it).
pub const PROBE_PLANE_MAX_SIDE: usize = 1024;

/// Total crop-compensation margins per axis, per mille of the original's side.
pub const CROP_TOTALS_PERMILLE: [u16; 4] = [25, 50, 75, 100];

/// How many steps each total of [`CROP_TOTALS_PERMILLE`] is split into between the two sides.
/// PDQ misses a copy shifted by more than about half a percent of its side, so small crops
/// (the common case, the eval's ≤ 5 %) get steps of under 0.9 %; larger ones steps of 1.25 %.
/// (Steps of 1.9–2.5 % for the 7.5 and 10 % totals found 41.5 % of 10 % crops of the
/// calibrated corpus; 1.25 % finds 63 %, for 251 crop probes instead of 159.)
pub const CROP_SPLIT_STEPS: [u16; 4] = [3, 6, 6, 8];

/// Rotation-probe angles, tenths of a degree.
pub const ROTATE_DECIDEGREES: [i16; 4] = [20, -20, 40, -40];

thread_local! {
    /// Per-thread hasher for the small probe planes.
    static HASHER: RefCell<PdqHasher> = RefCell::new(PdqHasher::new());
}

/// The probes of one decoded image: the plain, exact PDQ hash first, then the configured ones.
///
/// Images too small for PDQ give an empty list.
pub fn pdq_probes(image: &Image, profile: Profile, config: &ProbeConfig) -> Vec<Probe> {
    let w = image.width() as usize;
    let h = image.height() as usize;
    if w < pdq::MIN_HASHABLE_DIM || h < pdq::MIN_HASHABLE_DIM {
        return Vec::new();
    }
    let plain = pdq::hash(image, profile);
    if config.is_none() {
        return vec![plain_probe(plain)];
    }
    let plane = Plane::of_image(image, profile, PROBE_PLANE_MAX_SIDE);
    probes_from_plane(plain, &plane, config)
}

fn plain_probe(h: PdqHash) -> Probe {
    Probe {
        kind: ProbeKind::Plain,
        orientation: Orientation::Orig,
        digest: h.digest,
        quality: h.quality,
    }
}

/// Whether the probes of `config` need the reduced plane of this full-resolution luma: only
/// trim can do without it, when the plane would be the luma itself and no side of it is
/// uniform (then there is no border to peel and the plain probe is all there is).
pub(crate) fn needs_plane(luma: &[f32], w: usize, h: usize, config: &ProbeConfig) -> bool {
    !trim_only(config) || w.max(h) > PROBE_PLANE_MAX_SIDE || layout::any_bar_start(luma, w, h)
}

/// Whether [`needs_plane`] may be answered from the image's four outermost lines of luma (see
/// [`needs_plane_at_edges`]) without the plane: the trim probes alone, on an image small
/// enough to be its own probe plane.
#[cfg_attr(not(feature = "turbojpeg"), allow(dead_code))]
pub(crate) fn edges_decide(w: usize, h: usize, config: &ProbeConfig) -> bool {
    trim_only(config) && w.max(h) <= PROBE_PLANE_MAX_SIDE && w >= 3 && h >= 3
}

/// [`needs_plane`] where [`edges_decide`] holds, from the top and bottom rows and the left and
/// right columns of the luma (and working space).
#[cfg(feature = "turbojpeg")]
pub(crate) use layout::any_bar_start_at_edges as needs_plane_at_edges;

/// Whether one outermost line of the luma already makes [`needs_plane_at_edges`] true.
#[cfg(feature = "turbojpeg")]
pub(crate) use layout::line_starts_bar;

fn trim_only(config: &ProbeConfig) -> bool {
    *config == ProbeConfig::none().with(ProbeFamily::Trim, true)
}

/// The plain probe alone (a query with nothing for its other probes to undo).
pub(crate) fn plain_only(plain: PdqHash) -> Vec<Probe> {
    vec![plain_probe(plain)]
}

/// The probes given the exact plain hash and the reduced luma plane of the same image.
pub(crate) fn probes_from_plane(plain: PdqHash, plane: &Plane, config: &ProbeConfig) -> Vec<Probe> {
    let mut out = vec![plain_probe(plain)];
    HASHER.with_borrow_mut(|hasher| {
        if config.dihedral {
            // The DCT-domain dihedrals are not exactly the hashes of mirrored pixels (PDQ's
            // decimation grid is not symmetric), so the plain probe's orientations come from
            // actually re-oriented pixels of the plane.
            for o in &Orientation::ALL[1..] {
                let p = plane.oriented(*o);
                if let Some(h) = hash_plane(hasher, &p) {
                    push_unique(
                        &mut out,
                        Probe {
                            kind: ProbeKind::Plain,
                            orientation: *o,
                            digest: h.digest,
                            quality: h.quality,
                        },
                    );
                }
            }
        }
        let mut trimmed = None;
        if config.trim {
            let candidates = layout::trim_candidates(plane, plane.full());
            for r in &candidates {
                let p = plane.crop(*r);
                push_plane(hasher, ProbeKind::Trim, &p, config.dihedral, &mut out);
            }
            trimmed = candidates.first().copied();
        }
        if config.content_box {
            for b in layout::content_boxes(plane) {
                if Some(b.rect) != trimmed || b.corner_radius > 0 {
                    let mut p = plane.crop(b.rect);
                    p.fill_rounded_corners(b.corner_radius);
                    push_plane(hasher, ProbeKind::ContentBox, &p, config.dihedral, &mut out);
                }
            }
        }
        if config.crop || config.rotate {
            if plane.width() < pdq::MIN_HASHABLE_DIM || plane.height() < pdq::MIN_HASHABLE_DIM {
                return;
            }
            // Crop and rotation probes start from the whole query (a cropped picture with a
            // flat margin of its own, a document, would lose it to a trim) and resample its
            // one blur.
            let max_margin = CROP_TOTALS_PERMILLE.iter().copied().max().unwrap_or(0);
            let blurred = Blurred::of(plane, max_margin, hasher);
            if config.crop {
                for m in crop_grid() {
                    let a = blurred.extended_samples(m);
                    push_samples(ProbeKind::Crop(m), &a, config.dihedral, &mut out);
                }
            }
            if config.rotate {
                for d in ROTATE_DECIDEGREES {
                    let a = blurred.rotated_samples(f32::from(d) / 10.0);
                    push_samples(
                        ProbeKind::Rotate { decidegrees: d },
                        &a,
                        config.dihedral,
                        &mut out,
                    );
                }
            }
        }
    });
    out
}

fn hash_plane(hasher: &mut PdqHasher, p: &Plane) -> Option<PdqHash> {
    if p.width() < pdq::MIN_HASHABLE_DIM || p.height() < pdq::MIN_HASHABLE_DIM {
        return None;
    }
    hasher.hash_luma(p.pixels(), p.width(), p.height()).ok()
}

fn push_plane(
    hasher: &mut PdqHasher,
    kind: ProbeKind,
    p: &Plane,
    dihedral: bool,
    out: &mut Vec<Probe>,
) {
    if p.width() < pdq::MIN_HASHABLE_DIM || p.height() < pdq::MIN_HASHABLE_DIM {
        return;
    }
    if dihedral {
        if let Ok(d) = hasher.hash_luma_dihedral(p.pixels(), p.width(), p.height()) {
            push_dihedral(out, kind, &d);
        }
    } else if let Some(h) = hash_plane(hasher, p) {
        push_hash(out, kind, h);
    }
}

/// Adds the probe(s) of 64x64 tent-blurred samples: one, or its 8 orientations.
fn push_samples(kind: ProbeKind, a: &[f32; 4096], dihedral: bool, out: &mut Vec<Probe>) {
    if dihedral {
        push_dihedral(out, kind, &pdq::dihedral_of_samples(a));
    } else {
        push_hash(out, kind, pdq::hash_of_samples(a));
    }
}

/// Adds the probe of one unmirrored hash.
fn push_hash(out: &mut Vec<Probe>, kind: ProbeKind, h: PdqHash) {
    push_unique(
        out,
        Probe {
            kind,
            orientation: Orientation::Orig,
            digest: h.digest,
            quality: h.quality,
        },
    );
}

/// Adds the probes of all 8 orientations of one hash.
fn push_dihedral(out: &mut Vec<Probe>, kind: ProbeKind, d: &PdqDihedral) {
    for (orientation, digest) in d.iter() {
        push_unique(
            out,
            Probe {
                kind,
                orientation,
                digest,
                quality: d.quality,
            },
        );
    }
}

/// Adds a probe unless an earlier one has the same digest (the earlier, simpler one is named).
fn push_unique(out: &mut Vec<Probe>, p: Probe) {
    if !out.iter().any(|q| q.digest == p.digest) {
        out.push(p);
    }
}
