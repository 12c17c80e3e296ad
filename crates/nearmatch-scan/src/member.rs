//! Container members: each one read once from its container, counted against the evidence
//! item's budget, and turned into a record (and, for a nested container, the records below it).
//!
//! Members are read in the container's order (decompression is sequential); those held in
//! memory (images, nested containers, at most the member-bytes limit each) are hashed in
//! parallel batches, and their records are put back in the container's order. Other members
//! stream through the crypto hashes, so a large video in an archive costs no memory.

use std::ffi::OsStr;
use std::io::{Cursor, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nearmatch::decode::{self, Format};
use nearmatch::hash::crypto::{CryptoHasher, CryptoHashes};
use nearmatch::hash::file::{hash_image, FileHashes};
use nearmatch::Error;
use rayon::prelude::*;

use crate::container::pdf::{raster_image, RasterSpec};
use crate::container::{
    self, Budget, ContainerError, ContainerKind, Counted, MemberHeader, MemberKind, Next, Source,
    Visit,
};
use crate::custody::iso8601;
use crate::disk;
use crate::path::ReportPath;
use crate::process::{
    fail_decode, fill, known_good, known_good_hashes, skip_decode, supervised_hash, Context, Flow,
    Processed,
};
use crate::record::{Disposition, ErrorReason, FileRecord, SkipReason};
use crate::sets::Digests;

/// Members held in memory per parallel batch, at most.
const BATCH_MEMBERS: usize = 16;
/// Bytes held in memory per parallel batch, at most (one larger member is still one batch).
const BATCH_BYTES: usize = 64 << 20;

/// A member read into memory, to be hashed (and expanded, if it is a container).
struct Held {
    record: FileRecord,
    path: Vec<u8>,
    bytes: Vec<u8>,
    format: Option<Format>,
    container: Option<ContainerKind>,
    /// Raw samples and how to lay them out (a PDF's Flate image), instead of a file.
    raster: Option<RasterSpec>,
    depth: u32,
}

/// A member in the container's order: its finished record, or bytes still to hash.
enum Slot {
    Ready(Processed),
    Held(Held),
}

/// `parent!/name`: the virtual path of a member.
fn member_path(parent: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(parent.len() + 2 + name.len());
    p.extend_from_slice(parent);
    p.extend_from_slice(b"!/");
    p.extend_from_slice(name);
    p
}

fn as_path(bytes: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(bytes))
}

/// Expands the container whose record is `rec` (position 0 of its group; `out[i]` is position
/// `i + 1`): one record per member, in the container's order, each followed by its own
/// members. Sets the container record's disposition, member and descendant counts, and error.
#[allow(clippy::too_many_arguments)]
pub(crate) fn expand_container(
    rec: &mut FileRecord,
    out: &mut Vec<Processed>,
    kind: ContainerKind,
    source: &mut dyn Source,
    path: &[u8],
    depth: u32,
    budget: &Budget,
    ctx: &Context,
) -> Flow {
    let limits = *budget.limits();
    let naming = Naming {
        name: kind.name(),
        sep: b"!/",
        members: Some(limits.members),
    };
    expand_with(rec, out, &naming, path, depth, budget, ctx, |visit| {
        container::expand(kind, source, path, &limits, visit)
    })
}

/// How a container's members are named and limited.
pub(crate) struct Naming {
    /// The container format's name (`zip`, `fat`, …).
    pub(crate) name: &'static str,
    /// Between the container's path and a member's name: `!/`, or `/` for the files of a file
    /// system inside a partition (`disk.img!/p1/DCIM/x.jpg`).
    pub(crate) sep: &'static [u8],
    /// Members recorded at most (`None` for file systems: a volume holds what it holds).
    pub(crate) members: Option<u64>,
}

