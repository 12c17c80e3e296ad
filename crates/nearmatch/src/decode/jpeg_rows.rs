//! JPEG decoded row by row with libjpeg-turbo (the C shim `jpeg_rows.c` over the libjpeg API
//! of the library the `turbojpeg` crate links), so that a hash that consumes rows in order (the
//! exact PDQ path) never holds the whole image: each row is used while it is still in cache.
//!
//! The decoder is set up as TurboJPEG sets it up for [`super::decode`] (same library, accurate
//! integer IDCT, fancy upsampling), so the rows are the pixels `decode` returns (tested on every
//! subsampling, progressive and restart-interval files). It only takes what it decodes cleanly:
//! CMYK/YCCK files are refused before any row is decoded, and a decode that warned or failed is
//! reported as such so the caller can run the whole-image path, whose errors and tolerance of
//! warnings are the reference's.

use std::ffi::{c_char, c_int, c_uint, c_ulong, CStr};
use std::marker::PhantomData;
use std::ptr::NonNull;

/// The shim's decompressor (`struct nm_jpeg`), opaque here.
#[repr(C)]
struct NmJpeg {
    _private: [u8; 0],
}

extern "C" {
    fn nm_jpeg_new() -> *mut NmJpeg;
    fn nm_jpeg_free(d: *mut NmJpeg);
    fn nm_jpeg_abort(d: *mut NmJpeg);
    fn nm_jpeg_header(
        d: *mut NmJpeg,
        data: *const u8,
        len: c_ulong,
        width: *mut c_uint,
        height: *mut c_uint,
        two_components: c_int,
    ) -> c_int;
    fn nm_jpeg_begin(
        d: *mut NmJpeg,
        width: *mut c_uint,
        height: *mut c_uint,
        components: *mut c_int,
    ) -> c_int;
    fn nm_jpeg_read(d: *mut NmJpeg, buf: *mut u8, stride: c_ulong, max_rows: c_int) -> c_int;
    fn nm_jpeg_finish(d: *mut NmJpeg) -> c_int;
    fn nm_jpeg_warnings(d: *const NmJpeg) -> c_int;
    fn nm_jpeg_message(d: *const NmJpeg) -> *const c_char;
}

/// A libjpeg decompressor kept for many images in turn (one per thread: its tables and
/// buffers are allocated once).
#[derive(Debug)]
pub struct RowDecoder {
    ptr: NonNull<NmJpeg>,
    /// Where a row is decoded when the caller's row is 32-byte aligned (see [`Rows::next_row`]).
    bounce: Vec<u8>,
}

// SAFETY: the decompressor holds no thread-affine state; every use goes through `&mut self`, so
// one thread at a time.
unsafe impl Send for RowDecoder {}

impl Drop for RowDecoder {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from nm_jpeg_new and is freed once, here.
        unsafe { nm_jpeg_free(self.ptr.as_ptr()) }
    }
}

/// Why a file was not decoded row by row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// Not a colour space this path decodes (CMYK, YCCK): no row was decoded.
    ColourSpace,
    /// libjpeg failed or warned; its (first) message.
    Damaged(String),
    /// No memory for a decompressor.
    NoMemory,
}

/// What [`RowDecoder::start`] read from the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Decoded width and height (the header's: no scaling).
    pub width: usize,
    /// Decoded height.
    pub height: usize,
    /// Bytes per pixel of the rows: 1 (grey) or 3 (RGB); 2 (grey, alpha) for
    /// [`RowDecoder::start_two_components`].
    pub channels: usize,
}

impl RowDecoder {
    /// A new decompressor.
    pub fn new() -> Result<Self, Refused> {
        // SAFETY: no preconditions; a null return means out of memory.
        let ptr = unsafe { nm_jpeg_new() };
        NonNull::new(ptr)
            .map(|ptr| RowDecoder {
                ptr,
                bounce: Vec::new(),
            })
            .ok_or(Refused::NoMemory)
    }

    fn message(&self) -> String {
        // SAFETY: the shim keeps a NUL-terminated message buffer for the object's lifetime.
        let msg = unsafe { CStr::from_ptr(nm_jpeg_message(self.ptr.as_ptr())) };
        msg.to_string_lossy().into_owned()
    }

    fn warned(&self) -> bool {
        // SAFETY: a valid object.
        unsafe { nm_jpeg_warnings(self.ptr.as_ptr()) > 0 }
    }

