//! NSRL importer tests on synthetic RDS-shaped data: random hashes (no real file's), generated
//! here, compared with a brute-force reading of the same rows.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use sha2::{Digest as _, Sha256};

use super::*;
use crate::hashset::{HashSet, SetWriter};

/// The RDS v3 `FILE` table as NIST's `schema.sql` declares it.
const FILE_TABLE: &str = "CREATE TABLE FILE (
    sha256 VARCHAR NOT NULL, sha1 VARCHAR NOT NULL, md5 VARCHAR NOT NULL,
    crc32 VARCHAR NOT NULL, file_name VARCHAR NOT NULL, file_size INTEGER NOT NULL,
    package_id INTEGER NOT NULL,
    CONSTRAINT PK_FILE__FILE PRIMARY KEY (sha256, sha1, md5, crc32, file_name, file_size, package_id));
  CREATE TABLE PKG (package_id INTEGER NOT NULL, name VARCHAR NOT NULL, version VARCHAR NOT NULL);";

/// splitmix64: deterministic test randomness without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn hex(&mut self, digits: usize) -> String {
        let mut s = String::new();
        while s.len() < digits {
            s.push_str(&format!("{:016X}", self.next()));
        }
        s.truncate(digits);
        s
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One `FILE` row.
#[derive(Clone, Debug)]
struct Row {
    sha256: String,
    sha1: String,
    md5: String,
    name: String,
    package: i64,
}

impl Row {
    fn hash(&self, a: Algorithm) -> &str {
        match a {
            Algorithm::Md5 => &self.md5,
            Algorithm::Sha1 => &self.sha1,
            _ => &self.sha256,
        }
    }
}

/// Rows in insertion order (rowid = index + 1): `files` random contents, each in 1–4 packages,
/// shuffled; plus a row whose SHA-1 is not hex and one of the empty file's hashes.
fn synthetic_rows(files: usize, seed: u64) -> Vec<Row> {
    let mut rng = Rng(seed);
    let mut rows = Vec::new();
    for f in 0..files {
        let (sha256, sha1, md5) = (rng.hex(64), rng.hex(40), rng.hex(32));
        for k in 0..1 + rng.below(4) {
            rows.push(Row {
                sha256: sha256.clone(),
                sha1: sha1.clone(),
                md5: md5.clone(),
                name: format!("file{f}-copy{k}.dll"),
                package: (rng.below(900) + 100) as i64,
            });
        }
    }
    rows.push(Row {
        sha256: rng.hex(64),
        sha1: format!("{}ZZ", rng.hex(38)),
        md5: rng.hex(32),
        name: "bad-sha1.sys".into(),
        package: 7,
    });
    let empty = crate::hash::crypto::CryptoHashes::of(b"");
    rows.push(Row {
        sha256: empty.sha256_hex().to_uppercase(),
        sha1: empty.sha1_hex().to_uppercase(),
        md5: empty.md5_hex().to_uppercase(),
        name: "empty.txt".into(),
        package: 8,
    });
    // Fisher–Yates: NIST's row order is not the hash order.
    for i in (1..rows.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        rows.swap(i, j);
    }
    rows
}

fn tmpdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// Writes `rows` into a new RDS-v3-shaped database at `path`.
fn write_db(path: &Path, rows: &[Row]) {
    let mut c = Connection::open(path).unwrap();
    c.execute_batch(FILE_TABLE).unwrap();
    let tx = c.transaction().unwrap();
    {
        let mut st = tx
            .prepare("INSERT INTO FILE VALUES (?1, ?2, ?3, '00000000', ?4, 1, ?5)")
            .unwrap();
        for r in rows {
            st.execute(rusqlite::params![
                r.sha256, r.sha1, r.md5, r.name, r.package
            ])
            .unwrap();
        }
    }
    tx.commit().unwrap();
}