/// Expands a container whose reader is `run` (it calls the visitor once per member): see
/// [`expand_container`].
#[allow(clippy::too_many_arguments)]
pub(crate) fn expand_with(
    rec: &mut FileRecord,
    out: &mut Vec<Processed>,
    naming: &Naming,
    path: &[u8],
    depth: u32,
    budget: &Budget,
    ctx: &Context,
    run: impl FnOnce(&mut Visit<'_>) -> Result<(), ContainerError>,
) -> Flow {
    let kind_name = naming.name;
    rec.container = Some(kind_name.into());
    let limits = *budget.limits();
    if depth > limits.depth {
        rec.disposition = Disposition::Skipped(SkipReason::Limit);
        rec.error = Some(format!(
            "depth limit: a {} container nested deeper than {} levels is not opened",
            kind_name, limits.depth
        ));
        return Flow::Done;
    }
    let mut batch: Vec<Slot> = Vec::new();
    let mut held_bytes = 0usize;
    let mut members = 0u64;
    let mut stop: Option<String> = None;
    let mut stopped = false;
    let first = out.len();
    let result = {
        let mut visit = |h: MemberHeader, r: &mut dyn Read| -> Next {
            if naming.members.is_some_and(|max| members >= max) {
                let why = format!(
                    "members limit: more than {} members in one container; the rest were not examined",
                    limits.members
                );
                stop = Some(why.clone());
                return Next::Stop(why);
            }
            members += 1;
            let slot = read_member(h, r, path, naming.sep, depth, budget, ctx);
            let budget_hit = matches!(&slot, Slot::Ready(p) if p.record.disposition == Disposition::Skipped(SkipReason::Limit)
                && p.record.error.as_deref().is_some_and(|e| e.starts_with("expanded-bytes") || e.starts_with("expansion-ratio")));
            if let Slot::Held(h) = &slot {
                held_bytes += h.bytes.len();
            }
            batch.push(slot);
            let held = batch.iter().filter(|s| matches!(s, Slot::Held(_))).count();
            if held >= BATCH_MEMBERS || held_bytes >= BATCH_BYTES {
                stopped |= flush(&mut batch, out, budget, ctx);
                held_bytes = 0;
            }
            if budget_hit {
                // The evidence item's budget is spent: nothing more of it is expanded.
                let why =
                    "expansion stopped: the evidence file's expansion budget is spent".to_string();
                stop = Some(why.clone());
                return Next::Stop(why);
            }
            Next::Continue
        };
        run(&mut visit)
    };
    stopped |= flush(&mut batch, out, budget, ctx);
    rec.members = Some(members);
    rec.descendants = Some((out.len() - first) as u64);
    rec.disposition = Disposition::Container;
    match result {
        Ok(()) => rec.error = stop,
        Err(ContainerError::Unsupported(why)) => {
            rec.disposition = Disposition::Skipped(SkipReason::Unsupported);
            rec.error = Some(why);
        }
        Err(ContainerError::Limit(why)) => {
            if members == 0 {
                rec.disposition = Disposition::Skipped(SkipReason::Limit);
            }
            rec.error = Some(why)
        }
        Err(ContainerError::Encrypted(why)) => {
            rec.disposition = Disposition::Skipped(SkipReason::Encrypted);
            rec.error = Some(why);
        }
        Err(ContainerError::Corrupt(why)) => {
            if members == 0 {
                rec.disposition = Disposition::Error(ErrorReason::Corrupt);
            }
            rec.error = Some(why);
        }
    }
    if stopped {
        Flow::Stopped
    } else {
        Flow::Done
    }
}

/// Hashes the held members of `batch` in parallel and appends every record in order; whether
/// the scan must stop (too many stuck decodes).
fn flush(batch: &mut Vec<Slot>, out: &mut Vec<Processed>, budget: &Budget, ctx: &Context) -> bool {
    let groups: Vec<(Vec<Processed>, bool)> = std::mem::take(batch)
        .into_par_iter()
        .map(|slot| match slot {
            Slot::Ready(p) => (vec![p], false),
            Slot::Held(h) => hash_held(h, budget, ctx),
        })
        .collect();
    let mut stopped = false;
    for (local, st) in groups {
        stopped |= st;
        // Group position of local[0]: the container is position 0, out[i] is i + 1.
        let base = out.len() + 1;
        for mut p in local {
            p.parent = Some(match p.parent {
                None => 0,
                Some(q) => base + q,
            });
            out.push(p);
        }
    }
    stopped
}

/// Reads one member: a finished record for links, encrypted, broken and streamed members, or
/// the held bytes of an image or a nested container.
fn read_member(
    h: MemberHeader,
    r: &mut dyn Read,
    parent: &[u8],
    sep: &[u8],
    depth: u32,
    budget: &Budget,
    ctx: &Context,
) -> Slot {
    let path = [parent, sep, &h.name].concat();
    let mut rec = FileRecord::new(0, ReportPath::new(as_path(&path)));
    rec.depth = Some(depth);
    rec.size = h.size;
    rec.mtime = h.mtime.map(|t| iso8601(t, 0));
    if let Some(t) = h.times {
        rec.mtime = t.modified;
        rec.atime = t.accessed;
        rec.ctime = t.changed;
        rec.created = t.created;
    }
    rec.crc32 = h.crc32.map(|c| format!("{c:08x}"));
    rec.fs_id = h.fs_id;
    rec.deleted = h.deleted.then_some(true);
    rec.recovery = h.recovery;
    if h.offset.is_some() {
        rec.offset = h.offset;
    }
    rec.carved = h.carved.then_some(true);
    let done = |mut rec: FileRecord, d: Disposition, why: Option<String>| {
        rec.disposition = d;
        rec.error = why;
        Slot::Ready(Processed::plain(rec, None))
    };
    match h.kind {
        MemberKind::Symlink(target) => {
            rec.kind = "symlink".into();
            let t = ReportPath::new(as_path(&target));
            rec.link_target = Some(t.display);
            rec.link_target_b64 = t.raw_b64;
            return done(rec, Disposition::Skipped(SkipReason::Symlink), None);
        }
        MemberKind::Special(what) => {
            rec.kind = "special".into();
            return done(rec, Disposition::Skipped(SkipReason::Special), Some(what));
        }
        MemberKind::Encrypted => {
            return done(
                rec,
                Disposition::Skipped(SkipReason::Encrypted),
                Some(
                    "encrypted: content not read (name, size and CRC as the container states them)"
                        .into(),
                ),
            )
        }
        MemberKind::Unsupported(why) => {
            return done(
                rec,
                Disposition::Skipped(SkipReason::Unsupported),
                Some(why),
            )
        }
        // A deleted file's data being gone is what deletion does, not damage.
        MemberKind::Broken(why) if rec.deleted == Some(true) => {
            return done(
                rec,
                Disposition::Skipped(SkipReason::Unrecoverable),
                Some(why),
            )
        }
        MemberKind::Broken(why) => {
            return done(rec, Disposition::Error(ErrorReason::Corrupt), Some(why))
        }
        MemberKind::Limit(why) => {
            return done(rec, Disposition::Skipped(SkipReason::Limit), Some(why))
        }
        MemberKind::Raster(spec) => {
            // The reader already decoded at most the samples the image needs; count them.
            let mut counted = Counted::new(r, budget, budget.limits().member_bytes);
            let mut bytes = Vec::new();
            if let Err(e) = counted.read_to_end(&mut bytes) {
                let why = counted.limit.clone().unwrap_or_else(|| e.to_string());
                return done(rec, Disposition::Skipped(SkipReason::Limit), Some(why));
            }
            rec.size = Some(bytes.len() as u64);
            return Slot::Held(Held {
                record: rec,
                path,
                bytes,
                format: None,
                container: None,
                raster: Some(spec),
                depth,
            });
        }
        MemberKind::File => {}
    }
    let cap = budget.limits().member_bytes;
    let mut counted = Counted::new(r, budget, u64::MAX);
    let mut head = vec![0u8; 64 * 1024];
    let failed = |rec: FileRecord, counted: &Counted<'_>, e: std::io::Error| {
        if let Some(l) = &counted.limit {
            return done(
                rec,
                Disposition::Skipped(SkipReason::Limit),
                Some(l.clone()),
            );
        }
        let msg = e.to_string();
        let lower = msg.to_ascii_lowercase();
        if lower.contains("checksum") || lower.contains("crc") {
            done(
                rec,
                Disposition::Error(ErrorReason::Crc),
                Some(format!("CRC mismatch: {msg}")),
            )
        } else {
            done(
                rec,
                Disposition::Error(ErrorReason::Corrupt),
                Some(format!("cannot decompress: {msg}")),
            )
        }
    };
    let n = match read_full(&mut counted, &mut head) {
        Ok(n) => n,
        Err(e) => return failed(rec, &counted, e),
    };
    head.truncate(n);
    let format = decode::sniff(&head);
    let kind = if format.is_some() {
        None
    } else {
        ContainerKind::sniff(&head).or_else(|| {
            (head.starts_with(b"MZ") && n as u64 == 64 * 1024).then_some(ContainerKind::Zip)
        })
    };
    if format.is_some() || kind.is_some() {
        let mut bytes = head;
        if bytes.len() as u64 == 64 * 1024 {
            // One byte past the cap tells "exactly the cap" from "more".
            let room = cap.saturating_sub(bytes.len() as u64);
            if let Err(e) = (&mut counted).take(room + 1).read_to_end(&mut bytes) {
                return failed(rec, &counted, e);
            }
            if bytes.len() as u64 > cap {
                return done(
                    rec,
                    Disposition::Skipped(SkipReason::Limit),
                    Some(format!(
                        "member-bytes limit: an image or container member larger than {cap} bytes is not held in memory"
                    )),
                );
            }
        }
        rec.size = Some(bytes.len() as u64);
        return Slot::Held(Held {
            record: rec,
            path,
            bytes,
            format,
            container: kind,
            raster: None,
            depth,
        });
    }
    // Anything else streams through the crypto hashes.
    let described = decode::describe(&head).map(str::to_string);
    let mut hasher = CryptoHasher::new();
    hasher.update(&head);
    let mut total = head.len() as u64;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match counted.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => {
                hasher.update(&buf[..k]);
                total += k as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return failed(rec, &counted, e),
        }
    }
    rec.size = Some(total);
    let mut digests = Digests::default();
    let hashed = FileHashes {
        crypto: Some(hasher.finish()),
        image_error: Some(Error::NotAnImage(described.clone())),
        ..Default::default()
    };
    fill(
        &mut rec,
        &mut digests,
        hashed,
        None,
        described,
        as_path(&path),
    );
    if let Some(c) = &digests.crypto {
        if known_good(&mut rec, c, ctx) {
            rec.disposition = Disposition::KnownGood;
        }
    }
    Slot::Ready(Processed {
        record: rec,
        digests,
        stopped: false,
        parent: None,
    })
}

