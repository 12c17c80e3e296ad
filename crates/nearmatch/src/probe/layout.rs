//! Finding the picture in a query: uniform borders to peel, and the picture rectangle inside a
//! screenshot-like layout (bars, text and a picture on a flat background).

use super::plane::{Plane, Rect};

/// A line is part of a bar when this share of its pixels is within [`BAR_TOLERANCE`] of the
/// bar's colour (JPEG ringing and a stray icon pixel must not end a bar).
const BAR_SHARE: f32 = 0.97;
/// Luma levels a bar pixel may differ from the bar's colour.
const BAR_TOLERANCE: f32 = 10.0;
/// A bar must end at an edge, or it is a smooth gradient of the picture itself (a sky), which
/// is never trimmed: at least [`EDGE_SHARE`] of the next line's pixels differ from the bar's
/// colour by more than this many luma levels.
const EDGE_STEP_MIN: f32 = 16.0;
/// See [`EDGE_STEP_MIN`].
const EDGE_SHARE: f32 = 0.25;
/// Luma levels a pad's line means may wander from its colour (see [`bar_with`]).
const MAX_DRIFT: f32 = 2.0;
/// A border is at least this share of the side it is cut from.
const MIN_TRIM: f32 = 0.02;
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

/// [`median`] sorting a copy in `scratch` (reused: no allocation once it has grown).
fn median_in(v: &[f32], scratch: &mut Vec<f32>) -> f32 {
    scratch.clear();
    scratch.extend_from_slice(v);
    let mid = scratch.len() / 2;
    *scratch.select_nth_unstable_by(mid, f32::total_cmp).1
}

/// Whether any outermost line of a `w`x`h` plane could start a bar: when none can, no trim
/// stage exists (strict or flat-pad), so a trim-only query needs no plane at all.
pub fn any_bar_start(px: &[f32], w: usize, h: usize) -> bool {
    let column = |x: usize| -> Vec<f32> { (0..h).map(|y| px[y * w + x]).collect() };
    w >= 3
        && h >= 3
        && any_bar_start_at_edges(
            &px[..w],
            &px[(h - 1) * w..h * w],
            &column(0),
            &column(w - 1),
            &mut Vec::new(),
        )
}

/// [`any_bar_start`] from the four outermost lines alone (all it looks at): the top and bottom
/// rows, the left and right columns, each at least 3 long; `scratch` is working space.
pub fn any_bar_start_at_edges(
    top: &[f32],
    bottom: &[f32],
    left: &[f32],
    right: &[f32],
    scratch: &mut Vec<f32>,
) -> bool {
    [top, bottom, left, right]
        .into_iter()
        .any(|line| line_starts_bar(line, scratch))
}

/// Whether one outermost line could start a bar (what [`any_bar_start_at_edges`] asks of each);
/// `scratch` is working space.
pub fn line_starts_bar(line: &[f32], scratch: &mut Vec<f32>) -> bool {
    bar_colour_in(line, BAR_SHARE, scratch).is_some()
}

/// The colour of a bar that `line` (its outermost line) starts: its median, when `share` of the
/// line is within [`BAR_TOLERANCE`] of it.
fn bar_colour(line: &[f32], share: f32) -> Option<f32> {
    bar_colour_in(line, share, &mut Vec::new())
}

/// [`bar_colour`] with working space for the median.
fn bar_colour_in(line: &[f32], share: f32, scratch: &mut Vec<f32>) -> Option<f32> {
    let colour = median_in(line, scratch);
    (share_within(line, colour, BAR_TOLERANCE) >= share).then_some(colour)
}

fn share_within(v: &[f32], c: f32, tol: f32) -> f32 {
    v.iter().filter(|&&x| (x - c).abs() <= tol).count() as f32 / v.len() as f32
}

/// The thickness of the uniform bar on `side` of `r`, if one ends at an edge.
fn bar(p: &Plane, r: Rect, side: Side, flat_pads: bool) -> Option<usize> {
    bar_with(p, r, side, BAR_SHARE, flat_pads)
}

