//! One file, one read: open read-only without touching the access time, hash the bytes, decode
//! images once for every perceptual hash.

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use nearmatch::decode::{self, Format};
use nearmatch::hash::crypto::{CryptoHasher, CryptoHashes};
use nearmatch::hash::file::{hash_bytes, FileHashes, HashOptions};
use nearmatch::hash::pdq::MIN_QUALITY;
use nearmatch::hash::Algorithm;
use nearmatch::Error;

use crate::container::{self, Budget, ContainerKind, ContainerLimits, ContainerPolicy};
use crate::custody::iso8601;
use crate::path::ReportPath;
use crate::read::{changed_since, open_evidence, read_full};
use crate::record::{Disposition, ErrorReason, FileRecord, SkipReason};
use crate::sets::{self, Digests, LoadedSet};
use crate::walk::{Item, Kind, Stat};

/// What every file's processing shares.
pub struct Context {
    /// Perceptual algorithms to compute (PDQ always, plus what the sets need).
    pub algos: Vec<Algorithm>,
    /// Hashing options (profile, Pillow, limits, dihedral).
    pub opts: HashOptions,
    /// Files larger than this are skipped unread.
    pub max_file_size: u64,
    /// Per-file budget for decoding and hashing an image (`None`: no budget, decode inline).
    pub decode_timeout: Option<Duration>,
    /// Which containers to expand.
    pub containers: ContainerPolicy,
    /// Limits on expanding them.
    pub container_limits: ContainerLimits,
    /// Video hashing and the sets frames and videos are matched against (`None`: videos are
    /// recorded like any other non-image file).
    pub video: Option<std::sync::Arc<crate::video::scan::VideoContext>>,
    /// Re-hash every disk image's medium and compare with the hashes it stores (`--verify-image`).
    pub verify_image: bool,
    /// Carve pictures from disk images' free space (`--carve`).
    pub carve: bool,
    /// What each disk image met so far is (format, metadata, verification), for the report
    /// header.
    pub disk_images: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
    /// Exact sets of known-good files (`--ignore-set`): a file they hold is `known-good`, not
    /// decoded.
    pub ignore_sets: std::sync::Arc<Vec<LoadedSet>>,
    /// The match sets (their exact ones overrule the ignore sets: a match always wins).
    pub match_sets: std::sync::Arc<Vec<LoadedSet>>,
    /// Decode known-good images anyway, so perceptual match sets can overrule the ignore sets
    /// too (`--decode-known-good`); an image that then matches nothing is still `known-good`.
    pub decode_known_good: bool,
}

/// Notes on the record every ignore-set entry holding the file's bytes (`known_good`); true
/// when the file is known-good and is not to be examined further: an ignore set holds it and no
/// exact match set does (a match always wins: a careless exclusion list never hides a file a
/// match set names; such a file is processed in full and reported `matched`). Costs one lookup
/// per ignore set (a binary search in its sorted, memory-mapped digests).
pub(crate) fn known_good(rec: &mut FileRecord, crypto: &CryptoHashes, ctx: &Context) -> bool {
    if ctx.ignore_sets.is_empty() {
        return false;
    }
    rec.known_good = sets::exact_hits(&ctx.ignore_sets, crypto);
    !rec.known_good.is_empty() && !sets::in_exact_sets(&ctx.match_sets, crypto)
}

/// [`known_good`] for an image: also false (decode it) under `--decode-known-good`, so that
/// perceptual match sets can overrule the ignore sets; the hit stays noted on the record and
/// the scan makes it `known-good` if it then matches nothing.
pub(crate) fn skip_decode(rec: &mut FileRecord, crypto: &CryptoHashes, ctx: &Context) -> bool {
    known_good(rec, crypto, ctx) && !ctx.decode_known_good
}

/// The hashes of a known-good image's bytes: crypto only, nothing decoded.
pub(crate) fn known_good_hashes(crypto: CryptoHashes) -> FileHashes {
    FileHashes {
        crypto: Some(crypto),
        ..Default::default()
    }
}

/// Decodes abandoned after exceeding the budget that may still be running. Each holds its file's
/// bytes and decode buffers, so once this many exist the scan stops instead of piling up more.
pub const MAX_ABANDONED: usize = 4;

/// Decodes abandoned after a timeout that are still running. (A decode that returns in the
/// instant between the timeout and the abandonment stays counted: the count errs high.)
static ABANDONED: AtomicUsize = AtomicUsize::new(0);

/// Number of abandoned decodes still running.
pub fn abandoned() -> usize {
    ABANDONED.load(Ordering::SeqCst)
}

