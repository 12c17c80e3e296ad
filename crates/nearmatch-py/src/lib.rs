//! Python bindings for nearmatch (filled in by the Python-module work).