/// Hashes a held member (decoding an image once for every hash), or expands a nested
/// container; its local group (its record first) and whether the scan must stop.
fn hash_held(h: Held, budget: &Budget, ctx: &Context) -> (Vec<Processed>, bool) {
    let Held {
        mut record,
        path,
        bytes,
        format,
        container,
        raster,
        depth,
    } = h;
    let mut digests = Digests::default();
    let mut out = Vec::new();
    let mut stopped = false;
    if let Some(spec) = raster {
        let hashed = hash_raster(&spec, &bytes, ctx);
        fill(
            &mut record,
            &mut digests,
            hashed,
            None,
            Some("pdf-raster".into()),
            as_path(&path),
        );
    } else if format.is_some() {
        // The crypto hashes first: a known-good member is not decoded at all.
        let crypto = CryptoHashes::of(&bytes);
        if skip_decode(&mut record, &crypto, ctx) {
            fill(
                &mut record,
                &mut digests,
                known_good_hashes(crypto),
                format,
                None,
                as_path(&path),
            );
            record.disposition = Disposition::KnownGood;
            let mut group = vec![Processed {
                record,
                digests,
                stopped: false,
                parent: None,
            }];
            group.extend(out);
            return (group, false);
        }
        let previews = previews_of(format, &bytes, ctx);
        let animation = animation_of(format, &bytes, ctx);
        match supervised_hash(as_path(&path), bytes, ctx.algos.clone(), ctx) {
            Ok(mut hashed) => {
                hashed.crypto = Some(crypto);
                fill(
                    &mut record,
                    &mut digests,
                    hashed,
                    format,
                    None,
                    as_path(&path),
                )
            }
            Err(f) => stopped = fail_decode(&mut record, f) == Flow::Stopped,
        }
        for (name, t) in previews {
            let flow = add_preview(
                &mut record,
                &mut out,
                &name,
                t,
                &path,
                depth + 1,
                budget,
                ctx,
            );
            stopped |= flow == Flow::Stopped;
        }
        if let (Some(bytes), Some(format)) = (animation, format) {
            add_frames(
                &mut record,
                &mut out,
                &bytes,
                format,
                &path,
                depth + 1,
                budget,
                ctx,
            );
        }
    } else if let Some(kind) = container {
        let mut hasher = CryptoHasher::new();
        hasher.update(&bytes);
        let described = decode::describe(&bytes).map(str::to_string);
        let hashed = FileHashes {
            crypto: Some(hasher.finish()),
            image_error: Some(Error::NotAnImage(described.clone())),
            ..Default::default()
        };
        fill(
            &mut record,
            &mut digests,
            hashed,
            None,
            described,
            as_path(&path),
        );
        if let Some(c) = &digests.crypto {
            // Noted only: a known-good archive's members are still examined.
            known_good(&mut record, c, ctx);
        }
        let mut source = Cursor::new(bytes.as_slice());
        stopped = expand_container(
            &mut record,
            &mut out,
            kind,
            &mut source,
            &path,
            depth + 1,
            budget,
            ctx,
        ) == Flow::Stopped;
    }
    let mut group = Vec::with_capacity(1 + out.len());
    group.push(Processed {
        record,
        digests,
        stopped,
        parent: None,
    });
    group.extend(out);
    (group, stopped)
}

