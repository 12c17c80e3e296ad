//! HEIF/HEIC (and AVIF, where libheif has an AV1 decoder) through the system's libheif.
//!
//! Phones store their photographs as HEIC. There is no mature pure-Rust HEVC decoder, and the
//! `libheif-rs` crate needs libheif ≥ 1.17 while Debian 12 ships 1.15 (its embedded build would
//! compile libheif's C++ on every clean CI run), so this module binds the dozen C functions it
//! needs from Debian's `libheif1` (HEVC through `libde265`, AV1 through `libdav1d`/`libaom`),
//! all part of libheif's stable C API since 1.4. The image is decoded as libheif and Pillow's
//! `pillow-heif` decode it: the primary image, its transformations (`irot`, `imir`, `clap`)
//! applied, as 8-bit interleaved RGB (alpha dropped, as Pillow's `convert("RGB")` drops it).
//!
//! Built with the `heif` feature (on by default); without it a HEIF file is a decode error that
//! says so.

#[cfg(not(feature = "heif"))]
use crate::error::Error;
use crate::error::Result;
use crate::pixels::Image;

use super::Limits;

/// `true` for an ISO-BMFF `ftyp` whose major or compatible brands name a HEIF still image.
pub(crate) fn is_heif(bytes: &[u8]) -> bool {
    if bytes.len() < 16 || &bytes[4..8] != b"ftyp" {
        return false;
    }
    let size = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
    let end = size.clamp(16, 256).min(bytes.len());
    let still = |b: &[u8]| {
        matches!(
            b,
            b"heic" | b"heix" | b"heim" | b"heis" | b"mif1" | b"avif" | b"mif2"
        )
    };
    // Major brand, then the compatible brands after the minor version.
    still(&bytes[8..12]) || bytes[16..end].chunks_exact(4).any(still)
}

#[cfg(feature = "heif")]
mod ffi {
    //! The parts of libheif's C API (`libheif/heif.h`, stable since 1.4) this module uses.
    #![allow(non_camel_case_types)]

    use std::os::raw::{c_char, c_int, c_void};

    #[repr(C)]
    pub struct heif_context {
        _private: [u8; 0],
    }
    #[repr(C)]
    pub struct heif_image_handle {
        _private: [u8; 0],
    }
    #[repr(C)]
    pub struct heif_image {
        _private: [u8; 0],
    }

    /// `struct heif_error`: returned by value; `message` is a static or context-owned string.
    #[repr(C)]
    pub struct heif_error {
        pub code: c_int,
        pub subcode: c_int,
        pub message: *const c_char,
    }

    /// `heif_item_id`: an item's id in the file.
    pub type heif_item_id = u32;

    pub const HEIF_COLORSPACE_RGB: c_int = 1;
    pub const HEIF_CHROMA_INTERLEAVED_RGB: c_int = 10;
    pub const HEIF_CHANNEL_INTERLEAVED: c_int = 10;

