//! Finding the picture in a query: uniform borders to peel, and the picture rectangle inside a
//! screenshot-like layout (bars, text and a picture on a flat background).

use super::plane::{Plane, Rect};

/// A line is part of a bar when this share of its pixels is within [`BAR_TOLERANCE`] of the
/// bar's colour (JPEG ringing and a stray icon pixel must not end a bar).
const BAR_SHARE: f32 = 0.97;
/// Luma levels a bar pixel may differ from the bar's colour.
const BAR_TOLERANCE: f32 = 10.0;
/// Mean luma difference between a bar and the content after it: a bar must end at an edge, or
/// it is a smooth gradient of the picture itself (a sky), which is never trimmed.
const EDGE_MIN: f32 = 14.0;
/// A trim never leaves less than this share of a side.
const MIN_KEPT: f32 = 0.3;

/// The four sides a border can sit on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Top,
    Bottom,
    Left,
    Right,
}

/// The values of line `i` (0 = outermost) on `side` of `r`.
fn line(p: &Plane, r: Rect, side: Side, i: usize) -> Vec<f32> {
    match side {
        Side::Top => (r.x0..r.x1).map(|x| p.at(x, r.y0 + i)).collect(),
        Side::Bottom => (r.x0..r.x1).map(|x| p.at(x, r.y1 - 1 - i)).collect(),
        Side::Left => (r.y0..r.y1).map(|y| p.at(r.x0 + i, y)).collect(),
        Side::Right => (r.y0..r.y1).map(|y| p.at(r.x1 - 1 - i, y)).collect(),
    }
}

fn depth(r: Rect, side: Side) -> usize {
    match side {
        Side::Top | Side::Bottom => r.height(),
        Side::Left | Side::Right => r.width(),
    }
}

fn median(v: &[f32]) -> f32 {
    let mut s = v.to_vec();
    s.sort_by(f32::total_cmp);
    s[s.len() / 2]
}

fn share_within(v: &[f32], c: f32, tol: f32) -> f32 {
    v.iter().filter(|&&x| (x - c).abs() <= tol).count() as f32 / v.len() as f32
}

fn mean_abs_diff(v: &[f32], c: f32) -> f32 {
    v.iter().map(|&x| (x - c).abs()).sum::<f32>() / v.len() as f32
}

/// The thickness of the uniform bar on `side` of `r`, if one ends at an edge.
fn bar(p: &Plane, r: Rect, side: Side) -> Option<usize> {
    let n = depth(r, side);
    if n < 3 {
        return None;
    }
    let first = line(p, r, side, 0);
    let colour = median(&first);
    if share_within(&first, colour, BAR_TOLERANCE) < BAR_SHARE {
        return None;
    }
    let mut t = 1;
    while t < n && share_within(&line(p, r, side, t), colour, BAR_TOLERANCE) >= BAR_SHARE {
        t += 1;
    }
    if t >= n {
        return None; // the whole rectangle is one colour
    }
    // Look one line further in too: a JPEG blurs the bar's edge over a line or two.
    let after = line(p, r, side, (t + 1).min(n - 1));
    (mean_abs_diff(&after, colour) >= EDGE_MIN).then_some(t)
}

/// The rectangle left after peeling every uniform border of `r` (bars of any colour, stacked
/// bars one after the other), or `None` when there is no border. A side is never cut to less
/// than [`MIN_KEPT`] of its length.
pub fn trim_box(p: &Plane, r: Rect) -> Option<Rect> {
    let mut cur = r;
    let (min_w, min_h) = (
        ((r.width() as f32 * MIN_KEPT).ceil() as usize).max(8),
        ((r.height() as f32 * MIN_KEPT).ceil() as usize).max(8),
    );
    let mut changed = true;
    while changed {
        changed = false;
        for side in [Side::Top, Side::Bottom, Side::Left, Side::Right] {
            let Some(t) = bar(p, cur, side) else { continue };
            let mut next = cur;
            match side {
                Side::Top => next.y0 += t,
                Side::Bottom => next.y1 -= t,
                Side::Left => next.x0 += t,
                Side::Right => next.x1 -= t,
            }
            if next.width() >= min_w && next.height() >= min_h {
                cur = next;
                changed = true;
            }
        }
    }
    (cur != r).then_some(cur)
}

/// Share of a row's columns where the luma steps by more than this between rows `y-1`, `y+1`.
const EDGE_STEP: f32 = 24.0;
/// A row is a layout edge when at least this share of its columns step.
const EDGE_ROW_SHARE: f32 = 0.6;
/// A picture band is at least this share of the screenshot's height and of its width.
const MIN_BAND: f32 = 0.2;
/// At most this many content boxes are tried per image.
const MAX_BOXES: usize = 3;

/// Candidate picture rectangles of a screenshot-like layout, best first: bands between
/// full-width horizontal edges (where bars, text blocks and the picture meet), each trimmed of its
/// uniform margins. Empty when the image has no such structure.
pub fn content_boxes(p: &Plane) -> Vec<Rect> {
    let (w, h) = (p.width(), p.height());
    if w < 16 || h < 16 {
        return Vec::new();
    }
    // Rows where most columns step sharply: the boundaries between layout blocks.
    let mut score = vec![0f32; h + 1];
    for (y, s) in score.iter_mut().enumerate().take(h - 1).skip(1) {
        let steps = (0..w)
            .filter(|&x| (p.at(x, y + 1) - p.at(x, y - 1)).abs() > EDGE_STEP)
            .count();
        *s = steps as f32 / w as f32;
    }
    let mut lines = vec![0usize];
    let mut y = 1;
    while y < h {
        if score[y] >= EDGE_ROW_SHARE {
            // One edge spans two or three rows of the 2-row difference: keep its middle.
            let start = y;
            while y < h && score[y] >= EDGE_ROW_SHARE {
                y += 1;
            }
            lines.push((start + y) / 2);
        }
        y += 1;
    }
    lines.push(h);
    lines.dedup();
    let min_h = (h as f32 * MIN_BAND) as usize;
    let min_w = (w as f32 * MIN_BAND) as usize;
    // Bands between two edges with at most two edges inside (a horizon in the picture, an
    // edge within it), tallest first; the whole image is the plain probe already.
    let mut bands: Vec<(usize, usize)> = Vec::new();
    for (i, &a) in lines.iter().enumerate() {
        for &b in lines.iter().skip(i + 1).take(3) {
            if b - a >= min_h && (a, b) != (0, h) {
                bands.push((a, b));
            }
        }
    }
    bands.sort_by_key(|&(a, b)| std::cmp::Reverse(b - a));
    let mut out: Vec<Rect> = Vec::new();
    for (a, b) in bands {
        let band = Rect {
            x0: 0,
            y0: a,
            x1: w,
            y1: b,
        };
        let r = trim_box(p, band).unwrap_or(band);
        if r.width() < min_w || r.height() < min_h || out.contains(&r) {
            continue;
        }
        out.push(r);
        if out.len() == MAX_BOXES {
            break;
        }
    }
    out
}