/// [`bar`] where a line belongs to the bar when `share` of it has the bar's colour (below 1: a
/// strip of text or icons on a flat background counts as bar too). With `flat_pads`, a bar that
/// is flat in depth needs no sharp edge after it.
fn bar_with(p: &Plane, r: Rect, side: Side, share: f32, flat_pads: bool) -> Option<usize> {
    let n = depth(r, side);
    if n < 3 {
        return None;
    }
    let first = line(p, r, side, 0);
    let colour = bar_colour(&first, share)?;
    let mut means = vec![mean(&first)];
    let mut t = 1;
    while t < n {
        let l = line(p, r, side, t);
        if share_within(&l, colour, BAR_TOLERANCE) < share {
            break;
        }
        means.push(mean(&l));
        t += 1;
    }
    if t >= n {
        return None; // the whole rectangle is one colour
    }
    // How far the bar's lines' means wander from its colour, the last two lines aside (a JPEG
    // blurs the bar's inner edge): a pad stays put, a ramp of the picture drifts.
    let drift = means[..means.len().saturating_sub(2).max(1)]
        .iter()
        .fold(0f32, |d, m| d.max((m - colour).abs()));
    // Look one line further in too: a JPEG blurs the bar's edge over a line or two.
    let after = line(p, r, side, (t + 1).min(n - 1));
    let differ = after
        .iter()
        .filter(|&&x| (x - colour).abs() > EDGE_STEP_MIN)
        .count();
    let edge = differ as f32 >= EDGE_SHARE * after.len() as f32;
    // A bar that ends without a sharp edge is still a pad when it is flat in depth (a coloured
    // pad next to picture content of about its luma).
    (edge || (flat_pads && t >= 3 && drift <= MAX_DRIFT)).then_some(t)
}

fn mean(v: &[f32]) -> f32 {
    v.iter().sum::<f32>() / v.len() as f32
}

/// The rectangle left after peeling every uniform border of `r` (bars of any colour, stacked
/// bars one after the other), or `None` when there is no border. A side is never cut to less
/// than [`MIN_KEPT`] of its length.
pub fn trim_box(p: &Plane, r: Rect) -> Option<Rect> {
    trim_stages(p, r).pop()
}

/// [`trim_box`] peeling the left and right sides only.
fn trim_left_right(p: &Plane, r: Rect) -> Rect {
    peel(p, r, &[Side::Left, Side::Right], false)
        .pop()
        .unwrap_or(r)
}

/// The rectangles after each round of peeling (one bar per side per round), outermost first:
/// the last is [`trim_box`]. The earlier ones matter when the picture itself has a flat margin
/// that a stacked-bar peel would take with the border (a document on a coloured pad).
pub fn trim_stages(p: &Plane, r: Rect) -> Vec<Rect> {
    trim_stages_with(p, r, false)
}

/// The trimmed rectangles worth a probe, most likely first: the full peel of bars that end at
/// an edge, and the first round of a peel that also takes pads flat in depth whose inner edge
/// is faint (a coloured pad beside content of about its luma). Distinct, maybe empty.
pub fn trim_candidates(p: &Plane, r: Rect) -> Vec<Rect> {
    let strict = trim_stages(p, r);
    let lenient = trim_stages_with(p, r, true);
    let mut out: Vec<Rect> = Vec::new();
    // The first lenient round, not its full peel: a later lenient round mostly takes a flat
    // margin of the picture itself (a document's white page), and the strict first round
    // rarely adds a match the others miss; each costs a PDQ hash (measured: no TPR lost).
    for c in [strict.last(), lenient.first()].into_iter().flatten() {
        if !out.contains(c) {
            out.push(*c);
        }
    }
    out
}

fn trim_stages_with(p: &Plane, r: Rect, flat_pads: bool) -> Vec<Rect> {
    let mut stages = peel(
        p,
        r,
        &[Side::Top, Side::Bottom, Side::Left, Side::Right],
        flat_pads,
    );
    // A line or two of flat edge (JPEG blocks at a photo's border) is no border: a real pad or
    // bar takes at least this share of a side.
    let (min_x, min_y) = (
        (r.width() as f32 * MIN_TRIM) as usize,
        (r.height() as f32 * MIN_TRIM) as usize,
    );
    stages.retain(|s| r.width() - s.width() > min_x || r.height() - s.height() > min_y);
    stages
}

