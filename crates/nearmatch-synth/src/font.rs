//! A built-in 5x7 bitmap font (capitals, digits, a little punctuation): no system fonts, so text
//! renders identically everywhere.

use super::canvas::{Canvas, Rgb};
use super::rng::Rng;

/// Glyph rows, top first; bit 4 is the leftmost pixel.
const GLYPHS: [(u8, [u8; 7]); 41] = [
    (b'A', [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11]),
    (b'B', [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E]),
    (b'C', [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E]),
    (b'D', [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C]),
    (b'E', [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F]),
    (b'F', [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10]),
    (b'G', [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F]),
    (b'H', [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11]),
    (b'I', [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E]),
    (b'J', [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C]),
    (b'K', [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11]),
    (b'L', [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F]),
    (b'M', [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11]),
    (b'N', [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11]),
    (b'O', [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E]),
    (b'P', [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10]),
    (b'Q', [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D]),
    (b'R', [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11]),
    (b'S', [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E]),
    (b'T', [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04]),
    (b'U', [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E]),
    (b'V', [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04]),
    (b'W', [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A]),
    (b'X', [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11]),
    (b'Y', [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04]),
    (b'Z', [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F]),
    (b'0', [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E]),
    (b'1', [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E]),
    (b'2', [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F]),
    (b'3', [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E]),
    (b'4', [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02]),
    (b'5', [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E]),
    (b'6', [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E]),
    (b'7', [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08]),
    (b'8', [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E]),
    (b'9', [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C]),
    (b'.', [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C]),
    (b',', [0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08]),
    (b':', [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00]),
    (b'-', [0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00]),
    (b'/', [0x01, 0x02, 0x02, 0x04, 0x08, 0x08, 0x10]),
];

/// Letters weighted roughly by English frequency, so lines of text have a natural texture.
const LETTERS: &[u8] = b"EEEEEEEEEEEETTTTTTTTTAAAAAAAAOOOOOOOIIIIIIINNNNNNNSSSSSSHHHHHHRRRRRRDDDDLLLLCCCUUUMMWWFFGGYYPPBVKJXQZ";

/// Horizontal advance of one character cell, in font pixels.
pub(crate) const ADVANCE: usize = 6;
/// Height of one glyph, in font pixels.
pub(crate) const HEIGHT: usize = 7;

fn glyph(ch: u8) -> Option<&'static [u8; 7]> {
    GLYPHS.iter().find(|g| g.0 == ch).map(|g| &g.1)
}

/// Draws `text` with its top-left at (x, y), each font pixel an `s` x `s` block; clipped.
pub(crate) fn draw_text(c: &mut Canvas, x: f32, y: f32, s: usize, text: &[u8], col: Rgb) {
    let s = s.max(1);
    let (x, y) = (x.floor(), y.floor());
    for (i, &ch) in text.iter().enumerate() {
        let Some(rows) = glyph(ch) else { continue };
        let gx = x + (i * ADVANCE * s) as f32;
        for (r, bits) in rows.iter().enumerate() {
            for b in 0..5 {
                if bits & (0x10 >> b) != 0 {
                    let px = gx + (b * s) as f32;
                    let py = y + (r * s) as f32;
                    c.rect(px, py, px + s as f32, py + s as f32, col, 1.0);
                }
            }
        }
    }
}

/// The coverage mask of `text` (one byte per pixel, 0 or 1, row-major) at scale `s`, with its
/// width and height: `text.len() * ADVANCE * s - s` by `HEIGHT * s` (zero for empty text).
///
/// For callers outside the generator that stamp text onto their own buffers (the eval's caption
/// and watermark transforms); characters without a glyph leave a blank cell, as in `draw_text`.
pub(crate) fn text_mask(text: &[u8], s: usize) -> (usize, usize, Vec<u8>) {
    let s = s.max(1);
    if text.is_empty() {
        return (0, 0, Vec::new());
    }
    let (w, h) = (text.len() * ADVANCE * s - s, HEIGHT * s);
    let mut mask = vec![0u8; w * h];
    for (i, &ch) in text.iter().enumerate() {
        let Some(rows) = glyph(ch) else { continue };
        for (r, bits) in rows.iter().enumerate() {
            for b in 0..5 {
                if bits & (0x10 >> b) != 0 {
                    let x0 = i * ADVANCE * s + b * s;
                    for y in r * s..(r + 1) * s {
                        mask[y * w + x0..y * w + x0 + s].fill(1);
                    }
                }
            }
        }
    }
    (w, h, mask)
}

/// Random words filling at most `max_chars` characters (spaces between words, never trailing).
pub(crate) fn random_words(rng: &mut Rng, max_chars: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let len = 1 + rng.below(9) as usize;
        let sep = usize::from(!out.is_empty());
        // One spare cell for a possible trailing stop or comma.
        if out.len() + sep + len + 1 > max_chars {
            break;
        }
        if sep == 1 {
            out.push(b' ');
        }
        let digits = rng.chance(0.06);
        for _ in 0..len {
            out.push(if digits {
                b'0' + rng.below(10) as u8
            } else {
                LETTERS[rng.below(LETTERS.len() as u32) as usize]
            });
        }
        if rng.chance(0.08) {
            out.push(if rng.chance(0.6) { b'.' } else { b',' });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn font_has_unique_five_bit_glyphs() {
        for (i, (ch, rows)) in GLYPHS.iter().enumerate() {
            assert!(rows.iter().all(|r| r & !0x1F == 0), "{}", *ch as char);
            assert!(GLYPHS[i + 1..].iter().all(|g| g.0 != *ch && g.1 != *rows));
        }
        assert!(LETTERS.iter().all(|&c| glyph(c).is_some()));
    }

    #[test]
    fn text_mask_matches_draw_text() {
        // The mask and the canvas renderer agree pixel for pixel.
        let text = b"AB 12.";
        let (w, h, mask) = text_mask(text, 2);
        assert_eq!((w, h), (text.len() * ADVANCE * 2 - 2, HEIGHT * 2));
        let mut c = Canvas::new(w, h);
        draw_text(&mut c, 0.0, 0.0, 2, text, [1.0, 1.0, 1.0]);
        let drawn: Vec<u8> = c.px.chunks_exact(3).map(|p| u8::from(p[0] > 127)).collect();
        assert_eq!(drawn, mask);
        assert!(mask.contains(&1));
        assert_eq!(text_mask(b"", 3), (0, 0, Vec::new()));
    }

    #[test]
    fn random_words_fit() {
        let mut r = Rng::new(3);
        for n in 0..40 {
            let w = random_words(&mut r, n);
            assert!(w.len() <= n, "{} > {n}", w.len());
        }
    }
}
