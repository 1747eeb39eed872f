"""Benchmarks: each `bench_*.py` compares kaizen_otel with the bare OTel SDK or a raw baseline
measured in the same run, and reports ratios. `make bench` runs them all."""
