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

/// Columns gathered per pass down the rows by [`Lines`].
const COLUMN_BLOCK: usize = 16;

/// The lines of one side of a rectangle (line 0 outermost), as [`bar_with`] reads them, inward
/// one after the other: rows are borrowed from the plane, columns gathered [`COLUMN_BLOCK`] at a
/// time in one pass down the rows. Gathered one at a time, a column read a cache line for each
/// of its pixels, and the left and right bars of a scan's bordered images (documents, product
/// shots) made the trim probe 13% of the scan's CPU.
struct Lines<'a> {
    p: &'a Plane,
    r: Rect,
    side: Side,
    /// Lines `first..first + count` (columns), each `r.height()` long, one after the other.
    first: usize,
    count: usize,
    buf: Vec<f32>,
}

impl<'a> Lines<'a> {
    fn new(p: &'a Plane, r: Rect, side: Side) -> Self {
        Lines {
            p,
            r,
            side,
            first: 0,
            count: 0,
            buf: Vec::new(),
        }
    }

    /// The values of line `i`.
    fn get(&mut self, i: usize) -> &[f32] {
        let (w, px, r) = (self.p.width(), self.p.pixels(), self.r);
        let x_of = |j: usize| match self.side {
            Side::Right => r.x1 - 1 - j,
            _ => r.x0 + j,
        };
        match self.side {
            Side::Top => &px[(r.y0 + i) * w..][r.x0..r.x1],
            Side::Bottom => &px[(r.y1 - 1 - i) * w..][r.x0..r.x1],
            Side::Left | Side::Right => {
                let len = r.height();
                if !(self.first..self.first + self.count).contains(&i) {
                    let count = COLUMN_BLOCK.min(r.width() - i);
                    self.buf.clear();
                    self.buf.resize(count * len, 0.0);
                    for (k, row) in px[r.y0 * w..r.y1 * w].chunks_exact(w).enumerate() {
                        for j in 0..count {
                            self.buf[j * len + k] = row[x_of(i + j)];
                        }
                    }
                    (self.first, self.count) = (i, count);
                }
                &self.buf[(i - self.first) * len..][..len]
            }
        }
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
    let mut lines = Lines::new(p, r, side);
    let colour = bar_colour(lines.get(0), share)?;
    let mut t = 1;
    while t < n && share_within(lines.get(t), colour, BAR_TOLERANCE) >= share {
        t += 1;
    }
    if t >= n {
        return None; // the whole rectangle is one colour
    }
    // Look one line further in too: a JPEG blurs the bar's edge over a line or two.
    let after = lines.get((t + 1).min(n - 1));
    let differ = after
        .iter()
        .filter(|&&x| (x - colour).abs() > EDGE_STEP_MIN)
        .count();
    if differ as f32 >= EDGE_SHARE * after.len() as f32 {
        return Some(t);
    }
    // A bar that ends without a sharp edge is still a pad when it is flat in depth (a coloured
    // pad next to picture content of about its luma): its lines' means stay within MAX_DRIFT of
    // its colour, the last two lines aside (a JPEG blurs the bar's inner edge), where a ramp of
    // the picture drifts. The means are taken only here: a serial sum per line was most of the
    // peel's time when every bar line paid for it.
    if !(flat_pads && t >= 3) {
        return None;
    }
    let drift = (0..t.saturating_sub(2).max(1))
        .map(|i| mean(lines.get(i)))
        .fold(0f32, |d, m| d.max((m - colour).abs()));
    (drift <= MAX_DRIFT).then_some(t)
}

fn mean(v: &[f32]) -> f32 {
    v.iter().sum::<f32>() / v.len() as f32
}

/// The rectangle left after peeling every uniform border of `r` (bars of any colour, stacked
/// bars one after the other), or `None` when there is no border. A side is never cut to less
/// than [`MIN_KEPT`] of its length.
#[cfg(test)] // the probes use [`trim_candidates`]; the tests check the full peel
pub fn trim_box(p: &Plane, r: Rect) -> Option<Rect> {
    trim_stages(p, r).pop()
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

/// Luma levels a pixel must change by from the row above for its column to count as changing.
const ROW_STEP: f32 = 4.0;
/// A row starts a layout boundary when at least this share of its middle columns change from
/// the row above (a picture meeting a bar, a panel or the background). A 4-level step finds a
/// picture's edge against a background of about its luma, which the old 24-level edges missed;
/// below 100 % because a picture's edge row may share a colour with the bar it meets in places
/// (a dark picture under a dark title bar). Chosen on the eval's N = 280 screenshots: 0.85
/// found 88.6 % of window screenshots, 0.75 91.8 % (phone screenshots 92.9 % with both).
const BOUNDARY_SHARE: f32 = 0.75;
/// A row is UI-like (a bar, a panel, text or icons on a flat background) when this share of its
/// pixels is within [`BAR_TOLERANCE`] of its median.
const UI_ROW_SHARE: f32 = 0.85;
/// What a UI-like row inside a band costs its score, where a picture row adds 1: bands of
/// picture rows rank first, and a flat picture (a gradient) is still found.
const UI_ROW_PENALTY: f32 = 0.5;
/// A picture band has a UI-like row within this many rows above and below it: the layout gate
/// that keeps photographs (flat rows are rare there, and must sit on both sides) from paying
/// for content boxes (1 of 280 eval originals gets any).
const UI_GATE_ROWS: usize = 3;
/// A picture band is at least this share of the screenshot's height (and 16 rows).
const MIN_BAND_SHARE: f32 = 0.1;
/// A picture band is at least this share of the screenshot's width after its margins go.
const MIN_BAND: f32 = 0.2;
/// A side margin column matches the rows just outside the band on at least this share of its
/// pixels.
const MARGIN_SHARE: f32 = 0.97;
/// At most this many content boxes are tried per image (the picture's band was among the
/// first 3 in 274 of 280 eval phone screenshots, and among the first 4 in 279).
const MAX_BOXES: usize = 3;

/// A picture found in a screenshot-like layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContentBox {
    /// Where the picture is.
    pub rect: Rect,
    /// The radius of the rounded corners the layout cut into the picture (a card in a feed),
    /// 0 for square ones: see [`Plane::fill_rounded_corners`].
    pub corner_radius: usize,
}

/// The largest corner radius is this fraction of the picture's shorter side.
const MAX_CORNER_DIVISOR: usize = 8;

/// The radius of the rounded corners cut into `r` in the layout's colour `bg`, or 0: each corner
/// is tested for the largest radius whose outside (the pixels beyond the quarter circle, half a
/// pixel of anti-aliasing aside) is all `bg`, and the four must agree within a pixel (a card
/// rounds all four alike; a picture with one flat corner of about `bg` is not rounded). Radii
/// from 2 to an eighth of the shorter side.
fn rounded_corner_radius(p: &Plane, r: Rect, bg: f32) -> usize {
    let max_r = r.width().min(r.height()) / MAX_CORNER_DIVISOR;
    if max_r < 2 {
        return 0;
    }
    // (dx, dy) from a corner of `r` to plane coordinates, for the four corners.
    let corners: [&dyn Fn(usize, usize) -> (usize, usize); 4] = [
        &|dx, dy| (r.x0 + dx, r.y0 + dy),
        &|dx, dy| (r.x1 - 1 - dx, r.y0 + dy),
        &|dx, dy| (r.x0 + dx, r.y1 - 1 - dy),
        &|dx, dy| (r.x1 - 1 - dx, r.y1 - 1 - dy),
    ];
    let mut radii = [0usize; 4];
    for (radius, at) in radii.iter_mut().zip(corners) {
        // The region beyond the arc grows with the radius (each contains the smaller ones), so
        // the first radius that fails ends the search: the largest passing one is the last.
        *radius = (2..=max_r)
            .take_while(|&rad| {
                (0..rad).all(|dy| {
                    (0..rad).all(|dx| {
                        !beyond_arc(rad, dx, dy, 1) || {
                            let (x, y) = at(dx, dy);
                            (p.at(x, y) - bg).abs() <= BAR_TOLERANCE
                        }
                    })
                })
            })
            .last()
            .unwrap_or(0);
    }
    let (lo, hi) = (radii.iter().min(), radii.iter().max());
    match (lo, hi) {
        // At the largest radius tested the corner is flat `bg`, not rounded. The half pixel
        // allowed for anti-aliasing lets a sharp corner of radius R pass at R + 1 too.
        (Some(&lo), Some(&hi)) if lo >= 3 && hi - lo <= 1 && hi < max_r => lo - 1,
        _ => 0,
    }
}

/// Whether pixel (dx, dy) of a corner ((0, 0) the corner pixel) lies beyond the quarter circle
/// of `radius` by more than `half_pixels` / 2 (negative: less far): its centre against a circle
/// centred `radius` pixels in from both edges; integer arithmetic in quarter units.
pub(crate) fn beyond_arc(radius: usize, dx: usize, dy: usize, half_pixels: i64) -> bool {
    let (ox, oy) = ((radius - dx) as i64, (radius - dy) as i64);
    // 4·((ox − ½)² + (oy − ½)²) against (2·radius + half_pixels)².
    let d = 4 * (ox * ox + oy * oy) - 4 * (ox + oy) + 2;
    let lim = 2 * radius as i64 + half_pixels;
    d > lim * lim
}

/// Candidate picture rectangles of a screenshot-like layout, best first: bands of rows between
/// layout boundaries (rows where nearly every column changes) with a UI-like row (a bar, text
/// on a flat background) just above and just below, ranked by how many of their rows look like
/// picture rather than UI, each without the side margins that match the rows around it. Empty
/// when the image has no such structure (nearly every photograph).
pub fn content_boxes(p: &Plane) -> Vec<ContentBox> {
    let (w, h) = (p.width(), p.height());
    if w < 16 || h < 16 {
        return Vec::new();
    }
    let px = p.pixels();
    let row = |y: usize| &px[y * w..(y + 1) * w];
    let mut scratch = Vec::with_capacity(w);
    let ui: Vec<bool> = (0..h)
        .map(|y| {
            let r = row(y);
            share_within(r, median_in(r, &mut scratch), BAR_TOLERANCE) >= UI_ROW_SHARE
        })
        .collect();
    // Boundaries are judged on the middle two thirds of the width: side margins and rounded
    // corners (each up to a sixth of the width) keep the picture's edge from the screen's edges.
    let (c0, c1) = (w / 6, w - w / 6);
    let changes = |y: usize| {
        let n = row(y)[c0..c1]
            .iter()
            .zip(&row(y - 1)[c0..c1])
            .filter(|(a, b)| (*a - *b).abs() > ROW_STEP)
            .count();
        n as f32 >= BOUNDARY_SHARE * (c1 - c0) as f32
    };
    // Boundaries: the first and the last row of every run of changing rows. A picture with
    // texture changes on every row, so its top is where such a run starts and its bottom (the
    // first UI row after it) where the run ends.
    let mut bounds = Vec::new();
    let mut y = 1;
    while y < h {
        if changes(y) {
            let start = y;
            while y + 1 < h && changes(y + 1) {
                y += 1;
            }
            bounds.push(start);
            if y > start {
                bounds.push(y);
            }
        }
        y += 1;
    }
    // Prefix sums of the row scores: +1 a picture row, -UI_ROW_PENALTY a UI-like row.
    let mut score = vec![0f32; h + 1];
    for y in 0..h {
        score[y + 1] = score[y] + if ui[y] { -UI_ROW_PENALTY } else { 1.0 };
    }
    let ui_within = |a: usize, b: usize| ui[a..b.min(h)].iter().any(|&u| u);
    let min_h = ((h as f32 * MIN_BAND_SHARE) as usize).max(16);
    let mut bands: Vec<(f32, usize, usize)> = Vec::new();
    for &t in &bounds {
        if !ui_within(t.saturating_sub(UI_GATE_ROWS), t) {
            continue;
        }
        for &b in &bounds {
            if b >= t + min_h && ui_within(b, b + UI_GATE_ROWS) {
                bands.push((score[b] - score[t], t, b));
            }
        }
    }
    // Best score first; ties in a fixed order (the lower band first), so probes are
    // reproducible.
    bands.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)).then(b.2.cmp(&a.2)));
    let min_w = (w as f32 * MIN_BAND) as usize;
    let mut kept: Vec<(usize, usize)> = Vec::new();
    let mut out: Vec<ContentBox> = Vec::new();
    for (_, t, b) in bands {
        // A band one row off a kept one is the same picture (a JPEG-blurred edge).
        if kept
            .iter()
            .any(|&(t2, b2)| t.abs_diff(t2) <= 1 && b.abs_diff(b2) <= 1)
        {
            continue;
        }
        kept.push((t, b));
        let rect = without_margins(p, t, b);
        if rect.width() >= min_w.max(16) && !out.iter().any(|c| c.rect == rect) {
            // The layout's colour around the picture: the row above it (the gate put UI there).
            let bg = p.at(rect.x0, t - 1);
            out.push(ContentBox {
                rect,
                corner_radius: rounded_corner_radius(p, rect, bg),
            });
        }
        if kept.len() >= MAX_BOXES {
            break;
        }
    }
    out
}

