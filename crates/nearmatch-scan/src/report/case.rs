//! CASE/UCO (Cyber-investigation Analysis Standard Expression, on the Unified Cyber Ontology)
//! as JSON-LD with an inline context, one graph node per line.
//!
//! The scan is a `case-investigation:InvestigativeAction` whose instrument is a
//! `uco-tool:ConfiguredTool` (its configuration entries are the scan's options), whose performer
//! is the user, whose objects are the evidence roots and the hash sets (`uco-observable:File`s
//! with their SHA-256), and whose results are the records: an `uco-observable:File` each, with a
//! file facet (name, path, size, times), a content-data facet (MD5, SHA-1, SHA-256 and the
//! perceptual hashes as `uco-types:Hash`) and, for images, a raster-picture facet. A container's
//! member is `Contained_Within` its parent; a match is an `uco-observable:ObservableRelationship`
//! from the file to the hash-list entry (an `uco-observable:ObservableObject` named by its id,
//! with its labels, `Contained_Within` its set) carrying the distance, probe and orientation.
//! What UCO has no property for is in nearmatch's vocabulary (`nearmatch:`).
//!
//! Identifiers end in version-5 UUIDs derived from the header (so from the scan), so converting
//! the same JSON Lines report twice gives the same graph, byte for byte.

use std::collections::HashSet;
use std::io::Write;

use serde_json::{json, Map, Value};

use super::text::{link_b64, path_b64, shell_join, xsd_datetime};
use super::uuid;
use super::ReportWriter;
use crate::record::{FileRecord, MatchRec};

/// nearmatch's vocabulary in CASE reports (prefix `nearmatch`).
pub const NEARMATCH_CASE_NAMESPACE: &str = "urn:nearmatch:case:1:";

/// Distinct matched entries remembered so each entry's node is written once; past this many the
/// memory is cleared (an entry may then be described twice: the same triples, which a graph
/// merges), so memory stays bounded.
const ENTRY_MEMORY: usize = 1 << 16;

/// Writes a CASE/UCO JSON-LD report.
pub struct CaseWriter<W: Write> {
    out: W,
    scan: [u8; 16],
    first: bool,
    header: Value,
    entries_seen: HashSet<String>,
    /// Records written, and whether their indices ran 0, 1, 2, ... (then the action's results
    /// can be listed at the end without having been kept).
    records: u64,
    contiguous: bool,
}

/// A typed literal.
fn typed(kind: &str, v: &str) -> Value {
    json!({"@type": kind, "@value": v})
}

/// A reference to a node.
fn iri(id: &str) -> Value {
    json!({"@id": id})
}