/// The outcome of processing before matching: the record (disposition still provisional) and
/// the digests matching needs.
pub struct Processed {
    /// The record; `disposition` is final except that a match turns it into `matched`.
    pub record: FileRecord,
    /// What matching reads.
    pub digests: Digests,
    /// The file was not processed because [`MAX_ABANDONED`] decodes are already stuck: the record
    /// is a placeholder that must not be journaled (a resume processes the file again).
    pub stopped: bool,
    /// Position, in the same group, of the container this record was found in.
    pub parent: Option<usize>,
}

impl Processed {
    /// A record with nothing to match.
    pub(crate) fn plain(record: FileRecord, parent: Option<usize>) -> Self {
        Processed {
            record,
            digests: Digests::default(),
            stopped: false,
            parent,
        }
    }
}

/// Processes one walked item: its record, then (for a container) the records of its members
/// and theirs, depth first in the containers' own order. `index` is the item's record index;
/// members' indices and parents are fixed when the group is journaled.
pub fn process(index: u64, item: &Item, ctx: &Context) -> Vec<Processed> {
    let mut rec = FileRecord::new(index, ReportPath::new(&item.path));
    if let Some(m) = &item.meta {
        rec.size = Some(m.len);
        rec.mtime = Some(iso8601(m.mtime.0, m.mtime.1));
        rec.ctime = Some(iso8601(m.ctime.0, m.ctime.1));
        rec.atime = Some(iso8601(m.atime.0, m.atime.1));
    }
    let mut digests = Digests::default();
    let mut stopped = false;
    let mut members = Vec::new();
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
            rec.disposition = Disposition::Skipped(SkipReason::Symlink);
        }
        Kind::Special(kind) => {
            rec.kind = (*kind).into();
            rec.disposition = Disposition::Skipped(SkipReason::Special);
        }
        Kind::WalkError(e) => {
            rec.kind = "unknown".into();
            rec.disposition = Disposition::Error(ErrorReason::Walk);
            rec.error = Some(e.clone());
        }
        Kind::File => {
            if rec.size.is_some_and(|s| s > ctx.max_file_size) {
                rec.disposition = Disposition::Skipped(SkipReason::MaxFileSize);
                rec.error = Some(format!(
                    "{} bytes > --max-file-size {}",
                    rec.size.unwrap_or(0),
                    ctx.max_file_size
                ));
            } else {
                stopped = hash_file(
                    &item.path,
                    item.meta.as_ref(),
                    ctx,
                    &mut rec,
                    &mut digests,
                    &mut members,
                ) == Flow::Stopped;
            }
        }
    }
    let mut group = Vec::with_capacity(1 + members.len());
    group.push(Processed {
        record: rec,
        digests,
        stopped,
        parent: None,
    });
    group.extend(members);
    group
}

/// Whether a file was processed or the scan must stop before it.
#[derive(PartialEq, Eq)]
pub(crate) enum Flow {
    Done,
    Stopped,
}

/// Why a supervised decode produced no hashes.
pub(crate) enum Failure {
    /// It ran past the budget and was abandoned.
    Timeout(Duration),
    /// It panicked outside the decoders' own guard (in hashing, or a decoder abort path).
    Panic(String),
    /// The worker thread could not be started.
    Spawn(std::io::Error),
    /// Too many abandoned decodes: not started.
    Stopped,
}

/// Decodes and hashes `bytes` on a worker thread under the time budget.
///
/// A decode cannot be cancelled, so a stuck one is abandoned: its worker thread runs on, detached,
/// and is counted in [`ABANDONED`] (the scanning thread starts a fresh worker for its next file).
/// Once [`MAX_ABANDONED`] are counted no further decode starts and the scan stops (the files not
/// started are left for `--resume`). Panics anywhere in decoding or hashing become
/// [`Failure::Panic`] for this file only.
pub(crate) fn supervised_hash(
    path: &Path,
    bytes: Vec<u8>,
    algos: Vec<Algorithm>,
    ctx: &Context,
) -> Result<FileHashes, Failure> {
    if abandoned() >= MAX_ABANDONED {
        return Err(Failure::Stopped);
    }
    let hook = test_hook::for_path(path, &["pause", "panic"]);
    let opts = ctx.opts.clone();
    let work = move || {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            test_hook::run(hook.as_deref());
            hash_bytes(&bytes, &algos, &opts)
        }))
        .map_err(|p| panic_message(p.as_ref()))
    };
    let Some(budget) = ctx.decode_timeout else {
        return work().map_err(Failure::Panic);
    };
    // Each scanning thread keeps one decode worker and reuses it while it behaves, so the budget
    // costs two channel messages per image, not a thread spawn.
    let worker = match WORKER.with(|w| w.borrow_mut().take()) {
        Some(w) => w,
        None => DecodeWorker::spawn().map_err(Failure::Spawn)?,
    };
    if worker.jobs.send(Box::new(work)).is_err() {
        return Err(Failure::Panic(
            "decode worker ended without a result".into(),
        ));
    }
    match worker.results.recv_timeout(budget) {
        Ok(r) => {
            WORKER.with(|w| *w.borrow_mut() = Some(worker));
            r.map_err(Failure::Panic)
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            // Dropping `worker` abandons the thread: it exits when the stuck decode returns
            // (its result has nowhere to go) or with the process.
            ABANDONED.fetch_add(1, Ordering::SeqCst);
            Err(Failure::Timeout(budget))
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(Failure::Panic(
            "decode worker ended without a result".into(),
        )),
    }
}

