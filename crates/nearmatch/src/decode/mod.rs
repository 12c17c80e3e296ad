//! Bytes to pixels: format sniffing by magic bytes, limits, per-format decoding.
