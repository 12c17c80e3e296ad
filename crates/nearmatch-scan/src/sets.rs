//! The hash sets a scan matches against: opening, fingerprinting and per-chunk matching.

use std::collections::BTreeMap;
use std::path::PathBuf;

use nearmatch::digest::AnyDigest;
use nearmatch::hash::crypto::CryptoHashes;
use nearmatch::hash::pdq::Orientation;
use nearmatch::hash::Algorithm;
use nearmatch::hashset::{LayeredSearcher, LayeredSet};
use nearmatch::probe::{Probe, ProbeConfig};
use nearmatch::search::{Engine, ProbeRadii, QueryProbe};
use serde_json::json;

use crate::error::ScanError;
use crate::path::ReportPath;
use crate::record::{LabelRec, MatchRec};

/// An open set with what reports say about it.
pub struct LoadedSet {
    /// The path as reports print it.
    pub display: String,
    /// The mapped set: the file named and, if it is a delta, every layer below it.
    pub set: LayeredSet,
    /// SHA-256 of the set file's bytes (the file named: the top layer of a stack).
    pub sha256: String,
    /// SHA-256 of every layer's file, base first (one item for an ordinary set).
    pub layer_sha256: Vec<String>,
    /// The match radius (0 for exact sets).
    pub radius: u32,
    /// The radius of probes other than the file's own hash (PDQ sets only; `min(radius,
    /// --probe-max-distance)`), `None` for sets that use no probes.
    pub probe_radius: Option<u32>,
}

impl LoadedSet {
    /// The set's algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.set.algorithm()
    }

    /// The chain-of-custody description: file, digest, algorithm, radius, provenance summary,
    /// and for a stack of delta layers every layer's path and SHA-256.
    pub fn custody(&self) -> serde_json::Value {
        let prov = self.set.provenance().ok();
        let mut v = json!({
            "path": self.display,
            "sha256": self.sha256,
            "algorithm": self.algorithm().name(),
            "entries": self.set.effective_len(),
            "radius": self.radius,
            "probe_radius": self.probe_radius,
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
        });
        if self.set.is_layered() {
            // Only stacks get the key, so the custody of an ordinary set reads as before.
            v["layers"] = self
                .set
                .layers()
                .iter()
                .zip(&self.layer_sha256)
                .enumerate()
                .map(|(k, (l, sha))| {
                    let info = self.set.info(k);
                    json!({
                        "path": ReportPath::new(l.path()).display,
                        "sha256": sha,
                        "built_utc": l.provenance().ok().map(|p| p.built_utc),
                        "additions": l.len(),
                        "removals": l.removal_count(),
                        "parent": info.map(|i| i.parent.file.clone()),
                    })
                })
                .collect();
        }
        v
    }
}

/// The probe configuration hashing needs: `None` (plain hash only) when no PDQ set is scanned
/// or no probe family is on.
pub fn probes_needed(sets: &[LoadedSet], config: ProbeConfig) -> Option<ProbeConfig> {
    let pdq = sets.iter().any(|s| s.algorithm() == Algorithm::Pdq);
    (pdq && config != ProbeConfig::none()).then_some(config)
}

/// Match radii: one for every perceptual set, and per-algorithm overrides; unset radii take the
/// algorithm's default (31 for PDQ, 8 for 64-bit hashes). Exact sets always match at 0.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Radii {
    /// The radius of every perceptual set without an override.
    pub all: Option<u32>,
    /// Radii by algorithm.
    pub per_algorithm: BTreeMap<Algorithm, u32>,
}

impl Radii {
    /// Parses `R` (every perceptual set) or `ALGO=R[,ALGO=R...]`.
    ///
    /// ```
    /// use nearmatch::hash::Algorithm;
    /// let r = nearmatch_scan::Radii::parse("pdq=20, phash=6").unwrap();
    /// assert_eq!(r.radius_of(Algorithm::Pdq), 20);
    /// assert_eq!(r.radius_of(Algorithm::Md5), 0);
    /// assert_eq!(nearmatch_scan::Radii::parse("12").unwrap().radius_of(Algorithm::Phash), 12);
    /// ```
    pub fn parse(spec: &str) -> Result<Radii, ScanError> {
        let mut out = Radii::default();
        if let Ok(r) = spec.trim().parse::<u32>() {
            out.all = Some(r);
            return Ok(out);
        }
        for part in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (a, r) = part.split_once('=').ok_or_else(|| {
                ScanError::Settings(format!("--max-distance: {part:?} is neither R nor ALGO=R"))
            })?;
            let algo: Algorithm = a
                .trim()
                .parse()
                .map_err(|e| ScanError::Settings(format!("--max-distance: {e}")))?;
            let r: u32 = r.trim().parse().map_err(|_| {
                ScanError::Settings(format!("--max-distance: {r:?} is not a number"))
            })?;
            out.per_algorithm.insert(algo, r);
        }
        Ok(out)
    }

    /// The radius a set of `algo` is searched at.
    pub fn radius_of(&self, algo: Algorithm) -> u32 {
        if algo.is_cryptographic() {
            return 0;
        }
        self.per_algorithm
            .get(&algo)
            .copied()
            .or(self.all)
            .unwrap_or_else(|| algo.default_radius())
    }
}

