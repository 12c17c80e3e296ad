//! The `Hash` value type: a digest that prints as hex and subtracts to a Hamming distance.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash as _, Hasher};

use nearmatch::digest::{AnyDigest, Digest256, Digest64};
use nearmatch::hash::file::HashMode;
use nearmatch::hash::pdq::Orientation;
use nearmatch::hash::Algorithm;
use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray1, PyArray2};
use pyo3::basic::CompareOp;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyInt};

use crate::errors::{to_py, value_error};

/// A perceptual hash: `str(h)` is lower-case hex, `h1 - h2` the Hamming distance.
#[pyclass(frozen, module = "nearmatch", name = "Hash")]
#[derive(Clone, Debug)]
pub struct PyHash {
    pub digest: AnyDigest,
    pub algorithm: Option<Algorithm>,
    pub quality: Option<u8>,
    /// The 8 dihedral PDQ hashes, for hashes computed from pixels.
    pub dihedral: Option<[Digest256; 8]>,
    /// `exact` or `fast`: how the pixels were obtained (None for parsed hashes).
    pub mode: Option<HashMode>,
    /// Width and height of the reduced pixels a fast-mode hash came from.
    pub hashed_size: Option<(u32, u32)>,
    /// The query-side probes of a PDQ hash computed from an image with probes on.
    pub probes: Option<ProbeSet>,
    /// The EXIF Orientation tag applied before hashing (`orientation="exif"` and a tag only).
    pub exif_orientation: Option<u8>,
}

/// The probes a hash carries and the families they were computed for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeSet {
    /// Family names switched on when hashing (`trim`, `content-box`, `crop`, `rotate`,
    /// `dihedral`).
    pub families: Vec<String>,
    /// The probes, plain first.
    pub probes: Vec<ProbeDigest>,
}

/// The pickled / columnar form of a [`ProbeSet`].
pub type ProbeSetTuple = (Vec<String>, Vec<ProbeTuple>);

impl ProbeSet {
    /// The pickled / columnar form.
    pub fn to_tuple(&self) -> ProbeSetTuple {
        (
            self.families.clone(),
            self.probes.iter().map(ProbeDigest::to_tuple).collect(),
        )
    }

    /// Reads the pickled / columnar form back.
    pub fn from_tuple(t: ProbeSetTuple) -> PyResult<Self> {
        Ok(ProbeSet {
            families: t.0,
            probes: t
                .1
                .into_iter()
                .map(ProbeDigest::from_tuple)
                .collect::<PyResult<_>>()?,
        })
    }
}

/// A probe as pickled and as `hash_files` returns it: (name, family, orientation, hex, quality).
pub type ProbeTuple = (String, Option<String>, String, String, u8);

/// One probe digest a `Hash` carries: what the core's `Probe` says, in report terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeDigest {
    /// The report name (`plain`, `trim`, `crop-l5`, `rotate+2+flipx`, ...).
    pub name: String,
    /// The probe family that produced it (`trim`, `content-box`, `crop`, `rotate`), None for
    /// the plain hash and its dihedrals.
    pub family: Option<String>,
    /// The orientation name (`orig` unless the dihedral family produced it).
    pub orientation: String,
    /// The probe's PDQ digest.
    pub digest: Digest256,
    /// The PDQ quality of the probe's pixels.
    pub quality: u8,
}

impl ProbeDigest {
    /// Whether a search asking for `families` (and `dihedral`) uses this probe.
    pub fn selected(&self, families: &[String], dihedral: bool) -> bool {
        let family_ok = self
            .family
            .as_ref()
            .is_none_or(|f| families.iter().any(|g| g == f));
        family_ok && (self.orientation == Orientation::Orig.name() || dihedral)
    }

    /// The pickled / columnar form.
    pub fn to_tuple(&self) -> ProbeTuple {
        (
            self.name.clone(),
            self.family.clone(),
            self.orientation.clone(),
            self.digest.to_hex(),
            self.quality,
        )
    }

