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
use nearmatch::hash::crypto::CryptoHasher;
use nearmatch::hash::file::FileHashes;
use nearmatch::hash::Algorithm;
use nearmatch::Error;
use rayon::prelude::*;

use crate::container::{
    self, Budget, ContainerError, ContainerKind, Counted, MemberHeader, MemberKind, Next, Source,
};
use crate::custody::iso8601;
use crate::path::ReportPath;
use crate::process::{fail_decode, fill, supervised_hash, Context, Flow, Processed};
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
    rec.container = Some(kind.name().into());
    let limits = *budget.limits();
    if depth > limits.depth {
        rec.disposition = Disposition::Skipped(SkipReason::Limit);
        rec.error = Some(format!(
            "depth limit: a {} container nested deeper than {} levels is not opened",
            kind.name(),
            limits.depth
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
            if members >= limits.members {
                let why = format!(
                    "members limit: more than {} members in one container; the rest were not examined",
                    limits.members
                );
                stop = Some(why.clone());
                return Next::Stop(why);
            }
            members += 1;
            let slot = read_member(h, r, path, depth, budget);
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
        container::expand(kind, source, path, &mut visit)
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
        Err(ContainerError::Limit(why)) => rec.error = Some(why),
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
    depth: u32,
    budget: &Budget,
) -> Slot {
    let path = member_path(parent, &h.name);
    let mut rec = FileRecord::new(0, ReportPath::new(as_path(&path)));
    rec.depth = Some(depth);
    rec.size = h.size;
    rec.mtime = h.mtime.map(|t| iso8601(t, 0));
    rec.crc32 = h.crc32.map(|c| format!("{c:08x}"));
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
        MemberKind::Broken(why) => {
            return done(rec, Disposition::Error(ErrorReason::Corrupt), Some(why))
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
        depth,
    } = h;
    let mut digests = Digests::default();
    let mut out = Vec::new();
    let mut stopped = false;
    if format.is_some() {
        let thumbnail = preview_of(format, &bytes, ctx);
        let mut algos = ctx.algos.clone();
        algos.extend([Algorithm::Md5, Algorithm::Sha1, Algorithm::Sha256]);
        match supervised_hash(as_path(&path), bytes, algos, ctx) {
            Ok(hashed) => fill(
                &mut record,
                &mut digests,
                hashed,
                format,
                None,
                as_path(&path),
            ),
            Err(f) => stopped = fail_decode(&mut record, f) == Flow::Stopped,
        }
        if let Some(t) = thumbnail {
            let flow = add_preview(&mut record, &mut out, t, &path, depth + 1, budget, ctx);
            stopped |= flow == Flow::Stopped;
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

/// The EXIF thumbnail of an image's bytes, when containers are expanded and the format carries
/// EXIF (JPEG, TIFF).
pub(crate) fn preview_of(format: Option<Format>, bytes: &[u8], ctx: &Context) -> Option<Vec<u8>> {
    if ctx.containers == container::ContainerPolicy::None
        || !matches!(format, Some(Format::Jpeg | Format::Tiff))
    {
        return None;
    }
    container::exif_thumbnail(bytes)
}

/// Adds the record of an image's EXIF thumbnail (`photo.jpg!/exif-thumbnail`) below the image's
/// record `rec` (position 0 of its group; `out[i]` is position `i + 1`).
pub(crate) fn add_preview(
    rec: &mut FileRecord,
    out: &mut Vec<Processed>,
    thumbnail: Vec<u8>,
    path: &[u8],
    depth: u32,
    budget: &Budget,
    ctx: &Context,
) -> Flow {
    let vpath = member_path(path, b"exif-thumbnail");
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
