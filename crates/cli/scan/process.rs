//! One file, one read: open read-only without touching the access time, hash the bytes, decode
//! images once for every perceptual hash.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use nearmatch::decode::{self, Format};
use nearmatch::hash::crypto::CryptoHasher;
use nearmatch::hash::file::{hash_bytes, HashOptions};
use nearmatch::hash::pdq::MIN_QUALITY;
use nearmatch::hash::Algorithm;
use nearmatch::Error;

use super::custody::iso8601;
use super::record::FileRecord;
use super::sets::Probes;
use super::walk::{Item, Kind};
use crate::paths::ReportPath;

/// Set once O_NOATIME was refused (EPERM: not the file's owner), so the warning prints once.
static NOATIME_REFUSED: AtomicBool = AtomicBool::new(false);

/// What every file's processing shares.
pub struct Context {
    /// Perceptual algorithms to compute (PDQ always, plus what the sets need).
    pub algos: Vec<Algorithm>,
    /// Hashing options (profile, Pillow, limits, dihedral).
    pub opts: HashOptions,
    /// Files larger than this are skipped unread.
    pub max_file_size: u64,
}

/// The outcome of processing before matching: the record (disposition still provisional) and
/// the probes matching needs.
pub struct Processed {
    /// The record; `disposition` is final except that a match turns it into `matched`.
    pub record: FileRecord,
    /// What matching reads.
    pub probes: Probes,
}

/// Processes one walked item.
pub fn process(index: u64, item: &Item, ctx: &Context) -> Processed {
    let rp = ReportPath::new(&item.path);
    let mut rec = FileRecord {
        record: "file".into(),
        index,
        path: rp.display,
        path_b64: rp.raw_b64,
        kind: "file".into(),
        size: None,
        mtime: None,
        ctime: None,
        atime: None,
        md5: None,
        sha1: None,
        sha256: None,
        file_type: None,
        extension_mismatch: None,
        width: None,
        height: None,
        hashes: Default::default(),
        pdq_quality: None,
        hash_mode: None,
        hashed_size: None,
        probe_hashes: None,
        low_quality: None,
        link_target: None,
        link_target_b64: None,
        link_target_inside_root: None,
        disposition: String::new(),
        error: None,
        duplicate_of: None,
        duplicate_of_index: None,
        matches: Vec::new(),
    };
    if let Some(m) = &item.meta {
        rec.size = Some(m.len());
        rec.mtime = Some(iso8601(m.mtime(), m.mtime_nsec() as u32));
        rec.ctime = Some(iso8601(m.ctime(), m.ctime_nsec() as u32));
        rec.atime = Some(iso8601(m.atime(), m.atime_nsec() as u32));
    }
    let mut probes = Probes::default();
    match &item.kind {
        Kind::Symlink {
            target,
            inside_root,
        } => {
            rec.kind = "symlink".into();
            let t = ReportPath::new(target);
            rec.link_target = Some(t.display);
            rec.link_target_b64 = t.raw_b64;
            rec.link_target_inside_root = Some(*inside_root);
            rec.disposition = "skipped:symlink".into();
        }
        Kind::Special(kind) => {
            rec.kind = (*kind).into();
            rec.disposition = "skipped:special".into();
        }
        Kind::WalkError(e) => {
            rec.kind = "unknown".into();
            rec.disposition = "error:walk".into();
            rec.error = Some(e.clone());
        }
        Kind::File => {
            if rec.size.is_some_and(|s| s > ctx.max_file_size) {
                rec.disposition = "skipped:max-file-size".into();
                rec.error = Some(format!(
                    "{} bytes > --max-file-size {}",
                    rec.size.unwrap_or(0),
                    ctx.max_file_size
                ));
            } else {
                hash_file(&item.path, ctx, &mut rec, &mut probes);
            }
        }
    }
    Processed {
        record: rec,
        probes,
    }
}

/// Opens evidence read-only with O_NOATIME (falling back once when refused), O_NOFOLLOW (a path
/// swapped for a link since the walk is not followed) and O_NONBLOCK (a path swapped for a FIFO
/// does not hang the scan; the type check below then refuses it).
fn open_evidence(path: &Path) -> std::io::Result<File> {
    let base = libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC;
    if !NOATIME_REFUSED.load(Ordering::Relaxed) {
        match std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(base | libc::O_NOATIME)
            .open(path)
        {
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
                if !NOATIME_REFUSED.swap(true, Ordering::Relaxed) {
                    eprintln!(
                        "nearmatch: warning: O_NOATIME refused (not the files' owner): access times may be updated by reads"
                    );
                }
            }
            other => return other,
        }
    }
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(base)
        .open(path)
}

/// Whether the kernel refused O_NOATIME at least once during this run.
pub fn noatime_refused() -> bool {
    NOATIME_REFUSED.load(Ordering::Relaxed)
}