/// The embedded previews of an image's bytes with their member names (`exif-thumbnail`,
/// `mpf/1`, …), when containers are expanded and the format carries them (JPEG, TIFF, HEIF).
pub(crate) fn previews_of(
    format: Option<Format>,
    bytes: &[u8],
    ctx: &Context,
) -> Vec<(String, Vec<u8>)> {
    if ctx.containers == container::ContainerPolicy::None
        || !matches!(format, Some(Format::Jpeg | Format::Tiff | Format::Heif))
    {
        return Vec::new();
    }
    if format == Some(Format::Heif) {
        return decode::heif_exif(bytes)
            .and_then(container::exif_thumbnail_in_tiff)
            .map(|t| ("exif-thumbnail".to_string(), t))
            .into_iter()
            .collect();
    }
    let mut out: Vec<(String, Vec<u8>)> = container::exif_thumbnail(bytes)
        .map(|t| ("exif-thumbnail".to_string(), t))
        .into_iter()
        .collect();
    if format == Some(Format::Jpeg) {
        out.extend(container::mpf_images(bytes));
    }
    out
}

/// Adds the record of an image's preview `name` (`photo.jpg!/exif-thumbnail`) below the image's
/// record `rec` (position 0 of its group; `out[i]` is position `i + 1`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn add_preview(
    rec: &mut FileRecord,
    out: &mut Vec<Processed>,
    name: &str,
    thumbnail: Vec<u8>,
    path: &[u8],
    depth: u32,
    budget: &Budget,
    ctx: &Context,
) -> Flow {
    let vpath = member_path(path, name.as_bytes());
    let mut record = FileRecord::new(0, ReportPath::new(as_path(&vpath)));
    record.depth = Some(depth);
    record.size = Some(thumbnail.len() as u64);
    let format = decode::sniff(&thumbnail);
    let first = out.len();
    let (local, stopped) = hash_held(
        Held {
            record,
            path: vpath,
            bytes: thumbnail,
            format,
            container: None,
            raster: None,
            depth,
        },
        budget,
        ctx,
    );
    let base = out.len() + 1;
    for mut p in local {
        p.parent = Some(match p.parent {
            None => 0,
            Some(q) => base + q,
        });
        out.push(p);
    }
    rec.descendants = Some(rec.descendants.unwrap_or(0) + (out.len() - first) as u64);
    if stopped {
        Flow::Stopped
    } else {
        Flow::Done
    }
}

/// The hashes of raw image samples: crypto hashes of the samples, perceptual hashes of the
/// pixels they make (a panic in hashing is this member's error, not the scan's).
fn hash_raster(spec: &RasterSpec, samples: &[u8], ctx: &Context) -> FileHashes {
    let mut hasher = CryptoHasher::new();
    hasher.update(samples);
    let crypto = Some(hasher.finish());
    let image = match ctx.opts.limits.check(spec.width, spec.height) {
        Ok(()) => raster_image(spec, samples).map_err(|reason| Error::Decode {
            format: "pdf-raster",
            reason,
        }),
        Err(e) => Err(e),
    };
    let hashed = image.and_then(|image| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            hash_image(&image, &ctx.algos, &ctx.opts)
        }))
        .map_err(|_| Error::Decode {
            format: "pdf-raster",
            reason: "hashing the rebuilt pixels panicked".into(),
        })
    });
    match hashed {
        Ok(h) => FileHashes { crypto, ..h },
        Err(e) => FileHashes {
            crypto,
            image_error: Some(e),
            ..Default::default()
        },
    }
}

/// A copy of an image's bytes when containers are expanded and it may hold more images than
/// its first: an animation (its frames), a multi-page TIFF (its pages), or a HEIF file (its
/// other top-level images and its thumbnails); they are decoded after the image's own hashes.
pub(crate) fn animation_of(format: Option<Format>, bytes: &[u8], ctx: &Context) -> Option<Vec<u8>> {
    let format = format?;
    (ctx.containers != container::ContainerPolicy::None
        && match format {
            Format::Heif => true,
            Format::Tiff => decode::tiff_has_pages(bytes),
            _ => container::is_animated(format, bytes),
        })
    .then(|| bytes.to_vec())
}

