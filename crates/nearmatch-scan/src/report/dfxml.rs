//! DFXML 2.0 (Digital Forensics XML, the schema of The Sleuth Kit's fiwalk, bulk_extractor and
//! hashdeep): a creator block, the evidence as the source, one `fileobject` per record in the
//! schema's element order, and what DFXML has no element for (dispositions, perceptual hashes,
//! matches, container parents, the summary) in nearmatch's own namespace, which the schema
//! admits wherever it allows `##other` content.
//!
//! Text is escaped for XML by hand (quick-xml writes the structure): `>` always, so `]]>` never
//! appears; a carriage return as `&#13;`; tab and line feed in attributes as references. A name
//! holding characters XML 1.0 cannot carry at all (most C0 controls) is written with them as
//! `\xNN`, and its exact bytes go in `nm:path_b64`, as for names that are not UTF-8.

use std::borrow::Cow;
use std::io::Write;

use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::name::QName;
use serde_json::Value;

use super::text::{link_b64, path_b64, shell_join, xml, xml_attr, xml_escape, xsd_datetime};
use super::ReportWriter;
use crate::record::{Disposition, FileRecord};

/// The DFXML namespace (the schema's target namespace).
pub const DFXML_NAMESPACE: &str =
    "http://www.forensicswiki.org/wiki/Category:Digital_Forensics_XML";

/// nearmatch's namespace for what DFXML has no element for (prefix `nm`).
pub const NEARMATCH_XML_NAMESPACE: &str = "urn:nearmatch:dfxml:1";

/// The DFXML schema version written.
const DFXML_VERSION: &str = "2.0.0-beta.0";

/// Writes a DFXML 2.0 report.
pub struct DfxmlWriter<W: Write> {
    w: quick_xml::Writer<W>,
}

/// The DFXML `name_type` of a record's kind.
fn name_type(kind: &str) -> &'static str {
    match kind {
        "file" => "r",
        "symlink" => "l",
        "fifo" => "p",
        "socket" => "s",
        "char-device" => "c",
        "block-device" => "b",
        "directory" => "d",
        _ => "-",
    }
}

/// The keys of `obj` whose values are not null, with their values as text.
fn present<'k>(obj: &Value, keys: &[&'k str]) -> Vec<(&'k str, String)> {
    keys.iter()
        .filter(|k| !obj[**k].is_null())
        .map(|k| (*k, plain(&obj[*k])))
        .collect()
}

