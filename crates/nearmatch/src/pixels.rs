//! Decoded pixels: the input of every perceptual hash.
//!
//! Decoding ([`crate::decode`]) reduces every format to one of a few layouts. Alpha is dropped
//! (as Meta's `pdqhash` and Python `imagehash` both do: no compositing), palettes are expanded to
//! RGB. 16-bit grey is kept as 16-bit because the references disagree on how to reduce it: PDQ
//! takes the high byte, Pillow's `convert('L')` clips to 255 (see the specs).
//!
//! ```
//! use nearmatch::pixels::{Image, Layout};
//! let img = Image::new(2, 1, Layout::Rgb8(vec![255, 0, 0, 0, 0, 255])).unwrap();
//! assert_eq!(img.width(), 2);
//! assert_eq!(img.rgb_at(1, 0), [0, 0, 255]);
//! ```

use crate::error::Error;
use crate::hash::pdq::Orientation;

/// Pixel storage, row-major, top row first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Layout {
    /// One 8-bit grey sample per pixel.
    Gray8(Vec<u8>),
    /// Three 8-bit samples (R, G, B) per pixel.
    Rgb8(Vec<u8>),
    /// One 16-bit grey sample per pixel (16-bit greyscale PNG/TIFF).
    Gray16(Vec<u16>),
}

/// A decoded image: width, height and samples.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    width: u32,
    height: u32,
    layout: Layout,
    /// Pillow's `convert('L')` of the source when it is not the `L24` of the RGB (raw YCbCr
    /// TIFFs, whose `L` is the Y channel): `width * height` bytes. See [`Image::with_pil_l`].
    pil_l: Option<Vec<u8>>,
}

impl Image {
    /// Wraps samples; errors if their count does not match `width * height * channels`.
    pub fn new(width: u32, height: u32, layout: Layout) -> Result<Self, Error> {
        let pixels = width as usize * height as usize;
        let (got, channels) = match &layout {
            Layout::Gray8(v) => (v.len(), 1),
            Layout::Rgb8(v) => (v.len(), 3),
            Layout::Gray16(v) => (v.len(), 1),
        };
        if got != pixels * channels {
            return Err(Error::InvalidPixels(format!(
                "{width}x{height} with {channels} channel(s) needs {} samples, got {got}",
                pixels * channels
            )));
        }
        Ok(Image {
            width,
            height,
            layout,
            pil_l: None,
        })
    }

    /// Attaches the grey plane Pillow's `convert('L')` gives for the source image when it is not
    /// the `L24` of the RGB samples: a raw YCbCr TIFF opens in Pillow as mode `YCbCr`, whose `L`
    /// is the Y channel, while its RGB (what PDQ sees) comes from Pillow's YCbCr tables. The
    /// `imagehash` family then starts from this plane ([`crate::hash::luma::pil_luma`]); PDQ
    /// and everything else use the layout. Errors if `l` is not `width * height` bytes.
    ///
    /// ```
    /// use nearmatch::pixels::{Image, Layout};
    /// let img = Image::new(1, 1, Layout::Rgb8(vec![254, 0, 0])).unwrap().with_pil_l(vec![76]).unwrap();
    /// assert_eq!(nearmatch::hash::luma::pil_luma(&img), vec![76]);
    /// ```
    pub fn with_pil_l(mut self, l: Vec<u8>) -> Result<Self, Error> {
        let want = self.width as usize * self.height as usize;
        if l.len() != want {
            return Err(Error::InvalidPixels(format!(
                "{}x{} needs a grey plane of {want} samples, got {}",
                self.width,
                self.height,
                l.len()
            )));
        }
        self.pil_l = Some(l);
        Ok(self)
    }

    /// The grey plane attached by [`Image::with_pil_l`], if any.
    pub fn pil_l(&self) -> Option<&[u8]> {
        self.pil_l.as_deref()
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The samples.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Consumes the image, returning its samples.
    pub fn into_layout(self) -> Layout {
        self.layout
    }

    /// The pixel at (x, y) as RGB: grey repeated, 16-bit reduced to its high byte.
    pub fn rgb_at(&self, x: u32, y: u32) -> [u8; 3] {
        let i = y as usize * self.width as usize + x as usize;
        match &self.layout {
            Layout::Gray8(v) => [v[i]; 3],
            Layout::Rgb8(v) => [v[3 * i], v[3 * i + 1], v[3 * i + 2]],
            Layout::Gray16(v) => [(v[i] >> 8) as u8; 3],
        }
    }

    /// The image under one of the 8 dihedral transforms, every sample moved exactly (no
    /// resampling): what Pillow's `transpose` does, and how an EXIF-oriented file is turned to
    /// its displayed orientation ([`Orientation::from_exif`]).
    ///
    /// ```
    /// use nearmatch::hash::pdq::Orientation;
    /// use nearmatch::pixels::{Image, Layout};
    /// // 2x1: grey 10 then 20. A quarter turn counter-clockwise stands it up, 20 on top.
    /// let img = Image::new(2, 1, Layout::Gray8(vec![10, 20])).unwrap();
    /// let up = img.oriented(Orientation::Rot90);
    /// assert_eq!((up.width(), up.height()), (1, 2));
    /// assert_eq!(up.layout(), &Layout::Gray8(vec![20, 10]));
    /// ```
    pub fn oriented(&self, o: Orientation) -> Image {
        if o == Orientation::Orig {
            return self.clone();
        }
        let (w, h) = (self.width as usize, self.height as usize);
        let (ow, oh) = if o.swaps_sides() { (h, w) } else { (w, h) };
        // Generic over the sample type and channel count: one pixel map for every layout.
        fn moved<T: Copy>(v: &[T], ch: usize, o: Orientation, w: usize, h: usize) -> Vec<T> {
            let (ow, oh) = if o.swaps_sides() { (h, w) } else { (w, h) };
            let mut out = Vec::with_capacity(v.len());
            for y in 0..oh {
                for x in 0..ow {
                    let (sx, sy) = o.source(x, y, w, h);
                    let i = (sy * w + sx) * ch;
                    out.extend_from_slice(&v[i..i + ch]);
                }
            }
            out
        }
        let layout = match &self.layout {
            Layout::Gray8(v) => Layout::Gray8(moved(v, 1, o, w, h)),
            Layout::Rgb8(v) => Layout::Rgb8(moved(v, 3, o, w, h)),
            Layout::Gray16(v) => Layout::Gray16(moved(v, 1, o, w, h)),
        };
        Image {
            width: ow as u32,
            height: oh as u32,
            layout,
            pil_l: self.pil_l.as_ref().map(|l| moved(l, 1, o, w, h)),
        }
    }

    /// The image as interleaved RGB8 (grey repeated; 16-bit reduced to its high byte).
    pub fn to_rgb8(&self) -> Vec<u8> {
        match &self.layout {
            Layout::Rgb8(v) => v.clone(),
            Layout::Gray8(v) => v.iter().flat_map(|&g| [g, g, g]).collect(),
            Layout::Gray16(v) => v.iter().flat_map(|&g| [(g >> 8) as u8; 3]).collect(),
        }
    }
}