    #[link(name = "heif")]
    extern "C" {
        pub fn heif_init(params: *mut c_void) -> heif_error;
        pub fn heif_context_alloc() -> *mut heif_context;
        pub fn heif_context_free(ctx: *mut heif_context);
        pub fn heif_context_set_maximum_image_size_limit(ctx: *mut heif_context, maximum: c_int);
        pub fn heif_context_read_from_memory_without_copy(
            ctx: *mut heif_context,
            mem: *const c_void,
            size: usize,
            options: *const c_void,
        ) -> heif_error;
        pub fn heif_context_get_primary_image_handle(
            ctx: *mut heif_context,
            handle: *mut *mut heif_image_handle,
        ) -> heif_error;
        pub fn heif_image_handle_release(handle: *const heif_image_handle);
        pub fn heif_image_handle_get_width(handle: *const heif_image_handle) -> c_int;
        pub fn heif_image_handle_get_height(handle: *const heif_image_handle) -> c_int;
        pub fn heif_decode_image(
            handle: *const heif_image_handle,
            out: *mut *mut heif_image,
            colorspace: c_int,
            chroma: c_int,
            options: *const c_void,
        ) -> heif_error;
        pub fn heif_image_get_width(image: *const heif_image, channel: c_int) -> c_int;
        pub fn heif_image_get_height(image: *const heif_image, channel: c_int) -> c_int;
        pub fn heif_image_get_plane_readonly(
            image: *const heif_image,
            channel: c_int,
            stride: *mut c_int,
        ) -> *const u8;
        pub fn heif_image_release(image: *const heif_image);
        pub fn heif_context_get_number_of_top_level_images(ctx: *mut heif_context) -> c_int;
        pub fn heif_context_get_list_of_top_level_image_IDs(
            ctx: *mut heif_context,
            ids: *mut heif_item_id,
            count: c_int,
        ) -> c_int;
        pub fn heif_context_get_image_handle(
            ctx: *mut heif_context,
            id: heif_item_id,
            handle: *mut *mut heif_image_handle,
        ) -> heif_error;
        pub fn heif_image_handle_is_primary_image(handle: *const heif_image_handle) -> c_int;
        pub fn heif_image_handle_get_number_of_thumbnails(
            handle: *const heif_image_handle,
        ) -> c_int;
        pub fn heif_image_handle_get_list_of_thumbnail_IDs(
            handle: *const heif_image_handle,
            ids: *mut heif_item_id,
            count: c_int,
        ) -> c_int;
        pub fn heif_image_handle_get_thumbnail(
            handle: *const heif_image_handle,
            id: heif_item_id,
            thumbnail: *mut *mut heif_image_handle,
        ) -> heif_error;
        pub fn heif_image_handle_get_number_of_metadata_blocks(
            handle: *const heif_image_handle,
            type_filter: *const c_char,
        ) -> c_int;
        pub fn heif_image_handle_get_list_of_metadata_block_IDs(
            handle: *const heif_image_handle,
            type_filter: *const c_char,
            ids: *mut heif_item_id,
            count: c_int,
        ) -> c_int;
        pub fn heif_image_handle_get_metadata_size(
            handle: *const heif_image_handle,
            id: heif_item_id,
        ) -> usize;
        pub fn heif_image_handle_get_metadata(
            handle: *const heif_image_handle,
            id: heif_item_id,
            out: *mut c_void,
        ) -> heif_error;
    }
}

#[cfg(feature = "heif")]
mod imp {
    use std::ffi::CStr;
    use std::sync::Once;

    use super::ffi;
    use crate::decode::Limits;
    use crate::error::{Error, Result};
    use crate::pixels::{Image, Layout};

    fn decode_error(reason: impl Into<String>) -> Error {
        Error::Decode {
            format: "heif",
            reason: reason.into(),
        }
    }

    /// `Ok` for libheif's success code, else its message.
    fn check(e: ffi::heif_error) -> Result<()> {
        if e.code == 0 {
            return Ok(());
        }
        let msg = if e.message.is_null() {
            format!("libheif error {}.{}", e.code, e.subcode)
        } else {
            // SAFETY: libheif's error messages are NUL-terminated strings that live at least as
            // long as the context that returned them, which is still alive here.
            unsafe { CStr::from_ptr(e.message) }
                .to_string_lossy()
                .into_owned()
        };
        Err(decode_error(msg))
    }

    /// A parsed HEIF file and its primary image's handle, freed on drop.
    struct Primary {
        ctx: *mut ffi::heif_context,
        handle: *mut ffi::heif_image_handle,
    }

    impl Drop for Primary {
        fn drop(&mut self) {
            // SAFETY: both pointers came from libheif, are released exactly once, the handle
            // before the context that owns it; null pointers are accepted by both functions.
            unsafe {
                ffi::heif_image_handle_release(self.handle);
                ffi::heif_context_free(self.ctx);
            }
        }
    }

    /// Parses `bytes` (no pixels decoded) and opens the primary image. `bytes` must outlive
    /// the result: libheif reads them in place.
    fn open(bytes: &[u8], max_side: u32) -> Result<Primary> {
        static INIT: Once = Once::new();
        // SAFETY: heif_init with null parameters loads the default plugins; called once.
        INIT.call_once(|| unsafe {
            let _ = ffi::heif_init(std::ptr::null_mut());
        });
        // SAFETY: a fresh context; freed by `Primary`'s drop (also on the error paths below,
        // as `p` owns it from here).
        let ctx = unsafe { ffi::heif_context_alloc() };
        if ctx.is_null() {
            return Err(decode_error("libheif could not allocate a context"));
        }
        let mut p = Primary {
            ctx,
            handle: std::ptr::null_mut(),
        };
        // SAFETY: `ctx` is live; `bytes` outlives `p` by this function's contract; libheif
        // only reads them.
        unsafe {
            ffi::heif_context_set_maximum_image_size_limit(
                ctx,
                max_side.min(i32::MAX as u32) as i32,
            );
            check(ffi::heif_context_read_from_memory_without_copy(
                ctx,
                bytes.as_ptr().cast(),
                bytes.len(),
                std::ptr::null(),
            ))?;
            check(ffi::heif_context_get_primary_image_handle(
                ctx,
                &mut p.handle,
            ))?;
        }
        if p.handle.is_null() {
            return Err(decode_error("no primary image"));
        }
        Ok(p)
    }

