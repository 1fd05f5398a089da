"""Responsiveness: the longest asyncio event-loop stall while an ingest runs beside questions.

Like the bot: one :class:`KnowledgeBase` (over a copy of the cached 10k-chunk synthetic
index, so questions search a realistic index), blocking work off the loop with
``asyncio.to_thread`` (``bot/client.py`` ``run_blocking``). One worker thread ingests the
archive (real embeddings) while waves of 20 concurrent questions are asked, wave after
wave, until the ingest is done (harsher than a single wave: the questions never stop). A
ticker coroutine sleeps 5 ms at a time and records by how much each wake-up was late; that
overshoot is what the bot's event loop (and a Discord heartbeat) would suffer.
Reference phases come first: the idle loop, questions without ingest, the ingest without
questions.

Target: longest stall < 100 ms, every question answered.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

from bench import synthetic
from bench.common import (
    CACHE,
    DEFAULT_ARCHIVE,
    DEFAULT_LARGE_ARCHIVE,
    Table,
    cli_main,
    command,
    load_embedder,
    open_kb,
    percentile,
    report,
    resolve,
    torch_threads,
)
from bench.ingest_throughput import inputs_for

log = logging.getLogger(__name__)

TICK_S = 0.005
TARGET_STALL_MS = 100.0
DEV_QUESTIONS = Path("../shared/eval/dev_questions.jsonl")


class Ticker:
    """Sleeps ``TICK_S`` repeatedly and records each wake-up's lateness in milliseconds."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self._stop = asyncio.Event()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stop.is_set():
            started = loop.time()
            await asyncio.sleep(TICK_S)
            self.lags.append(max(0.0, (loop.time() - started - TICK_S) * 1000))

    def stop(self) -> None:
        self._stop.set()


async def ask_wave(kb: Any, questions: list[str]) -> list[tuple[float, bool, str]]:
    """Ask all questions at once, each in a worker thread; ``(seconds, answered, error)`` each."""

    async def one(q: str) -> tuple[float, bool, str]:
        started = time.perf_counter()
        try:
            answer = await asyncio.to_thread(kb.ask, q)
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            return time.perf_counter() - started, False, f"{type(exc).__name__}: {exc}"
        return time.perf_counter() - started, bool(answer.answer) and not answer.error, answer.error

    return await asyncio.gather(*(one(q) for q in questions))


async def phase(
    kb: Any,
    label: str,
    *,
    questions: list[str],
    wave: int,
    ingest: list[Path] | None = None,
    ask: bool = True,
    seconds: float = 0.0,
) -> dict[str, Any]:
    """One measured phase.

    Args:
        kb: The knowledge base.
        label: Row label.
        questions: Questions to cycle through.
        wave: Concurrent questions per wave.
        ingest: What a worker thread ingests meanwhile (None: nothing).
        ask: Whether to ask waves of questions (back to back) during the phase.
        seconds: How long the phase lasts when there is no ingest to wait for.
    """
    ticker = Ticker()
    tick_task = asyncio.create_task(ticker.run())
    results: list[tuple[float, bool, str]] = []
    started = time.perf_counter()
    job = asyncio.create_task(asyncio.to_thread(kb.ingest, ingest)) if ingest is not None else None

    def finished() -> bool:
        return job.done() if job is not None else time.perf_counter() - started >= seconds

    n = 0
    while not finished():
        if ask:
            results += await ask_wave(
                kb, [questions[(n + i) % len(questions)] for i in range(wave)]
            )
            n += wave
        else:
            await asyncio.sleep(0.05)
    ingest_report = await job if job is not None else None
    elapsed = time.perf_counter() - started
    ticker.stop()
    await tick_task
    lags = ticker.lags
    latencies = [r[0] * 1000 for r in results]
    errors = [r[2] for r in results if not r[1]]
    return {
        "phase": label,
        "seconds": elapsed,
        "ticks": len(lags),
        "max": max(lags, default=0.0),
        "p99": percentile(lags, 99),
        "p50": percentile(lags, 50),
        "over50": sum(1 for x in lags if x > 50),
        "asked": len(results),
        "answered": len(results) - len(errors),
        "q_p50": percentile(latencies, 50),
        "q_p95": percentile(latencies, 95),
        "q_max": max(latencies, default=0.0),
        "errors": errors[:3],
        "ingest": ingest_report,
        "target": ingest is not None and ask,
    }


def load_questions(seed: int) -> list[str]:
    """Synthetic questions (they find the 10k index) mixed with the archive's dev questions."""
    questions = synthetic.questions(60, seed)
    dev = resolve(DEV_QUESTIONS)
    if dev.exists():
        for line in dev.read_text(encoding="utf-8").splitlines()[:40]:
            if line.strip():
                questions.append(json.loads(line)["question"])
    return questions


def _fresh_kb(source: Path, work: Path, name: str, embedder: Any) -> Any:
    """A knowledge base over a fresh copy of the cached index (a new path each time)."""
    target = work / name
    shutil.copytree(source, target)
    kb = open_kb(target, embedder)
    kb.ask("warm up: what is new in long context?")
    return kb


