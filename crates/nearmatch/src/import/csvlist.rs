//! CSV / TSV lists with a header row naming the hash column.
//!
//! The hash column is the one named after the target algorithm (`pdq`, `md5`, `SHA-1`,
//! `phash`, `md5_hash`…) or, failing that, `hash`. A column named `algorithm`, `hash_type`,
//! `type` or `signal_type` gives a per-row algorithm (rows of another algorithm are
//! `wrong-algorithm` rejects). A column `id`, `media_id`, `entry_id` or `identifier` becomes
//! the entry id, `note`, `notes`, `comment` or `description` the note; every other non-empty
//! cell becomes a label (column name, value). The delimiter is a tab if the header has one,
//! else a comma.

use std::io::BufRead;

use super::{algorithm_of_name, norm_name, Ctx, Label, RejectReason};
use crate::error::Result;

pub(super) fn read_csv(r: &mut dyn BufRead, ctx: &mut Ctx<'_>) -> Result<()> {
    let head = r.fill_buf().map_err(|e| ctx.fail(e.to_string()))?;
    let first_line = head.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let delimiter = if first_line.contains(&b'\t') {
        b'\t'
    } else if !first_line.contains(&b',') && first_line.contains(&b';') {
        b';'
    } else {
        b','
    };
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .from_reader(r);
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
    let mut record = csv::ByteRecord::new();
    loop {
        let line = rdr.position().line() + 1;
        match rdr.read_byte_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {}
            Err(e) => {
                // A broken row (e.g. an unterminated quote) is counted, and reading goes on
                // only if the CSV reader can resynchronise; otherwise it is a file error.
                if e.is_io_error() {
                    return Err(ctx.fail(e.to_string()));
                }
                ctx.reject(RejectReason::Malformed, line, e.to_string())?;
                continue;
            }
        }
        let line = record.position().map(|p| p.line()).unwrap_or(line);
        let cell = |i: usize| String::from_utf8_lossy(record.get(i).unwrap_or(&[])).into_owned();
        if record.len() <= hash_col {
            ctx.reject(
                RejectReason::Malformed,
                line,
                format!("row has no column {:?}", names[hash_col]),
            )?;
            continue;
        }
        if let Some(ac) = algo_col {
            let a = cell(ac);
            if !a.is_empty() && algorithm_of_name(&a) != Some(target) {
                ctx.reject(
                    RejectReason::WrongAlgorithm,
                    line,
                    format!("row is {a:?}, set is {target}"),
                )?;
                continue;
            }
        }
        let mut labels = Vec::new();
        for (i, name) in names.iter().enumerate() {
            if i == hash_col || Some(i) == algo_col || Some(i) == id_col || Some(i) == note_col {
                continue;
            }
            let v = cell(i);
            if !v.is_empty() {
                labels.push(Label::new(name.clone(), v));
            }
        }
        let id = id_col.map(cell).unwrap_or_default();
        let note = note_col.map(cell).unwrap_or_default();
        ctx.emit(&cell(hash_col), line, id, labels, note)?;
    }
}
