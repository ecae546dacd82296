"""Benchmarks: `python -m bench` (`make bench`) prints one table — each row with its same-run baseline and peak memory; each script also runs alone (`python -m bench.ingest`)."""
