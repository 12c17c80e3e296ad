//! Hash sets: build, open, search (GIL released).

use std::path::PathBuf;

use nearmatch::digest::AnyDigest;
use nearmatch::hash::Algorithm;
use nearmatch::hashset::{
    shard_set, HashSet, LayeredSearcher, LayeredSet, SetWriter, ShardCheck, ShardManifest,
};
use nearmatch::import::{ImportRecord, Label, RecordSink};
use nearmatch::search::{Engine, Match, Queries, Searcher};
use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PySequence, PyString};

use crate::errors::{to_py, value_error};
use crate::hashobj::PyHash;
use nearmatch::hash::pdq::Orientation;
use nearmatch::search::{ProbeMatch, ProbeRadii, ProbeRadius, QueryProbe};
use nearmatch::Digest256;

/// Probe-search result columns: query, entry, distance, probe name, orientation.
type ProbeHits<'py> = (
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i32>>,
    Vec<String>,
    Vec<String>,
);

/// One query's probes in order (the plain hash first), with each probe's name and orientation.
struct ProbeGroup {
    probes: Vec<QueryProbe>,
    labels: Vec<(String, String)>,
}

impl ProbeGroup {
    fn push(&mut self, digest: Digest256, radius: ProbeRadius, name: String, orientation: String) {
        self.probes.push(QueryProbe {
            digest: digest.into(),
            radius,
        });
        self.labels.push((name, orientation));
    }
}

/// The probes of query `i` a search with `families` (and `dihedral`) uses: the plain hash and
/// its dihedral variants at the set radius, derived probes at the probe radius (identical
/// digests are left to `match_probes`, which keeps the first).
fn probe_group(
    i: usize,
    item: &Bound<'_, PyAny>,
    families: &[String],
    dihedral: bool,
) -> PyResult<ProbeGroup> {
    let (digest, h) = if let Ok(h) = item.cast::<PyHash>() {
        let h = h.get().clone();
        (h.digest, Some(h))
    } else if let Ok(s) = item.cast::<PyString>() {
        (PyHash::parse_hex(&s.to_cow()?)?, None)
    } else {
        return Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "query {i}: expected a nearmatch.Hash or a hex string, got {}",
            item.get_type().name()?
        )));
    };
    let AnyDigest::D256(plain) = digest else {
        return value_error(format!(
            "query {i} has {} bits, PDQ hashes have 256",
            digest.bits()
        ));
    };
    let carried = h.as_ref().and_then(|h| h.probes.as_ref());
    for f in families {
        if !carried.is_some_and(|c| c.families.contains(f)) {
            return value_error(format!(
                "query {i} was hashed without the {f:?} probes: hash it with probes including \
                 {f:?} (e.g. nearmatch.pdq(x, probes=\"all\")); hex strings carry no probes"
            ));
        }
    }
    let mut out = ProbeGroup {
        probes: Vec::new(),
        labels: Vec::new(),
    };
    out.push(plain, ProbeRadius::Set, "plain".into(), "orig".into());
    let dihedral_carried = carried.is_some_and(|c| c.families.iter().any(|f| f == "dihedral"));
    if dihedral && !dihedral_carried {
        let Some(d) = h.as_ref().and_then(|h| h.dihedral) else {
            return value_error(format!(
                "query {i}: dihedral=True needs PDQ Hash objects computed from images \
                 (nearmatch.pdq(...)); hex strings and parsed hashes carry no dihedral hashes"
            ));
        };
        for (o, dd) in Orientation::ALL.iter().zip(d).skip(1) {
            out.push(
                dd,
                ProbeRadius::Set,
                format!("plain+{}", o.name()),
                o.name().to_string(),
            );
        }
    }
    if let Some(c) = carried {
        for p in &c.probes {
            if p.is_plain() || !p.selected(families, dihedral) {
                continue;
            }
            let radius = if p.family.is_none() {
                ProbeRadius::Set
            } else {
                ProbeRadius::Derived
            };
            out.push(p.digest, radius, p.name.clone(), p.orientation.clone());
        }
    }
    Ok(out)
}

/// Result columns: query, entry, distance, probe.
type Hits<'py> = (
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i32>>,
    Bound<'py, PyArray1<i32>>,
);

/// Exact-lookup result columns: query, entry.
type Pairs<'py> = (Bound<'py, PyArray1<i64>>, Bound<'py, PyArray1<i64>>);

