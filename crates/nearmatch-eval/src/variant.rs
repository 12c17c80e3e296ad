//! Hash variants: the columns of every table. A variant says which digest a hash list holds for
//! the original (the reference), which probe digests a scan derives from the found copy (the
//! query), and whether the query is gated on quality.
//!
//! The list is data ([`variants`]): a new query-side option (border-trimmed probes, a fast decode
//! mode) becomes a column by adding an entry here and, if it needs a new computation, a field
//! of [`ImageHashes`].

use nearmatch::decode::{box_factor_for, box_reduce, decode_reduced, Limits};
use nearmatch::digest::AnyDigest;
use nearmatch::hash::file::{hash_image, HashOptions, FAST_MIN_SIDE};
use nearmatch::hash::pdq;
use nearmatch::hash::Algorithm;
use nearmatch::pixels::Image;
use nearmatch::probe::{pdq_probes, Probe, ProbeConfig, DEFAULT_PROBE_RADIUS};
use serde::Serialize;

/// What the query side sends to the search.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Probes {
    /// The plain digest of the query image.
    Plain,
    /// The 8 PDQ dihedral digests (rotations by 90° and flips), one DCT.
    PdqDihedral,
    /// The plain digest of the query image hashed as `scan --fast` would: a JPEG copy from its
    /// bytes through the reduced (scaled-IDCT) decode, a pixel copy box-reduced; images too
    /// small to reduce are hashed exactly, as in a fast scan.
    Fast,
    /// The query-side probes of these families ([`nearmatch::probe`]), plain hash first.
    PdqProbes(#[serde(serialize_with = "probe_spec")] ProbeConfig),
    /// imagehash's `crop_resistant_hash` with its defaults (dHash of every bright or dark
    /// segment's bounding box): the reference and the query are both lists of segment hashes.
    /// Each query segment's distance is to its nearest reference segment, and the pair's
    /// distance is the `k`-th smallest of those (`k` = the region cutoff), so a threshold `t`
    /// is imagehash's `query.matches(reference, region_cutoff=k, hamming_cutoff=t)` (its
    /// defaults: k = 1, t = 16 of 64 bits).
    CropResistant(u8),
}

fn probe_spec<S: serde::Serializer>(c: &ProbeConfig, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&c.spec())
}

/// What the variants need computed for every image beyond the plain digests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueryNeeds {
    /// The union of the probe families (`None` when no variant uses probes).
    pub probes: Option<ProbeConfig>,
    /// Some variant is [`Probes::CropResistant`].
    pub crop_resistant: bool,
}

/// The union of the probe families the variants need, and whether any needs crop-resistant
/// segment hashes.
pub fn probe_families(variants: &[HashVariant]) -> QueryNeeds {
    let mut any = None;
    for v in variants {
        if let Probes::PdqProbes(c) = v.probes {
            let mut u = any.unwrap_or_else(ProbeConfig::none);
            for f in c.families() {
                u = u.with(f, true);
            }
            any = Some(u);
        }
    }
    QueryNeeds {
        probes: any,
        crop_resistant: variants
            .iter()
            .any(|v| matches!(v.probes, Probes::CropResistant(_))),
    }
}

/// One column: a reference digest, query probes, an optional quality gate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HashVariant {
    /// Stable identifier (`pdq`, `pdq-dihedral`, `pdq-q50`, `phash`, …).
    pub id: &'static str,
    /// Table header.
    pub label: &'static str,
    /// The algorithm of the reference digest (what the hash list holds).
    #[serde(serialize_with = "algorithm_name")]
    pub algorithm: Algorithm,
    /// The query-side probes.
    pub probes: Probes,
    /// Queries whose PDQ quality is below this never match (they count as misses).
    pub min_quality: Option<u8>,
    /// Added to the distance of every probe but the first (the plain hash): the rule "plain
    /// within R or another probe within R − δ" is "min(plain, probe + δ) within R", so one
    /// threshold sweep covers both radii.
    pub probe_delta: u32,
}

fn algorithm_name<S: serde::Serializer>(a: &Algorithm, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(a.name())
}

impl HashVariant {
    /// Digest width in bits.
    pub fn bits(&self) -> u32 {
        self.algorithm.bits() as u32
    }

