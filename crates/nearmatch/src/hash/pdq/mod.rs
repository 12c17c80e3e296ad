//! Meta's PDQ: 256-bit hash, quality, and the 8 dihedral variants.
