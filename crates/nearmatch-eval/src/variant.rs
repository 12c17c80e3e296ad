//! Hash variants: the columns of every table. A variant says which digest a hash list holds for
//! the original (the reference), which probe digests a scan derives from the found copy (the
//! query), and whether the query is gated on quality.
//!
//! The list is data ([`variants`]): a new query-side option (border-trimmed probes, a fast decode
//! mode) becomes a column by adding an entry here and, if it needs a new computation, a field
//! of [`ImageHashes`].

use nearmatch::digest::AnyDigest;
use nearmatch::hash::file::{hash_image, HashOptions};
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
    /// The query-side probes of these families ([`nearmatch::probe`]), plain hash first.
    PdqProbes(#[serde(serialize_with = "probe_spec")] ProbeConfig),
}

fn probe_spec<S: serde::Serializer>(c: &ProbeConfig, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&c.spec())
}

/// The union of the probe families the variants need (`None` when no variant uses probes).
pub fn probe_families(variants: &[HashVariant]) -> Option<ProbeConfig> {
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
    any
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
        let b = f64::from(self.bits());
        [
            (b * 31.0 / 256.0).round() as u32,
            (b * 20.0 / 256.0).round() as u32,
        ]
    }

    /// The digest a hash list would hold for this image, if it could be computed.
    pub fn reference<'a>(&self, h: &'a ImageHashes) -> Option<&'a [u64]> {
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
    pub fn distance(&self, probes: &[u64], reference: &[u64]) -> u32 {
        let mut it = probes.chunks_exact(reference.len());
        let first = it.next().map_or(u32::MAX, |p| distance(p, reference));
        let rest = it
            .map(|p| distance(p, reference) + self.probe_delta)
            .min()
            .unwrap_or(u32::MAX);
        first.min(rest).min(self.bits())
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
        probes(
            "pdq-probes-content-box",
            "PDQ+probes+content-box",
            "default,content-box",
        ),
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
    ]
}

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
    /// The query-side PDQ probes (plain first), when some variant needs them.
    pub pdq_probes: Vec<Probe>,
}

impl ImageHashes {
    /// One algorithm's plain digest.
    pub fn digest(&self, a: Algorithm) -> Option<&AnyDigest> {
        self.digests.iter().find(|(x, _)| *x == a).map(|(_, d)| d)
    }

    /// Hashes an image with every algorithm, as a scan would (pdqhash profile, Pillow 13).
    pub fn of(image: &Image) -> ImageHashes {
        ImageHashes::with_probes(image, None)
    }

    /// [`ImageHashes::of`], plus the PDQ probes of these families.
    pub fn with_probes(image: &Image, probes: Option<ProbeConfig>) -> ImageHashes {
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
        let pdq_probes = match probes {
            Some(c) if !pdq_too_small => pdq_probes(image, opts.pdq_profile, &c),
            _ => Vec::new(),
        };
        ImageHashes {
            digests: fh.perceptual,
            pdq_quality: fh.pdq_quality,
            pdq_dihedral: fh.pdq_dihedral.map(|d| d.hashes.map(|h| h.0)),
            pdq_probes,
        }
    }
}

/// Hamming distance between two digests given as equal-length word slices.
pub fn distance(a: &[u64], b: &[u64]) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use nearmatch::synth::{generate, Scene};

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
}