/// Opens, verifies and fingerprints every set; any failure names the file.
/// `probe_radius` caps the radius of derived probes on PDQ sets (the only ones probes serve).
pub fn load_sets(
    paths: &[PathBuf],
    radii: &Radii,
    probe_radius: u32,
) -> Result<Vec<LoadedSet>, ScanError> {
    let mut out = Vec::new();
    for p in paths {
        let display = ReportPath::new(p).display;
        let bad = |reason: String| ScanError::Set {
            path: display.clone(),
            reason,
        };
        // A delta opens with every layer below it; each layer is verified and fingerprinted.
        let set = LayeredSet::open(p).map_err(|e| bad(e.to_string()))?;
        set.verify().map_err(|e| bad(e.to_string()))?;
        let sha256 = crate::custody::file_sha256(p).map_err(|e| bad(e.to_string()))?;
        let mut layer_sha256 = Vec::new();
        for l in &set.layers()[..set.layers().len() - 1] {
            layer_sha256
                .push(crate::custody::file_sha256(l.path()).map_err(|e| bad(e.to_string()))?);
        }
        layer_sha256.push(sha256.clone());
        let algo = set.algorithm();
        let r = radii.radius_of(algo);
        if r as usize > algo.bits() {
            return Err(ScanError::Settings(format!(
                "--max-distance {r} exceeds the {}-bit {algo} hash",
                algo.bits()
            )));
        }
        out.push(LoadedSet {
            display: display.clone(),
            set,
            sha256,
            layer_sha256,
            radius: r,
            probe_radius: (algo == Algorithm::Pdq).then_some(r.min(probe_radius)),
        });
    }
    Ok(out)
}

/// Opens, verifies and fingerprints every ignore set (`--ignore-set`): sets of MD5, SHA-1 or
/// SHA-256 hashes of known-good files. A perceptual set is refused (a usage error naming the
/// file): known-good means the same bytes, never a similar picture.
pub fn load_ignore_sets(paths: &[PathBuf]) -> Result<Vec<LoadedSet>, ScanError> {
    let sets = load_sets(paths, &Radii::default(), 0)?;
    for s in &sets {
        if !s.algorithm().is_cryptographic() {
            return Err(ScanError::Settings(format!(
                "--ignore-set {}: a {} set; an ignore set must hold MD5, SHA-1 or SHA-256 hashes \
                 (known-good files are recognised by their exact bytes)",
                s.display,
                s.algorithm()
            )));
        }
    }
    Ok(sets)
}

/// The digest of `c` an exact set of `algo` is keyed on.
fn crypto_key(algo: Algorithm, c: &CryptoHashes) -> &[u8] {
    match algo {
        Algorithm::Md5 => &c.md5,
        Algorithm::Sha1 => &c.sha1,
        _ => &c.sha256,
    }
}

/// Whether any exact (MD5, SHA-1, SHA-256) set among `sets` holds `c`.
pub fn in_exact_sets(sets: &[LoadedSet], c: &CryptoHashes) -> bool {
    sets.iter().any(|s| {
        s.algorithm().is_cryptographic()
            && !s.set.lookup_exact(crypto_key(s.algorithm(), c)).is_empty()
    })
}

/// The entries of the exact sets among `sets` that hold `c`, by set order, then entry index. An
/// entry whose metadata cannot be read (the sets were verified when opened, so only a set
/// damaged since) is still reported, with the reason as its note.
pub fn exact_hits(sets: &[LoadedSet], c: &CryptoHashes) -> Vec<MatchRec> {
    let mut out = Vec::new();
    for s in sets.iter().filter(|s| s.algorithm().is_cryptographic()) {
        for e in s.set.lookup_exact(crypto_key(s.algorithm(), c)) {
            let rec = match_rec(s, e, 0, None, None).unwrap_or_else(|err| MatchRec {
                set: s.display.clone(),
                set_sha256: s.sha256.clone(),
                entry: String::new(),
                entry_index: e as u64,
                labels: Vec::new(),
                note: format!("entry metadata unreadable: {err}"),
                algorithm: s.algorithm().name().to_string(),
                distance: 0,
                orientation: None,
                probe: None,
                video: None,
            });
            out.push(rec);
        }
    }
    out
}

/// The hit of a file on entry `e` of set `s`, with the entry's id, labels and note.
fn match_rec(
    s: &LoadedSet,
    e: usize,
    distance: u32,
    probe: Option<String>,
    orientation: Option<Orientation>,
) -> Result<MatchRec, nearmatch::Error> {
    let meta = s.set.entry(e)?;
    Ok(MatchRec {
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
        algorithm: s.algorithm().name().to_string(),
        distance,
        orientation: orientation.map(|o| o.name().to_string()),
        probe,
        video: None,
    })
}

