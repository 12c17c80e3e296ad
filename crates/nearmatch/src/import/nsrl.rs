//! NIST NSRL RDS: the v3 SQLite database and the legacy 2.x `NSRLFile.txt`.
//!
//! Examiners use the NSRL Reference Data Set (known operating-system and application files) as
//! an ignore set, so these readers build *membership* sets.
//!
//! # RDS v3 (SQLite)
//!
//! The schema read (NIST's `schema.sql` for the v3 "minimal" databases): table
//! `FILE(sha256, sha1, md5, crc32, file_name, file_size, package_id)` with a primary key over
//! every column, `sha256` first; tables `PKG`, `OS`, `MFG` and `VERSION` describe packages and
//! are not read. Hashes are upper-case hex text. Only the `FILE` table is required, and its
//! columns are found by name, case-insensitively and ignoring `_`/`-` (`SHA1`, `file_name`,
//! `PackageId` all match); a missing table or column is an error naming it and listing what the
//! database has. The database is opened read-only and immutable (`mode=ro&immutable=1`,
//! `SQLITE_OPEN_READ_ONLY`): SQLite then takes no lock and creates no journal, WAL or shared
//! memory file, so the file is never modified and may sit on write-blocked media. Its SHA-256
//! (for the provenance) is computed by a second thread while SQLite reads.
//!
//! # Legacy RDS 2.x (`NSRLFile.txt`)
//!
//! Quoted CSV with the header `"SHA-1","MD5","CRC32","FileName","FileSize","ProductCode",
//! "OpSystemCode","SpecialCode"` (detected from it); hashes upper-case hex. `ProductCode` is the
//! v3 `package_id`'s predecessor. File names are not always UTF-8 in practice: read lossily.
//!
//! # One entry per digest
//!
//! NSRL repeats a file's hashes for every package that ships it (the v3 "modern minimal" set:
//! ~442 M `FILE` rows, ~74 M distinct SHA-256). A known-good set needs membership, so the import
//! keeps the *first* row of each digest: its file name becomes the entry id and its package the
//! label (`nsrl-package`, package id); with [`super::ImportOptions::digests_only`] not even
//! those. Every later row with the same digest is counted as a `repeated-digest` reject (with
//! examples), never silently dropped and never an error, even when strict.
//!
//! Finding repeats needs no table of seen digests: v3 rows are read `ORDER BY sha256`, which
//! SQLite serves by walking the primary-key index (no sort, no memory growth), and equal file
//! content has equal SHA-256, SHA-1 and MD5, so all rows of one digest are adjacent whichever
//! algorithm is imported. Comparing with the previous row's digest is then exact. Two cases
//! where a repeat is not adjacent and the digest gets a second entry (membership is unchanged):
//! two different files with the same MD5 (a collision), and a legacy file whose rows are not
//! grouped by content (NIST split the legacy RDS by SHA-1 range; the order within a file is not
//! something we could verify, and concatenated or hand-made files need not keep it). With
//! `digests_only` even those fold, as `duplicate` rejects, because the records are then identical.
//!
//! The "first" row is, for v3, the one with the smallest `rowid` among the rows of that content
//! (the earliest inserted: NIST's own order), and for the legacy text the earliest line. Either
//! way the result does not depend on how SQLite happens to plan the query.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufRead, Read};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use sha2::{Digest as _, Sha256};

use super::{
    algorithm_of_name, norm_name, parse_hex, Ctx, Format, ImportOptions, ImportReport, Label,
    RecordSink, RejectReason,
};
use crate::error::{Error, Result};

/// The first 16 bytes of every SQLite 3 database file.
pub const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";

/// The label scheme of an NSRL entry's package (v3 `package_id`, legacy `ProductCode`).
pub const PACKAGE_SCHEME: &str = "nsrl-package";

/// The legacy header's leading columns, normalised (`"SHA-1"` -> `sha1`).
const LEGACY_COLUMNS: [&str; 6] = [
    "sha1",
    "md5",
    "crc32",
    "filename",
    "filesize",
    "productcode",
];

/// True when `line` is the header of a legacy `NSRLFile.txt`.
pub fn is_legacy_header(line: &str) -> bool {
    let fields: Vec<String> = line.split(',').map(norm_name).collect();
    fields.len() >= LEGACY_COLUMNS.len()
        && fields.iter().zip(LEGACY_COLUMNS).all(|(f, want)| f == want)
}