    /// Reads the pickled / columnar form back.
    pub fn from_tuple(t: ProbeTuple) -> PyResult<Self> {
        let (name, family, orientation, hex, quality) = t;
        Ok(ProbeDigest {
            name,
            family,
            orientation,
            digest: Digest256::from_hex(&hex).map_err(|e| to_py(e.into()))?,
            quality,
        })
    }

    /// Whether this is the file's own (plain, unrotated) hash.
    pub fn is_plain(&self) -> bool {
        self.family.is_none() && self.orientation == Orientation::Orig.name()
    }
}

impl PyHash {
    /// A bare digest (no algorithm, quality or dihedrals), e.g. parsed from hex.
    pub fn bare(digest: AnyDigest) -> Self {
        PyHash {
            digest,
            algorithm: None,
            quality: None,
            dihedral: None,
            mode: None,
            hashed_size: None,
            probes: None,
            exif_orientation: None,
        }
    }

    /// Parses 16 or 64 hex digits.
    pub fn parse_hex(s: &str) -> PyResult<AnyDigest> {
        let n = s.trim().chars().count();
        match n {
            16 => Ok(AnyDigest::D64(
                Digest64::from_hex(s).map_err(|e| to_py(e.into()))?,
            )),
            64 => Ok(AnyDigest::D256(
                Digest256::from_hex(s).map_err(|e| to_py(e.into()))?,
            )),
            _ => {
                // A bad character is the more useful message when there is one.
                if let Err(e) = Digest256::from_hex(s) {
                    if matches!(e, nearmatch::digest::HexError::InvalidChar { .. }) {
                        return Err(to_py(e.into()));
                    }
                }
                value_error(format!(
                    "expected 16 hex digits (64-bit hash) or 64 (256-bit hash), got {n}"
                ))
            }
        }
    }

    /// Reads big-endian bytes: 8 (64-bit) or 32 (256-bit).
    pub fn parse_bytes(b: &[u8]) -> PyResult<AnyDigest> {
        match b.len() {
            8 => Ok(AnyDigest::D64(Digest64::from_bytes(b).expect("8 bytes"))),
            32 => Ok(AnyDigest::D256(Digest256::from_bytes(b).expect("32 bytes"))),
            n => value_error(format!(
                "expected 8 bytes (64-bit hash) or 32 (256-bit hash), got {n}"
            )),
        }
    }

    /// The big-endian bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.digest
            .words()
            .iter()
            .flat_map(|w| w.to_be_bytes())
            .collect()
    }

    fn msb_bits(&self) -> Vec<bool> {
        match &self.digest {
            AnyDigest::D64(d) => d.to_msb_bits(),
            AnyDigest::D256(d) => d.to_msb_bits(),
        }
    }
}

fn parse_algorithm(name: &str) -> PyResult<Algorithm> {
    name.parse::<Algorithm>()
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
}

#[pymethods]
impl PyHash {
    /// Parses hex (16 digits: 64-bit, 64 digits: 256-bit); `algorithm` names it and checks the width.
    #[staticmethod]
    #[pyo3(signature = (s, algorithm=None))]
    fn from_hex(s: &str, algorithm: Option<&str>) -> PyResult<Self> {
        let digest = Self::parse_hex(s)?;
        let mut h = PyHash::bare(digest);
        if let Some(name) = algorithm {
            let a = parse_algorithm(name)?;
            if a.bits() != digest.bits() || a.is_cryptographic() {
                return value_error(format!(
                    "{} hashes have {} bits, the hex has {}",
                    a,
                    a.bits(),
                    digest.bits()
                ));
            }
            h.algorithm = Some(a);
        }
        Ok(h)
    }

    /// Reads big-endian bytes (8 or 32), as `bytes(h)` gives them.
    #[staticmethod]
    fn from_bytes(b: &[u8]) -> PyResult<Self> {
        Ok(PyHash::bare(Self::parse_bytes(b)?))
    }

    /// Lower-case hex (imagehash's `str()` for the imagehash family, pdqhash's hex for PDQ).
    #[getter]
    fn hex(&self) -> String {
        self.digest.to_hex()
    }

