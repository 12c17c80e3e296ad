//! CSV / TSV lists with a header row naming the hash column.
//!
//! The hash column is the one named after the target algorithm (`pdq`, `md5`, `SHA-1`,
//! `phash`, `md5_hash`…) or, failing that, `hash`. A column named `algorithm`, `hash_type`,
//! `type` or `signal_type` gives a per-row algorithm (rows of another algorithm are
//! `wrong-algorithm` rejects). A column `id`, `media_id`, `entry_id` or `identifier` becomes
//! the entry id, `note`, `notes`, `comment` or `description` the note; every other non-empty
//! cell becomes a label (column name, value). The delimiter is a tab if the header has one,
//! else a comma.

use std::io::{BufRead, Cursor, Read};

use super::blocks::{self, Batch, Blocks};
use super::{algorithm_of_name, norm_name, parse_hex_array, Ctx, RejectReason};
use crate::error::{Error, Result};
use crate::hash::Algorithm;

/// Reads a CSV list. Blocks without a quote character are parsed in parallel
/// ([`blocks::parse_in_order`]): a record then cannot run past the newline that ends a block.
/// From the first block with a quote on, the rest is read sequentially.
pub(super) fn read_csv(r: &mut dyn BufRead, ctx: &mut Ctx<'_>) -> Result<()> {
    read_csv_blocks(r, ctx, blocks::BLOCK_BYTES)
}

/// The CSV reader's settings, the same for the header, every block and the sequential rest.
fn builder(delimiter: u8, headers: bool) -> csv::ReaderBuilder {
    let mut b = csv::ReaderBuilder::new();
    b.delimiter(delimiter)
        .flexible(true)
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .has_headers(headers);
    b
}

/// The delimiter: a tab if the header line has one, else a semicolon if it has one and no
/// comma, else a comma.
fn delimiter(r: &mut dyn BufRead, ctx: &Ctx<'_>) -> Result<u8> {
    let head = r.fill_buf().map_err(|e| ctx.fail(e.to_string()))?;
    let first_line = head.split(|&b| b == b'\n').next().unwrap_or(&[]);
    Ok(if first_line.contains(&b'\t') {
        b'\t'
    } else if !first_line.contains(&b',') && first_line.contains(&b';') {
        b';'
    } else {
        b','
    })
}

/// [`read_csv`] with blocks of `block_bytes` (tests force tiny blocks).
pub(super) fn read_csv_blocks(
    r: &mut dyn BufRead,
    ctx: &mut Ctx<'_>,
    block_bytes: usize,
) -> Result<()> {
    let delim = delimiter(r, ctx)?;
    let io_err = |ctx: &Ctx<'_>, source| Error::Io {
        path: ctx.path.clone().into(),
        source,
    };
    let mut blocks = Blocks::new(r, block_bytes);
    // The first chunk: blocks up to one that surely holds a record (the header).
    let mut first = Vec::new();
    while !has_record_line(&first) {
        match blocks.next_block().map_err(|e| io_err(ctx, e))? {
            Some(b) => first.extend_from_slice(&b),
            None => break,
        }
    }
    if !may_split(&first) {
        let (carry, rest) = blocks.into_rest();
        let input = Cursor::new(first).chain(Cursor::new(carry)).chain(rest);
        return read_sequential(input, ctx, delim);
    }
    let mut rdr = builder(delim, true).from_reader(&first[..]);
    let layout = Layout::from_header(&mut rdr, ctx)?;
    let fail = failer(ctx);
    let mut previous_end = rdr.position().line();
    rows(&mut rdr, &layout, &fail, &mut |batch| {
        if let Some(a) = batch.after_last {
            previous_end = a;
        }
        batch.apply(ctx, 0, None)
    })?;
    // Line numbers are the CSV reader's own count (which, e.g., skips comment lines), so each
    // block counts for the lines its own reader counted.
    let base = rdr.position().line() - 1;
    let parse = |block: &[u8], batch: &mut Batch| {
        let mut rdr = builder(delim, false).from_reader(block);
        // A block in memory has no I/O to fail, and the whole block goes into one batch.
        let _ = rows_into(&mut rdr, &layout, batch, usize::MAX);
        batch.number_from_previous = true;
        rdr.position().line() - 1
    };
    let refused = blocks::parse_in_order(&mut blocks, ctx, base, previous_end, &parse, &may_split)?;
    if let Some((block, base, previous_end)) = refused {
        let mut first = Some(previous_end);
        let (carry, rest) = blocks.into_rest();
        let input = Cursor::new(block).chain(Cursor::new(carry)).chain(rest);
        let mut rdr = builder(delim, false).from_reader(input);
        rows(&mut rdr, &layout, &fail, &mut |batch| {
            batch.apply(ctx, base, first.take())
        })?;
    }
    Ok(())
}

