//! Parsing line-oriented lists (plain, CSV) in parallel, block by block, with the records
//! reaching the sink in input order.
//!
//! Why: a national list is hundreds of millions of lines, and turning a line into a digest
//! (UTF-8 check, trimming, hex) costs about as much as the set writer's work on it. The
//! calling thread reads the input in blocks of about [`BLOCK_BYTES`], each cut just after a
//! newline, and hands each block to the rayon pool, which turns it into a [`Batch`] of
//! [`Item`]s (records and rejects, line numbers relative to the block). The calling thread
//! then applies the batches to the [`Ctx`] strictly in input order, adding each block's first
//! line number, so counts, reject examples, which copy of a duplicate is kept and the line a
//! `--strict` error names are exactly those of reading the list line by line. Reading, the
//! SHA-256 of the file and the sink stay on the calling thread (neither needs to be `Send`).
//! At most [`IN_FLIGHT`] blocks are read ahead, so memory stays bounded whatever the list's
//! size.

use std::collections::VecDeque;
use std::io::BufRead;
use std::sync::mpsc;

use super::{read_up_to, Ctx, RejectReason};
use crate::error::{Error, Result};

/// Bytes per block (a block is longer only when one line is).
pub(super) const BLOCK_BYTES: usize = 4 << 20;

/// Blocks read ahead of the one being applied: enough to keep two or three parsing threads
/// busy while the sink works, few enough to bound memory (a few tens of MB).
const IN_FLIGHT: usize = 4;

/// A span of [`Batch::text`].
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Span(u32, u32);

/// One record or reject, parsed off the calling thread. Its strings live in the batch's
/// `text` (one allocation per block, not several per record: records are allocated by a
/// parsing thread and freed by the calling thread, which glibc's allocator makes costly).
#[derive(Debug)]
pub(super) enum Item {
    /// A usable digest.
    Record {
        /// Line, relative to the block's first (1-based).
        line: u64,
        /// The digest's bytes (`len` of them).
        digest: [u8; 32],
        len: u8,
        id: Span,
        note: Span,
        /// Range of the batch's `labels`.
        labels: (u32, u32),
        /// The hash as the list wrote it, when that is not the lower-case hex of `digest`
        /// (for a duplicate's message).
        shown: Option<Span>,
    },
    /// An unusable record.
    Reject {
        reason: RejectReason,
        /// Line, relative to the block's first (1-based).
        line: u64,
        detail: String,
    },
}

/// A parsed block: its items and how many lines it spans.
#[derive(Debug, Default)]
pub(super) struct Batch {
    pub items: Vec<Item>,
    /// The records' ids, notes, labels and odd-case hashes, end to end.
    pub text: String,
    /// (scheme, value) spans of the records' labels.
    pub labels: Vec<(Span, Span)>,
    /// Lines the block counts for (the next block's lines start this much later).
    pub newlines: u64,
    /// The block's buffer, handed back for reuse.
    pub block: Vec<u8>,
    /// For CSV: the reader's line count just after the block's last record (relative), if
    /// any. The `csv` crate numbers a record by its count where the read *started* (before
    /// comment lines, blank lines and a CRLF's `\n` that it skipped), so a block's first
    /// record takes its number from where the previous record ended.
    pub after_last: Option<u64>,
    /// Whether the first record's number is where the previous record ended (CSV).
    pub number_from_previous: bool,
}

impl Batch {
    /// Copies `s` into the batch's text.
    pub fn put(&mut self, s: &str) -> Span {
        let start = self.text.len() as u32;
        self.text.push_str(s);
        Span(start, self.text.len() as u32)
    }

    /// Adds a label (its scheme and value copied in).
    pub fn label(&mut self, scheme: &str, value: &str) {
        let l = (self.put(scheme), self.put(value));
        self.labels.push(l);
    }

    /// Adds a record from a checked digest (at most 32 bytes: the widest algorithm's), with
    /// the labels added since `labels_from` and the hash as `written` in the list.
    pub fn record(
        &mut self,
        line: u64,
        bytes: &[u8],
        id: &str,
        note: &str,
        labels_from: usize,
        written: &str,
    ) {
        let mut digest = [0u8; 32];
        digest[..bytes.len()].copy_from_slice(bytes);
        // The hex parsed, so it is hex digits only: lower case means it reads as `hex::encode`.
        let lower = !written.bytes().any(|b| b.is_ascii_uppercase());
        let item = Item::Record {
            line,
            digest,
            len: bytes.len() as u8,
            id: self.put(id),
            note: self.put(note),
            labels: (labels_from as u32, self.labels.len() as u32),
            shown: (!lower).then(|| self.put(written)),
        };
        self.items.push(item);
    }

    /// Adds a reject.
    pub fn reject(&mut self, reason: RejectReason, line: u64, detail: String) {
        self.items.push(Item::Reject {
            reason,
            line,
            detail,
        });
    }

