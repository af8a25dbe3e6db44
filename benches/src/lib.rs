//! Benchmark support (see `benches/`).