/// Whether a block can be parsed by a CSV reader of its own with the same result as by the
/// reader of the whole list: no quote (a quoted cell may hold a newline, so a record could run
/// past the block's end) and no carriage return (the CSV reader counts the lines of CRLF input
/// in a way that depends on where it started reading).
fn may_split(block: &[u8]) -> bool {
    !block.iter().any(|&b| b == b'"' || b == b'\r')
}

/// Whether `chunk` has a line that is surely a CSV record (not blank, not a comment), so the
/// header ends inside it.
fn has_record_line(chunk: &[u8]) -> bool {
    chunk
        .split(|&b| b == b'\n')
        .any(|l| l.first().is_some_and(|&c| c != b'#' && c != b'\r'))
}

/// The whole list read row by row in one CSV reader: the reference the block reader's tests
/// compare against.
#[cfg(test)]
pub(super) fn read_csv_sequential(r: &mut dyn BufRead, ctx: &mut Ctx<'_>) -> Result<()> {
    let delim = delimiter(r, ctx)?;
    read_sequential(r, ctx, delim)
}

/// The whole list read row by row: header, then every row, in one CSV reader.
fn read_sequential(input: impl Read, ctx: &mut Ctx<'_>, delim: u8) -> Result<()> {
    let mut rdr = builder(delim, true).from_reader(input);
    let layout = Layout::from_header(&mut rdr, ctx)?;
    let fail = failer(ctx);
    rows(&mut rdr, &layout, &fail, &mut |batch| {
        batch.apply(ctx, 0, None)
    })
}

/// Makes a file error as [`Ctx::fail`] does, without borrowing the context.
fn failer(ctx: &Ctx<'_>) -> impl Fn(String) -> Error {
    let path = ctx.path.clone();
    move |reason| Error::Import {
        path: path.clone().into(),
        reason,
    }
}

/// The header's column roles.
struct Layout {
    names: Vec<String>,
    target: Algorithm,
    hash_col: usize,
    algo_col: Option<usize>,
    id_col: Option<usize>,
    note_col: Option<usize>,
}

impl Layout {
    /// Reads the header row and finds the columns, or says why the list cannot be read.
    fn from_header<R: Read>(rdr: &mut csv::Reader<R>, ctx: &Ctx<'_>) -> Result<Layout> {
        let headers = rdr
            .byte_headers()
            .map_err(|e| ctx.fail(format!("cannot read the CSV header: {e}")))?
            .clone();
        let names: Vec<String> = headers
            .iter()
            .map(|h| String::from_utf8_lossy(h).into_owned())
            .collect();
        let target = ctx.opts.algorithm;
        let hash_col = names
            .iter()
            .position(|n| algorithm_of_name(n) == Some(target))
            .or_else(|| {
                names
                    .iter()
                    .position(|n| matches!(norm_name(n).as_str(), "hash" | "value" | "indicator"))
            });
        let Some(hash_col) = hash_col else {
            let found: Vec<&str> = names
                .iter()
                .filter(|n| algorithm_of_name(n).is_some())
                .map(String::as_str)
                .collect();
            return Err(ctx.fail(format!(
                "no {target} or hash column in the header (hash columns found: {})",
                if found.is_empty() {
                    "none".to_string()
                } else {
                    found.join(", ")
                }
            )));
        };
        let col_named = |set: &[&str]| {
            names
                .iter()
                .position(|n| set.contains(&norm_name(n).as_str()))
        };
        let algo_col = col_named(&[
            "algorithm",
            "hashtype",
            "type",
            "signaltype",
            "indicatortype",
        ]);
        let id_col = col_named(&["id", "mediaid", "entryid", "identifier"]);
        let note_col = col_named(&["note", "notes", "comment", "description"]);
        Ok(Layout {
            names,
            target,
            hash_col,
            algo_col,
            id_col,
            note_col,
        })
    }
}

