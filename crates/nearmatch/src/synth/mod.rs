//! A deterministic generator of benign synthetic images for tests, the demo and the benchmarks.
