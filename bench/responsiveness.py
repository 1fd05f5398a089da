"""Responsiveness: the longest asyncio event-loop stall while an ingest or a poll runs beside questions.

Like the bot: blocking work off the loop with ``asyncio.to_thread`` (``bot/client.py``
``run_blocking``), over a copy of the cached 10k-chunk synthetic index, so questions search
a realistic index. While one job runs (an ingest of the archive with real embeddings, or a
first poll of a local feed + Substack server that backfills its archive), waves of 20
concurrent questions are asked, wave after wave, until it is done (harsher than one wave:
the questions never stop). A ticker coroutine sleeps 5 ms at a time and records by how much
each wake-up was late; that overshoot is what the bot's event loop (and a Discord
heartbeat) would suffer.

Both ways of serving run side by side: the knowledge base inside the loop's process
(``KNOWLEDGE_PROCESS=0``) and in its own process (:class:`knowledge.process.service.KnowledgeProcess`,
the default of ``digestbot run``). Reference phases come first: the idle loop, questions
without a job, the ingest without questions.

Target: longest stall < 100 ms, every question answered.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import shutil
import time
from collections.abc import Callable, Iterator
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
    settings_for,
    torch_threads,
)
from bench.ingest_throughput import inputs_for
from tests.fakes.feeds import FakeEntry, FakeFeedServer, FakePost

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
        return time.perf_counter() - started, not answer.error, answer.error

    return await asyncio.gather(*(one(q) for q in questions))


async def phase(
    kb: Any,
    label: str,
    *,
    questions: list[str],
    wave: int,
    job: Callable[[], Any] | None = None,
    ask: bool = True,
    seconds: float = 0.0,
    mode: str = "-",
) -> dict[str, Any]:
    """One measured phase.

    Args:
        kb: The knowledge base (in this process, or a :class:`KnowledgeProcess`).
        label: Row label.
        questions: Questions to cycle through.
        wave: Concurrent questions per wave.
        job: What a worker thread runs meanwhile (an ingest, a poll; None: nothing).
        ask: Whether to ask waves of questions (back to back) during the phase.
        seconds: How long the phase lasts when there is no job to wait for.
        mode: Where the knowledge base runs (a column of the table).
    """
    ticker = Ticker()
    tick_task = asyncio.create_task(ticker.run())
    results: list[tuple[float, bool, str]] = []
    started = time.perf_counter()
    running = asyncio.create_task(asyncio.to_thread(job)) if job is not None else None

    def finished() -> bool:
        return running.done() if running is not None else time.perf_counter() - started >= seconds

    n = 0
    while not finished():
        if ask:
            results += await ask_wave(
                kb, [questions[(n + i) % len(questions)] for i in range(wave)]
            )
            n += wave
        else:
            await asyncio.sleep(0.05)
    job_report = await running if running is not None else None
    elapsed = time.perf_counter() - started
    ticker.stop()
    await tick_task
    lags = ticker.lags
    latencies = [r[0] * 1000 for r in results]
    errors = [r[2] for r in results if not r[1]]
    return {
        "phase": label,
        "mode": mode,
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
        "job": job_report,
        "target": job is not None and ask,
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


MODES = ("in-process", "knowledge process")


@contextlib.contextmanager
def fresh_kb(source: Path, work: Path, name: str, embedder: Any, mode: str = "in-process") -> Iterator[Any]:
    """A knowledge base over a fresh copy of the cached index (a new path each time).

    ``mode`` "in-process" opens it here with the loaded model; "knowledge process" starts
    a :class:`~knowledge.process.service.KnowledgeProcess` over the copy (it loads its own model).
    """
    target = work / name
    shutil.copytree(source, target)
    if mode == "in-process":
        kb = open_kb(target, embedder)
    else:
        from knowledge.process.service import KnowledgeProcess

        kb = KnowledgeProcess(settings_for(target))
    try:
        kb.ask("warm up: what is new in long context?")
        yield kb
    finally:
        kb.close()


def serve_digest(server: FakeFeedServer, posts: int, seed: int) -> None:
    """A digest on the local server: a feed of its five newest issues and a Substack archive of ``posts``.

    The posts are synthetic issues (``bench/synthetic.py``) the index has not seen, rendered as HTML.
    """
    made = []
    for i in range(posts):
        doc, _ = synthetic.generate_document(900_000 + i, seed)
        body = "".join(
            (f"<h2>{sec.heading}</h2>" if sec.heading else "")
            + "".join(f"<p>{para}</p>" for para in sec.text.split("\n\n"))
            for sec in doc.sections
        )
        made.append(FakePost(f"issue-{i}", doc.title, body_html=body, post_date=synthetic_date(i)))
    server.set_posts(made)
    server.set_feed(
        "/feed",
        [FakeEntry(p.title, f"/p/{p.slug}", guid=p.slug, published=p.post_date, content=p.body_html) for p in made[-5:]],
    )


def synthetic_date(i: int) -> Any:
    """The ``i``-th post's date: one a day from 2025-01-01."""
    from datetime import UTC, datetime, timedelta

    return datetime(2025, 1, 1, 9, tzinfo=UTC) + timedelta(days=i)