/// What the import must give for `alg`, worked out by brute force over the rows: for each
/// valid distinct digest, the first row (by rowid) holding it; and the count of valid rows.
fn expected(rows: &[Row], alg: Algorithm) -> (BTreeMap<Vec<u8>, (u64, Row)>, u64) {
    let empty = empty_file_hash(alg).unwrap();
    let mut first = BTreeMap::new();
    let mut valid = 0;
    for (i, r) in rows.iter().enumerate() {
        let h = r.hash(alg);
        let ok = h.len() == alg.bits() / 4
            && h.bytes().all(|b| b.is_ascii_hexdigit())
            && !h.eq_ignore_ascii_case(empty);
        if ok {
            valid += 1;
            first
                .entry(hex::decode(h).unwrap())
                .or_insert((i as u64 + 1, r.clone()));
        }
    }
    (first, valid)
}

fn sha256_file(p: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(p).unwrap()))
}

fn import_path(p: &Path, opts: &ImportOptions) -> Result<(ImportReport, Vec<ImportRecord>)> {
    let mut sink = MemorySink::default();
    let report = import(p, opts, &mut sink)?;
    Ok((report, sink.records))
}

#[test]
fn rds_import_keeps_one_entry_per_digest_with_the_first_rows_metadata() {
    let dir = tmpdir();
    let db = dir.path().join("RDS_synthetic.db");
    let rows = synthetic_rows(300, 1);
    write_db(&db, &rows);
    let before = std::fs::read(&db).unwrap();
    for alg in [Algorithm::Md5, Algorithm::Sha1, Algorithm::Sha256] {
        // Auto-detected from the SQLite magic.
        let (r, recs) = import_path(&db, &ImportOptions::new(alg)).unwrap();
        let (want, valid) = expected(&rows, alg);
        assert_eq!(r.format, Format::NsrlRds, "{alg}");
        assert_eq!(r.imported, want.len() as u64, "{alg}");
        let got: BTreeMap<Vec<u8>, &ImportRecord> =
            recs.iter().map(|x| (x.digest.clone(), x)).collect();
        assert_eq!(got.len(), recs.len(), "{alg}: one record per digest");
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{alg}"
        );
        for (d, (rowid, row)) in &want {
            let rec = got[d];
            assert_eq!(rec.id, row.name, "{alg}: the first row's file name");
            assert_eq!(rec.line, *rowid, "{alg}");
            assert_eq!(
                rec.labels,
                vec![Label::new("nsrl-package", row.package.to_string())]
            );
            assert_eq!(rec.note, "");
        }
        // Every row is accounted for: kept, repeated, or rejected for its hash.
        let mut rejected = BTreeMap::new();
        rejected.insert(RejectReason::EmptyFileHash, 1);
        if alg == Algorithm::Sha1 {
            rejected.insert(RejectReason::BadHex, 1);
        }
        rejected.insert(RejectReason::RepeatedDigest, valid - want.len() as u64);
        assert_eq!(r.rejected, rejected, "{alg}");
        assert_eq!(
            r.imported + r.rejected_total(),
            rows.len() as u64,
            "{alg}: nothing silently skipped"
        );
        if alg == Algorithm::Sha1 {
            let bad = rows.iter().position(|x| x.name == "bad-sha1.sys").unwrap() as u64 + 1;
            let ex = r
                .examples
                .iter()
                .find(|e| e.reason == RejectReason::BadHex)
                .unwrap();
            assert_eq!(ex.line, bad, "the example names the FILE rowid");
        }
        assert!(r
            .examples
            .iter()
            .any(|e| e.reason == RejectReason::RepeatedDigest));
        // Provenance: the database's own SHA-256 and size.
        assert_eq!(r.sha256, sha256_file(&db));
        assert_eq!(r.bytes, before.len() as u64);
        assert_eq!(r.name, "RDS_synthetic.db");
    }
    // Read-only and immutable: the database is byte-identical and SQLite left no journal,
    // WAL or shared-memory file beside it.
    assert_eq!(std::fs::read(&db).unwrap(), before);
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["RDS_synthetic.db"]);
}

