//! Line-oriented lists: plain hex and ThreatExchange PDQ text.

use std::io::BufRead;

use super::blocks::{self, Batch, Blocks};
use super::{parse_hex_array, Ctx, Label, RejectReason};
use crate::error::{Error, Result};
use crate::hash::Algorithm;

/// Calls `f(line_number, line)` for every line that is not blank or a `#` comment.
fn for_each_line(
    r: &mut dyn BufRead,
    ctx: &mut Ctx<'_>,
    mut f: impl FnMut(&mut Ctx<'_>, u64, &str) -> Result<()>,
) -> Result<()> {
    let mut buf = Vec::with_capacity(256);
    let mut line_no = 0u64;
    loop {
        buf.clear();
        let n = r.read_until(b'\n', &mut buf).map_err(|source| Error::Io {
            path: ctx.path.clone().into(),
            source,
        })?;
        if n == 0 {
            return Ok(());
        }
        line_no += 1;
        // Lossy: a stray non-UTF-8 byte then shows up as a bad-hex reject, not an abort.
        let text = String::from_utf8_lossy(&buf);
        let line = text.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        f(ctx, line_no, line)?;
    }
}

/// One hex hash per line; anything after the first whitespace run is kept as the note (so
/// `md5sum` output imports with file names). Parsed in parallel, block by block
/// ([`blocks::parse_in_order`]), with the same result as reading line by line.
pub(super) fn read_plain(r: &mut dyn BufRead, ctx: &mut Ctx<'_>) -> Result<()> {
    read_plain_blocks(r, ctx, blocks::BLOCK_BYTES)
}

/// [`read_plain`] with blocks of `block_bytes` (tests force tiny blocks).
pub(super) fn read_plain_blocks(
    r: &mut dyn BufRead,
    ctx: &mut Ctx<'_>,
    block_bytes: usize,
) -> Result<()> {
    let algorithm = ctx.opts.algorithm;
    let parse = move |block: &[u8], batch: &mut Batch| {
        plain_block(block, algorithm, batch);
        block.iter().filter(|&&b| b == b'\n').count() as u64
    };
    let mut blocks = Blocks::new(r, block_bytes);
    let rest = blocks::parse_in_order(&mut blocks, ctx, 0, 0, &parse, &|_| true)?;
    debug_assert!(rest.is_none(), "every plain block can be parsed on its own");
    Ok(())
}

/// Parses one block of a plain list into `batch` (line numbers relative to the block).
fn plain_block(block: &[u8], algorithm: Algorithm, batch: &mut Batch) {
    batch.items.reserve(block.len() / 65 + 1);
    for (i, raw) in block.split(|&b| b == b'\n').enumerate() {
        // Lossy: a stray non-UTF-8 byte then shows up as a bad-hex reject, not an abort.
        let text = String::from_utf8_lossy(raw);
        let line = text.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line_no = i as u64 + 1;
        let (hash, rest) = match line.find(char::is_whitespace) {
            Some(i) => (&line[..i], line[i..].trim()),
            None => (line, ""),
        };
        // md5sum marks binary-mode names with a leading '*'.
        let note = rest.strip_prefix('*').unwrap_or(rest);
        match parse_hex_array(hash, algorithm) {
            Err((reason, detail)) => batch.reject(reason, line_no, detail),
            Ok((digest, n)) => {
                let from = batch.labels.len();
                batch.record(line_no, &digest[..n], "", note, from, hash.trim());
            }
        }
    }
}

/// The line-by-line reader [`read_plain`] replaced: the reference its tests compare against.
#[cfg(test)]
pub(super) fn read_plain_sequential(r: &mut dyn BufRead, ctx: &mut Ctx<'_>) -> Result<()> {
    for_each_line(r, ctx, |ctx, line_no, line| {
        let (hash, rest) = match line.find(char::is_whitespace) {
            Some(i) => (&line[..i], line[i..].trim()),
            None => (line, ""),
        };
        // md5sum marks binary-mode names with a leading '*'.
        let note = rest.strip_prefix('*').unwrap_or(rest).to_string();
        ctx.emit(hash, line_no, String::new(), Vec::new(), note)
    })
}

/// ThreatExchange / `pdq-photo-hasher` text: comma-separated fields, the first being the hash
/// (`HEX` or `hash=HEX`); further `key=value` fields become labels, and bare fields are read
/// positionally as quality then file name (the hasher's `hash,quality,filename` output).
pub(super) fn read_threatexchange(r: &mut dyn BufRead, ctx: &mut Ctx<'_>) -> Result<()> {
    if ctx.opts.algorithm != Algorithm::Pdq {
        return Err(ctx.fail(format!(
            "a ThreatExchange PDQ list holds pdq hashes, not {}",
            ctx.opts.algorithm
        )));
    }
    for_each_line(r, ctx, |ctx, line_no, line| {
        let mut hash = None;
        let mut labels = Vec::new();
        let mut note = String::new();
        let mut positional = 0;
        for (i, field) in line.split(',').map(str::trim).enumerate() {
            if let Some((k, v)) = field.split_once('=') {
                let (k, v) = (k.trim(), v.trim());
                match k.to_ascii_lowercase().as_str() {
                    "hash" | "pdq" => hash = Some(v.to_string()),
                    "filename" | "file" | "name" => note = v.to_string(),
                    _ => labels.push(Label::new(k, v)),
                }
            } else if i == 0 {
                hash = Some(field.to_string());
            } else {
                positional += 1;
                match positional {
                    1 => labels.push(Label::new("pdq-quality", field)),
                    2 => note = field.to_string(),
                    _ => labels.push(Label::new(format!("field{}", i + 1), field)),
                }
            }
        }
        match hash {
            Some(h) => ctx.emit(&h, line_no, String::new(), labels, note),
            None => ctx.reject(RejectReason::Malformed, line_no, "no hash field"),
        }
    })
}
