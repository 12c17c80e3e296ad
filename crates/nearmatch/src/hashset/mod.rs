//! The on-disk hash-set file: format, writer and memory-mapped reader.