/// A decode job: hashes of one file, or the message of a panic.
type Job = Box<dyn FnOnce() -> Result<FileHashes, String> + Send>;

/// A thread that runs decode jobs one at a time, supervised by the scanning thread that owns it.
struct DecodeWorker {
    jobs: mpsc::Sender<Job>,
    results: mpsc::Receiver<Result<FileHashes, String>>,
}

impl DecodeWorker {
    fn spawn() -> std::io::Result<Self> {
        let (jobs, job_rx) = mpsc::channel::<Job>();
        let (result_tx, results) = mpsc::channel();
        std::thread::Builder::new()
            .name("nearmatch-decode".into())
            .spawn(move || {
                for job in job_rx {
                    if result_tx.send(job()).is_err() {
                        // Abandoned, and the stuck decode has now returned: its memory is free.
                        ABANDONED.fetch_sub(1, Ordering::SeqCst);
                        break;
                    }
                }
            })?;
        Ok(DecodeWorker { jobs, results })
    }
}

thread_local! {
    /// The current scanning thread's decode worker (taken while a job runs).
    static WORKER: std::cell::RefCell<Option<DecodeWorker>> = const { std::cell::RefCell::new(None) };
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Test hooks, compiled into debug builds only (the integration tests run the debug binary):
/// `NEARMATCH_TEST_HOOK=<action>:<file name>[:<flag path>][,...]` makes the supervised decode of
/// the image file with exactly that name
/// * `pause`: create `<flag path>.waiting`, then wait until `<flag path>` exists (at most 120 s),
///   so a test can change the tree at a known point of the scan, or simulate a stuck decoder;
/// * `panic`: panic outside the decoders' own guard;
/// * `pause-open`: as `pause`, but for any regular file, after it was opened and checked against
///   the walk and before it is read (so a test can change it while it is being read).
///
/// Release builds ignore the variable entirely.
mod test_hook {
    use std::path::Path;

    /// The hook action for `path`, if the hook names it.
    pub fn for_path(path: &Path, actions: &[&str]) -> Option<String> {
        if !cfg!(debug_assertions) {
            return None;
        }
        let specs = std::env::var("NEARMATCH_TEST_HOOK").ok()?;
        let file_name = path.file_name()?;
        specs.split(',').find_map(|spec| {
            let mut parts = spec.splitn(3, ':');
            let (action, name) = (parts.next()?, parts.next()?);
            (file_name == std::ffi::OsStr::new(name) && actions.contains(&action))
                .then(|| format!("{action}:{}", parts.next().unwrap_or("")))
        })
    }

    /// Runs the hook action (inside the supervised worker).
    pub fn run(action: Option<&str>) {
        if !cfg!(debug_assertions) {
            return;
        }
        let Some((what, flag)) = action.and_then(|a| a.split_once(':')) else {
            return;
        };
        match what {
            "pause" | "pause-open" => {
                let _ = std::fs::write(format!("{flag}.waiting"), b"");
                let until = std::time::Instant::now() + std::time::Duration::from_secs(120);
                while !Path::new(flag).exists() && std::time::Instant::now() < until {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
            }
            "panic" => panic!("test hook: injected panic"),
            _ => {}
        }
    }
}

fn hash_file(
    path: &Path,
    walked: Option<&Stat>,
    ctx: &Context,
    rec: &mut FileRecord,
    digests: &mut Digests,
    members: &mut Vec<Processed>,
) -> Flow {
    use ErrorReason as R;
    let fail = |rec: &mut FileRecord, why: ErrorReason, e: &dyn std::fmt::Display| {
        rec.disposition = Disposition::Error(why);
        rec.error = Some(format!("{e}"));
        Flow::Done
    };
    let mut file = match open_evidence(path) {
        Ok(f) => f,
        Err(e) => return fail(rec, R::Open, &e),
    };
    let opened = match file.metadata() {
        Ok(m) if m.is_file() => m,
        Ok(_) => return fail(rec, R::Changed, &"no longer a regular file"),
        Err(e) => return fail(rec, R::Stat, &e),
    };
    if let Some(why) = changed_since(walked, &opened) {
        return fail(rec, R::Changed, &why);
    }
    test_hook::run(test_hook::for_path(path, &["pause-open"]).as_deref());
    // The head decides the path: images are read whole (one decode needs all the bytes), other
    // files stream through the crypto hashes in blocks, so a large video costs no memory.
    let mut head = vec![0u8; 64 * 1024];
    let n = match read_full(&mut file, &mut head) {
        Ok(n) => n,
        Err(e) => return fail(rec, R::Read, &e),
    };
    head.truncate(n);
    let format = decode::sniff(&head);
    let mut previews = Vec::new();
    let mut animation = None;
    // Container magic needs at most the first 1024 bytes (tar's is at 257, PDF's anywhere in
    // the first 1024).
    let head_copy = head[..head.len().min(1024)].to_vec();
    let hashed;
    let mut bytes = head;
    let mut read_len = bytes.len() as u64;
    let mut described = decode::describe(&bytes).map(str::to_string);
    let mut is_known_good = false;
    if format.is_some() {
        if let Err(e) = (&mut file).take(ctx.max_file_size).read_to_end(&mut bytes) {
            return fail(rec, R::Read, &e);
        }
        read_len = bytes.len() as u64;
        // The crypto hashes first: a known-good file is not decoded at all.
        let crypto = CryptoHashes::of(&bytes);
        if skip_decode(rec, &crypto, ctx) {
            is_known_good = true;
            hashed = known_good_hashes(crypto);
        } else {
            previews = crate::member::previews_of(format, &bytes, ctx);
            animation = crate::member::animation_of(format, &bytes, ctx);
            hashed = match supervised_hash(path, bytes, ctx.algos.clone(), ctx) {
                Ok(mut h) => {
                    h.crypto = Some(crypto);
                    h
                }
                Err(f) => return fail_decode(rec, f),
            };
        }
    } else {
        let mut h = CryptoHasher::new();
        h.update(&bytes);
        // A short head already met the end of the file (a change after that shows in the
        // mtime check below); only longer files need the block buffer.
        let mut buf = if n == 64 * 1024 {
            vec![0u8; 1 << 20]
        } else {
            Vec::new()
        };
        while !buf.is_empty() {
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    h.update(&buf[..n]);
                    read_len += n as u64;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return fail(rec, R::Read, &e),
            }
        }
        hashed = FileHashes {
            crypto: Some(h.finish()),
            image_error: Some(Error::NotAnImage(described.clone())),
            ..Default::default()
        };
    }
    // Hashes of bytes that were changing as they were read describe no state of the file.
    if read_len != opened.len() {
        return fail(
            rec,
            R::Changed,
            &format!(
                "size changed while reading: {} bytes at open, {read_len} read",
                opened.len()
            ),
        );
    }
    match file.metadata() {
        Ok(after) if Stat::of(&after).mtime != Stat::of(&opened).mtime => {
            return fail(
                rec,
                R::Changed,
                &"modified while being read (mtime changed)",
            )
        }
        _ => {}
    }
    if format.is_some() {
        described = None;
    }
    fill(rec, digests, hashed, format, described, path);
    if !is_known_good && format.is_none() {
        if let Some(c) = &digests.crypto {
            is_known_good = known_good(rec, c, ctx);
        }
    }
    if is_known_good {
        // Not decoded (an image) or not examined as a video; a container is still expanded
        // below (then its disposition is `container`, the hit stays in `known_good`).
        rec.disposition = Disposition::KnownGood;
    }
    for (name, t) in previews {
        let budget = Budget::new(ctx.container_limits, opened.len());
        let outer = path.as_os_str().as_bytes().to_vec();
        if crate::member::add_preview(rec, members, &name, t, &outer, 1, &budget, ctx)
            == Flow::Stopped
        {
            return Flow::Stopped;
        }
    }
    if let (Some(bytes), Some(format)) = (animation, format) {
        let budget = Budget::new(ctx.container_limits, opened.len());
        let outer = path.as_os_str().as_bytes().to_vec();
        crate::member::add_frames(rec, members, &bytes, format, &outer, 1, &budget, ctx);
    }
    if let (None, Some(v)) = (format, &ctx.video) {
        if let Some(kind) = crate::video::VideoKind::sniff(&head_copy) {
            if !is_known_good {
                crate::video::scan::add_video(rec, members, &file, kind, path, v, ctx);
            }
            return Flow::Done;
        }
    }
    if format.is_none() && ctx.containers != ContainerPolicy::None {
        let kind = ContainerKind::sniff(&head_copy).or_else(|| {
            // A self-extracting archive: an executable stub, the ZIP after it.
            let exe = head_copy.starts_with(b"MZ") || head_copy.starts_with(b"\x7fELF");
            (exe && file.seek(SeekFrom::Start(0)).is_ok() && container::zip_opens(&mut file))
                .then_some(ContainerKind::Zip)
        });
        if let Some(kind) = kind {
            if let Err(e) = file.seek(SeekFrom::Start(0)) {
                return fail(rec, R::Read, &e);
            }
            let budget = Budget::new(ctx.container_limits, opened.len());
            let outer = path.as_os_str().as_bytes().to_vec();
            let mut source = std::io::BufReader::new(&mut file);
            let flow = crate::member::expand_container(
                rec,
                members,
                kind,
                &mut source,
                &outer,
                1,
                &budget,
                ctx,
            );
            if flow == Flow::Stopped {
                return Flow::Stopped;
            }
        } else if crate::member::expand_image(
            rec,
            members,
            &file,
            opened.len(),
            path,
            &head_copy,
            ctx,
        ) == Flow::Stopped
        {
            return Flow::Stopped;
        }
    }
    Flow::Done
}

/// Records a failed supervised decode; `Stopped` when the scan must stop before this file.
pub(crate) fn fail_decode(rec: &mut FileRecord, f: Failure) -> Flow {
    let (why, msg) = match f {
        Failure::Timeout(d) => (
            ErrorReason::Timeout,
            format!(
                "decoding took longer than --decode-timeout {}s; abandoned",
                d.as_secs_f64()
            ),
        ),
        Failure::Panic(m) => (ErrorReason::Panic, format!("panicked: {m}")),
        Failure::Spawn(e) => (
            ErrorReason::Resources,
            format!("cannot start a decode thread: {e}"),
        ),
        Failure::Stopped => return Flow::Stopped,
    };
    rec.disposition = Disposition::Error(why);
    rec.error = Some(msg);
    Flow::Done
}

/// Fills a record from the hashes of its bytes: crypto digests, type, dimensions, perceptual
/// hashes, quality, and the disposition the decode implies (before matching).
pub(crate) fn fill(
    rec: &mut FileRecord,
    digests: &mut Digests,
    hashed: FileHashes,
    format: Option<Format>,
    described: Option<String>,
    name: &Path,
) {
    // Animation frames have pixels but no bytes of their own: no crypto hashes.
    if let Some(c) = &hashed.crypto {
        rec.md5 = Some(c.md5_hex());
        rec.sha1 = Some(c.sha1_hex());
        rec.sha256 = Some(c.sha256_hex());
    }
    rec.file_type = Some(
        format
            .map(|f| f.name().to_string())
            .or(described)
            .unwrap_or_else(|| "unknown".into()),
    );
    rec.extension_mismatch = Some(extension_mismatch(name, format));
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
        rec.exif_orientation = hashed.exif_orientation;
    }
    rec.pdq_quality = hashed.pdq_quality;
    if hashed.pdq_quality.is_some_and(|q| q < MIN_QUALITY) {
        rec.low_quality = Some(true);
    }
    rec.disposition = match &hashed.image_error {
        None => Disposition::Unmatched,
        Some(Error::NotAnImage(_)) => Disposition::NotImage,
        Some(Error::LimitExceeded(m)) => {
            rec.error = Some(m.clone());
            Disposition::Skipped(SkipReason::Dimensions)
        }
        // A feature refused on purpose (TIFF CIELab): not a damaged file.
        Some(e @ Error::Unsupported { .. }) => {
            rec.error = Some(e.to_string());
            Disposition::Skipped(SkipReason::Unsupported)
        }
        Some(e) => {
            rec.error = Some(e.to_string());
            Disposition::Error(ErrorReason::Decode)
        }
    };
    digests.crypto = hashed.crypto;
    digests.perceptual = hashed.perceptual;
    rec.probe_hashes = (!hashed.pdq_probes.is_empty()).then_some(hashed.pdq_probes.len() as u32);
    digests.pdq_probes = hashed.pdq_probes;
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
        "heic" | "heif" | "hif" | "avif" => Some(Format::Heif),
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