/// Frames hashed per parallel batch.
const BATCH_FRAMES: usize = 16;

/// Adds a record per image after the first of an image file below the image's record `rec`
/// (position 0 of its group; `out[i]` is position `i + 1`): each frame after the first of an
/// animation (`anim.gif!/frame/N`), each page after the first of a TIFF (`doc.tif!/page/N`;
/// see [`nearmatch::decode::tiff_pages`]), or each image of a HEIF file besides its primary
/// one (`burst.heic!/image/N`, `photo.heic!/thumbnail/0`; see
/// [`nearmatch::decode::heif_secondary_images`]). They count against the expansion budget
/// (their pixels) and the frames limit; past either, one `skipped:limit` record names it. A
/// damaged frame ends an animation's frames with the image's `error`; a damaged TIFF page or
/// HEIF image is a record of its own with its decode error; a TIFF whose IFD chain loops is
/// the image's `error`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn add_frames(
    rec: &mut FileRecord,
    out: &mut Vec<Processed>,
    bytes: &[u8],
    format: Format,
    path: &[u8],
    depth: u32,
    budget: &Budget,
    ctx: &Context,
) {
    let first = out.len();
    let max = budget.limits().frames;
    type Item = (String, nearmatch::Result<nearmatch::pixels::Image>);
    let mut batch: Vec<Item> = Vec::new();
    let mut limit: Option<(String, String)> = None;
    let hash_batch = |batch: &mut Vec<Item>, out: &mut Vec<Processed>| {
        let done: Vec<Processed> = std::mem::take(batch)
            .into_par_iter()
            .map(|(name, image)| {
                let vpath = member_path(path, name.as_bytes());
                let mut record = FileRecord::new(0, ReportPath::new(as_path(&vpath)));
                record.depth = Some(depth);
                let hashed = image.and_then(|image| {
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        hash_image(&image, &ctx.algos, &ctx.opts)
                    }))
                    .map_err(|_| Error::Decode {
                        format: format.name(),
                        reason: format!("hashing {name} panicked"),
                    })
                });
                let hashed = hashed.unwrap_or_else(|e| FileHashes {
                    image_error: Some(e),
                    ..Default::default()
                });
                let mut digests = Digests::default();
                let described = Some(match format {
                    Format::Heif if name.contains("thumbnail") => "heif-thumbnail".to_string(),
                    Format::Heif => "heif-image".to_string(),
                    Format::Tiff => "tiff-page".to_string(),
                    _ => format!("{}-frame", format.name()),
                });
                fill(
                    &mut record,
                    &mut digests,
                    hashed,
                    None,
                    described,
                    as_path(&vpath),
                );
                Processed {
                    record,
                    digests,
                    stopped: false,
                    parent: Some(0),
                }
            })
            .collect();
        out.extend(done);
    };
    // Takes one image into the batch: `false` (with `limit` set) past the limits.
    let mut count = 0u64;
    let mut take = |name: String,
                    image: nearmatch::Result<nearmatch::pixels::Image>,
                    batch: &mut Vec<Item>,
                    out: &mut Vec<Processed>|
     -> Result<(), String> {
        count += 1;
        if count >= max {
            let why = format!(
                "frames limit: images {max} and after of this file were not examined (from {name})"
            );
            limit = Some((name, why.clone()));
            return Err(why);
        }
        if let Ok(image) = &image {
            let pixels = image.width() as u64 * image.height() as u64 * 3;
            if let Err(why) = budget.take(pixels) {
                limit = Some((name, why.clone()));
                return Err(why);
            }
        }
        batch.push((name, image));
        if batch.len() >= BATCH_FRAMES {
            hash_batch(batch, out);
        }
        Ok(())
    };
    let result = if format == Format::Heif {
        decode::heif_secondary_images(bytes, &ctx.opts.limits, &mut |name, image| {
            take(name, image, &mut batch, out).is_ok()
        })
        .map_err(|e| format!("HEIF images: {e}"))
    } else if format == Format::Tiff {
        decode::tiff_pages(bytes, &ctx.opts.limits, &mut |name, image| {
            take(name, image, &mut batch, out).is_ok()
        })
        .map_err(|e| format!("TIFF pages: {e}"))
    } else {
        container::animation_frames(format, bytes, &ctx.opts.limits, &mut |n, image| {
            if n == 0 {
                // The file's own record is frame 0.
                return Next::Continue;
            }
            match take(format!("frame/{n}"), Ok(image), &mut batch, out) {
                Ok(()) => Next::Continue,
                Err(why) => Next::Stop(why),
            }
        })
        .map_err(|e| format!("animation: {e}"))
    };
    hash_batch(&mut batch, out);
    if let Some((name, why)) = limit {
        let vpath = member_path(path, name.as_bytes());
        let mut record = FileRecord::new(0, ReportPath::new(as_path(&vpath)));
        record.depth = Some(depth);
        record.disposition = Disposition::Skipped(SkipReason::Limit);
        record.error = Some(why);
        out.push(Processed::plain(record, Some(0)));
    }
    if let Err(e) = result {
        // A file whose own decode failed already says why; the same parse error twice says
        // nothing more.
        if rec.error.is_none() {
            rec.error = Some(e);
        }
    }
    // Child parents are group positions: the image is 0, out[i] is i + 1.
    for p in &mut out[first..] {
        p.parent = Some(0);
    }
    rec.descendants = Some(rec.descendants.unwrap_or(0) + (out.len() - first) as u64);
}

fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Reads the file at `path` (`len` bytes, opened as `file`, starting with `head`) as a disk
/// image when it is one: a raw image, the first segment of a split raw or EWF image (its other
/// segments opened beside it by name), or an image in which nearmatch finds a partition table
/// or file system. A later segment is marked `skipped:segment`. Not an image: nothing changes.
pub(crate) fn expand_image(
    rec: &mut FileRecord,
    out: &mut Vec<Processed>,
    file: &std::fs::File,
    len: u64,
    path: &Path,
    head: &[u8],
    ctx: &Context,
) -> Flow {
    use disk::media::{Media, Segment};
    let name = |p: &Path| {
        p.file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    };
    let media = match Segment::of(path, head) {
        Segment::EwfLater(n) => {
            rec.container = Some("ewf".into());
            rec.disposition = Disposition::Skipped(SkipReason::Segment);
            rec.error = Some(format!(
                "segment {n} of an EWF image: read through its first segment ({})",
                name(&path.with_extension("E01"))
            ));
            return Flow::Done;
        }
        Segment::SplitLater(n) => {
            // Only when the first segment starts a disk image nearmatch reads: `.002` files
            // of other kinds (split archives, numbered logs) stay what they are.
            let first = path.with_extension("001");
            if Media::split(&first)
                .ok()
                .and_then(|m| disk::probe(&m))
                .is_some()
            {
                rec.container = Some("split-raw".into());
                rec.disposition = Disposition::Skipped(SkipReason::Segment);
                rec.error = Some(format!(
                    "segment {n} of a split raw image: read through its first segment ({})",
                    name(&first)
                ));
            }
            return Flow::Done;
        }
        Segment::EwfFirst => match Media::ewf(path) {
            Ok(m) => m,
            Err(e) => {
                rec.container = Some("ewf".into());
                rec.disposition = Disposition::Error(ErrorReason::Corrupt);
                rec.error = Some(e);
                return Flow::Done;
            }
        },
        Segment::SplitFirst => match Media::split(path) {
            Ok(m) => m,
            Err(e) => {
                rec.container = Some("split-raw".into());
                rec.disposition = Disposition::Error(ErrorReason::Read);
                rec.error = Some(e.to_string());
                return Flow::Done;
            }
        },
        Segment::Other => match file.try_clone() {
            Ok(f) => Media::Raw { file: f, len },
            Err(e) => {
                rec.disposition = Disposition::Error(ErrorReason::Read);
                rec.error = Some(format!("cannot reopen the file as a disk image: {e}"));
                return Flow::Done;
            }
        },
    };
    let layout = disk::probe(&media);
    let raw = matches!(media, Media::Raw { .. });
    // A raw file with no layout is an image only by its name, and only worth reading as one
    // when it is carved.
    if layout.is_none() && raw && !(ctx.carve && raw_image_name(path)) {
        return Flow::Done;
    }
    let mut info = media.describe();
    info["path"] = serde_json::Value::String(rec.path.clone());
    if ctx.verify_image {
        info["verify"] = match media.verify() {
            Ok(v) => v,
            Err(e) => {
                serde_json::json!({"error": format!("the medium could not be read to its end: {e}")})
            }
        };
    }
    rec.disk_image = Some(info.clone());
    if let Ok(mut all) = ctx.disk_images.lock() {
        all.push(info);
    }
    if layout.is_none() && ctx.carve {
        // Nothing in it is readable: all of it is carved.
        rec.container = Some(media.kind().into());
        rec.disposition = Disposition::Container;
        let media = std::sync::Arc::new(media);
        let budget = Budget::new(image_limits(ctx, media.len()), media.len());
        let outer = path.as_os_str().as_bytes().to_vec();
        let ranges = vec![(0, media.len())];
        let first = out.len();
        let flow = carve_into(rec, out, &media, ranges, &outer, b"!/", 1, &budget, ctx);
        rec.descendants = Some((out.len() - first) as u64);
        if let Some(c) = rec.carve.as_mut() {
            let why = "no partition table or file system nearmatch reads: all of it carved";
            c.note = Some(match c.note.take() {
                Some(n) => format!("{why}; {n}"),
                None => why.into(),
            });
        }
        return flow;
    }
    let Some(layout) = layout else {
        rec.container = Some(media.kind().into());
        rec.disposition = Disposition::Skipped(SkipReason::Unsupported);
        rec.error = Some(format!(
            "{} image of {} bytes: no partition table or file system nearmatch reads (MBR, GPT; FAT12/16/32, exFAT, NTFS, ext2/3/4) at its start",
            media.kind(),
            media.len()
        ));
        return Flow::Done;
    };
    // A disk image's files may hold many times any archive's budget: the budget is at least
    // twice the medium (file systems cannot hold more than the volume; nested archives inside
    // still count).
    let budget = Budget::new(image_limits(ctx, media.len()), media.len());
    let outer = path.as_os_str().as_bytes().to_vec();
    expand_disk(
        rec,
        out,
        std::sync::Arc::new(media),
        layout,
        &outer,
        &budget,
        ctx,
    )
}

/// The container limits for a disk image of `len` bytes: its files may hold many times any
/// archive's budget, so the budget is at least twice the medium (file systems cannot hold more
/// than the volume; nested archives inside still count).
fn image_limits(ctx: &Context, len: u64) -> container::ContainerLimits {
    container::ContainerLimits {
        expanded_bytes: ctx
            .container_limits
            .expanded_bytes
            .max(len.saturating_mul(2)),
        ..ctx.container_limits
    }
}