    /// The fixed thresholds of the issue: PDQ's 31 and 20 of 256 bits, the same fractions of
    /// other widths (rounded: 8 and 5 of 64).
    pub fn fixed_thresholds(&self) -> [u32; 2] {
        if matches!(self.probes, Probes::CropResistant(_)) {
            // imagehash's default cutoff (a quarter of the bits) and half of it.
            return [16, 8];
        }
        let b = f64::from(self.bits());
        [
            (b * 31.0 / 256.0).round() as u32,
            (b * 20.0 / 256.0).round() as u32,
        ]
    }

    /// The digest a hash list would hold for this image, if it could be computed.
    pub fn reference<'a>(&self, h: &'a ImageHashes) -> Option<&'a [u64]> {
        if matches!(self.probes, Probes::CropResistant(_)) {
            return h.crop_resistant.as_deref();
        }
        h.digest(self.algorithm).map(|d| d.words())
    }

    /// The query's probe digests (each `bits / 64` words, back to back), or `None` when the
    /// image cannot be hashed or fails the quality gate.
    pub fn query(&self, h: &ImageHashes) -> Option<Vec<u64>> {
        if let Some(q) = self.min_quality {
            if h.pdq_quality? < q {
                return None;
            }
        }
        match self.probes {
            Probes::Plain => self.reference(h).map(<[u64]>::to_vec),
            Probes::PdqDihedral => h
                .pdq_dihedral
                .as_ref()
                .map(|d| d.iter().flat_map(|w| *w).collect()),
            Probes::Fast => h.fast_digest(self.algorithm).map(|d| d.words().to_vec()),
            Probes::CropResistant(_) => h.crop_resistant.clone(),
            Probes::PdqProbes(c) => {
                let words: Vec<u64> = h
                    .pdq_probes
                    .iter()
                    .filter(|p| {
                        p.kind.family().is_none_or(|f| c.has(f))
                            && (p.orientation == pdq::Orientation::Orig || c.dihedral)
                    })
                    .flat_map(|p| p.digest.0)
                    .collect();
                (!words.is_empty()).then_some(words)
            }
        }
    }

    /// The distance from a query's probes to a reference: the minimum over the probes, with
    /// [`HashVariant::probe_delta`] added to all but the first, capped at the digest's width.
    /// A reference of several digests (crop-resistant segments) gives the minimum over them.
    pub fn distance(&self, probes: &[u64], reference: &[u64]) -> u32 {
        let wpd = (self.bits() as usize / 64).max(1);
        if let Probes::CropResistant(k) = self.probes {
            let mut nearest: Vec<u32> = probes
                .chunks_exact(wpd)
                .map(|q| {
                    reference
                        .chunks_exact(wpd)
                        .map(|r| distance(q, r))
                        .min()
                        .unwrap_or(u32::MAX)
                })
                .collect();
            nearest.sort_unstable();
            // Fewer matching segments than the cutoff can never match: the widest distance.
            return nearest
                .get(usize::from(k.max(1)) - 1)
                .copied()
                .unwrap_or(u32::MAX)
                .min(self.bits());
        }
        reference
            .chunks_exact(wpd)
            .map(|r| {
                let mut it = probes.chunks_exact(wpd);
                let first = it.next().map_or(u32::MAX, |p| distance(p, r));
                let rest = it
                    .map(|p| distance(p, r) + self.probe_delta)
                    .min()
                    .unwrap_or(u32::MAX);
                first.min(rest)
            })
            .min()
            .unwrap_or(u32::MAX)
            .min(self.bits())
    }
}