/// Refuses algorithms an NSRL list cannot hold (a missing column of a crypto algorithm is
/// reported later, by name).
fn check_algorithm(ctx: &Ctx<'_>, what: &str) -> Result<()> {
    let a = ctx.opts.algorithm;
    if a.is_cryptographic() {
        Ok(())
    } else {
        Err(ctx.fail(format!(
            "{what} holds file hashes (md5, sha1, sha256), not {a} hashes"
        )))
    }
}

/// The state of one import: the digest of the last row kept, to fold adjacent repeats.
struct Fold {
    last: Vec<u8>,
}

impl Fold {
    /// Takes one row: rejects a bad hash, counts a repeat, pushes a new digest with the row's
    /// file name (id) and package (label).
    fn row(
        &mut self,
        ctx: &mut Ctx<'_>,
        hex: &str,
        line: u64,
        name: &str,
        package: &dyn Fn() -> String,
    ) -> Result<()> {
        let digest = match parse_hex(hex, ctx.opts.algorithm) {
            Ok(d) => d,
            Err((reason, detail)) => return ctx.reject(reason, line, detail),
        };
        if digest == self.last {
            let algo = ctx.opts.algorithm;
            let digests_only = ctx.opts.digests_only;
            ctx.repeated(line, || {
                let row = if digests_only {
                    String::new()
                } else {
                    format!(" ({name:?}, package {})", package())
                };
                format!("{algo} {} again{row}: the first row is kept", hex.trim())
            });
            return Ok(());
        }
        self.last.clear();
        self.last.extend_from_slice(&digest);
        let labels = if ctx.opts.digests_only {
            Vec::new()
        } else {
            vec![Label::new(PACKAGE_SCHEME, package())]
        };
        ctx.push_digest(
            digest,
            line,
            name.to_string(),
            labels,
            String::new(),
            || hex.trim().into(),
        )
    }
}

/// Splits one line of quoted CSV (`"a","b ""c""",12`) into trimmed fields; `false` when a quote
/// is never closed.
///
/// The legacy files hold one record per line, so reading line by line keeps the reported line
/// numbers exact (the `csv` crate counts a CRLF file's lines one short) and confines a broken
/// quote to its own line.
fn split_quoted<'a>(line: &'a str, out: &mut Vec<Cow<'a, str>>) -> bool {
    out.clear();
    let mut i = 0;
    loop {
        let rest = &line[i..];
        if rest.trim_start().starts_with('"') {
            i += rest.len() - rest.trim_start().len() + 1;
            let mut owned: Option<String> = None;
            let mut start = i;
            loop {
                let Some(j) = line[i..].find('"').map(|j| i + j) else {
                    return false;
                };
                if line[j + 1..].starts_with('"') {
                    // `""` is one quote inside the field.
                    owned
                        .get_or_insert_with(String::new)
                        .push_str(&line[start..=j]);
                    i = j + 2;
                    start = i;
                    continue;
                }
                out.push(match owned.take() {
                    Some(mut o) => {
                        o.push_str(&line[start..j]);
                        Cow::Owned(o)
                    }
                    None => Cow::Borrowed(&line[start..j]),
                });
                i = j + 1;
                break;
            }
            match line[i..].find(',') {
                Some(k) => i += k + 1,
                None => return true,
            }
        } else {
            match rest.find(',') {
                Some(k) => {
                    out.push(Cow::Borrowed(rest[..k].trim()));
                    i += k + 1;
                }
                None => {
                    out.push(Cow::Borrowed(rest.trim()));
                    return true;
                }
            }
        }
    }
}