/// Attribute pairs borrowed from owned ones.
fn borrowed<'a>(attrs: &'a [(&'a str, String)]) -> Vec<(&'a str, &'a str)> {
    attrs.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// A JSON value as attribute text: strings as they are, anything else as compact JSON.
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl<W: Write> DfxmlWriter<W> {
    /// A writer over `out` (indented by two spaces).
    pub fn new(out: W) -> Self {
        DfxmlWriter {
            w: quick_xml::Writer::new_with_indent(out, b' ', 2),
        }
    }

    fn open(&mut self, name: &str, attrs: &[(&str, &str)]) -> std::io::Result<()> {
        self.w.write_event(Event::Start(tag(name, attrs)))
    }

    fn close(&mut self, name: &str) -> std::io::Result<()> {
        self.w.write_event(Event::End(BytesEnd::new(name)))
    }

    fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) -> std::io::Result<()> {
        self.w.write_event(Event::Empty(tag(name, attrs)))
    }

    /// `<name attrs>text</name>`, `text` already escaped.
    fn leaf_escaped(
        &mut self,
        name: &str,
        attrs: &[(&str, &str)],
        escaped: &str,
    ) -> std::io::Result<()> {
        self.open(name, attrs)?;
        self.w
            .write_event(Event::Text(BytesText::from_escaped(escaped)))?;
        self.close(name)
    }

    /// A hit on a set entry (`nm:match`, or `nm:known_good` for an ignore set): set, entry,
    /// algorithm and distance as attributes, labels and note as children.
    fn hit(&mut self, name: &str, m: &crate::record::MatchRec) -> std::io::Result<()> {
        let (ei, d) = (m.entry_index.to_string(), m.distance.to_string());
        let mut attrs = vec![
            ("set", m.set.as_str()),
            ("set_sha256", m.set_sha256.as_str()),
            ("entry", m.entry.as_str()),
            ("entry_index", ei.as_str()),
            ("algorithm", m.algorithm.as_str()),
            ("distance", d.as_str()),
        ];
        if let Some(o) = &m.orientation {
            attrs.push(("orientation", o));
        }
        if let Some(p) = &m.probe {
            attrs.push(("probe", p));
        }
        if m.labels.is_empty() && m.note.is_empty() {
            return self.empty(name, &attrs);
        }
        self.open(name, &attrs)?;
        for l in &m.labels {
            self.leaf("nm:label", &[("scheme", &l.scheme)], &l.value)?;
        }
        if !m.note.is_empty() {
            self.leaf("nm:note", &[], &m.note)?;
        }
        self.close(name)
    }

    /// `<name attrs>text</name>`.
    fn leaf(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) -> std::io::Result<()> {
        self.leaf_escaped(name, attrs, &xml(text))
    }

    /// A path element whose exact bytes go in `nm:path_b64` when the text cannot carry them.
    fn path_leaf(
        &mut self,
        name: &str,
        text: &str,
        b64: impl FnOnce(bool) -> Option<String>,
    ) -> std::io::Result<()> {
        let (escaped, lossy) = xml_escape(text, false);
        match b64(lossy) {
            Some(b) => self.leaf_escaped(name, &[("nm:path_b64", &b)], &escaped),
            None => self.leaf_escaped(name, &[], &escaped),
        }
    }

    /// A time element: DFXML's when it is a valid `xs:dateTime`, nearmatch's otherwise.
    fn time(&mut self, name: &str, t: &Option<String>) -> std::io::Result<()> {
        match t {
            Some(t) if xsd_datetime(t) => self.leaf(name, &[], t),
            _ => Ok(()),
        }
    }

    fn creator(&mut self, h: &Value) -> std::io::Result<()> {
        let s = |k: &str| h[k].as_str().unwrap_or("").to_string();
        self.open("creator", &[])?;
        let build = present(h, &["git_commit", "git_dirty"]);
        let build: Vec<(String, String)> = build
            .into_iter()
            .map(|(k, v)| (format!("nm:{k}"), v))
            .collect();
        let build: Vec<(&str, &str)> = build
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.leaf("program", &build, &s("tool"))?;
        self.leaf("version", &[], &s("version"))?;
        self.open("build_environment", &[])?;
        let version = s("version");
        let mut library = vec![("name", "nearmatch"), ("version", version.as_str())];
        library.extend(build.iter().copied());
        self.empty("library", &library)?;
        self.close("build_environment")?;
        self.open("execution_environment", &[])?;
        self.leaf("host", &[], &s("host"))?;
        let args: Vec<String> = h["command_line"]
            .as_array()
            .map(|a| a.iter().map(plain).collect())
            .unwrap_or_default();
        self.leaf("command_line", &[], &shell_join(&args))?;
        self.leaf("username", &[], &s("user"))?;
        let started = s("started_utc");
        if xsd_datetime(&started) {
            self.leaf("start_time", &[], &started)?;
        }
        self.close("execution_environment")?;
        self.close("creator")
    }

    fn metadata(&mut self, h: &Value) -> std::io::Result<()> {
        self.open("metadata", &[])?;
        let sets = h["sets"].as_array().cloned().unwrap_or_default();
        let kind = if sets.is_empty() {
            "File inventory (hashes, no matching)"
        } else {
            "Hash match report (perceptual and cryptographic hashes against known-image hash sets)"
        };
        self.leaf("dc:type", &[], kind)?;
        self.leaf("dc:creator", &[], h["user"].as_str().unwrap_or(""))?;
        if let Some(started) = h["started_utc"].as_str() {
            self.leaf("dc:date", &[], started)?;
        }
        if let Some(r) = h["resumed"].as_object() {
            let when = plain(&r["resumed_utc"]);
            let reused = plain(&r["files_reused"]);
            self.empty(
                "nm:resumed",
                &[("resumed_utc", &when), ("files_reused", &reused)],
            )?;
        }
        for e in h["evidence"].as_array().into_iter().flatten() {
            let attrs = present(e, &["path", "canonical", "mount", "read_write"]);
            self.empty("nm:evidence", &borrowed(&attrs))?;
        }
        for set in &sets {
            let attrs = present(
                set,
                &[
                    "path",
                    "sha256",
                    "algorithm",
                    "entries",
                    "radius",
                    "probe_radius",
                ],
            );
            self.open("nm:set", &borrowed(&attrs))?;
            if let Some(p) = set.get("provenance") {
                self.leaf("nm:provenance", &[], &p.to_string())?;
            }
            self.close("nm:set")?;
        }
        for (k, v) in h["options"].as_object().into_iter().flatten() {
            self.leaf("nm:option", &[("name", k)], &plain(v))?;
        }
        for w in h["warnings"].as_array().into_iter().flatten() {
            self.leaf("nm:warning", &[], &plain(w))?;
        }
        self.leaf("nm:noatime_refused", &[], &plain(&h["noatime_refused"]))?;
        self.close("metadata")
    }
}

/// A start tag with attributes escaped by [`xml_attr`] (quick-xml would leave tabs and line
/// feeds for a parser to turn into spaces).
fn tag<'a>(name: &'a str, attrs: &[(&'a str, &str)]) -> BytesStart<'a> {
    let mut e = BytesStart::new(name);
    for (k, v) in attrs {
        e.push_attribute(Attribute {
            key: QName(k),
            value: Cow::Owned(xml_attr(v)),
        });
    }
    e
}

/// The number DFXML's `inode` holds for a file-system id: the inode of ext (`inode:12`), the
/// MFT record of NTFS (`record-sequence`); none for ids that are not a number (FAT entries).
fn inode_number(fs_id: &str) -> Option<u64> {
    let id = fs_id.strip_prefix("inode:").unwrap_or(fs_id);
    let id = id.split_once('-').map_or(id, |(record, _)| record);
    id.trim().parse().ok()
}

impl<W: Write> ReportWriter for DfxmlWriter<W> {
    fn begin(&mut self, header: &Value) -> std::io::Result<()> {
        self.w
            .write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        self.open(
            "dfxml",
            &[
                ("xmlns", DFXML_NAMESPACE),
                ("xmlns:dc", "http://purl.org/dc/elements/1.1/"),
                ("xmlns:nm", NEARMATCH_XML_NAMESPACE),
                ("version", DFXML_VERSION),
            ],
        )?;
        self.metadata(header)?;
        self.creator(header)?;
        self.open("source", &[])?;
        for e in header["evidence"].as_array().into_iter().flatten() {
            let canonical = plain(&e["canonical"]);
            self.leaf(
                "image_filename",
                &[("nm:canonical", &canonical)],
                &plain(&e["path"]),
            )?;
        }
        self.close("source")
    }

    fn record(&mut self, r: &FileRecord) -> std::io::Result<()> {
        self.open("fileobject", &[])?;
        self.path_leaf("filename", &r.path, |lossy| path_b64(r, lossy))?;
        let is_error = matches!(r.disposition, Disposition::Error(_))
            || (r.disposition == Disposition::Container && r.error.is_some());
        if is_error {
            let detail = match &r.error {
                Some(e) => format!("{}: {e}", r.disposition),
                None => r.disposition.to_string(),
            };
            self.leaf("error", &[], &detail)?;
        }
        self.leaf("id", &[], &r.index.to_string())?;
        self.leaf("name_type", &[], name_type(&r.kind))?;
        if let Some(n) = r.size {
            self.leaf("filesize", &[], &n.to_string())?;
        }
        // Allocation is stated for files read from a disk image's file system, where it is
        // known: a deleted file recovered from metadata is `alloc` 0.
        if r.deleted == Some(true) || r.carved == Some(true) {
            self.leaf("alloc", &[], "0")?;
        } else if r.fs_id.is_some() {
            self.leaf("alloc", &[], "1")?;
        }
        if let Some(inode) = r.fs_id.as_deref().and_then(inode_number) {
            self.leaf("inode", &[], &inode.to_string())?;
        }
        self.time("mtime", &r.mtime)?;
        self.time("ctime", &r.ctime)?;
        self.time("atime", &r.atime)?;
        self.time("crtime", &r.created)?;
        if let Some(t) = &r.link_target {
            self.path_leaf("link_target", t, |lossy| link_b64(r, lossy))?;
        }
        for (name, v) in [("md5", &r.md5), ("sha1", &r.sha1), ("sha256", &r.sha256)] {
            if let Some(h) = v {
                self.leaf("hashdigest", &[("type", name)], h)?;
            }
        }
        // nearmatch's namespace from here on.
        if let Some(p) = r.parent {
            self.leaf("nm:parent", &[], &p.to_string())?;
        }
        self.leaf("nm:disposition", &[], &r.disposition.to_string())?;
        if let (Some(e), false) = (&r.error, is_error) {
            self.leaf("nm:detail", &[], e)?;
        }
        if r.kind != "file" {
            self.leaf("nm:kind", &[], &r.kind)?;
        }
        if let Some(d) = r.depth {
            self.leaf("nm:depth", &[], &d.to_string())?;
        }
        if let Some(c) = &r.container {
            let (m, d) = (
                r.members.map(|n| n.to_string()),
                r.descendants.map(|n| n.to_string()),
            );
            let mut attrs = vec![("format", c.as_str())];
            if let Some(m) = &m {
                attrs.push(("members", m));
            }
            if let Some(d) = &d {
                attrs.push(("descendants", d));
            }
            self.empty("nm:container", &attrs)?;
        }
        if let Some(c) = &r.crc32 {
            self.leaf("nm:crc32", &[], c)?;
        }
        if let Some(id) = &r.fs_id {
            self.leaf("nm:fs_id", &[], id)?;
        }
        if let Some(how) = &r.recovery {
            self.leaf("nm:recovery", &[], how)?;
        }
        if r.carved == Some(true) {
            self.leaf("nm:carved", &[], "1")?;
        }
        if let Some(c) = &r.carve {
            self.leaf("nm:carve", &[], &c.to_string())?;
        }
        if let Some(o) = r.offset {
            match &r.partition_type {
                Some(t) => self.leaf("nm:offset", &[("partition_type", t)], &o.to_string())?,
                None => self.leaf("nm:offset", &[], &o.to_string())?,
            }
        }
        for (name, t) in [
            ("nm:mtime", &r.mtime),
            ("nm:ctime", &r.ctime),
            ("nm:atime", &r.atime),
            ("nm:crtime", &r.created),
        ] {
            if let Some(t) = t.as_ref().filter(|t| !xsd_datetime(t)) {
                self.leaf(name, &[], t)?;
            }
        }
        if let Some(t) = &r.file_type {
            match r.extension_mismatch {
                Some(m) => self.leaf("nm:type", &[("extension_mismatch", &m.to_string())], t)?,
                None => self.leaf("nm:type", &[], t)?,
            }
        }
        if let (Some(w), Some(h)) = (r.width, r.height) {
            self.empty(
                "nm:image",
                &[("width", &w.to_string()), ("height", &h.to_string())],
            )?;
        }
        let mode = r.hash_mode.clone().unwrap_or_default();
        let size = r.hashed_size.clone().unwrap_or_default();
        for (algo, hex) in &r.hashes {
            let mut attrs: Vec<(&str, String)> = vec![("algorithm", algo.clone())];
            if algo == "pdq" {
                if let Some(q) = r.pdq_quality {
                    attrs.push(("quality", q.to_string()));
                }
            }
            if !mode.is_empty() {
                attrs.push(("mode", mode.clone()));
            }
            if !size.is_empty() {
                attrs.push(("hashed_size", size.clone()));
            }
            if let Some(o) = r.exif_orientation {
                attrs.push(("exif_orientation", o.to_string()));
            }
            self.leaf("nm:hash", &borrowed(&attrs), hex)?;
        }
        if let Some(n) = r.probe_hashes {
            self.leaf("nm:probe_hashes", &[], &n.to_string())?;
        }
        if let Some(q) = r.low_quality {
            self.leaf("nm:low_quality", &[], &q.to_string())?;
        }
        if let Some(inside) = r.link_target_inside_root {
            self.leaf("nm:link_target_inside_root", &[], &inside.to_string())?;
        }
        if let Some(i) = r.duplicate_of_index {
            let path = r.duplicate_of.clone().unwrap_or_default();
            self.leaf("nm:duplicate_of", &[("index", &i.to_string())], &path)?;
        }
        for m in &r.known_good {
            self.hit("nm:known_good", m)?;
        }
        for m in &r.matches {
            self.hit("nm:match", m)?;
        }
        self.close("fileobject")
    }

    fn finish(&mut self, summary: &Value) -> std::io::Result<()> {
        let empty = serde_json::Map::new();
        let obj = summary.as_object().unwrap_or(&empty);
        let scalars: Vec<(&str, String)> = obj
            .iter()
            .filter(|(k, v)| k.as_str() != "record" && !v.is_object())
            .map(|(k, v)| (k.as_str(), plain(v)))
            .collect();
        self.open("nm:summary", &borrowed(&scalars))?;
        for (group, v) in obj.iter().filter(|(_, v)| v.is_object()) {
            for (key, n) in v.as_object().into_iter().flatten() {
                self.leaf("nm:count", &[("group", group), ("key", key)], &plain(n))?;
            }
        }
        self.close("nm:summary")?;
        self.close("dfxml")?;
        let out = self.w.get_mut();
        out.write_all(b"\n")?;
        out.flush()
    }
}
