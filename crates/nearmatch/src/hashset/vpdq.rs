//! Video lists: hash sets of vPDQ hashes, one entry per hashed frame of each known video.
//!
//! A video list is an ordinary PDQ set (so it can also be searched frame by frame) whose entries
//! carry the video's id (the entry id, shared by all its frames), the video's labels and note,
//! and three labels of the frame: `vpdq-frame`, `vpdq-quality`, `vpdq-timestamp`. A marker
//! section ([`VPDQ_SECTION`], JSON `{"format":"vpdq","videos":N}`) says it is a video list, so a
//! scan matches videos against it as Meta does ([`VideoList::match_video`]) rather than images.
//!
//! ```
//! use nearmatch::hash::vpdq::{self, VpdqFrame};
//! use nearmatch::hashset::vpdq::{VideoList, VideoListWriter};
//! use nearmatch::hashset::HashSet;
//! # let dir = std::env::temp_dir().join(format!("nmvdoc{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("videos.nmset");
//! let h = |c: char| c.to_string().repeat(64).parse().unwrap();
//! let frames = vec![
//!     VpdqFrame { frame: 0, quality: 100, hash: h('0'), timestamp: 0.0 },
//!     VpdqFrame { frame: 25, quality: 100, hash: h('f'), timestamp: 1.0 },
//! ];
//! let mut w = VideoListWriter::create(&path).unwrap();
//! w.add_video("clip-1", "", &[], &frames, "clip-1.txt").unwrap();
//! w.finish().unwrap();
//! let set = HashSet::open(&path).unwrap();
//! let list = VideoList::read(&set, vpdq::DEFAULT_QUALITY).unwrap();
//! let hits = list.match_video(&set.searcher().unwrap(), &frames[..1], &vpdq::MatchOptions::default()).unwrap();
//! assert_eq!(hits[0].1.query_percent(), 100.0);
//! assert_eq!(hits[0].1.compared_percent(), 50.0);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::digest::Digest256;
use crate::error::{Error, Result};
use crate::hash::vpdq::{self, MatchOptions, VideoMatch, VpdqFrame};
use crate::hash::Algorithm;
use crate::hashset::format::SectionKind;
use crate::hashset::{BuildSummary, HashSet, SetWriter};
use crate::import::{ImportRecord, Label, RecordSink};
use crate::search::{Engine, Queries, Searcher};

/// The section that marks a set as a video list.
pub const VPDQ_SECTION: SectionKind = SectionKind::Other(32);
/// Label scheme of an entry's frame number.
pub const FRAME_LABEL: &str = "vpdq-frame";
/// Label scheme of an entry's PDQ quality.
pub const QUALITY_LABEL: &str = "vpdq-quality";
/// Label scheme of an entry's timestamp (seconds, 3 decimals).
pub const TIMESTAMP_LABEL: &str = "vpdq-timestamp";

/// Builds a video list: one source per video file.
pub struct VideoListWriter {
    writer: SetWriter,
    videos: u64,
}

impl VideoListWriter {
    /// Starts a video list at `path` (written atomically by [`VideoListWriter::finish`]).
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        Ok(VideoListWriter {
            writer: SetWriter::create(path, Algorithm::Pdq)?,
            videos: 0,
        })
    }

    /// Adds one video: every frame becomes an entry with the video's id, labels and note.
    /// `source` names the file the frames came from (provenance).
    pub fn add_video(
        &mut self,
        id: &str,
        note: &str,
        labels: &[Label],
        frames: &[VpdqFrame],
        source: &str,
    ) -> Result<()> {
        if id.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "{source}: a video in a video list needs an id"
            )));
        }
        self.writer.begin_source(source);
        self.writer.set_source_format(crate::import::Format::Vpdq);
        for (i, f) in frames.iter().enumerate() {
            let mut l = labels.to_vec();
            l.push(Label::new(FRAME_LABEL, f.frame.to_string()));
            l.push(Label::new(QUALITY_LABEL, f.quality.to_string()));
            l.push(Label::new(TIMESTAMP_LABEL, format!("{:.3}", f.timestamp)));
            self.writer.push(ImportRecord {
                algorithm: Algorithm::Pdq,
                digest: f.hash.to_bytes(),
                id: id.to_string(),
                labels: l,
                note: note.to_string(),
                line: i as u64 + 1,
            })?;
        }
        self.videos += 1;
        Ok(())
    }

    /// Imports one of Meta's per-video vPDQ files; the video's id is the file name without its
    /// extension unless `id` is given.
    pub fn import_file(&mut self, path: &Path, id: Option<&str>, labels: &[Label]) -> Result<u64> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        let frames = vpdq::parse(&text).map_err(|e| Error::Import {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let id = id.map(str::to_string).unwrap_or(stem);
        self.add_video(&id, "", labels, &frames, &path.display().to_string())?;
        Ok(frames.len() as u64)
    }

    /// Videos added so far.
    pub fn videos(&self) -> u64 {
        self.videos
    }

    /// Writes the set with its marker section.
    pub fn finish(mut self) -> Result<BuildSummary> {
        let marker = serde_json::json!({"format": "vpdq", "videos": self.videos}).to_string();
        self.writer.add_section(VPDQ_SECTION, marker.into_bytes())?;
        self.writer.finish()
    }
}

