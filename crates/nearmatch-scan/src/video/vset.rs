//! Video lists in a scan: a scanned video against every video of a vPDQ set.

use nearmatch::hash::vpdq::{MatchOptions, VpdqFrame};
use nearmatch::hashset::vpdq::VideoList;
use nearmatch::hashset::HashSet;

use crate::record::{LabelRec, MatchRec};
use crate::sets::LoadedSet;
use crate::video::scan::VideoMatchRec;

/// A video list read for matching (at the scan's quality threshold).
pub struct VideoSet {
    list: VideoList,
}

impl VideoSet {
    /// Whether `set` is a video list.
    pub fn is_video_set(set: &HashSet) -> bool {
        VideoList::is_video_list(set)
    }

    /// Reads the list's videos, dropping frames below `quality`.
    pub fn read(set: &HashSet, quality: u8) -> nearmatch::Result<Self> {
        Ok(VideoSet {
            list: VideoList::read(set, quality)?,
        })
    }

    /// The list videos that `frames` match under `opts` (both shares at or above their
    /// thresholds), as match records; the distance is the radius used.
    pub fn match_video(
        &self,
        s: &LoadedSet,
        frames: &[VpdqFrame],
        opts: &MatchOptions,
    ) -> nearmatch::Result<Vec<MatchRec>> {
        // Video lists are never layered (refused when loaded), so the top is the whole list.
        let searcher = s.set.top().searcher()?;
        let mut out = Vec::new();
        for (v, m) in self.list.match_video(&searcher, frames, opts)? {
            if !m.is_match(opts) {
                continue;
            }
            let video = &self.list.videos()[v];
            let meta = s.set.top().entry(video.first_entry)?;
            out.push(MatchRec {
                set: s.display.clone(),
                set_sha256: s.sha256.clone(),
                entry: video.id.clone(),
                entry_index: video.first_entry as u64,
                labels: meta
                    .labels
                    .iter()
                    .filter(|l| !l.scheme.starts_with("vpdq-"))
                    .map(|l| LabelRec {
                        scheme: l.scheme.to_string(),
                        value: l.value.to_string(),
                    })
                    .collect(),
                note: meta.note.to_string(),
                algorithm: "vpdq".into(),
                distance: opts.distance,
                orientation: None,
                probe: None,
                video: Some(VideoMatchRec {
                    query_percent: m.query_percent(),
                    compared_percent: m.compared_percent(),
                    query_frames: m.query_frames as u64,
                    compared_frames: m.compared_frames as u64,
                }),
            });
        }
        out.sort_by(|a, b| {
            let pa = a.video.as_ref().map_or(0.0, |v| v.query_percent);
            let pb = b.video.as_ref().map_or(0.0, |v| v.query_percent);
            pb.total_cmp(&pa).then(a.entry_index.cmp(&b.entry_index))
        });
        Ok(out)
    }
}