#[test]
fn rds_digests_only_and_strict() {
    let dir = tmpdir();
    let db = dir.path().join("rds.db");
    let rows = synthetic_rows(100, 2);
    write_db(&db, &rows);
    let mut opts = ImportOptions::new(Algorithm::Md5);
    opts.digests_only = true;
    opts.format = Some(Format::NsrlRds);
    let (r, recs) = import_path(&db, &opts).unwrap();
    let (want, _) = expected(&rows, Algorithm::Md5);
    assert_eq!(r.imported, want.len() as u64);
    assert!(recs
        .iter()
        .all(|x| x.id.is_empty() && x.labels.is_empty() && x.note.is_empty()));
    // Strict stops at a real defect (the empty-file hash), not at a repeat.
    opts.strict = true;
    let err = import_path(&db, &opts).unwrap_err().to_string();
    assert!(
        err.contains("rds.db") && err.contains("empty-file-hash"),
        "{err}"
    );
}

#[test]
fn rds_builds_a_set_that_finds_every_digest_and_nothing_else() {
    let dir = tmpdir();
    let db = dir.path().join("rds.db");
    let rows = synthetic_rows(500, 3);
    write_db(&db, &rows);
    let out = dir.path().join("nsrl.nmset");
    let mut w = SetWriter::create(&out, Algorithm::Sha1).unwrap();
    let report = w
        .import_file(&db, &ImportOptions::new(Algorithm::Sha1))
        .unwrap();
    w.finish().unwrap();
    let set = HashSet::open(&out).unwrap();
    let (want, _) = expected(&rows, Algorithm::Sha1);
    assert_eq!(set.len(), want.len());
    for (d, (_, row)) in &want {
        let hits = set.lookup_exact(d);
        assert_eq!(hits.len(), 1, "{}", row.sha1);
        assert_eq!(set.entry(hits.start).unwrap().id, row.name);
    }
    let mut rng = Rng(99);
    for _ in 0..200 {
        let miss = hex::decode(rng.hex(40)).unwrap();
        assert_eq!(
            set.lookup_exact(&miss).len(),
            want.contains_key(&miss) as usize
        );
    }
    let prov = set.provenance().unwrap();
    assert_eq!(prov.sources, vec![report.clone()]);
    assert_eq!(prov.sources[0].format, Format::NsrlRds);
    assert_eq!(prov.sources[0].sha256, sha256_file(&db));
}

#[test]
fn rds_columns_found_by_name_whatever_their_case_and_order() {
    let dir = tmpdir();
    let db = dir.path().join("odd.db");
    let c = Connection::open(&db).unwrap();
    c.execute_batch(
        "CREATE TABLE file (Package_ID INTEGER, FILE_NAME TEXT, SHA1 TEXT);
         INSERT INTO file VALUES (5, 'a.dll', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa');
         INSERT INTO file VALUES (6, 'b.dll', 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
         INSERT INTO file VALUES (7, 'c.dll', NULL);",
    )
    .unwrap();
    drop(c);
    let (r, recs) = import_path(&db, &ImportOptions::new(Algorithm::Sha1)).unwrap();
    // No sha256 column: ordered by the hash itself (NULL first, a Malformed reject); the
    // upper- and lower-case spellings of one digest are one entry, the first in that order.
    assert_eq!(r.rejected[&RejectReason::Malformed], 1);
    assert_eq!(r.rejected[&RejectReason::RepeatedDigest], 1);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].digest, vec![0xaa; 20]);
    assert_eq!(recs[0].id, "b.dll");
    assert_eq!(recs[0].labels, vec![Label::new("nsrl-package", "6")]);
    let err = import_path(&db, &ImportOptions::new(Algorithm::Md5))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("odd.db") && err.contains("no md5 column") && err.contains("FILE_NAME"),
        "{err}"
    );
}

