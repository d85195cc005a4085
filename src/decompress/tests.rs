//! Unit tests for the decompressors.