/// Reads every remaining row of `rdr` (lines as the reader counts them), handing the parsed
/// rows to `out` a batch of at most [`SEQUENTIAL_BATCH`] rows at a time; `fail` makes the error
/// for input that cannot be read on.
fn rows<R: Read>(
    rdr: &mut csv::Reader<R>,
    layout: &Layout,
    fail: &dyn Fn(String) -> Error,
    out: &mut dyn FnMut(&mut Batch) -> Result<()>,
) -> Result<()> {
    let mut batch = Batch::default();
    loop {
        let more = rows_into(rdr, layout, &mut batch, SEQUENTIAL_BATCH)
            .map_err(|e| fail(e.to_string()))?;
        out(&mut batch)?;
        if !more {
            return Ok(());
        }
        batch.text.clear();
        batch.labels.clear();
        batch.after_last = None;
    }
}

/// Rows parsed before they are applied when reading sequentially.
const SEQUENTIAL_BATCH: usize = 4096;

/// Parses up to `max` rows of `rdr` into `batch`; false once the input is exhausted. An I/O
/// error ends the parse (after the rows before it went into the batch).
fn rows_into<R: Read>(
    rdr: &mut csv::Reader<R>,
    layout: &Layout,
    batch: &mut Batch,
    max: usize,
) -> std::result::Result<bool, csv::Error> {
    let Layout {
        names,
        target,
        hash_col,
        algo_col,
        id_col,
        note_col,
    } = layout;
    let (target, hash_col) = (*target, *hash_col);
    let mut record = csv::ByteRecord::new();
    for _ in 0..max {
        let line = rdr.position().line() + 1;
        match rdr.read_byte_record(&mut record) {
            Ok(false) => return Ok(false),
            Ok(true) => {}
            Err(e) => {
                // A broken row (e.g. an unterminated quote) is counted, and reading goes on
                // only if the CSV reader can resynchronise; otherwise it is a file error.
                if e.is_io_error() {
                    return Err(e);
                }
                batch.reject(RejectReason::Malformed, line, e.to_string());
                continue;
            }
        }
        let line = record.position().map(|p| p.line()).unwrap_or(line);
        batch.after_last = Some(rdr.position().line());
        // Each cell is read at most once below, so it is converted where it is read: no
        // per-row vector (an allocation per row on the parsing threads), and `from_utf8`'s
        // fast check before the lossy conversion that only invalid bytes need.
        let cell = |i: usize| -> std::borrow::Cow<'_, str> {
            match record.get(i) {
                None => "".into(),
                Some(b) => match std::str::from_utf8(b) {
                    Ok(s) => s.into(),
                    Err(_) => String::from_utf8_lossy(b),
                },
            }
        };
        if record.len() <= hash_col {
            batch.reject(
                RejectReason::Malformed,
                line,
                format!("row has no column {:?}", names[hash_col]),
            );
            continue;
        }
        if let Some(ac) = *algo_col {
            let a = cell(ac);
            let a = a.as_ref();
            if !a.is_empty() && algorithm_of_name(a) != Some(target) {
                batch.reject(
                    RejectReason::WrongAlgorithm,
                    line,
                    format!("row is {a:?}, set is {target}"),
                );
                continue;
            }
        }
        let hex = cell(hash_col);
        let hex = hex.as_ref();
        let (digest, n) = match parse_hex_array(hex, target) {
            Ok(d) => d,
            Err((reason, detail)) => {
                batch.reject(reason, line, detail);
                continue;
            }
        };
        let from = batch.labels.len();
        for (i, name) in names.iter().enumerate() {
            if i == hash_col || Some(i) == *algo_col || Some(i) == *id_col || Some(i) == *note_col {
                continue;
            }
            let v = cell(i);
            if !v.is_empty() {
                batch.label(name, &v);
            }
        }
        let id = id_col.map(cell).unwrap_or_default();
        let note = note_col.map(cell).unwrap_or_default();
        batch.record(line, &digest[..n], &id, &note, from, hex.trim());
    }
    Ok(true)
}
