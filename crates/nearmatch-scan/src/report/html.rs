//! The HTML case summary: one self-contained page for people (inline CSS and script, nothing
//! fetched, so it works offline; a Content-Security-Policy forbids loading anything, images
//! included). It never shows evidence: paths, hashes and counts only.
//!
//! Sections: the chain of custody, counts per disposition, matches per set and label (with
//! their distances and probes), a sortable, filterable table of every match, and the files that
//! could not be processed or were skipped, with their reasons. The table's sort and filter live
//! in the URL fragment (`#sort=distance&order=desc&q=K001`), so a view can be bookmarked or
//! handed on; without script the page is complete, in record order.
//!
//! Streaming: the custody block is written first, the matches as their records come, the errors
//! are spilled to a temporary file and copied in at the end, and the counts (known only then)
//! are written last and shown first (CSS `order`). Memory holds the per-set and per-label
//! aggregates only.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};

use serde_json::Value;

use super::text::{html, html_escape, link_b64, path_b64, shell_join};
use super::ReportWriter;
use crate::record::FileRecord;

/// Matches of one set and label: how many, their distances, their probes.
#[derive(Default)]
struct Agg {
    matches: u64,
    min: u32,
    max: u32,
    sum: u64,
    probes: BTreeMap<String, u64>,
}

impl Agg {
    fn add(&mut self, distance: u32, probe: &str) {
        if self.matches == 0 || distance < self.min {
            self.min = distance;
        }
        self.max = self.max.max(distance);
        self.matches += 1;
        self.sum += u64::from(distance);
        *self.probes.entry(probe.to_string()).or_default() += 1;
    }
}

/// Writes the HTML case summary.
pub struct HtmlWriter<W: Write> {
    out: W,
    errors: BufWriter<File>,
    error_rows: u64,
    match_rows: u64,
    header: Value,
    /// (set, label) -> aggregate; label `""` is the set as a whole.
    by_label: BTreeMap<(String, String), Agg>,
}