/// Reads a legacy `NSRLFile.txt` (quoted CSV, header first, one record per line).
pub(super) fn read_legacy(r: &mut dyn BufRead, ctx: &mut Ctx<'_>) -> Result<()> {
    check_algorithm(ctx, "an NSRL legacy NSRLFile.txt")?;
    let mut buf = Vec::with_capacity(256);
    let mut line_no = 0u64;
    let mut next_line = |buf: &mut Vec<u8>, ctx: &Ctx<'_>| -> Result<bool> {
        buf.clear();
        let n = r.read_until(b'\n', buf).map_err(|source| Error::Io {
            path: ctx.path.clone().into(),
            source,
        })?;
        while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            buf.pop();
        }
        Ok(n > 0)
    };
    // The header: the first line that is not blank.
    let mut names: Vec<String> = Vec::new();
    while names.is_empty() {
        if !next_line(&mut buf, ctx)? {
            return Err(ctx.fail("an empty NSRLFile.txt: no header"));
        }
        line_no += 1;
        let text = String::from_utf8_lossy(&buf);
        if text.trim().is_empty() {
            continue;
        }
        let mut fields = Vec::new();
        if !split_quoted(&text, &mut fields) {
            return Err(ctx.fail(format!("line {line_no}: the header has an unclosed quote")));
        }
        names = fields.into_iter().map(Cow::into_owned).collect();
    }
    let target = ctx.opts.algorithm;
    let col = |want: &str| names.iter().position(|n| norm_name(n) == want);
    let missing = |what: &str| {
        ctx.fail(format!(
            "the NSRLFile.txt header has no {what} column (it has: {})",
            names.join(", ")
        ))
    };
    let hash_col = names
        .iter()
        .position(|n| algorithm_of_name(n) == Some(target))
        .ok_or_else(|| missing(target.name()))?;
    let (name_col, pkg_col) = if ctx.opts.digests_only {
        (None, None)
    } else {
        (
            Some(col("filename").ok_or_else(|| missing("FileName"))?),
            Some(col("productcode").ok_or_else(|| missing("ProductCode"))?),
        )
    };
    let need = [Some(hash_col), name_col, pkg_col]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(hash_col);
    let mut fold = Fold { last: Vec::new() };
    while next_line(&mut buf, ctx)? {
        line_no += 1;
        // Lossy: names are not always UTF-8 in these files; a mangled hash is then bad hex.
        let text = String::from_utf8_lossy(&buf);
        if text.trim().is_empty() {
            continue;
        }
        let mut fields_here = Vec::with_capacity(names.len());
        if !split_quoted(&text, &mut fields_here) {
            ctx.reject(RejectReason::Malformed, line_no, "a quote is not closed")?;
            continue;
        }
        if fields_here.len() <= need {
            ctx.reject(
                RejectReason::Malformed,
                line_no,
                format!(
                    "row has {} fields, the header {}",
                    fields_here.len(),
                    names.len()
                ),
            )?;
            continue;
        }
        let cell = |i: Option<usize>| i.map_or("", |i| fields_here[i].as_ref());
        let package = || cell(pkg_col).to_string();
        fold.row(ctx, cell(Some(hash_col)), line_no, cell(name_col), &package)?;
    }
    Ok(())
}

/// Imports an NSRL RDS v3 SQLite database at `path` into `sink` (see the module docs).
pub fn import_rds(
    path: &Path,
    opts: &ImportOptions,
    sink: &mut dyn RecordSink,
) -> Result<ImportReport> {
    let shown = path.display().to_string();
    let io_err = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| shown.clone());
    let mut ctx = Ctx {
        opts,
        path: shown.clone(),
        report: ImportReport {
            name,
            path: shown.clone(),
            sha256: String::new(),
            bytes: 0,
            format: Format::NsrlRds,
            algorithm: opts.algorithm.name().to_string(),
            imported: 0,
            rejected: Default::default(),
            examples: Vec::new(),
        },
        sink,
    };
    check_algorithm(&ctx, "an NSRL RDS v3 database")?;
    let mut file = File::open(path).map_err(io_err)?;
    let mut magic = [0u8; 16];
    let n = super::read_up_to(&mut file, &mut magic).map_err(io_err)?;
    if !magic[..n].starts_with(SQLITE_MAGIC) {
        return Err(ctx.fail(
            "not an SQLite database (an NSRL RDS v3 file starts with \"SQLite format 3\\0\")",
        ));
    }
    drop(file);

    // Hash the file while SQLite reads it: on a 100+ GB database a second pass would double
    // the import's I/O wait. `stop` ends the hashing early when the import fails.
    let stop = AtomicBool::new(false);
    let (read, hashed) = std::thread::scope(|s| {
        let hasher = s.spawn(|| sha256_of(path, &stop));
        let read = read_rds(path, &mut ctx);
        if read.is_err() {
            stop.store(true, Ordering::Relaxed);
        }
        (read, hasher.join())
    });
    read?;
    let (sha256, bytes) = match hashed {
        Ok(r) => r.map_err(io_err)?,
        Err(_) => return Err(ctx.fail("the SHA-256 thread panicked")),
    };
    let mut report = ctx.report;
    report.sha256 = sha256;
    report.bytes = bytes;
    Ok(report)
}

