"""Load and latency benchmarks (not tests)."""