const STYLE: &str = r#"
:root { color-scheme: light; --line: #d0d4da; --head: #f1f3f6; --accent: #1d4f91; --warn: #a33; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 0; color: #1b1f24; background: #fff; }
main { display: flex; flex-direction: column; gap: 1.2rem; max-width: 1400px; margin: 0 auto; padding: 1.2rem 1.5rem 3rem; }
h1 { font-size: 1.5rem; margin: 0 0 .2rem; }
h2 { font-size: 1.15rem; margin: 0 0 .5rem; color: var(--accent); border-bottom: 2px solid var(--accent); padding-bottom: .2rem; }
h3 { font-size: 1rem; margin: .8rem 0 .3rem; }
section, header { background: #fff; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: .25rem .45rem; text-align: left; vertical-align: top; }
th { background: var(--head); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.path, td.hash, .mono { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12px; word-break: break-all; }
table.kv th { width: 14rem; }
table.narrow, #totals { width: auto; min-width: 36rem; }
.note { color: #555; margin: .2rem 0 .6rem; }
.warn { color: var(--warn); font-weight: 600; }
#matches-table thead th[data-key] { cursor: pointer; user-select: none; white-space: nowrap; }
#matches-table thead th[aria-sort="ascending"]::after { content: " \25B2"; }
#matches-table thead th[aria-sort="descending"]::after { content: " \25BC"; }
#match-controls { display: flex; gap: 1rem; align-items: center; margin: .4rem 0; }
#match-filter { font: inherit; padding: .2rem .4rem; width: 24rem; max-width: 100%; }
tr[hidden] { display: none; }
@media print { #match-controls { display: none; } main { max-width: none; } }
"#;

const SCRIPT: &str = r##"
(function () {
  "use strict";
  var table = document.getElementById("matches-table");
  if (!table || !table.tBodies.length) { return; }
  var tbody = table.tBodies[0];
  var rows = Array.prototype.slice.call(tbody.rows);
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var input = document.getElementById("match-filter");
  var shown = document.getElementById("match-shown");
  document.getElementById("match-controls").hidden = false;
  function state() {
    var p = new URLSearchParams(location.hash.slice(1));
    return { sort: p.get("sort") || "", order: p.get("order") === "desc" ? "desc" : "asc", q: p.get("q") || "" };
  }
  function go(s) {
    var p = new URLSearchParams();
    if (s.sort) { p.set("sort", s.sort); p.set("order", s.order); }
    if (s.q) { p.set("q", s.q); }
    location.replace("#" + p.toString());
  }
  function value(row, i) {
    var c = row.cells[i];
    return c.hasAttribute("data-v") ? c.getAttribute("data-v") : c.textContent;
  }
  function apply() {
    var s = state();
    if (input.value !== s.q) { input.value = s.q; }
    var col = -1;
    heads.forEach(function (h, i) { if (h.getAttribute("data-key") === s.sort) { col = i; } });
    var sorted = rows.slice();
    if (col >= 0) {
      var num = heads[col].getAttribute("data-type") === "num";
      sorted.sort(function (a, b) {
        var x = value(a, col), y = value(b, col), c;
        if (num) { c = Number(x) - Number(y); } else { c = x < y ? -1 : x > y ? 1 : 0; }
        if (s.order === "desc") { c = -c; }
        return c || Number(a.getAttribute("data-order")) - Number(b.getAttribute("data-order"));
      });
    }
    var q = s.q.toLowerCase(), n = 0;
    sorted.forEach(function (r) {
      var hit = !q || r.textContent.toLowerCase().indexOf(q) >= 0;
      r.hidden = !hit;
      if (hit) { n += 1; }
      tbody.appendChild(r);
    });
    heads.forEach(function (h, i) {
      if (h.hasAttribute("data-key")) {
        h.setAttribute("aria-sort", i === col ? (s.order === "desc" ? "descending" : "ascending") : "none");
      }
    });
    shown.textContent = n + " of " + rows.length + " matches shown";
    shown.setAttribute("data-shown", String(n));
  }
  heads.forEach(function (h) {
    var key = h.getAttribute("data-key");
    if (!key) { return; }
    h.addEventListener("click", function () {
      var s = state();
      s.order = s.sort === key && s.order === "asc" ? "desc" : "asc";
      s.sort = key;
      go(s);
    });
  });
  input.addEventListener("input", function () { var s = state(); s.q = input.value; go(s); });
  window.addEventListener("hashchange", apply);
  apply();
})();
"##;

/// A `<td>` holding a path, with `data-b64` (the exact bytes) when the text cannot give them.
fn path_cell(text: &str, b64: Option<String>) -> String {
    match b64 {
        Some(b) => format!("<td class=\"path\" data-b64=\"{b}\">{}</td>", html(text)),
        None => format!("<td class=\"path\">{}</td>", html(text)),
    }
}

/// A key-value row of a custody table.
fn kv(out: &mut String, key: &str, value_html: &str) {
    out.push_str(&format!(
        "<tr><th>{}</th><td>{value_html}</td></tr>\n",
        html(key)
    ));
}

/// A JSON value as text: strings as they are, anything else as compact JSON.
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

impl<W: Write> HtmlWriter<W> {
    /// A writer over `out` (the error rows are spilled to an anonymous temporary file).
    pub fn new(out: W) -> std::io::Result<Self> {
        Ok(HtmlWriter {
            out,
            errors: BufWriter::new(tempfile::tempfile()?),
            error_rows: 0,
            match_rows: 0,
            header: Value::Null,
            by_label: BTreeMap::new(),
        })
    }

    fn custody(h: &Value) -> String {
        let mut s = String::from(
            "<section id=\"custody\" style=\"order:1\">\n<h2>Chain of custody</h2>\n<table class=\"kv\">\n",
        );
        let dirty = match h["git_dirty"].as_bool() {
            Some(true) => " (modified working tree)",
            _ => "",
        };
        kv(
            &mut s,
            "Tool",
            &format!(
                "{} {} <span class=\"mono\">git {}</span>{}",
                html(&plain(&h["tool"])),
                html(&plain(&h["version"])),
                html(&plain(&h["git_commit"])),
                dirty
            ),
        );
        let args: Vec<String> = h["command_line"]
            .as_array()
            .map(|a| a.iter().map(plain).collect())
            .unwrap_or_default();
        kv(
            &mut s,
            "Command line",
            &format!("<span class=\"mono\">{}</span>", html(&shell_join(&args))),
        );
        kv(&mut s, "Host", &html(&plain(&h["host"])));
        kv(&mut s, "User", &html(&plain(&h["user"])));
        kv(&mut s, "Started (UTC)", &html(&plain(&h["started_utc"])));
        if let Some(r) = h["resumed"].as_object() {
            kv(
                &mut s,
                "Resumed (UTC)",
                &format!(
                    "{} ({} files reused from the interrupted run)",
                    html(&plain(&r["resumed_utc"])),
                    html(&plain(&r["files_reused"]))
                ),
            );
        }
        kv(
            &mut s,
            "Access times",
            if h["noatime_refused"].as_bool() == Some(true) {
                "<span class=\"warn\">O_NOATIME refused: reads may have updated access times</span>"
            } else {
                "files opened with O_NOATIME (access times not updated)"
            },
        );
        s.push_str("</table>\n<h3>Evidence</h3>\n<table>\n<thead><tr><th>Path</th><th>Canonical path</th><th>Mount</th><th>Mounted</th></tr></thead>\n<tbody>\n");
        for e in h["evidence"].as_array().into_iter().flatten() {
            let rw = match e["read_write"].as_bool() {
                Some(true) => "<span class=\"warn\">read-write</span>",
                Some(false) => "read-only",
                None => "unknown",
            };
            s.push_str(&format!(
                "<tr><td class=\"path\">{}</td><td class=\"path\">{}</td><td class=\"path\">{}</td><td>{rw}</td></tr>\n",
                html(&plain(&e["path"])),
                html(&plain(&e["canonical"])),
                html(&plain(&e["mount"]))
            ));
        }
        s.push_str("</tbody></table>\n<h3>Hash sets</h3>\n");
        let sets = h["sets"].as_array().cloned().unwrap_or_default();
        if sets.is_empty() {
            s.push_str("<p class=\"note\">None: an inventory scan (every file hashed, nothing matched).</p>\n");
        } else {
            s.push_str("<table>\n<thead><tr><th>Set</th><th>SHA-256</th><th>Algorithm</th><th class=\"num\">Entries</th><th class=\"num\">Radius</th><th class=\"num\">Probe radius</th><th>Built from</th></tr></thead>\n<tbody>\n");
            for set in &sets {
                s.push_str(&format!(
                    "<tr data-set=\"{}\"><td class=\"path\">{}</td><td class=\"hash\">{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>\n",
                    html(&plain(&set["path"])),
                    html(&plain(&set["path"])),
                    html(&plain(&set["sha256"])),
                    html(&plain(&set["algorithm"])),
                    html(&plain(&set["entries"])),
                    html(&plain(&set["radius"])),
                    html(&plain(&set["probe_radius"])),
                    built_from(set)
                ));
            }
            s.push_str("</tbody></table>\n");
        }
        let ignore = h["ignore_sets"].as_array().cloned().unwrap_or_default();
        if !ignore.is_empty() {
            s.push_str("<h3>Ignore sets (known-good exclusion)</h3>\n<table id=\"ignore-sets\">\n<thead><tr><th>Set</th><th>SHA-256</th><th>Algorithm</th><th class=\"num\">Entries</th><th>Built from</th></tr></thead>\n<tbody>\n");
            for set in &ignore {
                s.push_str(&format!(
                    "<tr data-ignore-set=\"{}\"><td class=\"path\">{}</td><td class=\"hash\">{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>\n",
                    html(&plain(&set["path"])),
                    html(&plain(&set["path"])),
                    html(&plain(&set["sha256"])),
                    html(&plain(&set["algorithm"])),
                    html(&plain(&set["entries"])),
                    built_from(set)
                ));
            }
            s.push_str("</tbody></table>\n<p class=\"note\">A file whose bytes an ignore set holds is <code>known-good</code>: recorded and counted, not decoded; a match set holding it too wins (the file is examined and reported matched); archives are still expanded.</p>\n");
        }
        s.push_str("<h3>Options</h3>\n<table class=\"kv\">\n");
        for (k, v) in h["options"].as_object().into_iter().flatten() {
            kv(
                &mut s,
                k,
                &format!("<span class=\"mono\">{}</span>", html(&plain(v))),
            );
        }
        s.push_str("</table>\n");
        let warnings: Vec<String> = h["warnings"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|w| format!("<li class=\"warn\">{}</li>", html(&plain(w))))
            .collect();
        if !warnings.is_empty() {
            s.push_str(&format!(
                "<h3>Warnings</h3>\n<ul>{}</ul>\n",
                warnings.join("")
            ));
        }
        s.push_str("</section>\n");
        s
    }

    fn counts(&self, summary: &Value) -> String {
        let n = |k: &str| plain(&summary[k]);
        let mut s = String::from(
            "<section id=\"counts\" style=\"order:2\">\n<h2>Counts</h2>\n<table class=\"kv\" id=\"totals\">\n",
        );
        for (key, label) in [
            ("files_walked", "Files walked"),
            ("files_reported", "Files reported"),
            ("directories", "Directories"),
            ("matched_files", "Matched files"),
            ("matches", "Matches"),
            (
                "duplicate_files",
                "Duplicate copies (same SHA-256 as an earlier file)",
            ),
            ("low_quality", "PDQ quality below 50 (unreliable hash)"),
            ("extension_mismatch", "Extension does not match content"),
            ("bytes_hashed", "Bytes hashed"),
            ("probe_hashes", "PDQ probe hashes"),
            (
                "known_good_hits",
                "Files an ignore set holds (known-good, matched or expanded)",
            ),
            ("finished_utc", "Finished (UTC)"),
            ("elapsed_seconds", "Elapsed seconds"),
        ] {
            if key == "known_good_hits" && summary[key].is_null() {
                continue; // no ignore set in this scan
            }
            s.push_str(&format!(
                "<tr data-key=\"{key}\"><th>{label}</th><td class=\"num\">{}</td></tr>\n",
                html(&n(key))
            ));
        }
        s.push_str("</table>\n<h3>Files per disposition</h3>\n<table id=\"dispositions\" class=\"narrow\">\n<thead><tr><th>Disposition</th><th class=\"num\">Files</th></tr></thead>\n<tbody>\n");
        for (d, c) in summary["dispositions"].as_object().into_iter().flatten() {
            s.push_str(&format!(
                "<tr data-disposition=\"{}\"><td>{}</td><td class=\"num\">{}</td></tr>\n",
                html(d),
                html(d),
                html(&plain(c))
            ));
        }
        s.push_str("</tbody></table>\n");
        if let Some(p) = summary["matches_by_probe"]
            .as_object()
            .filter(|p| !p.is_empty())
        {
            s.push_str("<h3>Matches per probe</h3>\n<table id=\"probes\" class=\"narrow\">\n<thead><tr><th>Probe</th><th class=\"num\">Matches</th></tr></thead>\n<tbody>\n");
            for (k, c) in p {
                s.push_str(&format!(
                    "<tr data-probe=\"{}\"><td>{}</td><td class=\"num\">{}</td></tr>\n",
                    html(k),
                    html(k),
                    html(&plain(c))
                ));
            }
            s.push_str("</tbody></table>\n");
        }
        s.push_str("</section>\n");
        s
    }

    fn labels(&self) -> String {
        let mut s = String::from(
            "<section id=\"by-label\" style=\"order:3\">\n<h2>Matches per set and label</h2>\n",
        );
        let sets: Vec<String> = self.header["sets"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|set| plain(&set["path"]))
            .collect();
        if sets.is_empty() {
            s.push_str("<p class=\"note\">No hash set: nothing was matched.</p>\n</section>\n");
            return s;
        }
        s.push_str("<p class=\"note\">Distances are Hamming distances (0 for exact hashes); a file matching several entries counts once per entry.</p>\n");
        s.push_str("<table id=\"label-table\">\n<thead><tr><th>Set</th><th>Label</th><th class=\"num\">Matches</th><th class=\"num\">Min distance</th><th class=\"num\">Mean</th><th class=\"num\">Max</th><th>Probes</th></tr></thead>\n<tbody>\n");
        let empty = Agg::default();
        let mut listed: Vec<(String, String)> =
            sets.iter().map(|p| (p.clone(), String::new())).collect();
        for k in self.by_label.keys() {
            if !listed.contains(k) {
                listed.push(k.clone());
            }
        }
        listed.sort();
        for (set, label) in &listed {
            let a = self
                .by_label
                .get(&(set.clone(), label.clone()))
                .unwrap_or(&empty);
            let (min, mean, max) = if a.matches == 0 {
                (String::new(), String::new(), String::new())
            } else {
                (
                    a.min.to_string(),
                    format!("{:.1}", a.sum as f64 / a.matches as f64),
                    a.max.to_string(),
                )
            };
            let probes: Vec<String> = a
                .probes
                .iter()
                .map(|(p, c)| format!("{} {c}", html(if p.is_empty() { "(exact)" } else { p })))
                .collect();
            let shown_label = if label.is_empty() {
                "<em>all entries</em>".to_string()
            } else {
                html(label)
            };
            s.push_str(&format!(
                "<tr data-set=\"{}\" data-label=\"{}\"><td class=\"path\">{}</td><td>{shown_label}</td><td class=\"num\">{}</td><td class=\"num\">{min}</td><td class=\"num\">{mean}</td><td class=\"num\">{max}</td><td>{}</td></tr>\n",
                html(set),
                html(label),
                html(set),
                a.matches,
                probes.join(", ")
            ));
        }
        s.push_str("</tbody></table>\n</section>\n");
        s
    }
}

impl<W: Write> ReportWriter for HtmlWriter<W> {
    fn begin(&mut self, header: &Value) -> std::io::Result<()> {
        self.header = header.clone();
        let evidence: Vec<String> = header["evidence"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| plain(&e["path"]))
            .collect();
        let title = format!("nearmatch case summary: {}", evidence.join(", "));
        write!(
            self.out,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <meta name=\"generator\" content=\"{} {}\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n",
            html(&plain(&header["tool"])),
            html(&plain(&header["version"])),
            html(&title)
        )?;
        write!(
            self.out,
            "<header style=\"order:0\">\n<h1>nearmatch case summary</h1>\n<p class=\"note\">Scan of <span class=\"mono\">{}</span>, started {} UTC. This summary lists paths, hashes and counts only: nearmatch never renders evidence.</p>\n</header>\n",
            html(&evidence.join(", ")),
            html(&plain(&header["started_utc"]))
        )?;
        self.out.write_all(Self::custody(header).as_bytes())?;
        self.out.write_all(
            b"<section id=\"matches\" style=\"order:4\">\n<h2>Matches</h2>\n\
              <p class=\"note\">One row per (file, hash-set entry). Click a column to sort; the sort and filter are kept in the address (#sort=&hellip;&amp;order=&hellip;&amp;q=&hellip;).</p>\n\
              <div id=\"match-controls\" hidden><label>Filter <input id=\"match-filter\" type=\"search\" placeholder=\"path, entry, label, probe...\"></label> <span id=\"match-shown\"></span></div>\n\
              <table id=\"matches-table\">\n<thead><tr>\
              <th class=\"num\" data-key=\"index\" data-type=\"num\">#</th>\
              <th data-key=\"path\">Path</th>\
              <th data-key=\"set\">Set</th>\
              <th data-key=\"entry\">Entry</th>\
              <th data-key=\"labels\">Labels</th>\
              <th data-key=\"algorithm\">Algorithm</th>\
              <th class=\"num\" data-key=\"distance\" data-type=\"num\">Distance</th>\
              <th data-key=\"probe\">Probe</th>\
              <th data-key=\"orientation\">Orientation</th>\
              <th class=\"num\" data-key=\"exif_orientation\" data-type=\"num\" title=\"The file's EXIF Orientation tag (1-8), when the scan read it (--orientation exif)\">EXIF orientation</th>\
              <th data-key=\"md5\">MD5</th>\
              </tr></thead>\n<tbody>\n",
        )
    }

    fn record(&mut self, r: &FileRecord) -> std::io::Result<()> {
        // Errors, skips, and containers that could not be read to their end.
        let not_processed = matches!(r.class(), "error" | "skipped")
            || (r.class() == "container" && r.error.is_some());
        if r.matches.is_empty() && !not_processed {
            return Ok(());
        }
        let (_, lossy) = html_escape(&r.path);
        let cell = path_cell(&r.path, path_b64(r, lossy));
        if not_processed {
            let mut detail = html(r.error.as_deref().unwrap_or(""));
            if let Some(t) = &r.link_target {
                let (shown, lossy) = html_escape(t);
                let b64 = link_b64(r, lossy)
                    .map(|b| format!(" data-b64=\"{b}\""))
                    .unwrap_or_default();
                if !detail.is_empty() {
                    detail.push_str("; ");
                }
                detail.push_str(&format!("link to <span class=\"path\"{b64}>{shown}</span>"));
            }
            writeln!(
                self.errors,
                "<tr data-disposition=\"{d}\"><td class=\"num\">{}</td>{cell}<td>{d}</td><td>{detail}</td></tr>",
                r.index,
                d = html(&r.disposition.to_string()),
            )?;
            self.error_rows += 1;
        }
        for m in &r.matches {
            let labels: Vec<String> = m
                .labels
                .iter()
                .map(|l| format!("{}={}", l.scheme, l.value))
                .collect();
            let probe = m.probe.clone().unwrap_or_default();
            writeln!(
                self.out,
                "<tr data-order=\"{}\"><td class=\"num\">{}</td>{cell}<td class=\"path\">{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td class=\"num exif\">{}</td><td class=\"hash\">{}</td></tr>",
                self.match_rows,
                r.index,
                html(&m.set),
                html(&m.entry),
                html(&labels.join("; ")),
                html(&m.algorithm),
                m.distance,
                html(&probe),
                html(m.orientation.as_deref().unwrap_or("")),
                r.exif_orientation
                    .map(|o| o.to_string())
                    .unwrap_or_default(),
                html(r.md5.as_deref().unwrap_or("")),
            )?;
            self.match_rows += 1;
            let mut keys = vec![String::new()];
            keys.extend(labels);
            keys.dedup();
            for label in keys {
                self.by_label
                    .entry((m.set.clone(), label))
                    .or_default()
                    .add(m.distance, &probe);
            }
        }
        Ok(())
    }

    fn finish(&mut self, summary: &Value) -> std::io::Result<()> {
        self.out.write_all(b"</tbody></table>\n")?;
        if self.match_rows == 0 {
            self.out
                .write_all(b"<p class=\"note\" id=\"no-matches\">No file matched.</p>\n")?;
        }
        self.out.write_all(b"</section>\n")?;
        write!(
            self.out,
            "<section id=\"errors\" style=\"order:5\">\n<h2>Not processed: errors and skipped items</h2>\n\
             <p class=\"note\">{} items. Errors could not be processed (an unreadable file, a corrupt image or archive); skipped items were not read on purpose (links are never followed; size, dimension and container limits; encrypted members); a container listed here could not be read to its end (its readable members are kept).</p>\n\
             <table id=\"errors-table\">\n<thead><tr><th class=\"num\">#</th><th>Path</th><th>Disposition</th><th>Reason</th></tr></thead>\n<tbody>\n",
            self.error_rows
        )?;
        self.errors.flush()?;
        let spill = self.errors.get_mut();
        spill.seek(SeekFrom::Start(0))?;
        std::io::copy(spill, &mut self.out)?;
        self.out.write_all(b"</tbody></table>\n</section>\n")?;
        self.out.write_all(self.counts(summary).as_bytes())?;
        self.out.write_all(self.labels().as_bytes())?;
        write!(
            self.out,
            "<footer style=\"order:6\"><p class=\"note\">Written by {} {}. Sort and filter need script; without it the tables are in record order.</p></footer>\n</main>\n<script>{SCRIPT}</script>\n</body>\n</html>\n",
            html(&plain(&self.header["tool"])),
            html(&plain(&self.header["version"]))
        )?;
        self.out.flush()
    }
}

/// The "Built from" cell of a hash set's row: each source list's name and SHA-256.
fn built_from(set: &Value) -> String {
    let sources: Vec<String> = set["provenance"]["sources"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|src| {
            format!(
                "{} <span class=\"mono\">sha256 {}</span>",
                html(&plain(&src["name"])),
                html(&plain(&src["sha256"]))
            )
        })
        .collect();
    sources.join("<br>")
}