/// The band of rows `t..b` without the side columns that continue the rows just outside it
/// (row `t - 1` or row `b`, the UI around the picture): margins of the layout's background,
/// not a flat edge of the picture itself. Never more than a third of the width per side.
fn without_margins(p: &Plane, t: usize, b: usize) -> Rect {
    let (w, h) = (p.width(), p.height());
    let outside: Vec<usize> = [t.checked_sub(1), (b < h).then_some(b)]
        .into_iter()
        .flatten()
        .collect();
    let margin = |x: usize| {
        outside.iter().any(|&oy| {
            let c = p.at(x, oy);
            let n = (t..b)
                .filter(|&y| (p.at(x, y) - c).abs() <= BAR_TOLERANCE)
                .count();
            n as f32 >= MARGIN_SHARE * (b - t) as f32
        })
    };
    let mut x0 = (0..w).take_while(|&x| margin(x)).count();
    let mut x1 = w - (0..w).rev().take_while(|&x| margin(x)).count();
    if x0 >= w / 3 {
        x0 = 0;
    }
    if w - x1 >= w / 3 {
        x1 = w;
    }
    Rect {
        x0,
        y0: t,
        x1,
        y1: b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_equal_a_pixel_by_pixel_gather_on_every_side() {
        // Every line of every side of rectangles wider and narrower than a column block, read
        // inward and then out of order (the reader refetches a block it has left).
        let (w, h) = (53usize, 41usize);
        let px: Vec<f32> = (0..w * h).map(|i| ((i * 7919) % 1009) as f32).collect();
        let p = Plane::new(w, h, px).unwrap();
        for r in [
            p.full(),
            Rect {
                x0: 3,
                y0: 2,
                x1: 50,
                y1: 39,
            },
            Rect {
                x0: 10,
                y0: 5,
                x1: 15,
                y1: 9,
            },
        ] {
            for side in [Side::Top, Side::Bottom, Side::Left, Side::Right] {
                let n = depth(r, side);
                let want = |i: usize| -> Vec<f32> {
                    match side {
                        Side::Top => (r.x0..r.x1).map(|x| p.at(x, r.y0 + i)).collect(),
                        Side::Bottom => (r.x0..r.x1).map(|x| p.at(x, r.y1 - 1 - i)).collect(),
                        Side::Left => (r.y0..r.y1).map(|y| p.at(r.x0 + i, y)).collect(),
                        Side::Right => (r.y0..r.y1).map(|y| p.at(r.x1 - 1 - i, y)).collect(),
                    }
                };
                let mut lines = Lines::new(&p, r, side);
                let order: Vec<usize> = (0..n).chain((0..n).rev()).chain([n / 2, 0]).collect();
                for i in order {
                    assert_eq!(lines.get(i), &want(i)[..], "{side:?} {r:?} line {i}");
                }
            }
        }
    }
}