/// Whether a raw file's name says it is a disk image (`.dd`, `.img`, `.raw`, `.bin`, `.ima`,
/// `.image`, `.001`, `.dmg`, `.iso`; any case): such a file with no layout nearmatch reads is
/// carved as a whole with `--carve`. Other files are never carved.
fn raw_image_name(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        matches!(
            e.to_ascii_lowercase().as_str(),
            "dd" | "img" | "raw" | "bin" | "ima" | "image" | "001" | "dmg" | "iso"
        )
    })
}

/// Carves pictures from `ranges` (offsets in `media`) below `rec` (position 0 of `out`'s group):
/// each object whose structure holds together is a member `PATH SEP $Carved/OFFSET.EXT` with
/// `carved` and its `offset` in the medium, through the normal pipeline; those that turn out
/// not to decode are dropped and counted, with everything else carving met, in `rec.carve`.
#[allow(clippy::too_many_arguments)]
fn carve_into(
    rec: &mut FileRecord,
    out: &mut Vec<Processed>,
    media: &disk::Media,
    ranges: Vec<(u64, u64)>,
    path: &[u8],
    sep: &'static [u8],
    depth: u32,
    budget: &Budget,
    ctx: &Context,
) -> Flow {
    use disk::carve;
    let mut scratch = FileRecord::new(0, ReportPath::new(as_path(path)));
    let mut local = Vec::new();
    let mut tally = carve::Tally::default();
    let naming = Naming {
        name: "carve",
        sep,
        members: None,
    };
    let flow = expand_with(
        &mut scratch,
        &mut local,
        &naming,
        path,
        depth,
        budget,
        ctx,
        |visit| {
            let result = carve::carve(media, ranges, |f| {
                let h = MemberHeader {
                    name: format!("$Carved/{}.{}", f.offset, f.kind.ext()).into_bytes(),
                    size: Some(f.len),
                    offset: Some(f.offset),
                    carved: true,
                    ..MemberHeader::default()
                };
                let mut span = carve::Span::new(media, f.offset, f.len);
                !matches!(visit(h, &mut span), Next::Stop(_))
            });
            match result {
                Ok(t) => {
                    tally = t;
                    Ok(())
                }
                Err(e) => Err(ContainerError::Corrupt(format!(
                    "carving stopped: the medium could not be read: {e}"
                ))),
            }
        },
    );
    // Candidates whose bytes do not decode as the picture their signature announced are false
    // positives: counted, not reported (nor their members, if any).
    let mut keep: Vec<Option<usize>> = Vec::with_capacity(local.len());
    let mut dropped = 0u64;
    let mut kept = 0usize;
    for p in &local {
        let parent_gone = matches!(p.parent, Some(q) if q > 0 && keep[q - 1].is_none());
        let false_positive = p.parent == Some(0)
            && matches!(
                p.record.disposition,
                Disposition::NotImage
                    | Disposition::Error(ErrorReason::Decode | ErrorReason::Panic)
            );
        dropped += u64::from(false_positive);
        if parent_gone || false_positive {
            keep.push(None);
        } else {
            keep.push(Some(kept));
            kept += 1;
        }
    }
    let base = out.len();
    let mut carved = 0u64;
    for (mut p, k) in local.into_iter().zip(&keep) {
        if k.is_none() {
            continue;
        }
        p.parent = match p.parent {
            None | Some(0) => Some(0),
            Some(q) => keep[q - 1].map(|i| base + i + 1),
        };
        carved += u64::from(p.parent == Some(0));
        out.push(p);
    }
    rec.members = Some(rec.members.unwrap_or(0) + carved);
    rec.carve = Some(crate::record::CarveSummary {
        scanned_bytes: tally.scanned,
        candidates: tally.candidates,
        carved,
        rejected: tally.rejected + dropped,
        note: scratch.error,
    });
    flow
}