fn hash_file(path: &Path, ctx: &Context, rec: &mut FileRecord, probes: &mut Probes) {
    let fail = |rec: &mut FileRecord, what: &str, e: &dyn std::fmt::Display| {
        rec.disposition = format!("error:{what}");
        rec.error = Some(format!("{e}"));
    };
    let mut file = match open_evidence(path) {
        Ok(f) => f,
        Err(e) => return fail(rec, "open", &e),
    };
    match file.metadata() {
        Ok(m) if m.is_file() => {}
        Ok(_) => return fail(rec, "changed", &"no longer a regular file"),
        Err(e) => return fail(rec, "stat", &e),
    }
    // The head decides the path: images are read whole (one decode needs all the bytes), other
    // files stream through the crypto hashes in blocks, so a large video costs no memory.
    let mut head = vec![0u8; 64 * 1024];
    let n = match read_full(&mut file, &mut head) {
        Ok(n) => n,
        Err(e) => return fail(rec, "read", &e),
    };
    head.truncate(n);
    let format = decode::sniff(&head);
    let hashed;
    let mut bytes = head;
    if format.is_some() {
        if let Err(e) = file.take(ctx.max_file_size).read_to_end(&mut bytes) {
            return fail(rec, "read", &e);
        }
        let mut algos = ctx.algos.clone();
        algos.extend([Algorithm::Md5, Algorithm::Sha1, Algorithm::Sha256]);
        hashed = hash_bytes(&bytes, &algos, &ctx.opts);
    } else {
        let mut h = CryptoHasher::new();
        h.update(&bytes);
        let mut buf = vec![0u8; 1 << 20];
        loop {
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => h.update(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return fail(rec, "read", &e),
            }
        }
        hashed = nearmatch::hash::file::FileHashes {
            crypto: Some(h.finish()),
            image_error: Some(Error::NotAnImage(
                decode::describe(&bytes).map(str::to_string),
            )),
            ..Default::default()
        };
    }
    let c = hashed.crypto.expect("crypto hashes requested");
    rec.md5 = Some(c.md5_hex());
    rec.sha1 = Some(c.sha1_hex());
    rec.sha256 = Some(c.sha256_hex());
    rec.file_type = Some(
        format
            .map(|f| f.name().to_string())
            .or_else(|| decode::describe(&bytes).map(str::to_string))
            .unwrap_or_else(|| "unknown".into()),
    );
    rec.extension_mismatch = Some(extension_mismatch(path, format));
    if let Some((w, h)) = hashed.dimensions {
        rec.width = Some(w);
        rec.height = Some(h);
    }
    for (a, d) in &hashed.perceptual {
        rec.hashes.insert(a.name().to_string(), d.to_hex());
    }
    if !hashed.perceptual.is_empty() {
        rec.hash_mode = hashed.mode.map(|m| m.name().to_string());
        rec.hashed_size = hashed.hashed_dimensions.map(|(w, h)| format!("{w}x{h}"));
    }
    rec.pdq_quality = hashed.pdq_quality;
    if hashed.pdq_quality.is_some_and(|q| q < MIN_QUALITY) {
        rec.low_quality = Some(true);
    }
    rec.disposition = match &hashed.image_error {
        None => "unmatched".into(),
        Some(Error::NotAnImage(_)) => "not-image".into(),
        Some(Error::LimitExceeded(m)) => {
            rec.error = Some(m.clone());
            "skipped:dimensions".into()
        }
        Some(e) => {
            rec.error = Some(e.to_string());
            "error:decode".into()
        }
    };
    probes.crypto = Some(c);
    probes.perceptual = hashed.perceptual;
    rec.probe_hashes = (!hashed.pdq_probes.is_empty()).then_some(hashed.pdq_probes.len() as u32);
    probes.pdq_probes = hashed.pdq_probes;
}

fn read_full(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Whether the extension claims another type than the magic bytes: an image under a non-image or
/// other-image extension, or a known image extension on content that is not that image.
pub fn extension_mismatch(path: &Path, format: Option<Format>) -> bool {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let claimed = match ext.as_str() {
        "jpg" | "jpeg" | "jpe" | "jfif" | "jif" => Some(Format::Jpeg),
        "png" => Some(Format::Png),
        "gif" => Some(Format::Gif),
        "bmp" | "dib" => Some(Format::Bmp),
        "tif" | "tiff" => Some(Format::Tiff),
        "webp" => Some(Format::WebP),
        _ => None,
    };
    match (claimed, format) {
        (None, None) => false,
        (a, b) => a != b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_rules() {
        assert!(!extension_mismatch(Path::new("a.JPG"), Some(Format::Jpeg)));
        assert!(extension_mismatch(Path::new("a.txt"), Some(Format::Jpeg)));
        assert!(extension_mismatch(Path::new("a.png"), Some(Format::Jpeg)));
        assert!(extension_mismatch(Path::new("a.jpg"), None));
        assert!(!extension_mismatch(Path::new("notes.txt"), None));
        assert!(extension_mismatch(Path::new("noext"), Some(Format::Png)));
    }
}