    /// Width and height of the primary image as displayed (transformations applied).
    pub fn dimensions(bytes: &[u8]) -> Result<(u32, u32)> {
        let p = open(bytes, u32::MAX)?;
        // SAFETY: `p.handle` is a live handle.
        let (w, h) = unsafe {
            (
                ffi::heif_image_handle_get_width(p.handle),
                ffi::heif_image_handle_get_height(p.handle),
            )
        };
        if w <= 0 || h <= 0 {
            return Err(decode_error(format!("image of {w}x{h} pixels")));
        }
        Ok((w as u32, h as u32))
    }

    /// A decoded libheif image, released on drop.
    struct Decoded(*mut ffi::heif_image);

    impl Drop for Decoded {
        fn drop(&mut self) {
            // SAFETY: released exactly once; null is accepted.
            unsafe { ffi::heif_image_release(self.0) }
        }
    }

    /// One plane of a decoded image: its rows, width and height in samples (interleaved RGB:
    /// `width * 3` bytes per row).
    struct Plane<'a> {
        rows: Vec<&'a [u8]>,
        width: usize,
        height: usize,
    }

    impl Decoded {
        /// Decodes the image of `handle` into `colorspace`/`chroma`.
        ///
        /// # Safety
        /// `handle` must be a live image handle of a live context.
        unsafe fn new(
            handle: *const ffi::heif_image_handle,
            colorspace: i32,
            chroma: i32,
        ) -> Result<Decoded> {
            let mut img: *mut ffi::heif_image = std::ptr::null_mut();
            // SAFETY: `handle` is live (this function's contract); `img` receives a new image
            // owned by the result.
            let e = unsafe {
                ffi::heif_decode_image(handle, &mut img, colorspace, chroma, std::ptr::null())
            };
            let img = Decoded(img);
            check(e)?;
            if img.0.is_null() {
                return Err(decode_error("libheif returned no image"));
            }
            Ok(img)
        }

        /// The plane of `channel`, `bytes_per_sample` bytes a sample, checked against its stride.
        fn plane(&self, channel: i32, bytes_per_sample: usize) -> Result<Plane<'_>> {
            let mut stride = 0;
            // SAFETY: `self.0` is a live image; the plane stays valid while `self` lives, which
            // the returned rows borrow.
            let (w, h, ptr) = unsafe {
                (
                    ffi::heif_image_get_width(self.0, channel),
                    ffi::heif_image_get_height(self.0, channel),
                    ffi::heif_image_get_plane_readonly(self.0, channel, &mut stride),
                )
            };
            if ptr.is_null()
                || w <= 0
                || h <= 0
                || (stride as i64) < w as i64 * bytes_per_sample as i64
            {
                return Err(decode_error(format!(
                    "plane {channel} of {w}x{h} with stride {stride}"
                )));
            }
            let (w, h, stride) = (w as usize, h as usize, stride as usize);
            let rows = (0..h)
                // SAFETY: libheif's plane holds `h` rows of `stride` bytes, each beginning with
                // `w * bytes_per_sample` bytes of samples (checked above).
                .map(|y| unsafe {
                    std::slice::from_raw_parts(ptr.add(y * stride), w * bytes_per_sample)
                })
                .collect();
            Ok(Plane {
                rows,
                width: w,
                height: h,
            })
        }
    }

    /// The primary image as 8-bit RGB.
    pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Image> {
        let p = open(bytes, limits.max_width.max(limits.max_height))?;
        // SAFETY: `p.handle` is live while `p` is.
        unsafe { rgb(p.handle, limits) }
    }

    /// The image of `handle` as 8-bit RGB, its size checked against `limits` before decoding.
    ///
    /// # Safety
    /// `handle` must be a live image handle of a live context.
    unsafe fn rgb(handle: *const ffi::heif_image_handle, limits: &Limits) -> Result<Image> {
        // SAFETY: `handle` is live (this function's contract).
        let (w, h) = unsafe {
            (
                ffi::heif_image_handle_get_width(handle),
                ffi::heif_image_handle_get_height(handle),
            )
        };
        if w <= 0 || h <= 0 {
            return Err(decode_error(format!("image of {w}x{h} pixels")));
        }
        limits.check(w as u32, h as u32)?;
        // SAFETY: as above.
        let img = unsafe {
            Decoded::new(
                handle,
                ffi::HEIF_COLORSPACE_RGB,
                ffi::HEIF_CHROMA_INTERLEAVED_RGB,
            )?
        };
        let plane = img.plane(ffi::HEIF_CHANNEL_INTERLEAVED, 3)?;
        limits.check(plane.width as u32, plane.height as u32)?;
        let rgb = plane.rows.concat();
        Image::new(plane.width as u32, plane.height as u32, Layout::Rgb8(rgb))
    }

    /// An image handle that is not the primary one (another top-level image, a thumbnail),
    /// released on drop.
    struct Handle(*mut ffi::heif_image_handle);

    impl Drop for Handle {
        fn drop(&mut self) {
            // SAFETY: released exactly once, before its context (every `Handle` lives inside
            // a function that holds the `Primary` owning the context); null is accepted.
            unsafe { ffi::heif_image_handle_release(self.0) }
        }
    }

    /// Most ids read from one list (top-level images, thumbnails): a file claiming more is
    /// cut there, and the caller's budget usually stops much earlier.
    const MAX_IDS: i32 = 4096;

    /// The ids a libheif list function fills in, after its count function said how many.
    fn ids(count: i32, fill: impl FnOnce(*mut ffi::heif_item_id, i32) -> i32) -> Vec<u32> {
        let n = count.clamp(0, MAX_IDS);
        let mut ids = vec![0u32; n as usize];
        let got = fill(ids.as_mut_ptr(), n).clamp(0, n);
        ids.truncate(got as usize);
        ids
    }

    /// Calls `visit` with each thumbnail of `handle` (`{prefix}thumbnail/{k}`); `false` when
    /// `visit` asked to stop.
    ///
    /// # Safety
    /// `handle` must be a live image handle of a live context.
    unsafe fn thumbnails(
        handle: *const ffi::heif_image_handle,
        prefix: &str,
        limits: &Limits,
        visit: &mut dyn FnMut(String, Result<Image>) -> bool,
    ) -> bool {
        // SAFETY: `handle` is live; the array holds `n` ids.
        let list = ids(
            unsafe { ffi::heif_image_handle_get_number_of_thumbnails(handle) },
            |a, n| unsafe { ffi::heif_image_handle_get_list_of_thumbnail_IDs(handle, a, n) },
        );
        for (k, id) in list.into_iter().enumerate() {
            let mut t = Handle(std::ptr::null_mut());
            // SAFETY: `handle` is live; `t` receives a new handle it owns.
            let got = check(unsafe { ffi::heif_image_handle_get_thumbnail(handle, id, &mut t.0) })
                .and_then(|()| {
                    if t.0.is_null() {
                        Err(decode_error(format!("thumbnail item {id} has no image")))
                    } else {
                        // SAFETY: `t.0` is a live handle of the same context.
                        unsafe { rgb(t.0, limits) }
                    }
                });
            if !visit(format!("{prefix}thumbnail/{k}"), got) {
                return false;
            }
        }
        true
    }

    /// See [`super::secondary_images`].
    pub fn secondary_images(
        bytes: &[u8],
        limits: &Limits,
        visit: &mut dyn FnMut(String, Result<Image>) -> bool,
    ) -> Result<()> {
        let p = open(bytes, limits.max_width.max(limits.max_height))?;
        // SAFETY: `p.ctx` is live; the array holds `n` ids.
        let top = ids(
            unsafe { ffi::heif_context_get_number_of_top_level_images(p.ctx) },
            |a, n| unsafe { ffi::heif_context_get_list_of_top_level_image_IDs(p.ctx, a, n) },
        );
        for (i, id) in top.into_iter().enumerate() {
            let mut h = Handle(std::ptr::null_mut());
            // SAFETY: `p.ctx` is live; `h` receives a new handle it owns, dropped before `p`.
            let opened = check(unsafe { ffi::heif_context_get_image_handle(p.ctx, id, &mut h.0) });
            let name = format!("image/{i}");
            if let Err(e) = opened {
                if !visit(name, Err(e)) {
                    return Ok(());
                }
                continue;
            }
            if h.0.is_null() {
                continue;
            }
            // SAFETY: `h.0` is a live handle of `p.ctx`.
            let primary = unsafe { ffi::heif_image_handle_is_primary_image(h.0) } != 0;
            if primary {
                // The primary image is the file's own record; its thumbnails are members.
                // SAFETY: as above.
                if !unsafe { thumbnails(h.0, "", limits, visit) } {
                    return Ok(());
                }
                continue;
            }
            // SAFETY: as above.
            if !visit(name.clone(), unsafe { rgb(h.0, limits) }) {
                return Ok(());
            }
            // SAFETY: as above.
            if !unsafe { thumbnails(h.0, &format!("{name}/"), limits, visit) } {
                return Ok(());
            }
        }
        Ok(())
    }

    /// See [`super::exif`].
    pub fn exif(bytes: &[u8]) -> Option<Vec<u8>> {
        let p = open(bytes, u32::MAX).ok()?;
        let filter = c"Exif";
        // SAFETY: `p.handle` is live; `filter` is NUL-terminated; the array holds `n` ids.
        let list = ids(
            unsafe {
                ffi::heif_image_handle_get_number_of_metadata_blocks(p.handle, filter.as_ptr())
            },
            |a, n| unsafe {
                ffi::heif_image_handle_get_list_of_metadata_block_IDs(
                    p.handle,
                    filter.as_ptr(),
                    a,
                    n,
                )
            },
        );
        let id = *list.first()?;
        // SAFETY: `p.handle` is live and `id` one of its metadata blocks.
        let size = unsafe { ffi::heif_image_handle_get_metadata_size(p.handle, id) };
        // The block is stored in the file: a size beyond the file's is a lie.
        if size < 4 || size > bytes.len() {
            return None;
        }
        let mut block = vec![0u8; size];
        // SAFETY: `block` has the size libheif reported for this block.
        check(unsafe {
            ffi::heif_image_handle_get_metadata(p.handle, id, block.as_mut_ptr().cast())
        })
        .ok()?;
        // ISO/IEC 23008-12 A.2.1: a 4-byte offset to the TIFF header precedes the Exif data.
        let skip = u32::from_be_bytes([block[0], block[1], block[2], block[3]]) as usize;
        let start = 4usize.checked_add(skip)?;
        (start < block.len()).then(|| block.split_off(start))
    }
}

