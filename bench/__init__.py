"""Benchmarks: `python -m bench` runs every bench script; each also runs alone (`python -m bench.ingest`)."""