/// SHA-256 (lower-case hex) and size of a file, unless `stop` is raised first.
fn sha256_of(path: &Path, stop: &AtomicBool) -> io::Result<(String, u64)> {
    let mut f = File::open(path)?;
    let mut sha = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        if stop.load(Ordering::Relaxed) {
            return Err(io::Error::other("cancelled"));
        }
        let n = match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        sha.update(&buf[..n]);
        total += n as u64;
    }
    Ok((hex::encode(sha.finalize()), total))
}

/// An SQLite URI that opens `path` read-only and immutable (no locks, no journal files).
fn read_only_uri(path: &Path) -> io::Result<String> {
    // Absolute and normalised, so the URI has no authority part and no `..` to misread.
    let abs = std::fs::canonicalize(path)?;
    #[cfg(unix)]
    let bytes: Vec<u8> = std::os::unix::ffi::OsStrExt::as_bytes(abs.as_os_str()).to_vec();
    #[cfg(not(unix))]
    let bytes: Vec<u8> = {
        let s = abs.to_string_lossy().replace('\\', "/");
        let s = s.trim_start_matches("//?/").to_string();
        format!("/{s}").into_bytes()
    };
    let mut uri = String::from("file:");
    for b in bytes {
        // Percent-encode everything a URI could read as syntax (`?`, `#`, `%`) or that is not
        // ASCII: SQLite decodes %HH back to the file name's bytes.
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            uri.push(b as char);
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push_str("?mode=ro&immutable=1");
    Ok(uri)
}

/// An SQL identifier, quoted.
fn quote(id: &str) -> String {
    format!("\"{}\"", id.replace('"', "\"\""))
}

/// Text of a metadata cell (NULL is empty; numbers as written by SQLite).
fn text_of(v: ValueRef<'_>) -> Cow<'_, str> {
    match v {
        ValueRef::Null => Cow::Borrowed(""),
        ValueRef::Integer(i) => Cow::Owned(i.to_string()),
        ValueRef::Real(f) => Cow::Owned(f.to_string()),
        ValueRef::Text(b) | ValueRef::Blob(b) => String::from_utf8_lossy(b),
    }
}

/// Column `col` of every row of `sql`, as text.
fn strings(conn: &Connection, sql: &str, col: usize) -> rusqlite::Result<Vec<String>> {
    let mut st = conn.prepare(sql)?;
    let names = st.query_map([], |r| r.get::<_, String>(col))?;
    names.collect()
}

/// Reads the `FILE` table into `ctx`.
fn read_rds(path: &Path, ctx: &mut Ctx<'_>) -> Result<()> {
    let sql_err = |what: &str, e: rusqlite::Error| -> Error {
        Error::Import {
            path: path.to_path_buf(),
            reason: format!("{what}: {e}"),
        }
    };
    let uri = read_only_uri(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let conn = Connection::open_with_flags(
        &uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| sql_err("cannot open it as an SQLite database", e))?;
    // Belt and braces: even a statement that tried to write would be refused.
    conn.pragma_update(None, "query_only", true)
        .map_err(|e| sql_err("cannot set query_only", e))?;

    // The tables (and views): this is the first read of the file, so a file that only starts
    // like SQLite fails here, named.
    let tables = strings(
        &conn,
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name",
        0,
    )
    .map_err(|e| sql_err("cannot read it as an SQLite database", e))?;
    let Some(table) = tables.iter().find(|t| t.eq_ignore_ascii_case("FILE")) else {
        let mut list = tables
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if tables.len() > 20 {
            list.push_str(", …");
        }
        return Err(ctx.fail(format!(
            "an SQLite database but not an NSRL RDS v3: it has no FILE table (tables: {})",
            if list.is_empty() { "none" } else { &list }
        )));
    };
    let columns = strings(&conn, &format!("PRAGMA table_info({})", quote(table)), 1)
        .map_err(|e| sql_err("cannot list the columns of the FILE table", e))?;
    let find = |want: &str| columns.iter().find(|c| norm_name(c) == norm_name(want));
    let missing = |what: &str| {
        ctx.fail(format!(
            "the FILE table has no {what} column (columns: {})",
            columns.join(", ")
        ))
    };
    let algo = ctx.opts.algorithm;
    let hash_col = find(algo.name()).ok_or_else(|| missing(algo.name()))?;
    let (name_sql, pkg_sql) = if ctx.opts.digests_only {
        ("NULL".to_string(), "NULL".to_string())
    } else {
        let name_col = find("file_name").ok_or_else(|| missing("file_name"))?;
        let pkg_col = find("package_id").ok_or_else(|| missing("package_id"))?;
        (quote(name_col), quote(pkg_col))
    };
    // `sha256` leads the RDS primary key: ordering by it is an index walk that also makes every
    // repeat of any of the three digests adjacent (module docs). Without it, order by the hash.
    // `rowid` breaks ties, so the row kept is the earliest of its content in the database (SQLite
    // sorts only within each run of equal keys for that: a few rows, not the table).
    let order = quote(find("sha256").unwrap_or(hash_col));
    let select = |rowid: &str, tiebreak: &str| {
        format!(
            "SELECT {rowid}, {}, {name_sql}, {pkg_sql} FROM {} ORDER BY {order}{tiebreak}",
            quote(hash_col),
            quote(table),
        )
    };
    // Rows are identified by rowid in rejects; a view or a WITHOUT ROWID table has none, and
    // then the row's position in the read order stands in.
    let mut stmt = match conn.prepare(&select("rowid", ", rowid")) {
        Ok(s) => s,
        Err(_) => conn
            .prepare(&select("NULL", ""))
            .map_err(|e| sql_err("cannot query the FILE table", e))?,
    };
    let mut rows = stmt
        .query([])
        .map_err(|e| sql_err("cannot query the FILE table", e))?;
    let mut fold = Fold { last: Vec::new() };
    let mut pos = 0u64;
    loop {
        let row = match rows.next() {
            Ok(Some(r)) => r,
            Ok(None) => return Ok(()),
            Err(e) => {
                return Err(sql_err(
                    &format!("SQLite failed after {pos} FILE rows (a damaged database?)"),
                    e,
                ))
            }
        };
        pos += 1;
        let cell = |i: usize| row.get_ref(i).unwrap_or(ValueRef::Null);
        let line = match cell(0) {
            ValueRef::Integer(i) if i > 0 => i as u64,
            _ => pos,
        };
        let hex = match cell(1) {
            ValueRef::Text(b) => String::from_utf8_lossy(b),
            other => {
                let kind = match other {
                    ValueRef::Null => "NULL",
                    ValueRef::Integer(_) | ValueRef::Real(_) => "a number",
                    _ => "a BLOB",
                };
                ctx.reject(
                    RejectReason::Malformed,
                    line,
                    format!("{hash_col} is {kind}, not hex text"),
                )?;
                continue;
            }
        };
        let name = text_of(cell(2));
        let package = || text_of(cell(3)).into_owned();
        fold.row(ctx, &hex, line, &name, &package)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(line: &str) -> Option<Vec<String>> {
        let mut out = Vec::new();
        split_quoted(line, &mut out).then(|| out.into_iter().map(Cow::into_owned).collect())
    }

    #[test]
    fn quoted_fields_commas_and_escaped_quotes() {
        assert_eq!(
            split(r#""AB","setup, ""final"".exe",12,"","WIN""#).unwrap(),
            ["AB", "setup, \"final\".exe", "12", "", "WIN"]
        );
        assert_eq!(split("a, b ,c").unwrap(), ["a", "b", "c"]);
        assert_eq!(split(r#""a","b"#), None);
        assert!(is_legacy_header(
            r#""SHA-1","MD5","CRC32","FileName","FileSize","ProductCode","OpSystemCode","SpecialCode""#
        ));
        assert!(!is_legacy_header(r#""SHA-1","MD5""#));
    }
}
