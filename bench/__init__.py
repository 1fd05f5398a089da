"""Benchmarks for digestbot (not tests): ingest throughput, question latency, memory,
cold start and event-loop responsiveness.

Run them all with ``python -m bench.run_all`` (``make bench``), or one at a time with
``python -m bench.<name> --help``. Each prints a table and the command that reproduces
it, and updates its section of ``bench/results/latest.md``.
"""