def measure(
    source: Path,
    work: Path,
    embedder: Any,
    inputs: list[Path],
    questions: list[str],
    wave: int,
    question_seconds: float,
) -> list[dict[str, Any]]:
    """The phases in order: idle, questions alone, ingest alone, ingest with questions."""
    out: list[dict[str, Any]] = []
    kb = _fresh_kb(source, work, "reference", embedder)
    try:
        out.append(
            asyncio.run(
                phase(kb, "idle loop", questions=questions, wave=wave, ask=False, seconds=2.0)
            )
        )
        out.append(
            asyncio.run(
                phase(
                    kb,
                    f"waves of {wave} concurrent questions, no ingest",
                    questions=questions,
                    wave=wave,
                    seconds=question_seconds,
                )
            )
        )
    finally:
        kb.close()
    kb = _fresh_kb(source, work, "ingest-alone", embedder)
    try:
        out.append(
            asyncio.run(
                phase(
                    kb,
                    "ingest alone, no questions",
                    questions=questions,
                    wave=wave,
                    ingest=inputs,
                    ask=False,
                )
            )
        )
    finally:
        kb.close()
    kb = _fresh_kb(source, work, "ingest-and-questions", embedder)
    try:
        out.append(
            asyncio.run(
                phase(
                    kb,
                    f"ingest + waves of {wave} concurrent questions",
                    questions=questions,
                    wave=wave,
                    ingest=inputs,
                )
            )
        )
    finally:
        kb.close()
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.responsiveness", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--archive", type=Path, default=DEFAULT_ARCHIVE, help="what the worker thread ingests"
    )
    parser.add_argument(
        "--large",
        type=int,
        default=0,
        metavar="N",
        help="also ingest the first N files of --large-archive",
    )
    parser.add_argument("--large-archive", type=Path, default=DEFAULT_LARGE_ARCHIVE)
    parser.add_argument(
        "--chunks",
        type=int,
        default=10_000,
        help="size of the synthetic index the questions search",
    )
    parser.add_argument("--wave", type=int, default=20, help="concurrent questions per wave")
    parser.add_argument(
        "--question-seconds",
        type=float,
        default=10.0,
        help="length of the questions-only reference phase",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=1,
        help="torch intra-op threads (default 1, as `digestbot run` sets; 0: torch's default)",
    )
    parser.add_argument(
        "--no-write", action="store_true", help="do not update bench/results/latest.md"
    )
    return parser


def run(args: argparse.Namespace, argv: list[str]) -> list[Table]:
    """Set up the knowledge base, run the phases, print the table."""
    embedder = load_embedder()
    threads = torch_threads(args.torch_threads)
    source, meta = synthetic.ensure_index(args.chunks, args.seed, embedder=embedder)
    work = CACHE / "responsiveness"
    shutil.rmtree(work, ignore_errors=True)
    inputs = inputs_for(resolve(args.archive), args.large, resolve(args.large_archive))
    try:
        results = measure(
            source,
            work,
            embedder,
            inputs,
            load_questions(args.seed),
            args.wave,
            args.question_seconds,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    table = Table(
        f"Event-loop stalls (5 ms ticker) beside questions via asyncio.to_thread; index of {meta['chunks']:,} chunks; torch {threads} threads",
        [
            "phase",
            "seconds",
            "ticks",
            "longest stall ms",
            "p99 stall ms",
            "p50 stall ms",
            "stalls > 50 ms",
            "questions answered",
            "question p50 ms",
            "question p95 ms",
            "question max ms",
            "target",
        ],
    )
    for r in results:
        answered = f"{r['answered']}/{r['asked']}" if r["asked"] else "-"
        ok = r["max"] < TARGET_STALL_MS and r["answered"] == r["asked"]
        verdict = (
            f"< {TARGET_STALL_MS:.0f} ms, all answered: {'met' if ok else 'MISSED'}"
            if r["target"]
            else "-"
        )
        table.rows.append(
            [
                r["phase"],
                r["seconds"],
                r["ticks"],
                r["max"],
                r["p99"],
                r["p50"],
                r["over50"],
                answered,
                r["q_p50"],
                r["q_p95"],
                r["q_max"],
                verdict,
            ]
        )
        if r["errors"]:
            table.notes.append(f"{r['phase']}: errors {r['errors']}")
        if r["target"]:
            rep = r["ingest"]
            table.notes.append(
                f"the ingest: {args.archive}{f' + {args.large} large-archive files' if args.large else ''}: "
                f"{rep.added + rep.updated} documents, {rep.chunks_embedded} chunks embedded in {rep.seconds:.1f} s"
            )
    table.notes.append(
        "question times are wall time from the loop's side (waiting for a worker thread included)."
    )
    table.notes.append(
        "the first three rows are references (no target): the idle loop, questions alone, the ingest alone (each ingest phase on its own fresh copy of the index)."
    )
    report(
        "responsiveness",
        "Responsiveness",
        [table],
        command("bench.responsiveness", argv),
        write=not args.no_write,
    )
    return [table]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    return cli_main(build_parser, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