    /// Reads the header of `bytes` and starts decoding; `check` sees the header's width and
    /// height first and may refuse them (the decode limits) before any image-sized memory is
    /// allocated (a progressive file's coefficients are, when decoding starts).
    pub fn start<'a, E>(
        &'a mut self,
        bytes: &'a [u8],
        check: impl FnOnce(u32, u32) -> Result<(), E>,
    ) -> Result<Result<Rows<'a>, Refused>, E> {
        self.start_inner(bytes, false, check)
    }

    /// As [`RowDecoder::start`] for a 2-component JPEG (grey+alpha, as TIFF stores it), which
    /// is decoded with libjpeg's defaults for it (no colour conversion): rows of 2 bytes a
    /// pixel. Any other JPEG is [`Refused::ColourSpace`].
    pub fn start_two_components<'a, E>(
        &'a mut self,
        bytes: &'a [u8],
        check: impl FnOnce(u32, u32) -> Result<(), E>,
    ) -> Result<Result<Rows<'a>, Refused>, E> {
        self.start_inner(bytes, true, check)
    }

    fn start_inner<'a, E>(
        &'a mut self,
        bytes: &'a [u8],
        two: bool,
        check: impl FnOnce(u32, u32) -> Result<(), E>,
    ) -> Result<Result<Rows<'a>, Refused>, E> {
        let (mut w, mut h, mut c, mut hw, mut hh) = (0, 0, 0, 0, 0);
        let len = match c_ulong::try_from(bytes.len()) {
            Ok(len) => len,
            Err(_) => return Ok(Err(Refused::Damaged("file too large".into()))),
        };
        // SAFETY: `bytes` outlives the `Rows` made below (lifetime 'a), which aborts or
        // finishes the decompression before the borrow ends; the out-pointers are locals.
        let r = unsafe {
            nm_jpeg_header(
                self.ptr.as_ptr(),
                bytes.as_ptr(),
                len,
                &mut hw,
                &mut hh,
                c_int::from(two),
            )
        };
        match r {
            0 => {}
            1 => return Ok(Err(Refused::ColourSpace)),
            _ => return Ok(Err(Refused::Damaged(self.message()))),
        }
        let mut rows = Rows {
            header: Header {
                width: 0,
                height: 0,
                channels: 0,
            },
            decoder: self,
            next: 0,
            _bytes: PhantomData,
        };
        // Dropping `rows` on the way out abandons the decompression.
        check(hw, hh)?;
        // SAFETY: the header was read (the decompression is active); locals as out-pointers.
        if unsafe { nm_jpeg_begin(rows.decoder.ptr.as_ptr(), &mut w, &mut h, &mut c) } != 0 {
            return Ok(Err(Refused::Damaged(rows.decoder.message())));
        }
        let want = if two { c == 2 } else { matches!(c, 1 | 3) };
        if !want || w == 0 || h == 0 || (w, h) != (hw, hh) {
            return Ok(Err(Refused::ColourSpace));
        }
        rows.header = Header {
            width: w as usize,
            height: h as usize,
            channels: c as usize,
        };
        Ok(Ok(rows))
    }
}

/// One image being decoded; dropping it before [`Rows::finish`] abandons the decode.
#[derive(Debug)]
pub struct Rows<'a> {
    /// Size and channels of the rows.
    pub header: Header,
    decoder: &'a mut RowDecoder,
    next: usize,
    _bytes: PhantomData<&'a [u8]>,
}