/// One video of a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListVideo {
    /// The video's id.
    pub id: String,
    /// Its frames after the quality filter and deduplication.
    pub frames: usize,
    /// One entry of the video (its metadata: labels and note).
    pub first_entry: usize,
}

/// A video list read for matching at one quality threshold.
#[derive(Clone, Debug)]
pub struct VideoList {
    videos: Vec<ListVideo>,
    /// Per entry: `Some((video, canonical entry))` when the entry survives the quality filter
    /// (the canonical entry is the video's first entry with the same hash), else `None`.
    entries: Vec<Option<(u32, u32)>>,
}

impl VideoList {
    /// Whether `set` is a video list (has the marker section).
    pub fn is_video_list(set: &HashSet) -> bool {
        set.section(VPDQ_SECTION).is_some()
    }

    /// Reads the videos of a list: entries grouped by id, frames below `quality` dropped, equal
    /// hashes of one video counted once.
    pub fn read(set: &HashSet, quality: u8) -> Result<VideoList> {
        if !Self::is_video_list(set) || set.algorithm() != Algorithm::Pdq {
            return Err(Error::InvalidSet {
                path: set.path().to_path_buf(),
                reason: "not a video list (built with `set build --algo vpdq`)".into(),
            });
        }
        let mut by_id: BTreeMap<String, u32> = BTreeMap::new();
        let mut videos: Vec<ListVideo> = Vec::new();
        let mut canon: HashMap<(u32, Digest256), u32> = HashMap::new();
        let mut entries = Vec::with_capacity(set.len());
        for e in 0..set.len() {
            let meta = set.entry(e)?;
            let q = meta
                .labels
                .iter()
                .find(|l| l.scheme == QUALITY_LABEL)
                .and_then(|l| l.value.parse::<u8>().ok())
                .ok_or_else(|| Error::InvalidSet {
                    path: set.path().to_path_buf(),
                    reason: format!("entry {e} has no {QUALITY_LABEL} label"),
                })?;
            let v = *by_id.entry(meta.id.to_string()).or_insert_with(|| {
                videos.push(ListVideo {
                    id: meta.id.to_string(),
                    frames: 0,
                    first_entry: e,
                });
                (videos.len() - 1) as u32
            });
            if q < quality {
                entries.push(None);
                continue;
            }
            let words = set.digest_words(e).unwrap_or(&[]);
            let d = Digest256::from_bytes(&words_to_bytes(words)).unwrap_or_default();
            let c = *canon.entry((v, d)).or_insert_with(|| {
                videos[v as usize].frames += 1;
                e as u32
            });
            entries.push(Some((v, c)));
        }
        Ok(VideoList { videos, entries })
    }

    /// The videos, in order of first entry.
    pub fn videos(&self) -> &[ListVideo] {
        &self.videos
    }

    /// Compares a video's frames with every video of the list in one radius search; the list
    /// videos with at least one matching frame, with Meta's counts (thresholds not applied:
    /// see [`VideoMatch::is_match`]).
    pub fn match_video(
        &self,
        searcher: &Searcher<'_>,
        query: &[VpdqFrame],
        opts: &MatchOptions,
    ) -> Result<Vec<(usize, VideoMatch)>> {
        let q = vpdq::prepare(query, opts.quality);
        if q.is_empty() {
            return Ok(Vec::new());
        }
        let words = crate::search::pack(&q);
        let queries = Queries::single(&words, 4)?;
        let hits = searcher.radius_search(&queries, opts.distance, Engine::Auto)?;
        // Per list video: the query frames and the canonical list frames that matched.
        let mut per: BTreeMap<
            u32,
            (
                std::collections::BTreeSet<u32>,
                std::collections::BTreeSet<u32>,
            ),
        > = BTreeMap::new();
        for m in hits {
            if let Some(Some((v, c))) = self.entries.get(m.entry as usize) {
                let slot = per.entry(*v).or_default();
                slot.0.insert(m.query);
                slot.1.insert(*c);
            }
        }
        Ok(per
            .into_iter()
            .map(|(v, (qs, cs))| {
                (
                    v as usize,
                    VideoMatch {
                        query_frames: q.len(),
                        query_matched: qs.len(),
                        compared_frames: self.videos[v as usize].frames,
                        compared_matched: cs.len(),
                    },
                )
            })
            .collect())
    }
}

fn words_to_bytes(words: &[u64]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_be_bytes()).collect()
}