/// The columns, in table order.
pub fn variants() -> Vec<HashVariant> {
    let v = |id, label, algorithm, probes, min_quality| HashVariant {
        id,
        label,
        algorithm,
        probes,
        min_quality,
        probe_delta: 0,
    };
    let delta = pdq::MATCH_DISTANCE.saturating_sub(DEFAULT_PROBE_RADIUS);
    let probes = |id, label, families: &str| HashVariant {
        id,
        label,
        algorithm: Algorithm::Pdq,
        probes: Probes::PdqProbes(ProbeConfig::parse(families).expect("known families")),
        min_quality: None,
        probe_delta: delta,
    };
    vec![
        v("pdq", "PDQ", Algorithm::Pdq, Probes::Plain, None),
        v(
            "pdq-dihedral",
            "PDQ+dihedral",
            Algorithm::Pdq,
            Probes::PdqDihedral,
            None,
        ),
        v(
            "pdq-q50",
            "PDQ q≥50",
            Algorithm::Pdq,
            Probes::Plain,
            Some(pdq::MIN_QUALITY),
        ),
        probes("pdq-probes", "PDQ+probes", "default"),
        HashVariant {
            min_quality: Some(pdq::MIN_QUALITY),
            ..probes("pdq-probes-q50", "PDQ+probes q≥50", "default")
        },
        probes(
            "pdq-probes-content-box",
            "PDQ+probes+content-box",
            "default,content-box",
        ),
        HashVariant {
            min_quality: Some(pdq::MIN_QUALITY),
            ..probes(
                "pdq-probes-content-box-q50",
                "PDQ+probes+content-box q≥50",
                "default,content-box",
            )
        },
        probes("pdq-probes-crop", "PDQ+probes+crop", "default,crop"),
        probes("pdq-probes-rotate", "PDQ+probes+rotate", "default,rotate"),
        probes(
            "pdq-probes-dihedral",
            "PDQ+probes+dihedral",
            "default,dihedral",
        ),
        probes("pdq-probes-all", "PDQ+all probes", "all"),
        v("phash", "pHash", Algorithm::Phash, Probes::Plain, None),
        v(
            "phash16",
            "pHash-256",
            Algorithm::Phash16,
            Probes::Plain,
            None,
        ),
        v("dhash", "dHash", Algorithm::Dhash, Probes::Plain, None),
        v("ahash", "aHash", Algorithm::Ahash, Probes::Plain, None),
        v("whash", "wHash", Algorithm::Whash, Probes::Plain, None),
        v(
            "crop-resistant",
            "crop-resistant",
            Algorithm::Dhash,
            Probes::CropResistant(1),
            None,
        ),
        v(
            "crop-resistant-2",
            "crop-resistant, 2 regions",
            Algorithm::Dhash,
            Probes::CropResistant(2),
            None,
        ),
        v("pdq-fast", "PDQ fast", Algorithm::Pdq, Probes::Fast, None),
        v(
            "phash-fast",
            "pHash fast",
            Algorithm::Phash,
            Probes::Fast,
            None,
        ),
    ]
}

/// The algorithms also hashed the fast way, for the [`Probes::Fast`] variants.
pub const FAST_ALGORITHMS: [Algorithm; 2] = [Algorithm::Pdq, Algorithm::Phash];
/// The variants of [`variants`] named in a comma-separated list of ids, in table order.
pub fn select(list: &str) -> Result<Vec<HashVariant>, String> {
    let all = variants();
    let ids: Vec<&str> = list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    for id in &ids {
        if !all.iter().any(|v| v.id == *id) {
            let known: Vec<&str> = all.iter().map(|v| v.id).collect();
            return Err(format!(
                "unknown variant {id:?} (known: {})",
                known.join(", ")
            ));
        }
    }
    let chosen: Vec<HashVariant> = all.into_iter().filter(|v| ids.contains(&v.id)).collect();
    if chosen.is_empty() {
        return Err("--variants: name at least one variant".into());
    }
    Ok(chosen)
}

/// Sets the radius of the extra probes of every probe variant (the plain probe keeps PDQ's 31).
pub fn set_probe_radius(variants: &mut [HashVariant], radius: u32) {
    for v in variants {
        if matches!(v.probes, Probes::PdqProbes(_)) {
            v.probe_delta = pdq::MATCH_DISTANCE.saturating_sub(radius);
        }
    }
}

/// The perceptual algorithms computed for every image.
pub const ALGORITHMS: [Algorithm; 6] = [
    Algorithm::Pdq,
    Algorithm::Phash,
    Algorithm::Phash16,
    Algorithm::Dhash,
    Algorithm::Ahash,
    Algorithm::Whash,
];

/// Every digest of one image that some variant needs.
#[derive(Clone, Debug, Default)]
pub struct ImageHashes {
    /// Plain digests of [`ALGORITHMS`] (missing when the image could not be hashed).
    pub digests: Vec<(Algorithm, AnyDigest)>,
    /// PDQ quality, 0–100.
    pub pdq_quality: Option<u8>,
    /// The 8 PDQ dihedral digests, as words.
    pub pdq_dihedral: Option<[[u64; 4]; 8]>,
    /// The fast-mode hashes, only when a fast scan would reduce the image (otherwise it hashes
    /// exactly and [`Self::fast_digest`] gives the plain digest).
    pub fast: Option<FastHashes>,
    /// The query-side PDQ probes (plain first), when some variant needs them.
    pub pdq_probes: Vec<Probe>,
    /// imagehash's `crop_resistant_hash` (dHash 8 per segment: one word each), when some
    /// variant needs it; `None` when imagehash's segmentation fails on the image.
    pub crop_resistant: Option<Vec<u64>>,
}