/// Width and height of the primary image, from the container alone.
pub(crate) fn dimensions(bytes: &[u8]) -> Result<(u32, u32)> {
    #[cfg(feature = "heif")]
    {
        imp::dimensions(bytes)
    }
    #[cfg(not(feature = "heif"))]
    {
        let _ = bytes;
        Err(unsupported())
    }
}

/// The primary image as 8-bit RGB, its transformations applied.
pub(crate) fn decode(bytes: &[u8], limits: &Limits) -> Result<Image> {
    #[cfg(feature = "heif")]
    {
        imp::decode(bytes, limits)
    }
    #[cfg(not(feature = "heif"))]
    {
        let _ = (bytes, limits);
        Err(unsupported())
    }
}

/// Calls `visit` with each image a HEIF file holds besides its primary image, decoded as the
/// primary is: the other top-level images (a burst, a collection), named `image/N` by their
/// index among the top-level images (the frame index `pillow-heif` gives them), and the
/// thumbnails (`thumbnail/K` of the primary image, `image/N/thumbnail/K` of the others). A
/// damaged one is an `Err` passed on; `visit` returns `false` to stop.
pub(crate) fn secondary_images(
    bytes: &[u8],
    limits: &Limits,
    visit: &mut dyn FnMut(String, Result<Image>) -> bool,
) -> Result<()> {
    #[cfg(feature = "heif")]
    {
        imp::secondary_images(bytes, limits, visit)
    }
    #[cfg(not(feature = "heif"))]
    {
        let _ = (bytes, limits, visit);
        Err(unsupported())
    }
}

/// The Exif block of a HEIF file's primary image (TIFF bytes, from the byte-order mark), if it
/// has one.
pub(crate) fn exif(bytes: &[u8]) -> Option<Vec<u8>> {
    #[cfg(feature = "heif")]
    {
        imp::exif(bytes)
    }
    #[cfg(not(feature = "heif"))]
    {
        let _ = bytes;
        None
    }
}

#[cfg(not(feature = "heif"))]
fn unsupported() -> Error {
    Error::Decode {
        format: "heif",
        reason: "this build of nearmatch has no HEIF support (the `heif` feature, libheif)".into(),
    }
}
