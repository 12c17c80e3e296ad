//! Line-oriented lists: plain hex and ThreatExchange PDQ text.

use std::io::BufRead;

use super::{Ctx, Label, RejectReason};
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
/// `md5sum` output imports with file names).
pub(super) fn read_plain(r: &mut dyn BufRead, ctx: &mut Ctx<'_>) -> Result<()> {
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