    /// Applies the items to `ctx` in order, their lines offset by `base` (the line before the
    /// block).
    pub fn apply(&mut self, ctx: &mut Ctx<'_>, base: u64, first_line: Option<u64>) -> Result<()> {
        let mut items = std::mem::take(&mut self.items);
        let (text, spans) = (&self.text, &self.labels);
        let get = |s: Span| &text[s.0 as usize..s.1 as usize];
        let mut labels: Vec<(&str, &str)> = Vec::new();
        for (k, item) in items.drain(..).enumerate() {
            let at = |line: u64| match first_line {
                Some(l) if k == 0 => l,
                _ => base + line,
            };
            match item {
                Item::Reject {
                    reason,
                    line,
                    detail,
                } => ctx.reject(reason, at(line), detail)?,
                Item::Record {
                    line,
                    digest,
                    len,
                    id,
                    note,
                    labels: (from, to),
                    shown,
                } => {
                    let bytes = &digest[..len as usize];
                    labels.clear();
                    labels.extend(
                        spans[from as usize..to as usize]
                            .iter()
                            .map(|&(k, v)| (get(k), get(v))),
                    );
                    ctx.push_parts(bytes, at(line), get(id), &labels, get(note), || {
                        shown.map_or_else(|| hex::encode(bytes), |s| get(s).to_string())
                    })?;
                }
            }
        }
        self.items = items;
        Ok(())
    }
}

/// Cuts a reader into blocks that end just after a newline (or at the end of input).
pub(super) struct Blocks<'r> {
    r: &'r mut dyn BufRead,
    size: usize,
    carry: Vec<u8>,
    eof: bool,
    spare: Vec<Vec<u8>>,
}

impl<'r> Blocks<'r> {
    /// Blocks of about `size` bytes (at least 1) from `r`.
    pub fn new(r: &'r mut dyn BufRead, size: usize) -> Self {
        Blocks {
            r,
            size: size.max(1),
            carry: Vec::new(),
            eof: false,
            spare: Vec::new(),
        }
    }

    /// The next block, or `None` at the end of input.
    pub fn next_block(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.clear();
        buf.append(&mut self.carry);
        loop {
            if self.eof {
                return Ok((!buf.is_empty()).then_some(buf));
            }
            let old = buf.len();
            buf.resize(old + self.size, 0);
            let n = read_up_to(&mut self.r, &mut buf[old..])?;
            buf.truncate(old + n);
            // `read_up_to` stops short only at the end of input.
            self.eof = n < self.size;
            // The carry holds no newline, so the block's last one is in the new bytes if any.
            if let Some(p) = buf[old..].iter().rposition(|&b| b == b'\n') {
                let cut = old + p + 1;
                self.carry.extend_from_slice(&buf[cut..]);
                buf.truncate(cut);
                return Ok(Some(buf));
            }
        }
    }

    /// What is left: the bytes read past the last block, then the reader.
    pub fn into_rest(self) -> (Vec<u8>, &'r mut dyn BufRead) {
        (self.carry, self.r)
    }

    /// Takes back a block's buffer for a later block.
    pub fn recycle(&mut self, block: Vec<u8>) {
        if self.spare.len() < IN_FLIGHT + 1 {
            self.spare.push(block);
        }
    }
}

/// Parses blocks from `blocks` in parallel with `parse` (block bytes -> a batch of items with
/// lines relative to the block; returns how many lines the block counts for) and applies them
/// to `ctx` in order; `base` is the line before the first block, `previous_end` the line where
/// the last record before it ended (see [`Batch::after_last`]).
///
/// A block `may_split` refuses (e.g. a CSV block with a quote, where a record could run on past
/// the block's end) is not parsed: once the blocks before it are applied, it is returned with
/// the line before it, for the caller to read the rest of the input sequentially.
pub(super) fn parse_in_order(
    blocks: &mut Blocks<'_>,
    ctx: &mut Ctx<'_>,
    mut base: u64,
    mut previous_end: u64,
    parse: &(dyn Fn(&[u8], &mut Batch) -> u64 + Sync),
    may_split: &dyn Fn(&[u8]) -> bool,
) -> Result<Option<(Vec<u8>, u64, u64)>> {
    let path = ctx.path.clone();
    let io_err = |source| Error::Io {
        path: path.clone().into(),
        source,
    };
    rayon::in_place_scope(|scope| {
        let mut queue: VecDeque<mpsc::Receiver<Batch>> = VecDeque::new();
        let mut refused = None;
        let mut done = false;
        loop {
            while !done && refused.is_none() && queue.len() < IN_FLIGHT {
                match blocks.next_block().map_err(io_err)? {
                    None => done = true,
                    Some(block) if !may_split(&block) => refused = Some(block),
                    Some(block) => {
                        let (tx, rx) = mpsc::sync_channel(1);
                        scope.spawn(move |_| {
                            let mut batch = Batch::default();
                            batch.newlines = parse(&block, &mut batch);
                            batch.block = block;
                            // The receiver is gone only when applying failed: nothing to tell.
                            let _ = tx.send(batch);
                        });
                        queue.push_back(rx);
                    }
                }
            }
            let Some(rx) = queue.pop_front() else {
                return Ok(refused.map(|b| (b, base, previous_end)));
            };
            let mut batch = rx.recv().map_err(|_| Error::Import {
                path: path.clone().into(),
                reason: "a list-parsing thread panicked".into(),
            })?;
            let first = batch.number_from_previous.then_some(previous_end);
            batch.apply(ctx, base, first)?;
            if let Some(a) = batch.after_last {
                previous_end = base + a;
            }
            base += batch.newlines;
            blocks.recycle(std::mem::take(&mut batch.block));
        }
    })
}
