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

use super::crypto::CryptoHashes;
use super::pdq::{self, PdqDihedral};
use super::Algorithm;
use crate::decode::{self, Format, Limits};
use crate::digest::AnyDigest;
use crate::error::Error;
use crate::hash::imagehash::{hashes_from_luma, ImagehashKind};
use crate::hash::luma::LumaPlane;
use crate::hash::resample::PillowVersion;
use crate::pixels::Image;

/// How perceptual hashes are computed: the reference profiles and decode limits.
#[derive(Clone, Debug, Default)]
pub struct HashOptions {
    /// PDQ reference behaviour.
    pub pdq_profile: pdq::Profile,
    /// Pillow generation whose resize order the imagehash family follows.
    pub pillow: PillowVersion,
    /// Decode limits (dimensions, memory).
    pub limits: Limits,
    /// Also compute the 8 PDQ dihedral hashes (from the same DCT).
    pub pdq_dihedral: bool,
}

/// The hashes of one file.
#[derive(Debug, Default)]
pub struct FileHashes {
    /// MD5, SHA-1, SHA-256 of the bytes (always computed when any is requested).
    pub crypto: Option<CryptoHashes>,
    /// The image format sniffed from magic bytes, if it is an image.
    pub format: Option<Format>,
    /// Width and height of the decoded image.
    pub dimensions: Option<(u32, u32)>,
    /// Perceptual hashes in request order.
    pub perceptual: Vec<(Algorithm, AnyDigest)>,
    /// PDQ quality (0–100) when PDQ was computed.
    pub pdq_quality: Option<u8>,
    /// The 8 PDQ dihedral hashes, when requested.
    pub pdq_dihedral: Option<PdqDihedral>,
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
    match decode::decode(bytes, &opts.limits) {
        Ok(decoded) => {
            out.format = Some(decoded.format);
            out.dimensions = Some((decoded.image.width(), decoded.image.height()));
            hash_image_into(&decoded.image, algos, opts, &mut out);
        }
        Err(e) => {
            out.format = decode::sniff(bytes);
            out.image_error = Some(e);
        }
    }
    out
}

/// Computes the requested perceptual hashes of decoded pixels (cryptographic ones are ignored).
pub fn hash_image(image: &Image, algos: &[Algorithm], opts: &HashOptions) -> FileHashes {
    let mut out = FileHashes {
        dimensions: Some((image.width(), image.height())),
        ..FileHashes::default()
    };
    hash_image_into(image, algos, opts, &mut out);
    out
}

fn hash_image_into(image: &Image, algos: &[Algorithm], opts: &HashOptions, out: &mut FileHashes) {
    let wants_pdq = algos.contains(&Algorithm::Pdq);
    if opts.pdq_dihedral {
        let d = pdq::hash_dihedral(image, opts.pdq_profile);
        if wants_pdq {
            // The plain hash differs from dihedral[0] only for exactly 64x64 inputs (the
            // reference skips the blur there), so compute it separately in that one case.
            let plain = if image.width() == 64 && image.height() == 64 {
                pdq::hash(image, opts.pdq_profile).digest
            } else {
                d.hashes[0]
            };
            out.perceptual.push((Algorithm::Pdq, plain.into()));
        }
        out.pdq_quality = Some(d.quality);
        out.pdq_dihedral = Some(d);
    } else if wants_pdq {
        let h = pdq::hash(image, opts.pdq_profile);
        out.pdq_quality = Some(h.quality);
        out.perceptual.push((Algorithm::Pdq, h.digest.into()));
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