/// `snake_case` -> `camelCase`, for summary keys as nearmatch properties.
fn camel(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut up = false;
    for c in s.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.extend(c.to_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A JSON value as a string: strings as they are, anything else as compact JSON.
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The method name of a hash algorithm in `uco-types:hashMethod`: UCO's vocabulary spells the
/// cryptographic ones `MD5`, `SHA1`, `SHA256`; perceptual ones are upper-cased (`PDQ`).
fn hash_method(algo: &str) -> String {
    algo.to_ascii_uppercase()
}

impl<W: Write> CaseWriter<W> {
    /// A writer over `out`.
    pub fn new(out: W) -> Self {
        CaseWriter {
            out,
            scan: [0; 16],
            first: true,
            header: Value::Null,
            entries_seen: HashSet::new(),
            records: 0,
            contiguous: true,
        }
    }

    /// The identifier of the node `kind` named `name` in this scan: `kb:KIND-UUID`.
    fn id(&self, kind: &str, name: &str) -> String {
        let u = uuid::v5(&self.scan, format!("{kind}/{name}").as_bytes());
        format!("kb:{kind}-{}", uuid::text(&u))
    }

    fn file_id(&self, index: u64) -> String {
        self.id("file", &index.to_string())
    }

    fn set_id(&self, path: &str, sha256: &str) -> String {
        self.id("hash-set", &format!("{sha256}/{path}"))
    }

    fn entry_id(&self, m: &MatchRec) -> String {
        self.id(
            "hash-set-entry",
            &format!("{}/{}/{}", m.set_sha256, m.set, m.entry_index),
        )
    }

    /// Writes one node of the graph.
    fn node(&mut self, v: &Value) -> std::io::Result<()> {
        if !std::mem::take(&mut self.first) {
            self.out.write_all(b",\n")?;
        }
        serde_json::to_writer(&mut self.out, v)?;
        Ok(())
    }

    fn hash_node(&self, owner: &str, algo: &str, hex: &str) -> Value {
        json!({
            "@id": self.id("hash", &format!("{owner}/{algo}")),
            "@type": "uco-types:Hash",
            "uco-types:hashMethod": hash_method(algo),
            "uco-types:hashValue": typed("xsd:hexBinary", hex),
        })
    }

    fn relationship(
        &self,
        name: &str,
        source: &str,
        target: &str,
        kind: &str,
    ) -> Map<String, Value> {
        let mut rel = Map::new();
        rel.insert("@id".into(), self.id("relationship", name).into());
        rel.insert(
            "@type".into(),
            "uco-observable:ObservableRelationship".into(),
        );
        rel.insert("uco-core:source".into(), iri(source));
        rel.insert("uco-core:target".into(), iri(target));
        rel.insert("uco-core:kindOfRelationship".into(), kind.into());
        rel.insert("uco-core:isDirectional".into(), true.into());
        rel
    }

    fn match_nodes(&mut self, r: &FileRecord, file: &str) -> std::io::Result<()> {
        for (k, m) in r.matches.iter().enumerate() {
            let entry = self.entry_id(m);
            if !self.entries_seen.contains(&entry) {
                if self.entries_seen.len() >= ENTRY_MEMORY {
                    self.entries_seen.clear();
                }
                self.entries_seen.insert(entry.clone());
                let set = self.set_id(&m.set, &m.set_sha256);
                let name = if m.entry.is_empty() {
                    format!("#{}", m.entry_index)
                } else {
                    m.entry.clone()
                };
                let mut node = json!({
                    "@id": entry,
                    "@type": "uco-observable:ObservableObject",
                    "uco-core:name": name,
                    "nearmatch:entryId": m.entry,
                    "nearmatch:entryIndex": m.entry_index,
                    "nearmatch:hashSet": iri(&set),
                    "nearmatch:hashSetPath": m.set,
                });
                if !m.labels.is_empty() {
                    node["uco-core:tag"] = m
                        .labels
                        .iter()
                        .map(|l| Value::from(format!("{}={}", l.scheme, l.value)))
                        .collect();
                    node["nearmatch:label"] = m
                        .labels
                        .iter()
                        .map(|l| json!({"nearmatch:scheme": l.scheme, "nearmatch:value": l.value}))
                        .collect();
                }
                if !m.note.is_empty() {
                    node["uco-core:description"] = m.note.clone().into();
                }
                self.node(&node)?;
                let within = self.relationship(
                    &format!("entry-in-set/{entry}"),
                    &entry,
                    &set,
                    "Contained_Within",
                );
                self.node(&Value::Object(within))?;
            }
            let mut rel =
                self.relationship(&format!("match/{}/{k}", r.index), file, &entry, "Matches");
            rel.insert("nearmatch:algorithm".into(), m.algorithm.clone().into());
            rel.insert("nearmatch:distance".into(), m.distance.into());
            if let Some(o) = &m.orientation {
                rel.insert("nearmatch:orientation".into(), o.clone().into());
            }
            if let Some(p) = &m.probe {
                rel.insert("nearmatch:probe".into(), p.clone().into());
            }
            self.node(&Value::Object(rel))?;
        }
        Ok(())
    }
}

impl<W: Write> ReportWriter for CaseWriter<W> {
    fn begin(&mut self, header: &Value) -> std::io::Result<()> {
        self.scan = uuid::v5(&uuid::NEARMATCH, header.to_string().as_bytes());
        self.header = header.clone();
        let uco = |m: &str| format!("https://ontology.unifiedcyberontology.org/uco/{m}/");
        let context = json!({
            "kb": "urn:nearmatch:kb:",
            "nearmatch": NEARMATCH_CASE_NAMESPACE,
            "case-investigation": "https://ontology.caseontology.org/case/investigation/",
            "uco-action": uco("action"),
            "uco-configuration": uco("configuration"),
            "uco-core": uco("core"),
            "uco-identity": uco("identity"),
            "uco-observable": uco("observable"),
            "uco-tool": uco("tool"),
            "uco-types": uco("types"),
            "xsd": "http://www.w3.org/2001/XMLSchema#",
        });
        self.out.write_all(b"{\n\"@context\": ")?;
        serde_json::to_writer_pretty(&mut self.out, &context)?;
        self.out.write_all(b",\n\"@graph\": [\n")?;
        let h = header;
        let s = |k: &str| plain(&h[k]);

        let performer = json!({
            "@id": self.id("identity", "performer"),
            "@type": "uco-identity:Identity",
            "uco-core:name": s("user"),
        });
        self.node(&performer)?;

        let entries: Vec<Value> = h["options"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| {
                json!({
                    "@id": self.id("configuration-entry", k),
                    "@type": "uco-configuration:ConfigurationEntry",
                    "uco-configuration:itemName": k,
                    "uco-configuration:itemValue": plain(v),
                })
            })
            .collect();
        let tool = json!({
            "@id": self.id("configured-tool", "scan"),
            "@type": "uco-tool:ConfiguredTool",
            "uco-core:name": s("tool"),
            "uco-tool:version": s("version"),
            "uco-tool:toolType": "perceptual and cryptographic hash matcher",
            "nearmatch:gitCommit": s("git_commit"),
            "nearmatch:gitDirty": h["git_dirty"],
            "uco-configuration:usesConfiguration": {
                "@id": self.id("configuration", "scan"),
                "@type": "uco-configuration:Configuration",
                "uco-configuration:configurationEntry": entries,
            },
        });
        self.node(&tool)?;

        for (i, e) in h["evidence"].as_array().into_iter().flatten().enumerate() {
            let name = format!("{i}");
            let node = json!({
                "@id": self.id("evidence", &name),
                "@type": "uco-observable:ObservableObject",
                "uco-core:name": plain(&e["path"]),
                "uco-core:hasFacet": [{
                    "@id": self.id("evidence-file-facet", &name),
                    "@type": "uco-observable:FileFacet",
                    "uco-observable:filePath": plain(&e["path"]),
                }],
                "nearmatch:canonicalPath": e["canonical"],
                "nearmatch:mount": e["mount"],
                "nearmatch:readWrite": e["read_write"],
            });
            self.node(&node)?;
        }
        for set in h["sets"].as_array().into_iter().flatten() {
            let (path, sha) = (plain(&set["path"]), plain(&set["sha256"]));
            let id = self.set_id(&path, &sha);
            let node = json!({
                "@id": id,
                "@type": "uco-observable:File",
                "uco-core:name": path,
                "uco-core:hasFacet": [
                    {
                        "@id": self.id("file-facet", &id),
                        "@type": "uco-observable:FileFacet",
                        "uco-observable:filePath": path,
                        "uco-observable:fileName": path.rsplit('/').next().unwrap_or(&path),
                    },
                    {
                        "@id": self.id("content-data-facet", &id),
                        "@type": "uco-observable:ContentDataFacet",
                        "uco-observable:hash": [self.hash_node(&id, "sha256", &sha)],
                    },
                ],
                "nearmatch:algorithm": set["algorithm"],
                "nearmatch:entries": set["entries"],
                "nearmatch:radius": set["radius"],
                "nearmatch:probeRadius": set["probe_radius"],
                "nearmatch:provenance": set["provenance"].to_string(),
            });
            self.node(&node)?;
        }
        Ok(())
    }

    fn record(&mut self, r: &FileRecord) -> std::io::Result<()> {
        self.contiguous &= r.index == self.records;
        self.records += 1;
        let file = self.file_id(r.index);
        let key = r.index.to_string();
        let mut facet = Map::new();
        facet.insert("@id".into(), self.id("file-facet", &key).into());
        facet.insert("@type".into(), "uco-observable:FileFacet".into());
        let name = r.path.rsplit('/').next().unwrap_or(&r.path);
        facet.insert("uco-observable:fileName".into(), name.into());
        facet.insert("uco-observable:filePath".into(), r.path.clone().into());
        if let Some((stem, ext)) = name.rsplit_once('.') {
            if !stem.is_empty() && !ext.is_empty() {
                facet.insert("uco-observable:extension".into(), ext.into());
            }
        }
        if let Some(n) = r.size {
            facet.insert("uco-observable:sizeInBytes".into(), n.into());
        }
        let mut odd_times = Map::new();
        for (prop, key, t) in [
            ("uco-observable:modifiedTime", "nearmatch:mtime", &r.mtime),
            (
                "uco-observable:metadataChangeTime",
                "nearmatch:ctime",
                &r.ctime,
            ),
            ("uco-observable:accessedTime", "nearmatch:atime", &r.atime),
            (
                "uco-observable:observableCreatedTime",
                "nearmatch:crtime",
                &r.created,
            ),
        ] {
            match t {
                Some(t) if xsd_datetime(t) => {
                    facet.insert(prop.into(), typed("xsd:dateTime", t));
                }
                Some(t) => {
                    odd_times.insert(key.into(), t.clone().into());
                }
                None => {}
            }
        }
        // Allocation is known for files read from a disk image's file system.
        if r.deleted == Some(true) {
            facet.insert("uco-observable:allocationStatus".into(), "deleted".into());
        } else if r.carved == Some(true) {
            facet.insert(
                "uco-observable:allocationStatus".into(),
                "unallocated".into(),
            );
        } else if r.fs_id.is_some() {
            facet.insert("uco-observable:allocationStatus".into(), "allocated".into());
        }
        let mut facets = vec![Value::Object(facet)];
        let mut hashes = Vec::new();
        for (algo, v) in [("md5", &r.md5), ("sha1", &r.sha1), ("sha256", &r.sha256)] {
            if let Some(h) = v.as_deref().filter(|h| !h.is_empty()) {
                hashes.push(self.hash_node(&file, algo, h));
            }
        }
        for (algo, h) in r.hashes.iter().filter(|(_, h)| !h.is_empty()) {
            hashes.push(self.hash_node(&file, algo, h));
        }
        if !hashes.is_empty() || r.size.is_some() {
            let mut content = json!({
                "@id": self.id("content-data-facet", &key),
                "@type": "uco-observable:ContentDataFacet",
            });
            if let Some(n) = r.size {
                content["uco-observable:sizeInBytes"] = n.into();
            }
            if !hashes.is_empty() {
                content["uco-observable:hash"] = hashes.into();
            }
            facets.push(content);
        }
        if let (Some(w), Some(h)) = (r.width, r.height) {
            facets.push(json!({
                "@id": self.id("raster-picture-facet", &key),
                "@type": "uco-observable:RasterPictureFacet",
                "uco-observable:pictureWidth": w,
                "uco-observable:pictureHeight": h,
            }));
        }
        let mut node = Map::new();
        node.insert("@id".into(), file.clone().into());
        node.insert("@type".into(), "uco-observable:File".into());
        node.insert("uco-core:hasFacet".into(), facets.into());
        node.insert("nearmatch:recordIndex".into(), r.index.into());
        node.insert("nearmatch:kind".into(), r.kind.clone().into());
        node.insert(
            "nearmatch:disposition".into(),
            r.disposition.to_string().into(),
        );
        let mut opt = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                node.insert(k.into(), v);
            }
        };
        opt("nearmatch:detail", r.error.clone().map(Value::from));
        opt("nearmatch:pathBase64", path_b64(r, false).map(Value::from));
        opt(
            "nearmatch:contentType",
            r.file_type.clone().map(Value::from),
        );
        opt(
            "nearmatch:extensionMismatch",
            r.extension_mismatch.map(Value::from),
        );
        opt("nearmatch:pdqQuality", r.pdq_quality.map(Value::from));
        opt("nearmatch:lowQuality", r.low_quality.map(Value::from));
        opt("nearmatch:hashMode", r.hash_mode.clone().map(Value::from));
        opt(
            "nearmatch:hashedSize",
            r.hashed_size.clone().map(Value::from),
        );
        opt(
            "nearmatch:exifOrientation",
            r.exif_orientation.map(Value::from),
        );
        opt("nearmatch:probeHashes", r.probe_hashes.map(Value::from));
        // Ignore-set (known-good) entries holding the file's bytes (`--ignore-set`).
        opt(
            "nearmatch:knownGood",
            (!r.known_good.is_empty()).then(|| {
                r.known_good
                    .iter()
                    .map(|m| {
                        json!({
                            "nearmatch:hashSetPath": m.set,
                            "nearmatch:hashSetSha256": m.set_sha256,
                            "nearmatch:algorithm": m.algorithm,
                            "nearmatch:entryId": m.entry,
                            "nearmatch:entryIndex": m.entry_index,
                            "nearmatch:label": m.labels.iter().map(|l| format!("{}={}", l.scheme, l.value)).collect::<Vec<_>>(),
                            "nearmatch:note": m.note,
                        })
                    })
                    .collect()
            }),
        );
        opt(
            "nearmatch:linkTarget",
            r.link_target.clone().map(Value::from),
        );
        opt(
            "nearmatch:linkTargetBase64",
            link_b64(r, false).map(Value::from),
        );
        opt(
            "nearmatch:linkTargetInsideRoot",
            r.link_target_inside_root.map(Value::from),
        );
        opt("nearmatch:depth", r.depth.map(Value::from));
        opt(
            "nearmatch:containerFormat",
            r.container.clone().map(Value::from),
        );
        opt("nearmatch:members", r.members.map(Value::from));
        opt("nearmatch:descendants", r.descendants.map(Value::from));
        opt("nearmatch:crc32", r.crc32.clone().map(Value::from));
        opt("nearmatch:fsId", r.fs_id.clone().map(Value::from));
        opt("nearmatch:deleted", r.deleted.map(Value::from));
        opt("nearmatch:recovery", r.recovery.clone().map(Value::from));
        opt("nearmatch:carved", r.carved.map(Value::from));
        opt(
            "nearmatch:carve",
            r.carve.as_ref().map(|c| Value::from(c.to_string())),
        );
        opt("nearmatch:offset", r.offset.map(Value::from));
        opt(
            "nearmatch:partitionType",
            r.partition_type.clone().map(Value::from),
        );
        opt(
            "nearmatch:duplicateOf",
            r.duplicate_of_index.map(|i| iri(&self.file_id(i))),
        );
        node.extend(odd_times);
        self.node(&Value::Object(node))?;
        if let Some(p) = r.parent {
            let parent = self.file_id(p);
            let rel = self.relationship(
                &format!("contained/{}", r.index),
                &file,
                &parent,
                "Contained_Within",
            );
            self.node(&Value::Object(rel))?;
        }
        self.match_nodes(r, &file)
    }

    fn finish(&mut self, summary: &Value) -> std::io::Result<()> {
        let h = self.header.clone();
        let mut action = Map::new();
        action.insert("@id".into(), self.id("investigative-action", "scan").into());
        action.insert(
            "@type".into(),
            "case-investigation:InvestigativeAction".into(),
        );
        let sets = h["sets"].as_array().cloned().unwrap_or_default();
        action.insert(
            "uco-core:name".into(),
            if sets.is_empty() {
                "nearmatch inventory scan"
            } else {
                "nearmatch hash-match scan"
            }
            .into(),
        );
        action.insert(
            "uco-core:description".into(),
            "Every file of the evidence hashed (MD5, SHA-1, SHA-256 and perceptual hashes) and matched against known-image hash sets; one result per file.".into(),
        );
        if let Some(t) = h["started_utc"].as_str().filter(|t| xsd_datetime(t)) {
            action.insert("uco-action:startTime".into(), typed("xsd:dateTime", t));
        }
        if let Some(t) = summary["finished_utc"].as_str().filter(|t| xsd_datetime(t)) {
            action.insert("uco-action:endTime".into(), typed("xsd:dateTime", t));
        }
        action.insert(
            "uco-action:instrument".into(),
            iri(&self.id("configured-tool", "scan")),
        );
        action.insert(
            "uco-action:performer".into(),
            iri(&self.id("identity", "performer")),
        );
        let mut objects: Vec<Value> = (0..h["evidence"].as_array().map_or(0, Vec::len))
            .map(|i| iri(&self.id("evidence", &i.to_string())))
            .collect();
        for set in &sets {
            objects.push(iri(
                &self.set_id(&plain(&set["path"]), &plain(&set["sha256"]))
            ));
        }
        action.insert("uco-action:object".into(), objects.into());
        action.insert("nearmatch:host".into(), h["host"].clone());
        let args: Vec<String> = h["command_line"]
            .as_array()
            .map(|a| a.iter().map(plain).collect())
            .unwrap_or_default();
        action.insert("nearmatch:commandLine".into(), shell_join(&args).into());
        if let Some(r) = h["resumed"].as_object() {
            action.insert("nearmatch:resumedUtc".into(), r["resumed_utc"].clone());
            action.insert("nearmatch:filesReused".into(), r["files_reused"].clone());
        }
        if let Some(w) = h["warnings"].as_array().filter(|w| !w.is_empty()) {
            action.insert("nearmatch:warning".into(), Value::Array(w.clone()));
        }
        for (k, v) in summary.as_object().into_iter().flatten() {
            if k == "record" {
                continue;
            }
            let value = match v {
                Value::Object(m) => m
                    .iter()
                    .map(|(key, n)| json!({"nearmatch:key": key, "nearmatch:count": n}))
                    .collect(),
                other => other.clone(),
            };
            action.insert(format!("nearmatch:{}", camel(k)), value);
        }
        // The results, one reference per record, listed from their indices (nothing was kept).
        let text = serde_json::to_string(&Value::Object(action))?;
        self.out.write_all(if self.first { b"" } else { b",\n" })?;
        self.first = false;
        self.out.write_all(&text.as_bytes()[..text.len() - 1])?;
        if self.contiguous && self.records > 0 {
            self.out.write_all(b",\"uco-action:result\":[")?;
            for i in 0..self.records {
                if i > 0 {
                    self.out.write_all(b",")?;
                }
                write!(self.out, "{{\"@id\":\"{}\"}}", self.file_id(i))?;
            }
            self.out.write_all(b"]")?;
        }
        self.out.write_all(b"}\n]\n}\n")?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_keys_become_camel_case() {
        assert_eq!(camel("files_walked"), "filesWalked");
        assert_eq!(camel("matches"), "matches");
    }
}