#[test]
fn rds_errors_name_the_file_and_the_cause() {
    let dir = tmpdir();
    let p = |n: &str| dir.path().join(n);
    // An SQLite database that is not an RDS.
    let c = Connection::open(p("other.db")).unwrap();
    c.execute_batch("CREATE TABLE cases (id INTEGER, name TEXT);")
        .unwrap();
    drop(c);
    let e = import_path(&p("other.db"), &ImportOptions::new(Algorithm::Sha1))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("other.db") && e.contains("not an NSRL RDS v3") && e.contains("cases"),
        "{e}"
    );
    // A FILE table without the metadata columns: an error naming the column, unless only the
    // digests are wanted.
    let c = Connection::open(p("bare.db")).unwrap();
    c.execute_batch(
        "CREATE TABLE FILE (sha256 TEXT, md5 TEXT);
         INSERT INTO FILE VALUES ('00', '0123456789ABCDEF0123456789ABCDEF');",
    )
    .unwrap();
    drop(c);
    let e = import_path(&p("bare.db"), &ImportOptions::new(Algorithm::Md5))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("bare.db") && e.contains("no file_name column"),
        "{e}"
    );
    let mut opts = ImportOptions::new(Algorithm::Md5);
    opts.digests_only = true;
    assert_eq!(import_path(&p("bare.db"), &opts).unwrap().0.imported, 1);
    // A damaged database: the header survives, the pages are overwritten.
    write_db(&p("damaged.db"), &synthetic_rows(200, 4));
    let mut bytes = std::fs::read(p("damaged.db")).unwrap();
    let len = bytes.len();
    for (i, b) in bytes[100..len].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37) ^ 0x5a;
    }
    std::fs::write(p("damaged.db"), &bytes).unwrap();
    let e = import_path(&p("damaged.db"), &ImportOptions::new(Algorithm::Sha1))
        .unwrap_err()
        .to_string();
    assert!(e.contains("damaged.db"), "{e}");
    // Only the magic: a truncated download.
    std::fs::write(p("truncated.db"), &bytes[..100]).unwrap();
    let e = import_path(&p("truncated.db"), &ImportOptions::new(Algorithm::Sha1))
        .unwrap_err()
        .to_string();
    assert!(e.contains("truncated.db"), "{e}");
    // Forced RDS on a text file; an RDS with a perceptual algorithm; an RDS from a stream.
    std::fs::write(p("list.txt"), "0123456789abcdef0123456789abcdef\n").unwrap();
    let mut opts = ImportOptions::new(Algorithm::Md5);
    opts.format = Some(Format::NsrlRds);
    let e = import_path(&p("list.txt"), &opts).unwrap_err().to_string();
    assert!(
        e.contains("list.txt") && e.contains("not an SQLite database"),
        "{e}"
    );
    let e = import_path(&p("other.db"), &ImportOptions::new(Algorithm::Pdq))
        .unwrap_err()
        .to_string();
    assert!(e.contains("not pdq"), "{e}");
    let bytes = std::fs::read(p("other.db")).unwrap();
    let e = import_reader(
        &bytes[..],
        "piped.db",
        &ImportOptions::new(Algorithm::Md5),
        &mut MemorySink::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("piped.db") && e.contains("file path"), "{e}");
}

#[test]
fn rds_path_with_uri_characters() {
    let dir = tmpdir();
    let sub: PathBuf = dir.path().join("case #7? 100% é");
    std::fs::create_dir_all(&sub).unwrap();
    let db = sub.join("rds v3.db");
    let rows = synthetic_rows(20, 5);
    write_db(&db, &rows);
    let (r, _) = import_path(&db, &ImportOptions::new(Algorithm::Sha256)).unwrap();
    assert_eq!(
        r.imported,
        expected(&rows, Algorithm::Sha256).0.len() as u64
    );
}

/// A legacy `NSRLFile.txt` of `rows`, in SHA-1 order as NIST ships it.
fn legacy_text(rows: &[Row]) -> String {
    let mut sorted: Vec<&Row> = rows.iter().collect();
    sorted.sort_by(|a, b| a.sha1.cmp(&b.sha1));
    let mut s = String::from(
        "\"SHA-1\",\"MD5\",\"CRC32\",\"FileName\",\"FileSize\",\"ProductCode\",\"OpSystemCode\",\"SpecialCode\"\r\n",
    );
    for r in sorted {
        s.push_str(&format!(
            "\"{}\",\"{}\",\"0A1B2C3D\",\"{}\",1234,{},\"WIN\",\"\"\r\n",
            r.sha1, r.md5, r.name, r.package
        ));
    }
    s
}

