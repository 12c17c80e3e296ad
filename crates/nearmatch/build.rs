//! Compiles the row-by-row JPEG decoder (src/decode/jpeg_rows.c) against the headers of the
//! libjpeg-turbo that `turbojpeg-sys` builds and links, when the `turbojpeg` feature is on.

fn main() {
    println!("cargo:rerun-if-changed=src/decode/jpeg_rows.c");
    if std::env::var_os("CARGO_FEATURE_TURBOJPEG").is_none() {
        return;
    }
    // `turbojpeg-sys` (links = "turbojpeg") publishes its include directories, comma-separated;
    // none when the library is the system's (pkg-config), whose headers are on the default path.
    let include = std::env::var("DEP_TURBOJPEG_INCLUDE").unwrap_or_default();
    let mut build = cc::Build::new();
    build.file("src/decode/jpeg_rows.c").warnings(true);
    for dir in include.split(',').filter(|d| !d.is_empty()) {
        build.include(dir);
    }
    build.compile("nearmatch_jpeg_rows");
}