impl Rows<'_> {
    /// Decodes the next row into `row` (`width * channels` bytes). After an error the rest of
    /// the image is abandoned: later calls fail too.
    pub fn next_row(&mut self, row: &mut [u8]) -> Result<(), Refused> {
        let Header {
            width,
            height,
            channels,
        } = self.header;
        assert_eq!(row.len(), width * channels, "row length");
        if self.next >= height {
            return Err(Refused::Damaged("read past the last row".into()));
        }
        // An aligned row would be written past the caches (see `row_off_alignment`): it is
        // decoded off alignment in a reused buffer instead and copied while in cache (about 1%
        // of a row's decode). Measured: the luma of a 1024x768 JPEG's rows went from 5% to 30%
        // of the exact PDQ with its decode, depending on where the allocator had put the row.
        let aligned = (row.as_ptr() as usize).is_multiple_of(32);
        let decoder = &mut *self.decoder;
        let out = if aligned {
            super::row_off_alignment(&mut decoder.bounce, row.len()).as_mut_ptr()
        } else {
            row.as_mut_ptr()
        };
        // SAFETY: `out` is one row of `width * channels` bytes (`row`'s length, asserted, or
        // the bounce slice of that length), all that max_rows = 1 may write; the decompression
        // is active (started, not yet finished or aborted: an error aborts it and the shim then
        // returns -1 on every call).
        let got = unsafe { nm_jpeg_read(decoder.ptr.as_ptr(), out, 0, 1) };
        if aligned {
            row.copy_from_slice(super::row_off_alignment(&mut decoder.bounce, row.len()));
        }
        if got != 1 {
            self.next = height;
            return Err(Refused::Damaged(self.decoder.message()));
        }
        self.next += 1;
        Ok(())
    }

    /// Reads the file to its end marker, as TurboJPEG does; `Ok` only when every row was read
    /// and libjpeg neither failed nor warned anywhere.
    pub fn finish(self) -> Result<(), Refused> {
        if self.next != self.header.height {
            return Err(Refused::Damaged("not every row was read".into()));
        }
        // SAFETY: an active decompression whose rows have all been read.
        let r = unsafe { nm_jpeg_finish(self.decoder.ptr.as_ptr()) };
        if r != 0 || self.decoder.warned() {
            return Err(Refused::Damaged(self.decoder.message()));
        }
        Ok(())
    }
}

impl Drop for Rows<'_> {
    fn drop(&mut self) {
        // SAFETY: a valid object; aborting is a no-op once finished or already aborted, and it
        // releases the borrow of the bytes before `'a` ends.
        unsafe { nm_jpeg_abort(self.decoder.ptr.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{decode, Limits};
    use crate::pixels::Layout;

    /// A gradient with noise, encoded at 4:2:0 (merged or fancy upsampling) or 4:4:4.
    fn jpeg(w: u16, h: u16, subsampled: bool) -> Vec<u8> {
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let rgb: Vec<u8> = (0..w as usize * h as usize * 3)
            .map(|i| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let (p, c) = (i / 3, i % 3);
                let (x, y) = (p % w as usize, p / w as usize);
                ((x * (c + 1) + y * 2) as u8).wrapping_add((rng >> 60) as u8)
            })
            .collect();
        let mut out = Vec::new();
        let mut enc = jpeg_encoder::Encoder::new(&mut out, 88);
        if !subsampled {
            enc.set_sampling_factor(jpeg_encoder::SamplingFactor::F_1_1);
        }
        enc.encode(&rgb, w, h, jpeg_encoder::ColorType::Rgb)
            .expect("encodes");
        out
    }

    #[test]
    fn rows_are_the_same_at_every_alignment_of_the_callers_buffer() {
        // An aligned row is decoded through the bounce buffer (libjpeg-turbo would write it
        // with non-temporal stores); the others straight into the caller's row. Both must be
        // the whole-image decode's rows.
        let mut decoder = RowDecoder::new().expect("decompressor");
        for (w, h, subsampled) in [
            (1024, 40, true),
            (1024, 33, false),
            (200, 17, true),
            (7, 5, true),
        ] {
            let bytes = jpeg(w, h, subsampled);
            let whole = decode(&bytes, &Limits::default()).expect("decodes").image;
            let Layout::Rgb8(want) = whole.layout() else {
                panic!("RGB expected");
            };
            let len = 3 * w as usize;
            for misalign in [0usize, 8, 16, 1] {
                let mut buf = vec![0u8; len + 64];
                let at = (32 - buf.as_ptr() as usize % 32) % 32 + misalign;
                let row = &mut buf[at..at + len];
                assert_eq!(row.as_ptr() as usize % 32, misalign);
                let mut rows = decoder
                    .start(&bytes, |_, _| Ok::<(), ()>(()))
                    .unwrap()
                    .expect("starts");
                for y in 0..h as usize {
                    rows.next_row(row).expect("row");
                    assert_eq!(
                        row,
                        &want[y * len..(y + 1) * len],
                        "{w}x{h} y={y} +{misalign}"
                    );
                }
                rows.finish().expect("finishes");
            }
        }
    }
}