def make_poller(kb: Any, server: FakeFeedServer, work: Path, name: str) -> Any:
    """A poller over a fresh state database watching the local digest (its first run backfills)."""
    from knowledge.config import Settings
    from knowledge.watch.poller import Poller
    from knowledge.watch.state import StateDB

    folder = work / f"{name}-poll"
    folder.mkdir(parents=True, exist_ok=True)
    sources = folder / "sources.toml"
    sources.write_text(
        f'[[digest]]\nname = "Bench Weekly"\nfeed = "{server.url("/feed")}"\nsubstack = "{server.base_url}"\n',
        encoding="utf-8",
    )
    settings = Settings.from_env(
        {
            "DIGESTBOT_DATA_DIR": str(folder),
            "DIGESTBOT_SOURCES": str(sources),
            "DIGESTBOT_ALLOW_PRIVATE_URLS": "1",
        },
        dotenv=False,
    )
    return Poller(kb, StateDB(settings.state_db), settings, substack_pace=0)


def measure(
    source: Path,
    work: Path,
    embedder: Any,
    inputs: list[Path],
    questions: list[str],
    wave: int,
    question_seconds: float,
    poll_posts: int,
    seed: int,
    modes: tuple[str, ...] = MODES,
) -> list[dict[str, Any]]:
    """The reference phases, then an ingest and a poll beside questions in each mode."""
    out: list[dict[str, Any]] = []
    with fresh_kb(source, work, "reference", embedder) as kb:
        out.append(asyncio.run(phase(kb, "idle loop", questions=questions, wave=wave, ask=False, seconds=2.0)))
        out.append(
            asyncio.run(
                phase(kb, f"waves of {wave} concurrent questions, no job", questions=questions, wave=wave,
                      seconds=question_seconds, mode="in-process")
            )
        )
    with fresh_kb(source, work, "ingest-alone", embedder) as kb:
        out.append(
            asyncio.run(
                phase(kb, "ingest alone, no questions", questions=questions, wave=wave,
                      job=lambda: kb.ingest(inputs), ask=False, mode="in-process")
            )
        )
    with FakeFeedServer() as server:
        serve_digest(server, poll_posts, seed)
        for mode in modes:
            slug = mode.replace(" ", "-")
            with fresh_kb(source, work, f"{slug}-ingest", embedder, mode) as kb:
                out.append(
                    asyncio.run(
                        phase(kb, f"ingest + waves of {wave} concurrent questions", questions=questions,
                              wave=wave, job=lambda kb=kb: kb.ingest(inputs), mode=mode)
                    )
                )
            with fresh_kb(source, work, f"{slug}-poll", embedder, mode) as kb:
                poller = make_poller(kb, server, work, slug)
                try:
                    out.append(
                        asyncio.run(
                            phase(kb, f"first poll (backfill of {poll_posts} posts) + waves of {wave} questions",
                                  questions=questions, wave=wave, job=poller.poll_once, mode=mode)
                        )
                    )
                finally:
                    poller.state.close()
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
    parser.add_argument(
        "--poll-posts",
        type=int,
        default=8,
        help="Substack archive posts the first poll backfills from the local server",
    )
    parser.add_argument(
        "--mode",
        choices=[*MODES, "both"],
        default="both",
        help="where the knowledge base runs for the measured phases (default: both, side by side)",
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
            args.poll_posts,
            args.seed,
            MODES if args.mode == "both" else (args.mode,),
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    table = Table(
        f"Event-loop stalls (5 ms ticker) beside questions via asyncio.to_thread; index of {meta['chunks']:,} chunks; torch {threads} threads",
        [
            "phase",
            "knowledge base",
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
                r["mode"],
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
            table.notes.append(f"{r['phase']} ({r['mode']}): {describe_job(r['job'])}")
    table.notes.append(
        "question times are wall time from the loop's side (waiting for a worker thread included)."
    )
    table.notes.append(
        "the first three rows are references (no target): the idle loop, questions alone, the ingest alone (every job phase on its own fresh copy of the index)."
    )
    table.notes.append(
        "knowledge process: the knowledge base runs in a child process (knowledge/process/service.py, the default of `digestbot run`); "
        "the loop's process only waits on a pipe. in-process: KNOWLEDGE_PROCESS=0."
    )
    table.notes.append(
        "the poll: a local feed + Substack API server (tests/fakes/feeds/) with synthetic posts; the poller fetches and "
        "parses in the loop's process and indexes through the knowledge base."
    )
    report(
        "responsiveness",
        "Responsiveness",
        [table],
        command("bench.responsiveness", argv),
        write=not args.no_write,
    )
    return [table]


def describe_job(report: Any) -> str:
    """One line on what the job did (an IngestReport or a PollReport)."""
    if hasattr(report, "chunks_embedded"):
        return (
            f"{report.added + report.updated} documents, {report.chunks_embedded} chunks embedded in {report.seconds:.1f} s"
        )
    seeded = sum(getattr(report, "seeded", {}).values())
    errors = getattr(report, "errors", {})
    return f"{seeded} entries seeded, archive backfilled{f'; errors {errors}' if errors else ''}"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    return cli_main(build_parser, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