/// Digests of [`FAST_ALGORITHMS`] from the reduced pixels a fast scan would hash.
#[derive(Clone, Debug)]
pub struct FastHashes {
    /// How the pixels were reduced.
    pub reduction: Reduction,
    /// The reduction factor per side (2, 4 or 8 for JPEG; any integer ≥ 2 for the box).
    pub scale: u32,
    /// The digests.
    pub digests: Vec<(Algorithm, AnyDigest)>,
}

/// The two ways fast mode reduces an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reduction {
    /// libjpeg-turbo's scaled IDCT on the JPEG file.
    JpegIdct,
    /// k×k block averaging of the decoded pixels (every other format).
    Box,
}

impl ImageHashes {
    /// One algorithm's plain digest.
    pub fn digest(&self, a: Algorithm) -> Option<&AnyDigest> {
        self.digests.iter().find(|(x, _)| *x == a).map(|(_, d)| d)
    }

    /// One algorithm's digest as a fast scan would compute it (the plain digest when the
    /// image is too small to reduce).
    pub fn fast_digest(&self, a: Algorithm) -> Option<&AnyDigest> {
        match &self.fast {
            Some(f) => f.digests.iter().find(|(x, _)| *x == a).map(|(_, d)| d),
            None => self.digest(a),
        }
    }

    /// Hashes pixels with every algorithm, as a scan would (pdqhash profile, Pillow 13), and
    /// the fast digests as a fast scan of a lossless file of these pixels would: box-reduced.
    pub fn of(image: &Image) -> ImageHashes {
        let mut h = Self::exact(image, None);
        let k = box_factor_for(image.width(), image.height(), FAST_MIN_SIDE);
        if k > 1 {
            h.fast = Some(FastHashes {
                reduction: Reduction::Box,
                scale: k,
                digests: fast_digests(&box_reduce(image.clone(), k)),
            });
        }
        h
    }

    /// [`Self::of`] plus what the variants need: the PDQ probes of these families, the
    /// crop-resistant segment hashes.
    pub fn with_probes(image: &Image, needs: QueryNeeds) -> ImageHashes {
        let mut h = Self::of(image);
        h.pdq_probes = Self::probes_of(image, needs.probes);
        if needs.crop_resistant {
            h.crop_resistant = crop_resistant_words(image);
        }
        h
    }

    /// Like [`Self::of`] for pixels decoded from the JPEG file `jpeg`: the fast digests come
    /// from the file's reduced decode (libjpeg-turbo's scaled IDCT), as in a fast scan.
    pub fn of_jpeg(
        image: &Image,
        jpeg: &[u8],
        needs: QueryNeeds,
    ) -> Result<ImageHashes, nearmatch::Error> {
        let mut h = Self::exact(image, needs.probes);
        if needs.crop_resistant {
            h.crop_resistant = crop_resistant_words(image);
        }
        let r = decode_reduced(jpeg, FAST_MIN_SIDE, &Limits::default())?;
        if r.scale > 1 {
            h.fast = Some(FastHashes {
                reduction: Reduction::JpegIdct,
                scale: r.scale,
                digests: fast_digests(&r.decoded.image),
            });
        }
        Ok(h)
    }

    fn probes_of(image: &Image, probes: Option<ProbeConfig>) -> Vec<Probe> {
        let too_small = (image.width() as usize) < pdq::MIN_HASHABLE_DIM
            || (image.height() as usize) < pdq::MIN_HASHABLE_DIM;
        match probes {
            Some(c) if !too_small => pdq_probes(image, pdq::Profile::Pdqhash, &c),
            _ => Vec::new(),
        }
    }

    /// The exact hashes (and the probes of these families) only.
    fn exact(image: &Image, probes: Option<ProbeConfig>) -> ImageHashes {
        let opts = HashOptions {
            pdq_dihedral: true,
            ..HashOptions::default()
        };
        let mut fh = hash_image(image, &ALGORITHMS, &opts);
        let pdq_too_small = (image.width() as usize) < pdq::MIN_HASHABLE_DIM
            || (image.height() as usize) < pdq::MIN_HASHABLE_DIM;
        if pdq_too_small {
            // The core returns a zero digest below PDQ's minimum size; that is no hash at all.
            fh.perceptual.retain(|(a, _)| *a != Algorithm::Pdq);
            fh.pdq_dihedral = None;
            fh.pdq_quality = None;
        }
        ImageHashes {
            digests: fh.perceptual,
            pdq_quality: fh.pdq_quality,
            pdq_dihedral: fh.pdq_dihedral.map(|d| d.hashes.map(|h| h.0)),
            fast: None,
            pdq_probes: Self::probes_of(image, probes),
            crop_resistant: None,
        }
    }
}