/// Digest rows and, for probe groups, the group offsets.
type Packed<'py> = (Bound<'py, PyArray2<u8>>, Option<Vec<u32>>);

/// An open hash set, or a stack of a base set and delta layers (the Python `HashSet` wraps it).
#[pyclass(frozen, module = "nearmatch._native", name = "Set")]
pub struct PySet {
    /// One layer for an ordinary set; entry numbers are stack-wide ([`LayeredSet::locate`]).
    stack: LayeredSet,
    /// Visible entries (what a set rebuilt from the final list holds), counted once at open.
    effective: usize,
}

fn parse_engine(name: &str) -> PyResult<Engine> {
    match name {
        "auto" => Ok(Engine::Auto),
        "scan" => Ok(Engine::Scan),
        "mih" => Ok(Engine::Mih),
        _ => value_error(format!(
            "engine must be \"auto\", \"scan\" or \"mih\", got {name:?}"
        )),
    }
}

/// Big-endian digest rows to packed words, zero-padded to `wpd` words per digest.
fn rows_to_words(q: &PyReadonlyArray2<'_, u8>, nbytes: usize, wpd: usize) -> PyResult<Vec<u64>> {
    let shape = q.shape();
    if shape[1] != nbytes {
        return value_error(format!(
            "queries have {} bytes per hash, the set's hashes have {nbytes} ({} bits)",
            shape[1],
            nbytes * 8
        ));
    }
    let a = q.as_array();
    let mut words = Vec::with_capacity(shape[0] * wpd);
    let mut buf = vec![0u8; wpd * 8];
    for row in a.rows() {
        for (b, v) in buf.iter_mut().zip(row.iter()) {
            *b = *v;
        }
        for chunk in buf.chunks_exact(8) {
            words.push(u64::from_be_bytes(chunk.try_into().expect("8 bytes")));
        }
    }
    Ok(words)
}

fn hits_to_arrays<'py>(py: Python<'py>, hits: Vec<Match>) -> Hits<'py> {
    let n = hits.len();
    let (mut q, mut e, mut d, mut p) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for m in hits {
        q.push(i64::from(m.query));
        e.push(i64::from(m.entry));
        d.push(i32::from(m.distance));
        p.push(i32::from(m.probe));
    }
    (
        q.into_pyarray(py),
        e.into_pyarray(py),
        d.into_pyarray(py),
        p.into_pyarray(py),
    )
}

impl PySet {
    fn new(stack: LayeredSet) -> Self {
        let effective = stack.effective_len();
        PySet { stack, effective }
    }

    /// The top layer: the file that was opened (the whole set when not layered).
    fn top(&self) -> &HashSet {
        self.stack.top()
    }

    /// The set itself, for operations that need one flat set; a stack is refused naming its
    /// parent, pointing at `set compact`.
    fn flat(&self, what: &str) -> PyResult<&HashSet> {
        if !self.stack.is_layered() {
            return Ok(self.top());
        }
        let parent = self
            .stack
            .info(self.stack.layers().len() - 1)
            .map(|i| i.parent.file.clone())
            .unwrap_or_default();
        value_error(format!(
            "{what} needs one flat set, and {} is a delta layer on {parent} ({} layers): fold \
             the stack first with `nearmatch set compact {} -o flat.nmset` and {what} that",
            self.top().path().display(),
            self.stack.layers().len(),
            self.top().path().display(),
        ))
    }

    fn nbytes(&self) -> usize {
        self.top().bits().div_ceil(8)
    }

    fn queries<'a>(&self, words: &'a [u64], offsets: Option<&'a [u32]>) -> PyResult<Queries<'a>> {
        let wpd = self.top().words_per_digest();
        match offsets {
            Some(o) => Queries::grouped(words, wpd, o),
            None => Queries::single(words, wpd),
        }
        .map_err(to_py)
    }

    /// A searcher over the set: with its stored multi-index unless `engine` is `Scan`.
    fn searcher(&self, engine: Engine) -> PyResult<Searcher<'_>> {
        let set = self.top();
        let plain = || Searcher::new(set.words(), set.words_per_digest()).map_err(to_py);
        if engine == Engine::Scan || set.algorithm().is_cryptographic() {
            return plain();
        }
        // O(1): the stored index is borrowed without a pass over it (each search checks what
        // it reads), so a per-call searcher costs single queries nothing.
        set.searcher().map_err(to_py)
    }

    /// A searcher over every layer of a stack (indexed unless `engine` is `Scan` or the set is
    /// exact, as [`Self::searcher`] chooses for one set).
    fn stack_searcher(&self, engine: Engine) -> PyResult<LayeredSearcher<'_>> {
        let s = if engine == Engine::Scan || self.top().algorithm().is_cryptographic() {
            self.stack.scan_searcher()
        } else {
            self.stack.searcher()
        };
        s.map_err(to_py)
    }
}