/// Expands a disk image (`rec` is the image file's record, position 0 of its group): its
/// partitions as records (`disk.img!/p1`) with their offset and type, each followed by its file
/// system's files (`disk.img!/p1/DCIM/x.jpg`); or, for a file system at offset 0, its files
/// (`card.img!/DCIM/x.jpg`). Files go through the normal pipeline, containers included.
#[allow(clippy::too_many_arguments)]
fn expand_disk(
    rec: &mut FileRecord,
    out: &mut Vec<Processed>,
    file: std::sync::Arc<disk::Media>,
    layout: disk::Layout,
    path: &[u8],
    budget: &Budget,
    ctx: &Context,
) -> Flow {
    let (table, parts) = match layout {
        disk::Layout::FileSystem(kind) => {
            let len = file.len();
            let volume = disk::Window::new(file, 0, len);
            return expand_fs(rec, out, kind, volume, path, b"!/", 1, budget, ctx);
        }
        disk::Layout::Partitioned(table, parts) => (table, parts),
    };
    rec.container = Some(table.into());
    rec.disposition = Disposition::Container;
    rec.members = Some(parts.len() as u64);
    let first = out.len();
    let mut flow = Flow::Done;
    let covered: Vec<(u64, u64)> = parts.iter().map(|p| (p.offset, p.len)).collect();
    for p in parts {
        let vpath = member_path(path, format!("p{}", p.number).as_bytes());
        let mut prec = FileRecord::new(0, ReportPath::new(as_path(&vpath)));
        prec.kind = "partition".into();
        prec.depth = Some(1);
        prec.size = Some(p.len);
        prec.offset = Some(p.offset);
        prec.partition_type = Some(p.kind.clone());
        let volume = disk::Window::new(file.clone(), p.offset, p.len);
        let mut head = vec![0u8; 2048.min(p.len as usize)];
        let fs = volume
            .read_at(0, &mut head)
            .ok()
            .and_then(|_| disk::FsKind::sniff(&head));
        let mut local = Vec::new();
        match fs {
            Some(kind) => {
                if expand_fs(
                    &mut prec, &mut local, kind, volume, &vpath, b"/", 2, budget, ctx,
                ) == Flow::Stopped
                {
                    flow = Flow::Stopped;
                }
            }
            None => {
                prec.disposition = Disposition::Skipped(SkipReason::Unsupported);
                prec.error = Some(
                    "no file system nearmatch reads starts this partition (it reads FAT12/16/32, exFAT, NTFS and ext2/3/4)"
                        .into(),
                );
                if ctx.carve {
                    // All of it is carved: the partition was read, as carving reads.
                    let why = prec.error.take().unwrap_or_default();
                    prec.container = Some("carve".into());
                    prec.disposition = Disposition::Container;
                    let ranges = vec![(p.offset, p.len)];
                    if carve_into(
                        &mut prec, &mut local, &file, ranges, &vpath, b"/", 2, budget, ctx,
                    ) == Flow::Stopped
                    {
                        flow = Flow::Stopped;
                    }
                    if let Some(c) = prec.carve.as_mut() {
                        c.note = Some(match c.note.take() {
                            Some(n) => format!("{why}: all of it carved; {n}"),
                            None => format!("{why}: all of it carved"),
                        });
                    }
                }
            }
        }
        if p.truncated {
            let note = "the partition table says it runs past the end of the image: cut there";
            prec.error = Some(match prec.error.take() {
                Some(e) => format!("{e}; {note}"),
                None => note.into(),
            });
        }
        prec.descendants = Some(local.len() as u64);
        // Group positions: the image is 0; the partition goes at `at`, its members after it
        // (their parents are relative to the partition's own group, where it is 0).
        let at = out.len() + 1;
        out.push(Processed::plain(prec, Some(0)));
        for mut q in local {
            q.parent = Some(at + q.parent.unwrap_or(0));
            out.push(q);
        }
        if flow == Flow::Stopped {
            break;
        }
    }
    if ctx.carve && flow != Flow::Stopped {
        // The space no partition covers: the tables' sectors, gaps, the end of the disk.
        let gaps = disk::carve::complement(0, file.len(), &disk::carve::merge(covered));
        // Partitions and carved pictures both count as the image's members.
        flow = carve_into(rec, out, &file, gaps, path, b"!/", 1, budget, ctx);
    }
    rec.descendants = Some((out.len() - first) as u64);
    flow
}

/// Expands the file system `kind` in `volume` below `rec` (a partition's record, or a walked
/// image's when the file system starts at offset 0).
#[allow(clippy::too_many_arguments)]
fn expand_fs(
    rec: &mut FileRecord,
    out: &mut Vec<Processed>,
    kind: disk::FsKind,
    volume: disk::Window,
    path: &[u8],
    sep: &'static [u8],
    depth: u32,
    budget: &Budget,
    ctx: &Context,
) -> Flow {
    let naming = Naming {
        name: kind.name(),
        sep,
        members: None,
    };
    let carve_from = ctx.carve.then(|| volume.clone());
    let first = out.len();
    let flow = match kind {
        disk::FsKind::Fat => expand_with(rec, out, &naming, path, depth, budget, ctx, |visit| {
            disk::fat::expand(volume, visit)
        }),
        disk::FsKind::Ext => expand_with(rec, out, &naming, path, depth, budget, ctx, |visit| {
            disk::ext::expand(volume, visit)
        }),
        disk::FsKind::Ntfs => expand_with(rec, out, &naming, path, depth, budget, ctx, |visit| {
            disk::ntfs::expand(volume, visit)
        }),
        disk::FsKind::ExFat => expand_with(rec, out, &naming, path, depth, budget, ctx, |visit| {
            disk::exfat::expand(volume, visit)
        }),
    };
    let Some(volume) = carve_from else {
        return flow;
    };
    if flow == Flow::Stopped {
        return flow;
    }
    // After the files, so a carved copy of a file names it in `duplicate_of`.
    let free = match kind {
        disk::FsKind::Fat => disk::fat::free_ranges(volume.clone()),
        disk::FsKind::Ext => disk::ext::free_ranges(volume.clone()),
        disk::FsKind::Ntfs => disk::ntfs::free_ranges(volume.clone()),
        disk::FsKind::ExFat => disk::exfat::free_ranges(volume.clone()),
    };
    let flow = match free {
        Ok(ranges) => {
            let at = volume.start();
            let ranges = ranges
                .into_iter()
                .filter(|&(o, l)| o.checked_add(l).is_some_and(|e| e <= volume.len()))
                .map(|(o, l)| (at + o, l))
                .collect();
            carve_into(
                rec,
                out,
                volume.media(),
                ranges,
                path,
                sep,
                depth,
                budget,
                ctx,
            )
        }
        Err(why) => {
            rec.carve = Some(crate::record::CarveSummary {
                scanned_bytes: 0,
                candidates: 0,
                carved: 0,
                rejected: 0,
                note: Some(format!(
                    "free space not carved: the {} allocation map could not be read: {why}",
                    kind.name()
                )),
            });
            Flow::Done
        }
    };
    rec.descendants = Some((out.len() - first) as u64);
    flow
}