fn peel(p: &Plane, r: Rect, sides: &[Side], flat_pads: bool) -> Vec<Rect> {
    let mut stages = Vec::new();
    let mut cur = r;
    let (min_w, min_h) = (
        ((r.width() as f32 * MIN_KEPT).ceil() as usize).max(8),
        ((r.height() as f32 * MIN_KEPT).ceil() as usize).max(8),
    );
    let mut changed = true;
    while changed {
        changed = false;
        for &side in sides {
            let Some(t) = bar(p, cur, side, flat_pads) else {
                continue;
            };
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
        if changed {
            stages.push(cur);
        }
    }
    stages
}

/// Share of a row's columns where the luma steps by more than this between rows `y-1`, `y+1`.
const EDGE_STEP: f32 = 24.0;
/// A row is a layout edge when at least this share of its columns step.
const EDGE_ROW_SHARE: f32 = 0.6;
/// A picture band is at least this share of the screenshot's height and of its width.
const MIN_BAND: f32 = 0.2;
/// A layout has block boundaries within this share of the height from its top and its bottom.
const LAYOUT_EDGE_ZONE: f32 = 0.2;
/// At most this many content boxes are tried per image.
const MAX_BOXES: usize = 8;

/// A row of a UI strip (caption text, icons, a user name) has at least this share of its pixels
/// in the strip's background colour.
const UI_SHARE: f32 = 0.6;

/// Peels strips of text and icons on a flat background from the top and bottom of a band, so a
/// band that runs from the picture into its caption ends at the picture.
fn peel_ui_strips(p: &Plane, r: Rect, sides: &[Side]) -> Rect {
    let min_h = ((r.height() as f32 * MIN_KEPT).ceil() as usize).max(8);
    let mut cur = r;
    for &side in sides {
        while let Some(t) = bar_with(p, cur, side, UI_SHARE, false) {
            if cur.height() - t < min_h {
                break;
            }
            match side {
                Side::Top => cur.y0 += t,
                _ => cur.y1 -= t,
            }
        }
    }
    cur
}

/// Luma standard deviation below which a band is a flat panel, not a picture.
const FLAT_SD: f32 = 12.0;

/// Whether a rectangle is one flat colour (a panel or the background, not a picture).
fn flat(p: &Plane, r: Rect) -> bool {
    let n = (r.width() * r.height()) as f32;
    let (mut sum, mut sq) = (0f64, 0f64);
    for y in r.y0..r.y1 {
        for x in r.x0..r.x1 {
            let v = f64::from(p.at(x, y));
            sum += v;
            sq += v * v;
        }
    }
    let mean = sum / f64::from(n);
    ((sq / f64::from(n) - mean * mean).max(0.0).sqrt() as f32) < FLAT_SD
}

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
    // Only layouts: a screenshot has block boundaries (bars) near its top and its bottom; a
    // photograph's full-width edges (a horizon) are rarely both.
    let near_top = lines
        .iter()
        .any(|&y| y > 0 && (y as f32) < LAYOUT_EDGE_ZONE * h as f32);
    let near_bottom = lines
        .iter()
        .any(|&y| y < h && (y as f32) > (1.0 - LAYOUT_EDGE_ZONE) * h as f32);
    if !(near_top && near_bottom) {
        return Vec::new();
    }
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
        let hard = trim_box(p, band).unwrap_or(band);
        // With the caption strips peeled, and without (a flat sky at the picture's top edge
        // looks like a strip too).
        let sides = trim_left_right(p, band);
        let candidates = [
            // Captions sit below the picture far more often than above it.
            peel_ui_strips(p, sides, &[Side::Bottom]),
            peel_ui_strips(p, hard, &[Side::Top, Side::Bottom]),
            hard,
            sides,
        ];
        for r in candidates {
            if r.width() < min_w || r.height() < min_h || out.contains(&r) || flat(p, r) {
                continue;
            }
            out.push(r);
        }
        if out.len() >= MAX_BOXES {
            out.truncate(MAX_BOXES);
            break;
        }
    }
    out
}