#[pymethods]
impl PySet {
    /// Opens a set file (memory-mapped, or read into memory with `mmap=False`).
    #[staticmethod]
    #[pyo3(signature = (path, mmap=true))]
    fn open(py: Python<'_>, path: PathBuf, mmap: bool) -> PyResult<Self> {
        // A delta opens with every layer below it, checked as the CLI checks them (parent
        // identity and depth; a missing or replaced parent is an error naming both files).
        let stack = py
            .detach(|| {
                let stack = if mmap {
                    LayeredSet::open(&path)
                } else {
                    LayeredSet::read(&path)
                }?;
                Ok::<_, nearmatch::Error>(PySet::new(stack))
            })
            .map_err(to_py)?;
        Ok(stack)
    }

    /// Writes a set of `algorithm` at `path` from digest rows (big-endian bytes) and metadata
    /// columns of the same length (`None`: ids are the row positions, no labels or notes);
    /// returns the number of entries written.
    #[staticmethod]
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (path, algorithm, digests, ids, labels, notes, source, memory_budget=None))]
    fn build(
        py: Python<'_>,
        path: PathBuf,
        algorithm: &str,
        digests: PyReadonlyArray2<'_, u8>,
        ids: Option<Vec<String>>,
        labels: Option<Vec<Vec<(String, String)>>>,
        notes: Option<Vec<String>>,
        source: &str,
        memory_budget: Option<usize>,
    ) -> PyResult<u64> {
        let algo: Algorithm =
            algorithm
                .parse()
                .map_err(|e: nearmatch::hash::UnknownAlgorithm| {
                    pyo3::exceptions::PyValueError::new_err(e.to_string())
                })?;
        let nbytes = algo.bits() / 8;
        let shape = digests.shape();
        if shape[1] != nbytes {
            return value_error(format!(
                "{algo} hashes have {} bits, got {} bytes per hash",
                algo.bits(),
                shape[1]
            ));
        }
        let n = shape[0];
        for (name, len) in [
            ("ids", ids.as_ref().map(Vec::len)),
            ("label lists", labels.as_ref().map(Vec::len)),
            ("notes", notes.as_ref().map(Vec::len)),
        ] {
            if let Some(len) = len.filter(|&l| l != n) {
                return value_error(format!("{n} hashes but {len} {name}"));
            }
        }
        let mut writer = py
            .detach(|| SetWriter::create(&path, algo))
            .map_err(to_py)?;
        if let Some(b) = memory_budget {
            writer.set_memory_budget(b);
        }
        writer.begin_source(source);
        let (mut ids, mut labels, mut notes) = (
            ids.map(Vec::into_iter),
            labels.map(Vec::into_iter),
            notes.map(Vec::into_iter),
        );
        // Rows are copied out of the array a batch at a time (with the GIL) and pushed without
        // it, so the build holds one batch, not a second copy of every digest.
        const BATCH: usize = 1 << 16;
        let array = digests.as_array();
        let mut batch: Vec<ImportRecord> = Vec::with_capacity(BATCH.min(n));
        let mut start = 0;
        while start < n {
            let end = (start + BATCH).min(n);
            batch.clear();
            for i in start..end {
                batch.push(ImportRecord {
                    algorithm: algo,
                    digest: array.row(i).to_vec(),
                    id: match ids.as_mut() {
                        Some(it) => it.next().unwrap_or_default(),
                        None => i.to_string(),
                    },
                    labels: labels
                        .as_mut()
                        .and_then(Iterator::next)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(s, v)| Label::new(s, v))
                        .collect(),
                    note: notes.as_mut().and_then(Iterator::next).unwrap_or_default(),
                    line: i as u64 + 1,
                });
            }
            py.detach(|| -> nearmatch::Result<()> {
                for r in batch.drain(..) {
                    writer.push(r)?;
                }
                Ok(())
            })
            .map_err(to_py)?;
            start = end;
        }
        py.detach(move || writer.finish().map(|s| s.entries))
            .map_err(to_py)
    }

    /// Visible entries: for a stack, what the set rebuilt from the final list would hold.
    fn __len__(&self) -> usize {
        self.effective
    }

    /// Entry numbers run below this (hidden entries of a stack included).
    #[getter]
    fn entry_count(&self) -> usize {
        self.stack.len()
    }

    /// The layers, base first, as JSON text: path, size, entries, hidden, build time, and for
    /// each delta its `Layer` section (parent, depth, additions, removals).
    fn layers_json(&self) -> PyResult<String> {
        let hidden = self.stack.hidden_per_layer();
        let mut out = Vec::new();
        for (k, l) in self.stack.layers().iter().enumerate() {
            let prov = l.provenance().map_err(to_py)?;
            out.push(serde_json::json!({
                "path": l.path().display().to_string(),
                "bytes": l.file_len(),
                "header_crc": format!("{:08x}", l.header_crc()),
                "built_utc": prov.built_utc,
                "entries": l.len(),
                "first_entry": self.stack.global(k, 0),
                "hidden": hidden[k],
                "layer": self.stack.info(k),
            }));
        }
        serde_json::to_string(&out)
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
    }

    /// Cuts the set into `shards` (a power of two) shard files and `shards.json` in `out_dir`;
    /// returns the manifest as JSON text.
    #[pyo3(signature = (out_dir, shards, memory_budget=None))]
    fn shard(
        &self,
        py: Python<'_>,
        out_dir: PathBuf,
        shards: u32,
        memory_budget: Option<usize>,
    ) -> PyResult<String> {
        let set = self.flat("shard")?;
        let m = py
            .detach(|| shard_set(set, &out_dir, shards, memory_budget))
            .map_err(to_py)?;
        serde_json::to_string(&m)
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
    }

    /// Opens shard `index` of the manifest at `manifest`, checked against it (`check`:
    /// "sha256" or "header"); returns the shard and the manifest as JSON text.
    #[staticmethod]
    fn open_shard(
        py: Python<'_>,
        manifest: PathBuf,
        index: u32,
        check: &str,
    ) -> PyResult<(Self, String)> {
        let check = match check {
            "sha256" => ShardCheck::Sha256,
            "header" => ShardCheck::Header,
            _ => {
                return value_error(format!(
                    "verify must be \"sha256\" or \"header\", got {check:?}"
                ))
            }
        };
        let (set, m) = py
            .detach(|| -> nearmatch::Result<_> {
                let m = ShardManifest::load(&manifest)?;
                Ok((m.open_shard(&manifest, index, check)?, m))
            })
            .map_err(to_py)?;
        let json = serde_json::to_string(&m)
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
        let stack = LayeredSet::from_set(set).map_err(to_py)?;
        Ok((PySet::new(stack), json))
    }

    /// Exact lookup of digest rows: (query, entry) for every entry equal to a query.
    fn lookup<'py>(
        &self,
        py: Python<'py>,
        queries: PyReadonlyArray2<'py, u8>,
    ) -> PyResult<Pairs<'py>> {
        let nb = self.nbytes();
        if queries.shape()[1] != nb {
            return value_error(format!(
                "queries have {} bytes per hash, the set's hashes have {nb}",
                queries.shape()[1]
            ));
        }
        let a = queries.as_array();
        let (mut q, mut e) = (Vec::new(), Vec::new());
        for (i, row) in a.rows().into_iter().enumerate() {
            let bytes: Vec<u8> = row.iter().copied().collect();
            for ix in self.stack.lookup_exact(&bytes) {
                q.push(i as i64);
                e.push(ix as i64);
            }
        }
        Ok((q.into_pyarray(py), e.into_pyarray(py)))
    }

    /// The algorithm name.
    #[getter]
    fn algorithm(&self) -> &'static str {
        self.top().algorithm().name()
    }

    /// Digest width in bits.
    #[getter]
    fn bits(&self) -> usize {
        self.top().bits()
    }

    /// The set file's path.
    #[getter]
    fn path(&self) -> PathBuf {
        self.top().path().to_path_buf()
    }

    /// The algorithm's default match radius (31 for PDQ, 8 for 64-bit hashes, 0 for crypto).
    #[getter]
    fn default_radius(&self) -> u32 {
        self.top().algorithm().default_radius()
    }

    /// The build provenance of the opened file (a stack's top layer) as JSON text.
    fn provenance_json(&self) -> PyResult<String> {
        let p = self.top().provenance().map_err(to_py)?;
        serde_json::to_string(&p)
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
    }

    /// Every digest as rows of big-endian bytes, shape (len, bits / 8): in entry order for one
    /// set; for a stack, the visible entries in digest order (as the rebuilt set stores them).
    fn digests<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<u8>> {
        let nb = self.nbytes();
        let order: Vec<usize> = if self.stack.is_layered() {
            self.stack.visible_in_digest_order()
        } else {
            (0..self.stack.len()).collect()
        };
        let mut v = Vec::with_capacity(order.len() * nb);
        for &g in &order {
            v.extend(self.stack.digest_bytes(g).expect("in range"));
        }
        Array2::from_shape_vec((order.len(), nb), v)
            .expect("rows of nb bytes")
            .into_pyarray(py)
    }

    /// The entry numbers of the rows [`Self::digests`] returns.
    fn visible_entries<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        let order: Vec<i64> = if self.stack.is_layered() {
            self.stack
                .visible_in_digest_order()
                .into_iter()
                .map(|g| g as i64)
                .collect()
        } else {
            (0..self.stack.len() as i64).collect()
        };
        order.into_pyarray(py)
    }

    /// Metadata columns of the given entries: (hex, ids, labels, notes, sources).
    #[allow(clippy::type_complexity)]
    fn entries(
        &self,
        indices: Vec<i64>,
    ) -> PyResult<(
        Vec<String>,
        Vec<String>,
        Vec<Vec<(String, String)>>,
        Vec<String>,
        Vec<u32>,
    )> {
        let n = indices.len();
        let (mut hex, mut ids, mut labels, mut notes, mut sources) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for i in indices {
            let Some(ix) = usize::try_from(i).ok().filter(|&ix| ix < self.stack.len()) else {
                return Err(pyo3::exceptions::PyIndexError::new_err(format!(
                    "entry {i} of a set of {}",
                    self.stack.len()
                )));
            };
            let e = self.stack.entry(ix).map_err(to_py)?;
            hex.push(self.stack.digest_hex(ix).expect("in range"));
            ids.push(e.id.to_string());
            labels.push(
                e.labels
                    .iter()
                    .map(|l| (l.scheme.to_string(), l.value.to_string()))
                    .collect(),
            );
            notes.push(e.note.to_string());
            sources.push(e.source);
        }
        Ok((hex, ids, labels, notes, sources))
    }

    /// Radius search of digest rows; `offsets` groups rows into queries (probe groups).
    #[pyo3(signature = (queries, offsets, max_distance, engine="auto"))]
    fn search<'py>(
        &self,
        py: Python<'py>,
        queries: PyReadonlyArray2<'py, u8>,
        offsets: Option<Vec<u32>>,
        max_distance: u32,
        engine: &str,
    ) -> PyResult<Hits<'py>> {
        let eng = parse_engine(engine)?;
        let words = rows_to_words(&queries, self.nbytes(), self.top().words_per_digest())?;
        let hits = py.detach(|| -> PyResult<Vec<Match>> {
            let q = self.queries(&words, offsets.as_deref())?;
            if self.stack.is_layered() {
                return self
                    .stack_searcher(eng)?
                    .radius_search(&q, max_distance, eng)
                    .map_err(to_py);
            }
            let s = self.searcher(eng)?;
            s.radius_search(&q, max_distance, eng).map_err(to_py)
        })?;
        Ok(hits_to_arrays(py, hits))
    }

    /// Radius search with query-side probes (PDQ sets): per (query, entry) the closest probe
    /// (ties: the earlier probe), the plain hash and its dihedral variants within
    /// `max_distance`, derived probes within `min(max_distance, probe_max_distance)`.
    #[pyo3(signature = (items, families, dihedral, max_distance, probe_max_distance, engine="auto"))]
    #[allow(clippy::too_many_arguments)]
    fn probe_search<'py>(
        &self,
        py: Python<'py>,
        items: &Bound<'py, PySequence>,
        families: Vec<String>,
        dihedral: bool,
        max_distance: u32,
        probe_max_distance: u32,
        engine: &str,
    ) -> PyResult<ProbeHits<'py>> {
        let eng = parse_engine(engine)?;
        if self.top().algorithm() != Algorithm::Pdq {
            return value_error(format!(
                "probes are PDQ probes: this set holds {} hashes (search it without probes)",
                self.top().algorithm()
            ));
        }
        let groups = (0..items.len()?)
            .map(|i| probe_group(i, &items.get_item(i)?, &families, dihedral))
            .collect::<PyResult<Vec<ProbeGroup>>>()?;
        let radii = ProbeRadii {
            set: max_distance,
            derived: probe_max_distance,
        };
        let found = py.detach(|| -> PyResult<Vec<ProbeMatch>> {
            let lists: Vec<&[QueryProbe]> = groups.iter().map(|g| g.probes.as_slice()).collect();
            if self.stack.is_layered() {
                return self
                    .stack_searcher(eng)?
                    .match_probes(&lists, radii, eng)
                    .map_err(to_py);
            }
            self.searcher(eng)?
                .match_probes(&lists, radii, eng)
                .map_err(to_py)
        })?;
        let (mut q, mut e, mut d, mut names, mut orients) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for m in found {
            let (name, o) = &groups[m.query].labels[m.probe];
            q.push(m.query as i64);
            e.push(m.entry as i64);
            d.push(m.distance as i32);
            names.push(name.clone());
            orients.push(o.clone());
        }
        Ok((
            q.into_pyarray(py),
            e.into_pyarray(py),
            d.into_pyarray(py),
            names,
            orients,
        ))
    }

    /// The `k` nearest entries of each query (ties broken by entry index).
    fn knn<'py>(
        &self,
        py: Python<'py>,
        queries: PyReadonlyArray2<'py, u8>,
        offsets: Option<Vec<u32>>,
        k: usize,
    ) -> PyResult<Hits<'py>> {
        let words = rows_to_words(&queries, self.nbytes(), self.top().words_per_digest())?;
        let hits = py.detach(|| -> PyResult<Vec<Match>> {
            let q = self.queries(&words, offsets.as_deref())?;
            if self.stack.is_layered() {
                return self
                    .stack
                    .scan_searcher()
                    .map_err(to_py)?
                    .knn(&q, k)
                    .map_err(to_py);
            }
            self.searcher(Engine::Scan)?.knn(&q, k).map_err(to_py)
        })?;
        Ok(hits_to_arrays(py, hits))
    }
}

