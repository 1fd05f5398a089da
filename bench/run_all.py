"""Run every benchmark with its defaults (``make bench``), then a summary of the targets.

The synthetic indexes are built first when they are not cached yet (``bench/.cache/``):
that takes several minutes once; later runs reuse them. ``--quick`` measures at 10k
chunks only. Each benchmark also runs alone: ``python -m bench.<name> --help``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import time

from bench import synthetic
from bench.common import Table, command, load_embedder, report, setup_logging

log = logging.getLogger(__name__)

BENCHMARKS = ("ingest_throughput", "latency", "memory", "cold_start", "responsiveness")


def plan(quick: bool) -> dict[str, list[str]]:
    """The argument list each benchmark runs with."""
    if quick:
        return {
            "ingest_throughput": ["--repeat", "2"],
            "latency": ["--chunks", "10000", "--server", "10000", "--process", "10000"],
            "memory": ["--chunks", "10000"],
            "cold_start": ["--chunks", "10000", "--runs", "2"],
            "responsiveness": [],
        }
    return {name: [] for name in BENCHMARKS}


def summarize(results: dict[str, list[Table]]) -> Table:
    """One row per target verdict found in the benchmarks' tables."""
    summary = Table("Targets", ["benchmark", "case", "verdict"])
    for name, tables in results.items():
        for table in tables:
            if not table.headers or table.headers[-1] != "target":
                continue
            chunks = table.headers.index("chunks") if "chunks" in table.headers else None
            for row in table.rows:
                if str(row[-1]) == "-":
                    continue
                case = [Table._cell(v) for v in row[:2]]
                if chunks is not None and chunks >= 2:
                    case.append(f"{Table._cell(row[chunks])} chunks")
                summary.rows.append([name, " / ".join(case), row[-1]])
    return summary


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks in order; a failing one is reported and the rest still run."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="python -m bench.run_all", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="10k chunks only (no 100k index)")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run only these")
    parser.add_argument("--skip", nargs="+", choices=BENCHMARKS, default=[], help="skip these")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    setup_logging()
    started = time.perf_counter()
    sizes = [10_000] if args.quick else [10_000, 100_000]
    missing = [n for n in sizes if synthetic.read_meta(synthetic.index_dir(n, args.seed)) is None]
    if missing:
        log.info(
            "building the synthetic indexes %s once (cached in bench/.cache/; several minutes)",
            missing,
        )
        embedder = load_embedder()
        for n in missing:
            synthetic.ensure_index(n, args.seed, embedder=embedder)
    results: dict[str, list[Table]] = {}
    failures: list[str] = []
    for name, bench_argv in plan(args.quick).items():
        if (args.only and name not in args.only) or name in args.skip:
            continue
        log.info("=== %s %s", name, " ".join(bench_argv))
        module = importlib.import_module(f"bench.{name}")
        t0 = time.perf_counter()
        try:
            results[name] = module.run(module.build_parser().parse_args(bench_argv), bench_argv)
        except Exception as exc:  # noqa: BLE001 - one broken benchmark must not hide the others
            log.exception("%s failed", name)
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
        log.info("=== %s took %.0f s", name, time.perf_counter() - t0)
    summary = summarize(results)
    summary.notes.append(f"all benchmarks took {time.perf_counter() - started:.0f} s")
    summary.notes.extend(f"FAILED {f}" for f in failures)
    report("summary", "Summary", [summary], command("bench.run_all", argv))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