/// One searcher per perceptual set (its stored multi-index validated once), `None` for exact sets.
pub fn searchers(sets: &[LoadedSet]) -> Result<Vec<Option<LayeredSearcher<'_>>>, ScanError> {
    sets.iter()
        .map(|s| {
            if s.algorithm().is_cryptographic() {
                return Ok(None);
            }
            s.set.searcher().map(Some).map_err(|e| ScanError::Set {
                path: s.display.clone(),
                reason: e.to_string(),
            })
        })
        .collect()
}

/// What matching needs of one file.
#[derive(Default)]
pub struct Digests {
    /// Cryptographic hashes of the content.
    pub crypto: Option<CryptoHashes>,
    /// Perceptual digests.
    pub perceptual: Vec<(Algorithm, AnyDigest)>,
    /// The PDQ probes (plain first) when probes were computed; empty otherwise.
    pub pdq_probes: Vec<Probe>,
}

/// One hit before its entry's metadata is read: file, entry, distance, probe name, orientation.
type Hit = (usize, usize, u32, Option<String>, Option<Orientation>);

/// Matches a chunk of files against every set; one list of hits per file, ordered by set, then
/// distance, then entry index.
pub fn match_chunk(
    sets: &[LoadedSet],
    searchers: &[Option<LayeredSearcher<'_>>],
    files: &[&Digests],
) -> Result<Vec<Vec<MatchRec>>, ScanError> {
    let mut out: Vec<Vec<MatchRec>> = vec![Vec::new(); files.len()];
    for (s, searcher) in sets.iter().zip(searchers) {
        let algo = s.algorithm();
        let bad = |e: nearmatch::Error| ScanError::Set {
            path: s.display.clone(),
            reason: e.to_string(),
        };
        let mut hits: Vec<Hit> = Vec::new();
        if algo.is_cryptographic() {
            for (fi, f) in files.iter().enumerate() {
                let Some(c) = &f.crypto else { continue };
                hits.extend(
                    s.set
                        .lookup_exact(crypto_key(algo, c))
                        .into_iter()
                        .map(|e| (fi, e, 0, None, None)),
                );
            }
        } else if let Some(searcher) = searcher {
            search_perceptual(s, searcher, files, &mut hits).map_err(bad)?;
        }
        hits.sort_by_key(|&(fi, e, d, _, _)| (fi, d, e));
        for (fi, e, d, probe, orientation) in hits {
            out[fi].push(match_rec(s, e, d, probe, orientation).map_err(bad)?);
        }
    }
    Ok(out)
}

/// A file's probes for one perceptual set, with the name and orientation each reports.
fn query_of(
    algo: Algorithm,
    digest: AnyDigest,
    probes: &[Probe],
) -> (Vec<QueryProbe>, Vec<(String, Option<Orientation>)>) {
    if algo != Algorithm::Pdq {
        return (
            vec![QueryProbe::plain(digest)],
            vec![("plain".into(), None)],
        );
    }
    if probes.is_empty() {
        return (
            vec![QueryProbe::plain(digest)],
            vec![("plain".into(), Some(Orientation::Orig))],
        );
    }
    (
        probes.iter().map(QueryProbe::of).collect(),
        probes
            .iter()
            .map(|p| (p.name(), Some(p.orientation)))
            .collect(),
    )
}

/// One probe-aware search per set and chunk ([`Searcher::match_probes`]: the closest probe per
/// file and entry, ties to the earlier probe in the file's list).
fn search_perceptual(
    s: &LoadedSet,
    searcher: &LayeredSearcher<'_>,
    files: &[&Digests],
    hits: &mut Vec<Hit>,
) -> Result<(), nearmatch::Error> {
    let algo = s.algorithm();
    let mut owners = Vec::new();
    let mut groups = Vec::new();
    let mut names = Vec::new();
    for (fi, f) in files.iter().enumerate() {
        let Some(digest) = f
            .perceptual
            .iter()
            .find(|(a, _)| *a == algo)
            .map(|(_, d)| *d)
        else {
            continue;
        };
        let (g, n) = query_of(algo, digest, &f.pdq_probes);
        owners.push(fi);
        groups.push(g);
        names.push(n);
    }
    let queries: Vec<&[QueryProbe]> = groups.iter().map(Vec::as_slice).collect();
    let radii = ProbeRadii {
        set: s.radius,
        derived: s.probe_radius.unwrap_or(s.radius),
    };
    for m in searcher.match_probes(&queries, radii, Engine::Auto)? {
        let (name, orientation) = names[m.query][m.probe].clone();
        hits.push((
            owners[m.query],
            m.entry,
            m.distance,
            Some(name),
            orientation,
        ));
    }
    Ok(())
}
