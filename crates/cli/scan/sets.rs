//! The hash sets a scan matches against: opening, fingerprinting and per-chunk matching.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context as _;
use nearmatch::digest::AnyDigest;
use nearmatch::hash::crypto::CryptoHashes;
use nearmatch::hash::pdq::{Orientation, PdqDihedral};
use nearmatch::hash::Algorithm;
use nearmatch::hashset::HashSet;
use nearmatch::search::{Engine, QueryBatch, Searcher};
use serde_json::json;

use super::record::{LabelRec, MatchRec};
use crate::exit::{usage, CliError, ExitCode, WithCode};

/// An open set with what reports say about it.
pub struct LoadedSet {
    /// The path as reports print it.
    pub display: String,
    /// The mapped set.
    pub set: HashSet,
    /// SHA-256 of the set file's bytes.
    pub sha256: String,
    /// The match radius (0 for exact sets).
    pub radius: u32,
}

impl LoadedSet {
    /// The set's algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.set.algorithm()
    }

    /// The chain-of-custody description: file, digest, algorithm, radius, provenance summary.
    pub fn custody(&self) -> serde_json::Value {
        let prov = self.set.provenance().ok();
        json!({
            "path": self.display,
            "sha256": self.sha256,
            "algorithm": self.algorithm().name(),
            "entries": self.set.len(),
            "radius": self.radius,
            "provenance": prov.map(|p| json!({
                "tool": p.tool,
                "built_utc": p.built_utc,
                "sources": p.sources.iter().map(|s| json!({
                    "name": s.name, "sha256": s.sha256, "format": s.format.name(),
                    "imported": s.imported, "rejected": s.rejected_total(),
                })).collect::<Vec<_>>(),
                "merged_from": p.merged_from.iter().map(|m| json!({
                    "path": m.path, "built_utc": m.built_utc, "entries": m.entries,
                })).collect::<Vec<_>>(),
            })),
        })
    }
}

/// Parses `--max-distance`: `R` (every perceptual set) or `algo=R[,algo=R…]`.
pub fn parse_radii(
    spec: Option<&str>,
) -> Result<(Option<u32>, BTreeMap<Algorithm, u32>), CliError> {
    let mut per = BTreeMap::new();
    let Some(spec) = spec else {
        return Ok((None, per));
    };
    if let Ok(r) = spec.trim().parse::<u32>() {
        return Ok((Some(r), per));
    }
    for part in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (a, r) = part
            .split_once('=')
            .ok_or_else(|| usage(format!("--max-distance: {part:?} is neither R nor ALGO=R")))?;
        let algo: Algorithm = a.parse().map_err(usage)?;
        let r: u32 = r
            .trim()
            .parse()
            .map_err(|_| usage(format!("--max-distance: {r:?} is not a number")))?;
        per.insert(algo, r);
    }
    Ok((None, per))
}

/// Opens, verifies and fingerprints every set; any failure is exit 65 naming the file.
pub fn load_sets(
    paths: &[PathBuf],
    radius: (Option<u32>, BTreeMap<Algorithm, u32>),
) -> Result<Vec<LoadedSet>, CliError> {
    let mut out = Vec::new();
    for p in paths {
        let bad = |e: anyhow::Error| CliError {
            code: ExitCode::DATA,
            error: e.context(format!("bad hash set {}", p.display())),
        };
        let set = HashSet::open(p).map_err(|e| bad(e.into()))?;
        set.verify().map_err(|e| bad(e.into()))?;
        let sha256 = crate::sets::file_sha256(p).map_err(bad)?;
        let algo = set.algorithm();
        let r = if algo.is_cryptographic() {
            0
        } else {
            radius
                .1
                .get(&algo)
                .copied()
                .or(radius.0)
                .unwrap_or_else(|| algo.default_radius())
        };
        if r as usize > algo.bits() {
            return Err(usage(format!(
                "--max-distance {r} exceeds the {}-bit {algo} hash",
                algo.bits()
            )));
        }
        out.push(LoadedSet {
            display: crate::paths::ReportPath::new(p).display,
            set,
            sha256,
            radius: r,
        });
    }
    Ok(out)
}

/// One searcher per perceptual set (its stored multi-index validated once), `None` for exact sets.
pub fn searchers(sets: &[LoadedSet]) -> Result<Vec<Option<Searcher<'_>>>, CliError> {
    sets.iter()
        .map(|s| {
            if s.algorithm().is_cryptographic() {
                return Ok(None);
            }
            s.set
                .searcher()
                .map(Some)
                .with_context(|| format!("bad hash set {}", s.display))
                .code(ExitCode::DATA)
        })
        .collect()
}