/// imagehash's `crop_resistant_hash` of the pixels with its defaults (Pillow 13), as one 64-bit
/// word per segment; `None` when the segmentation fails as imagehash's would.
pub fn crop_resistant_words(image: &Image) -> Option<Vec<u64>> {
    use nearmatch::hash::crop_resistant::{crop_resistant_hash, CropResistantOptions};
    use nearmatch::hash::imagehash::ImagehashSpec;
    use nearmatch::hash::luma::LumaPlane;
    use nearmatch::hash::resample::PillowVersion;
    let luma = LumaPlane::from_image(image).ok()?;
    let segments = crop_resistant_hash(
        &luma,
        &CropResistantOptions::default(),
        &ImagehashSpec::Dhash { hash_size: 8 },
        PillowVersion::Pillow13,
    )
    .ok()?;
    Some(segments.iter().flat_map(|m| m.to_words()).collect())
}

/// [`FAST_ALGORITHMS`] of reduced pixels (whose sides are at least [`FAST_MIN_SIDE`], so PDQ's
/// minimum size is met).
fn fast_digests(reduced: &Image) -> Vec<(Algorithm, AnyDigest)> {
    hash_image(reduced, &FAST_ALGORITHMS, &HashOptions::default()).perceptual
}

/// Hamming distance between two digests given as equal-length word slices.
pub fn distance(a: &[u64], b: &[u64]) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use nearmatch_synth::{generate, Scene};

    #[test]
    fn variant_ids_unique_and_thresholds_scale_with_bits() {
        let vs = variants();
        let mut ids: Vec<_> = vs.iter().map(|v| v.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), vs.len());
        let pdq = &vs[0];
        assert_eq!(pdq.fixed_thresholds(), [31, 20]);
        let phash = vs.iter().find(|v| v.id == "phash").unwrap();
        assert_eq!(phash.fixed_thresholds(), [8, 5]);
    }

    #[test]
    fn dihedral_probes_include_the_plain_hash_and_gate_rejects() {
        let img = generate(Scene::Landscape, 96, 72, 3);
        let h = ImageHashes::of(&img);
        let vs = variants();
        let plain = vs[0].query(&h).unwrap();
        let dih = vs[1].query(&h).unwrap();
        assert_eq!(dih.len(), 32);
        assert_eq!(vs[1].distance(&dih, &plain), 0);
        let mut low = h.clone();
        low.pdq_quality = Some(10);
        assert!(vs[2].query(&low).is_none());
        assert!(vs[0].query(&low).is_some());
    }

    /// The crop-resistant column: segment lists on both sides, the distance the closest pair,
    /// so a copy and its original match at distance 0 and a crop of it stays close.
    #[test]
    fn crop_resistant_variant_compares_segment_lists() {
        let vs = variants();
        let cr = vs.iter().find(|v| v.id == "crop-resistant").unwrap();
        assert_eq!(cr.fixed_thresholds(), [16, 8]);
        let needs = probe_families(std::slice::from_ref(cr));
        assert!(needs.crop_resistant && needs.probes.is_none());
        let img = generate(Scene::Product, 320, 240, 4);
        let h = ImageHashes::with_probes(&img, needs);
        let segments = h.crop_resistant.as_ref().unwrap();
        assert!(!segments.is_empty());
        let (r, q) = (cr.reference(&h).unwrap(), cr.query(&h).unwrap());
        assert_eq!(cr.distance(&q, r), 0);
        // Without the need, nothing is computed (the other columns pay nothing).
        assert!(ImageHashes::with_probes(&img, QueryNeeds::default())
            .crop_resistant
            .is_none());
        // The same as imagehash's matches(): min over pairs against a list of several.
        let other = generate(Scene::Landscape, 320, 240, 5);
        let o = ImageHashes::with_probes(&other, needs);
        let oq = cr.query(&o).unwrap();
        let naive = oq
            .iter()
            .flat_map(|a| r.iter().map(move |b| (a ^ b).count_ones()))
            .min()
            .unwrap();
        assert_eq!(cr.distance(&oq, r), naive);
        // Two regions: the second-smallest of the query segments' nearest distances.
        let cr2 = vs.iter().find(|v| v.id == "crop-resistant-2").unwrap();
        let mut nearest: Vec<u32> = oq
            .iter()
            .map(|a| r.iter().map(|b| (a ^ b).count_ones()).min().unwrap())
            .collect();
        nearest.sort();
        let want = nearest.get(1).copied().unwrap_or(64);
        assert_eq!(cr2.distance(&oq, r), want);
        assert!(cr2.distance(&oq, r) >= cr.distance(&oq, r));
    }

    /// The fast variants' query from the eval's own reduction equals what a fast scan of the
    /// same file gives (`hash_bytes` in fast mode: sniffing, reduced decode and hashing in the
    /// core), for a JPEG copy (scaled IDCT) and a lossless one (box reduction via PNG).
    #[test]
    fn fast_variants_agree_with_a_fast_scan_of_the_same_file() {
        use nearmatch::decode::{decode, Limits};
        use nearmatch::hash::file::{hash_bytes, HashMode};
        use nearmatch_synth::{encode_jpeg, encode_png};
        let opts = HashOptions {
            mode: HashMode::Fast,
            ..HashOptions::default()
        };
        let vs = variants();
        let fast_vs: Vec<_> = vs.iter().filter(|v| v.probes == Probes::Fast).collect();
        assert_eq!(fast_vs.len(), 2);
        // 600x530: JPEG at 1/2 (300x265) and a 2x2 box both keep the short side >= 256.
        let img = generate(Scene::Indoor, 600, 530, 11);
        let jpg = encode_jpeg(&img, 80);
        let decoded = decode(&jpg, &Limits::default()).unwrap().image;
        let cases = [
            (
                ImageHashes::of_jpeg(&decoded, &jpg, QueryNeeds::default()).unwrap(),
                jpg.clone(),
            ),
            (ImageHashes::of(&img), encode_png(&img)),
        ];
        for (h, file) in cases {
            let scan = hash_bytes(&file, &FAST_ALGORITHMS, &opts);
            assert_eq!(scan.mode, Some(HashMode::Fast), "the scan reduced the file");
            assert!(h.fast.as_ref().is_some_and(|f| f.scale == 2));
            for v in &fast_vs {
                let want = scan.digest(v.algorithm).unwrap();
                assert_eq!(v.query(&h).unwrap(), want.words(), "{}", v.id);
            }
        }
        // The reduction changes the pixels, so somewhere the fast PDQ differs from the exact
        // one (otherwise the comparison above could not tell the paths apart).
        let h = ImageHashes::of_jpeg(&decoded, &jpg, QueryNeeds::default()).unwrap();
        let exact = h.digest(Algorithm::Pdq).unwrap().words();
        assert!(distance(exact, h.fast_digest(Algorithm::Pdq).unwrap().words()) > 0);
    }

    /// Property: an image with a side under 2 x FAST_MIN_SIDE - 1 px is never reduced, so its
    /// fast queries are its exact ones; one px more on the short side and it is reduced.
    #[test]
    fn small_images_are_hashed_exactly_in_fast_mode() {
        use nearmatch::decode::{decode, Limits};
        use nearmatch_synth::encode_jpeg;
        let vs = variants();
        let pairs: Vec<(&HashVariant, &HashVariant)> = crate::fast::PAIRS
            .iter()
            .map(|(e, f)| {
                let find = |id: &str| vs.iter().find(|v| v.id == id).unwrap();
                (find(e), find(f))
            })
            .collect();
        let limit = 2 * FAST_MIN_SIDE - 2; // 510: ceil(510 / 2) = 255 < 256
        for (i, (w, h)) in [(limit, 700), (900, limit), (320, 240), (64, 600)]
            .into_iter()
            .enumerate()
        {
            let img = generate(Scene::ALL[i % Scene::ALL.len()], w, h, i as u64);
            let jpg = encode_jpeg(&img, 85);
            let decoded = decode(&jpg, &Limits::default()).unwrap().image;
            for hashes in [
                ImageHashes::of(&img),
                ImageHashes::of_jpeg(&decoded, &jpg, QueryNeeds::default()).unwrap(),
            ] {
                assert!(hashes.fast.is_none(), "{w}x{h}");
                for (e, f) in &pairs {
                    assert_eq!(e.query(&hashes), f.query(&hashes), "{w}x{h} {}", f.id);
                }
            }
        }
        let img = generate(Scene::Landscape, limit + 1, limit + 1, 5);
        assert!(ImageHashes::of(&img).fast.is_some());
    }
}
