"""Memory: peak RSS of a process that opens an index and answers questions (the bot's knowledge side).

Each size runs in a fresh interpreter (:mod:`bench.child`): import, load the model, open the
store, answer the questions; the child reports its resident memory after each step and its
peak (``VmHWM`` from ``/proc/self/status``, else ``resource.getrusage``; no psutil).

Target: peak <= 1.5 GiB with the 100k-chunk index.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from bench import synthetic
from bench.common import (
    DEFAULT_ARCHIVE,
    Table,
    cli_main,
    command,
    dev_questions,
    ensure_archive_index,
    load_embedder,
    report,
    spawn_child,
)

log = logging.getLogger(__name__)

TARGET_MIB = 1536.0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.memory", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--chunks", type=int, nargs="+", default=[10_000, 100_000], help="synthetic index sizes"
    )
    parser.add_argument(
        "--archive",
        type=Path,
        default=DEFAULT_ARCHIVE,
        help="also measure over this real archive (cached index)",
    )
    parser.add_argument("--no-archive", action="store_true", help="skip the real archive")
    parser.add_argument(
        "--questions", type=int, default=30, help="questions answered by each process"
    )
    parser.add_argument(
        "--mode",
        choices=["in-process", "knowledge process", "both"],
        default="both",
        help="serve in the process itself, from a knowledge process (as `digestbot run`), or both",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--no-write", action="store_true", help="do not update bench/results/latest.md"
    )
    return parser


def run(args: argparse.Namespace, argv: list[str]) -> list[Table]:
    """Run the processes and print the table."""
    targets: list[tuple[str, Path, list[str], int]] = []
    if not args.no_archive:
        path, meta = ensure_archive_index(args.archive)
        targets.append((str(args.archive), path, dev_questions(args.questions), meta["chunks"]))
    embedder = None
    for n in args.chunks:
        if synthetic.read_meta(synthetic.index_dir(n, args.seed)) is None:
            embedder = embedder or load_embedder()
        spath, smeta = synthetic.ensure_index(n, args.seed, embedder=embedder)
        targets.append(
            ("synthetic", spath, synthetic.questions(args.questions, args.seed), smeta["chunks"])
        )
    table = Table(
        "Resident memory (MiB) of a fresh process: after each step, and the peak",
        [
            "index",
            "knowledge base",
            "chunks",
            "after import",
            "after model load",
            "after open store",
            "after first answer",
            "after all answers",
            "peak RSS",
            "target",
        ],
    )
    modes = ("in-process", "knowledge process") if args.mode == "both" else (args.mode,)
    for (label, data, questions, chunks), mode in ((t, m) for t in targets for m in modes):
        log.info("memory: %s, %d chunks (%s)", label, chunks, mode)
        record = spawn_child(data, questions, knowledge_process=mode != "in-process")
        rss = [s["rss_mib"] for s in record["steps"]]
        peak = record["peak_rss_mib"]
        verdict = (
            f"<= {TARGET_MIB:.0f}: {'met' if peak <= TARGET_MIB else 'MISSED'}"
            if chunks >= 100_000
            else "-"
        )
        table.rows.append([label, mode, record["chunks"], *rss[1:6], peak, verdict])
    table.notes.append(
        f"each process answers {args.questions} questions; the target applies at 100k chunks."
    )
    table.notes.append(
        "knowledge process: the numbers are the serving process plus its knowledge process (the sum of both peaks, "
        "an upper bound: they need not peak at once)."
    )
    report("memory", "Memory", [table], command("bench.memory", argv), write=not args.no_write)
    return [table]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    return cli_main(build_parser, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
