//! The hash sets a scan matches against: opening, fingerprinting and per-chunk matching.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context as _;
use nearmatch::digest::AnyDigest;
use nearmatch::hash::crypto::CryptoHashes;
use nearmatch::hash::pdq::Orientation;
use nearmatch::hash::Algorithm;
use nearmatch::hashset::HashSet;
use nearmatch::probe::{Probe, ProbeConfig, ProbeKind};
use nearmatch::search::{Engine, QueryBatch, Searcher};
use nearmatch::Digest256;
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
    /// The radius of probes other than the file's own hash (PDQ sets only; `min(radius,
    /// --probe-max-distance)`), `None` for sets that use no probes.
    pub probe_radius: Option<u32>,
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
        })
    }
}

/// Parses `--probe` (`default`, `none`, `all`, or family names).
pub fn parse_probes(spec: &str) -> Result<ProbeConfig, String> {
    ProbeConfig::parse(spec).map_err(|e| e.to_string())
}

/// The probe configuration hashing needs: `None` (plain hash only) when no PDQ set is scanned
/// or no probe family is on.
pub fn probes_needed(sets: &[LoadedSet], config: ProbeConfig) -> Option<ProbeConfig> {
    let pdq = sets.iter().any(|s| s.algorithm() == Algorithm::Pdq);
    (pdq && config != ProbeConfig::none()).then_some(config)
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
/// `probe_radius` caps the radius of derived probes on PDQ sets (the only ones probes serve).
pub fn load_sets(
    paths: &[PathBuf],
    radius: (Option<u32>, BTreeMap<Algorithm, u32>),
    probe_radius: u32,
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
            probe_radius: (algo == Algorithm::Pdq).then_some(r.min(probe_radius)),
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
    /// The PDQ probes (plain first) when probes were computed; empty otherwise.
    pub pdq_probes: Vec<Probe>,
}

/// One hit before its entry's metadata is read: file, entry, distance, probe name, orientation.
type Hit = (usize, usize, u32, Option<String>, Option<Orientation>);

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
        let mut hits: Vec<Hit> = Vec::new();
        if algo.is_cryptographic() {
            for (fi, f) in files.iter().enumerate() {
                let Some(c) = &f.crypto else { continue };
                let key: &[u8] = match algo {
                    Algorithm::Md5 => &c.md5,
                    Algorithm::Sha1 => &c.sha1,
                    _ => &c.sha256,
                };
                hits.extend(s.set.lookup_exact(key).map(|e| (fi, e, 0, None, None)));
            }
        } else if let Some(searcher) = searcher {
            search_perceptual(s, searcher, files, &mut hits)?;
        }
        hits.sort_by_key(|&(fi, e, d, _, _)| (fi, d, e));
        for (fi, e, d, probe, orientation) in hits {
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
                probe,
            });
        }
    }
    Ok(out)
}

/// One probe of a file's group: digest, name, orientation, whether it uses the set's radius.
type GroupProbe = (Digest256, String, Orientation, bool);

/// The closest probe of a file on an entry: distance, position in the group, name, orientation.
type BestProbe = (u32, usize, String, Option<Orientation>);

/// The probes one file offers a set: (digest, name, orientation, uses the set's own radius).
///
/// For PDQ sets these are the file's probes with identical digests dropped (the first keeps its
/// name); the plain hash and its dihedral variants (lossless transforms of the file's own pixels)
/// use the set's radius, derived probes (trim, crop, ...) the probe radius. Other algorithms
/// offer their plain hash only.
fn pdq_group(plain: Digest256, probes: &[Probe]) -> Vec<GroupProbe> {
    if probes.is_empty() {
        return vec![(plain, "plain".into(), Orientation::Orig, true)];
    }
    let mut out: Vec<GroupProbe> = Vec::with_capacity(probes.len());
    for p in probes {
        if out.iter().any(|(d, ..)| *d == p.digest) {
            continue;
        }
        out.push((
            p.digest,
            p.name(),
            p.orientation,
            p.kind == ProbeKind::Plain,
        ));
    }
    out
}

/// One batched radius search per set, chunk and radius; a file's probes form one query group
/// per radius, and hits of both groups on one entry keep the closest probe (ties: the earlier
/// probe in the file's list).
fn search_perceptual(
    s: &LoadedSet,
    searcher: &Searcher<'_>,
    files: &[&Probes],
    hits: &mut Vec<Hit>,
) -> Result<(), CliError> {
    let algo = s.algorithm();
    let wpd = s.set.words_per_digest();
    // [0]: probes at the set's radius, [1]: derived probes at the probe radius.
    let mut batches = [QueryBatch::new(wpd), QueryBatch::new(wpd)];
    // Per batch, query index -> (file index, per probe: (position in the file's list, name,
    // orientation)).
    type Owner = (usize, Vec<(usize, String, Option<Orientation>)>);
    let mut owners: [Vec<Owner>; 2] = [Vec::new(), Vec::new()];
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
            AnyDigest::D256(d) if wpd == 4 && algo == Algorithm::Pdq => {
                let group = pdq_group(d, &f.pdq_probes);
                for (b, own_radius) in [(0, true), (1, false)] {
                    let members: Vec<(usize, &GroupProbe)> = group
                        .iter()
                        .enumerate()
                        .filter(|(_, g)| g.3 == own_radius)
                        .collect();
                    if members.is_empty() {
                        continue;
                    }
                    let digests: Vec<Digest256> = members.iter().map(|(_, g)| g.0).collect();
                    batches[b].push_group(&digests);
                    owners[b].push((
                        fi,
                        members
                            .iter()
                            .map(|(i, g)| (*i, g.1.clone(), Some(g.2)))
                            .collect(),
                    ));
                }
            }
            AnyDigest::D256(d) if wpd == 4 => {
                batches[0].push_group(&[d]);
                owners[0].push((fi, vec![(0, "plain".into(), None)]));
            }
            AnyDigest::D64(d) if wpd == 1 => {
                batches[0].push_group(&[d]);
                owners[0].push((fi, vec![(0, "plain".into(), None)]));
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
    let bad = |e: nearmatch::Error| CliError {
        code: ExitCode::DATA,
        error: anyhow::Error::from(e).context(format!("searching hash set {}", s.display)),
    };
    // (file, entry) -> (distance, position in the file's probe list, name, orientation)
    let mut best: BTreeMap<(usize, usize), BestProbe> = BTreeMap::new();
    let radii = [s.radius, s.probe_radius.unwrap_or(s.radius)];
    for b in 0..2 {
        if owners[b].is_empty() {
            continue;
        }
        let found = searcher
            .radius_search(&batches[b].queries(), radii[b], Engine::Auto)
            .map_err(bad)?;
        for m in found {
            let (fi, members) = &owners[b][m.query as usize];
            let (pos, name, orientation) = &members[m.probe as usize];
            let cand = (u32::from(m.distance), *pos, name.clone(), *orientation);
            best.entry((*fi, m.entry as usize))
                .and_modify(|cur| {
                    if (cand.0, cand.1) < (cur.0, cur.1) {
                        *cur = cand.clone();
                    }
                })
                .or_insert(cand);
        }
    }
    hits.extend(
        best.into_iter()
            .map(|((fi, e), (d, _, name, o))| (fi, e, d, Some(name), o)),
    );
    Ok(())
}