#[test]
fn legacy_text_detected_and_folded_like_the_database() {
    let rows = synthetic_rows(300, 6);
    let text = legacy_text(&rows);
    for alg in [Algorithm::Md5, Algorithm::Sha1] {
        let mut sink = MemorySink::default();
        let r = import_reader(
            text.as_bytes(),
            "NSRLFile.txt",
            &ImportOptions::new(alg),
            &mut sink,
        )
        .unwrap();
        assert_eq!(r.format, Format::NsrlLegacy, "detected from the header");
        let (want, valid) = expected(&rows, alg);
        let got: BTreeMap<Vec<u8>, &ImportRecord> =
            sink.records.iter().map(|x| (x.digest.clone(), x)).collect();
        assert_eq!(
            got.len(),
            sink.records.len(),
            "{alg}: one record per digest"
        );
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{alg}"
        );
        for rec in got.values() {
            let row = rows.iter().find(|x| x.name == rec.id).unwrap();
            assert_eq!(hex::decode(row.hash(alg)).unwrap(), rec.digest);
            assert_eq!(
                rec.labels,
                vec![Label::new("nsrl-package", row.package.to_string())]
            );
        }
        assert_eq!(
            r.rejected[&RejectReason::RepeatedDigest],
            valid - want.len() as u64
        );
        assert_eq!(r.rejected[&RejectReason::EmptyFileHash], 1);
        assert_eq!(
            r.rejected.get(&RejectReason::BadHex).copied().unwrap_or(0),
            (alg == Algorithm::Sha1) as u64
        );
        assert_eq!(r.imported + r.rejected_total(), rows.len() as u64);
        // The bad row's example carries its line (header = line 1).
        if alg == Algorithm::Sha1 {
            let line = text
                .lines()
                .position(|l| l.contains("bad-sha1.sys"))
                .unwrap() as u64
                + 1;
            let ex = r
                .examples
                .iter()
                .find(|e| e.reason == RejectReason::BadHex)
                .unwrap();
            assert_eq!(ex.line, line);
        }
    }
    // The legacy text has no SHA-256 column: an error naming it.
    let e = import_reader(
        text.as_bytes(),
        "NSRLFile.txt",
        &ImportOptions::new(Algorithm::Sha256),
        &mut MemorySink::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("NSRLFile.txt") && e.contains("no sha256 column"),
        "{e}"
    );
    // The generic CSV reader would have kept every row's metadata as labels: the dedicated
    // path is what the detection picks.
    assert_eq!(detect(text.as_bytes()), Format::NsrlLegacy);
}

#[test]
fn files_are_detected_from_a_full_read_not_from_the_magic_alone() {
    // The SQLite sniff in `import` must not starve the text formats' detection: a legacy file
    // and a ThreatExchange line need more than 16 bytes to be recognised.
    let dir = tmpdir();
    let legacy = dir.path().join("NSRLFile.txt");
    let rows = synthetic_rows(10, 7);
    std::fs::write(&legacy, legacy_text(&rows)).unwrap();
    let (r, _) = import_path(&legacy, &ImportOptions::new(Algorithm::Sha1)).unwrap();
    assert_eq!(r.format, Format::NsrlLegacy);
    assert_eq!(r.bytes, std::fs::metadata(&legacy).unwrap().len());
    assert_eq!(r.sha256, sha256_file(&legacy));
    let te = dir.path().join("pdq.txt");
    std::fs::write(
        &te,
        "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22,100,a.jpg\n",
    )
    .unwrap();
    let (r, _) = import_path(&te, &ImportOptions::new(Algorithm::Pdq)).unwrap();
    assert_eq!(r.format, Format::ThreatExchange);
    // Repeats in a digests-only import name no file or package.
    let mut opts = ImportOptions::new(Algorithm::Sha1);
    opts.digests_only = true;
    let (r, _) = import_path(&legacy, &opts).unwrap();
    let ex = r
        .examples
        .iter()
        .find(|e| e.reason == RejectReason::RepeatedDigest)
        .unwrap();
    assert!(
        ex.detail.ends_with("again: the first row is kept"),
        "{}",
        ex.detail
    );
}