/// Reads and checks a shard manifest (`shards.json`); returns it as JSON text.
#[pyfunction]
pub fn shard_manifest(path: PathBuf) -> PyResult<String> {
    let m = ShardManifest::load(&path).map_err(to_py)?;
    serde_json::to_string(&m).map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
}

/// Packs a sequence of `Hash` objects or hex strings into digest rows of `bits` bits; with
/// `dihedral`, each query becomes its 8 dihedral PDQ hashes (returned with group offsets).
#[pyfunction]
pub fn pack_queries<'py>(
    py: Python<'py>,
    items: &Bound<'py, PySequence>,
    bits: usize,
    dihedral: bool,
) -> PyResult<Packed<'py>> {
    let n = items.len()?;
    let nbytes = bits.div_ceil(8);
    let per = if dihedral { 8 } else { 1 };
    let mut out = Vec::with_capacity(n * per * nbytes);
    let mut offsets = dihedral.then(|| {
        let mut v = Vec::with_capacity(n + 1);
        v.push(0u32);
        v
    });
    for i in 0..n {
        let item = items.get_item(i)?;
        let (digest, dih): (AnyDigest, Option<[nearmatch::Digest256; 8]>) =
            if let Ok(h) = item.cast::<PyHash>() {
                let h = h.get();
                (h.digest, h.dihedral)
            } else if let Ok(s) = item.cast::<PyString>() {
                (PyHash::parse_hex(&s.to_cow()?)?, None)
            } else {
                return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                    "query {i}: expected a nearmatch.Hash or a hex string, got {}",
                    item.get_type().name()?
                )));
            };
        if digest.bits() != bits {
            return value_error(format!(
                "query {i} has {} bits, the set's hashes have {bits}",
                digest.bits()
            ));
        }
        if dihedral {
            let Some(d) = dih else {
                return value_error(format!(
                    "query {i}: dihedral=True needs PDQ Hash objects computed from images \
                     (nearmatch.pdq(...)); hex strings and parsed hashes carry no dihedral hashes"
                ));
            };
            for h in d {
                out.extend(h.0.iter().flat_map(|w| w.to_be_bytes()));
            }
            if let Some(o) = offsets.as_mut() {
                o.push(((i + 1) * 8) as u32);
            }
        } else {
            out.extend(digest.words().iter().flat_map(|w| w.to_be_bytes()));
        }
    }
    let rows = out.len() / nbytes.max(1);
    let arr = Array2::from_shape_vec((rows, nbytes), out)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
    Ok((arr.into_pyarray(py), offsets))
}
