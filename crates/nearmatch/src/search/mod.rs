//! Exact Hamming-radius and k-nearest search: a blocked linear scan and multi-index hashing.