    /// The algorithm name (`pdq`, `phash`, `phash16`, ...), or None for a parsed hash.
    #[getter]
    fn algorithm(&self) -> Option<&'static str> {
        self.algorithm.map(|a| a.name())
    }

    /// PDQ quality 0..100 (below 50: unreliable), None for other hashes.
    #[getter]
    fn quality(&self) -> Option<u8> {
        self.quality
    }

    /// The bits, most significant first (imagehash's flattened order), as a numpy bool array.
    #[getter]
    fn bits<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<bool>> {
        self.msb_bits().into_pyarray(py)
    }

    /// The bits as a square bool matrix, as imagehash's `ImageHash.hash`.
    #[getter]
    fn hash<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<bool>> {
        let bits = self.msb_bits();
        let side = if bits.len() == 64 { 8 } else { 16 };
        Array2::from_shape_vec((side, side), bits)
            .expect("64 or 256 bits")
            .into_pyarray(py)
    }

    /// True when the 8 dihedral PDQ hashes are available (PDQ hashes computed from pixels).
    #[getter]
    fn has_dihedral(&self) -> bool {
        self.dihedral.is_some()
    }

    /// `"exact"` (full-resolution pixels, reference-identical) or `"fast"` (reduced decode);
    /// None for hashes parsed from hex or bytes.
    #[getter]
    fn mode(&self) -> Option<&'static str> {
        self.mode.map(|m| m.name())
    }

    /// `(width, height)` of the reduced pixels a fast-mode hash came from, else None.
    #[getter]
    fn hashed_size(&self) -> Option<(u32, u32)> {
        self.hashed_size
    }

    /// The EXIF Orientation tag (1-8) applied before hashing (`orientation="exif"` on a file
    /// with a tag), else None.
    #[getter]
    fn exif_orientation(&self) -> Option<u8> {
        self.exif_orientation
    }

    /// True when the hash carries query-side probes (PDQ hashes computed with probes).
    #[getter]
    fn has_probes(&self) -> bool {
        self.probes.is_some()
    }

    /// The probe families the hash was computed with (empty without probes).
    #[getter]
    fn probe_families(&self) -> Vec<String> {
        self.probes
            .as_ref()
            .map_or_else(Vec::new, |p| p.families.clone())
    }

    /// The probe hashes, keyed by probe name (`plain` first, then `trim`, `content-box`, ...).
    fn probes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let Some(set) = &self.probes else {
            return value_error(
                "no probes: they are computed for PDQ hashes of images (probes=\"default\", \
                 a list of families, or \"all\"), not for parsed hashes or probes=\"none\"",
            );
        };
        let d = PyDict::new(py);
        for p in &set.probes {
            let mut item = PyHash::bare(p.digest.into());
            item.algorithm = Some(Algorithm::Pdq);
            item.quality = Some(p.quality);
            item.mode = self.mode;
            item.hashed_size = self.hashed_size;
            item.exif_orientation = self.exif_orientation;
            d.set_item(&p.name, item)?;
        }
        Ok(d)
    }

    /// The 8 dihedral PDQ hashes, keyed by orientation name in Meta's order (`orig` first).
    fn dihedral<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let Some(hashes) = self.dihedral else {
            return value_error(
                "dihedral hashes are only available for PDQ hashes computed from an image",
            );
        };
        let d = PyDict::new(py);
        for (o, h) in Orientation::ALL.into_iter().zip(hashes) {
            let mut item = PyHash::bare(h.into());
            item.algorithm = Some(Algorithm::Pdq);
            item.quality = self.quality;
            item.mode = self.mode;
            item.hashed_size = self.hashed_size;
            item.exif_orientation = self.exif_orientation;
            d.set_item(o.name(), item)?;
        }
        Ok(d)
    }

    fn __str__(&self) -> String {
        self.digest.to_hex()
    }

    fn __repr__(&self) -> String {
        let mut s = format!("Hash('{}'", self.digest.to_hex());
        if let Some(a) = self.algorithm {
            s.push_str(&format!(", algorithm='{a}'"));
        }
        if let Some(q) = self.quality {
            s.push_str(&format!(", quality={q}"));
        }
        if self.mode == Some(HashMode::Fast) {
            s.push_str(", mode='fast'");
        }
        s.push(')');
        s
    }

    /// Hamming distance; a TypeError for hashes of different widths.
    fn __sub__(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = other.py();
        let Ok(o) = other.cast::<PyHash>() else {
            return Ok(py.NotImplemented());
        };
        let o = o.get();
        match self.digest.distance(&o.digest) {
            Some(d) => Ok(d.into_pyobject(py)?.into_any().unbind()),
            None => Err(PyTypeError::new_err(format!(
                "hashes must be of the same size: {} bits vs {} bits",
                self.digest.bits(),
                o.digest.bits()
            ))),
        }
    }

    fn __richcmp__(&self, other: &Bound<'_, PyAny>, op: CompareOp) -> Py<PyAny> {
        let py = other.py();
        let Ok(o) = other.cast::<PyHash>() else {
            return py.NotImplemented();
        };
        let eq = self.digest == o.get().digest;
        match op {
            CompareOp::Eq => eq.into_pyobject(py).unwrap().to_owned().into_any().unbind(),
            CompareOp::Ne => (!eq)
                .into_pyobject(py)
                .unwrap()
                .to_owned()
                .into_any()
                .unbind(),
            _ => py.NotImplemented(),
        }
    }

    fn __hash__(&self) -> u64 {
        let mut h = DefaultHasher::new();
        self.digest.hash(&mut h);
        h.finish()
    }

    fn __bytes__<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.to_bytes())
    }

    fn __int__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py.get_type::<PyInt>()
            .call_method1("from_bytes", (PyBytes::new(py, &self.to_bytes()), "big"))
    }

    /// Number of bits (as imagehash's `len()`).
    fn __len__(&self) -> usize {
        self.digest.bits()
    }

    /// Pickle support: every field, dihedrals, mode and probes included.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        let py = slf.py();
        let me = slf.get();
        let dihedral: Option<Vec<String>> =
            me.dihedral.map(|d| d.iter().map(|h| h.to_hex()).collect());
        let probes: Option<ProbeSetTuple> = me.probes.as_ref().map(ProbeSet::to_tuple);
        let args = (
            me.digest.to_hex(),
            me.algorithm(),
            me.quality,
            dihedral,
            me.mode(),
            me.hashed_size,
            probes,
            me.exif_orientation,
        )
            .into_pyobject(py)?;
        Ok((slf.getattr("_restore")?, args.into_any()))
    }

    /// Rebuilds a pickled hash (internal).
    #[staticmethod]
    #[pyo3(signature = (hex, algorithm, quality, dihedral, mode=None, hashed_size=None, probes=None, exif_orientation=None))]
    #[allow(clippy::too_many_arguments)]
    fn _restore(
        hex: &str,
        algorithm: Option<&str>,
        quality: Option<u8>,
        dihedral: Option<Vec<String>>,
        mode: Option<&str>,
        hashed_size: Option<(u32, u32)>,
        probes: Option<ProbeSetTuple>,
        exif_orientation: Option<u8>,
    ) -> PyResult<Self> {
        let mut h = PyHash::bare(Self::parse_hex(hex)?);
        h.algorithm = algorithm.map(parse_algorithm).transpose()?;
        h.quality = quality;
        h.mode = mode.map(crate::hashing::mode).transpose()?;
        h.hashed_size = hashed_size;
        h.probes = probes.map(ProbeSet::from_tuple).transpose()?;
        h.exif_orientation = exif_orientation;
        if let Some(d) = dihedral {
            let parsed = d
                .iter()
                .map(|s| Digest256::from_hex(s).map_err(|e| to_py(e.into())))
                .collect::<PyResult<Vec<_>>>()?;
            h.dihedral =
                Some(parsed.try_into().map_err(|_| {
                    pyo3::exceptions::PyValueError::new_err("need 8 dihedral hashes")
                })?);
        }
        Ok(h)
    }
}