/// What matching needs of one file.
#[derive(Default)]
pub struct Probes {
    /// Cryptographic hashes of the content.
    pub crypto: Option<CryptoHashes>,
    /// Perceptual digests.
    pub perceptual: Vec<(Algorithm, AnyDigest)>,
    /// The 8 PDQ dihedral hashes (only with `--dihedral`).
    pub dihedral: Option<PdqDihedral>,
}

/// Matches a chunk of files against every set; one list of hits per file, ordered by set, then
/// distance, then entry index.
pub fn match_chunk(
    sets: &[LoadedSet],
    searchers: &[Option<Searcher<'_>>],
    files: &[&Probes],
) -> Result<Vec<Vec<MatchRec>>, CliError> {
    let mut out: Vec<Vec<MatchRec>> = vec![Vec::new(); files.len()];
    for (s, searcher) in sets.iter().zip(searchers) {
        let algo = s.algorithm();
        let mut hits: Vec<(usize, usize, u32, Option<Orientation>)> = Vec::new();
        if algo.is_cryptographic() {
            for (fi, f) in files.iter().enumerate() {
                let Some(c) = &f.crypto else { continue };
                let key: &[u8] = match algo {
                    Algorithm::Md5 => &c.md5,
                    Algorithm::Sha1 => &c.sha1,
                    _ => &c.sha256,
                };
                hits.extend(s.set.lookup_exact(key).map(|e| (fi, e, 0, None)));
            }
        } else if let Some(searcher) = searcher {
            search_perceptual(s, searcher, files, &mut hits)?;
        }
        hits.sort_by_key(|&(fi, e, d, _)| (fi, d, e));
        for (fi, e, d, orientation) in hits {
            let meta = s
                .set
                .entry(e)
                .with_context(|| format!("bad hash set {}", s.display))
                .code(ExitCode::DATA)?;
            out[fi].push(MatchRec {
                set: s.display.clone(),
                set_sha256: s.sha256.clone(),
                entry: meta.id.to_string(),
                entry_index: e as u64,
                labels: meta
                    .labels
                    .iter()
                    .map(|l| LabelRec {
                        scheme: l.scheme.to_string(),
                        value: l.value.to_string(),
                    })
                    .collect(),
                note: meta.note.to_string(),
                algorithm: algo.name().to_string(),
                distance: d,
                orientation: orientation.map(|o| o.name().to_string()),
            });
        }
    }
    Ok(out)
}

/// One batched radius search per set and chunk; a file's probes form one query group.
fn search_perceptual(
    s: &LoadedSet,
    searcher: &Searcher<'_>,
    files: &[&Probes],
    hits: &mut Vec<(usize, usize, u32, Option<Orientation>)>,
) -> Result<(), CliError> {
    let algo = s.algorithm();
    let wpd = s.set.words_per_digest();
    let mut batch = QueryBatch::new(wpd);
    // query index -> (file index, orientation of each probe)
    let mut owners: Vec<(usize, Vec<Option<Orientation>>)> = Vec::new();
    for (fi, f) in files.iter().enumerate() {
        let Some(digest) = f
            .perceptual
            .iter()
            .find(|(a, _)| *a == algo)
            .map(|(_, d)| *d)
        else {
            continue;
        };
        match digest {
            AnyDigest::D256(d) if wpd == 4 => {
                if let (Algorithm::Pdq, Some(dih)) = (algo, &f.dihedral) {
                    // Probe 0 is the plain hash (it differs from the dihedral "orig" only for
                    // exactly 64x64 images), then the 7 other orientations.
                    let mut probes = vec![d];
                    probes.extend(Orientation::ALL[1..].iter().map(|&o| dih.get(o)));
                    batch.push_group(&probes);
                    owners.push((fi, Orientation::ALL.iter().map(|&o| Some(o)).collect()));
                } else {
                    batch.push_group(&[d]);
                    let o = (algo == Algorithm::Pdq).then_some(Orientation::Orig);
                    owners.push((fi, vec![o]));
                }
            }
            AnyDigest::D64(d) if wpd == 1 => {
                batch.push_group(&[d]);
                owners.push((fi, vec![None]));
            }
            _ => {
                return Err(CliError {
                    code: ExitCode::DATA,
                    error: anyhow::anyhow!(
                        "hash set {}: digest width does not match {algo}",
                        s.display
                    ),
                })
            }
        }
    }
    if owners.is_empty() {
        return Ok(());
    }
    let bad = |e: nearmatch::Error| CliError {
        code: ExitCode::DATA,
        error: anyhow::Error::from(e).context(format!("searching hash set {}", s.display)),
    };
    let found = searcher
        .radius_search(&batch.queries(), s.radius, Engine::Auto)
        .map_err(bad)?;
    for m in found {
        let (fi, orients) = &owners[m.query as usize];
        hits.push((
            *fi,
            m.entry as usize,
            u32::from(m.distance),
            orients[m.probe as usize],
        ));
    }
    Ok(())
}
