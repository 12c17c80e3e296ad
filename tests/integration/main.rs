//! Integration tests: drive the `nearmatch` binary on fixtures and generated evidence trees.

mod common;
mod disk;
mod disk_carve;
mod disk_deleted;
mod disk_images;
mod eval;
mod hash;
mod heif;
mod hostile;
mod known_good;
mod layers;
mod nsrl;
mod orientation;
mod probe;
mod report;
mod scan;
mod set;
mod shard;
mod video;
