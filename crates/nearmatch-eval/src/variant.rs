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
use serde::Serialize;

/// What the query side sends to the search.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Probes {
    /// The plain digest of the query image.
    Plain,
    /// The 8 PDQ dihedral digests (rotations by 90° and flips), one DCT.
    PdqDihedral,
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
        }
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
}

impl ImageHashes {
    /// One algorithm's plain digest.
    pub fn digest(&self, a: Algorithm) -> Option<&AnyDigest> {
        self.digests.iter().find(|(x, _)| *x == a).map(|(_, d)| d)
    }

    /// Hashes an image with every algorithm, as a scan would (pdqhash profile, Pillow 13).
    pub fn of(image: &Image) -> ImageHashes {
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
        }
    }
}

/// Hamming distance between two digests given as equal-length word slices.
pub fn distance(a: &[u64], b: &[u64]) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

/// The distance from a query's probes to a reference: the minimum over the probes.
pub fn probe_distance(probes: &[u64], reference: &[u64]) -> u32 {
    probes
        .chunks_exact(reference.len())
        .map(|p| distance(p, reference))
        .min()
        .expect("at least one probe")
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
        assert_eq!(probe_distance(&dih, &plain), 0);
        let mut low = h.clone();
        low.pdq_quality = Some(10);
        assert!(vs[2].query(&low).is_none());
        assert!(vs[0].query(&low).is_some());
    }
}
