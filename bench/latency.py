"""Question latency at 10k and 100k chunks: warm, in-process ``KnowledgeBase.ask``.

The indexes come from the deterministic synthetic archive (:mod:`bench.synthetic`),
cached under ``bench/.cache/``. The real model embeds each question; model load, opening
the store and the first question (which builds the in-memory BM25 index) are reported
separately and are not part of the percentiles. With ``--server`` sizes, the same index
is served by a ``chroma run`` server on 127.0.0.1 and asked through ``HttpClient``.

Target: p95 <= 150 ms at 100k chunks.

The sample archive (``../shared/archive``, indexed once with the default encoder backend) is
also asked :data:`LONG_QUESTIONS`, long natural questions of 15-40 words, once per encoder
backend (torch, onnx, onnx-int8) with one thread, as the knowledge process answers.
Target there: p95 <= 50 ms warm.
"""

from __future__ import annotations

import argparse
import functools
import logging
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from bench import synthetic, vocabulary
from bench.common import (
    CACHE,
    Table,
    chroma_server,
    cli_main,
    command,
    load_embedder,
    open_kb,
    percentile,
    report,
    settings_for,
    torch_threads,
)

log = logging.getLogger(__name__)

TARGET_P95_MS = 150.0
TARGET_SAMPLE_P95_MS = 50.0

# Long natural questions about the sample archive's topics (written for this benchmark).
LONG_QUESTIONS = [
    "When the newsletter walked through QLoRA, how did it explain that a model with tens of billions of parameters can be fine-tuned on just one graphics card?",
    "I remember a write-up about making diffusion models sample much faster by cutting the number of denoising steps; what speed-up did it report and at what cost?",
    "Which tricks did the authors of the Mistral 7B paper use to make a small model beat Llama 2 13B on most benchmarks, according to the digest's summary?",
    "Could you remind me what the notes said about UltraFastBERT and how small a fraction of its feed-forward neurons it really uses for each inference step?",
    "In the piece on Upstage's SOLAR 10.7B, how exactly was the model scaled up from a smaller base, and did they keep training after duplicating the layers?",
    "What did the Korean paper notes say about the learning rate schedule used to train StableLM 2 1.6B, and why did the team pick that particular schedule?",
    "Is there any discussion of whether removing toxic documents from the pretraining corpus helps or hurts a language model's later ability to detect toxicity?",
    "Has anyone in these digests looked at teaching an eleven-billion-parameter T5 to reason step by step through chain-of-thought fine-tuning, and what did they find?",
    "Does instruction tuning actually give a language model new factual knowledge, or does it mostly teach the format of answers, according to the paper that was summarised?",
    "What was said about large language models solving numeric regression tasks purely from examples placed in the prompt, without any gradient updates at all?",
    "I'm trying to recall a summary about mixture-of-experts models where each token is routed to a couple of experts; how did they keep compute per token low?",
    "How did the research roundup describe direct preference optimisation as an alternative to reinforcement learning from human feedback with a separate reward model?",
    "Which approaches to extending the context window of transformer models were compared in the October research papers issue, and which one seemed most promising?",
    "What did the digest report about quantising model weights to very few bits, for example ternary or one-bit parameters, while keeping accuracy close to full precision?",
    "Can you find the part where the author explains letting users trade off helpfulness against harmlessness in a chatbot by adjusting some control at inference time?",
    "Was there a summary of a method where the language model first rephrases the user's question in its own words before answering, and did it improve accuracy?",
    "How can one test whether a closed proprietary chatbot was trained on a particular benchmark's test set, based on the contamination paper the newsletter covered?",
    "What simple check was proposed for telling whether an ensemble of several predictors will outperform its best single member, as discussed in one of the issues?",
    "Which small open models released in early 2024 did the notes compare against each other, and what did the writer conclude about their training data choices?",
    "According to the sample archive, what are the main reasons retrieval-augmented generation still fails on questions that need information spread over several documents?",
]
STAGES = ("embed question", "chroma query", "bm25 search", "chroma get", "other")


class StageTimer:
    """Wraps the retriever's collaborators of one knowledge base to time each stage per question."""

    def __init__(self, kb: Any) -> None:
        self.current: dict[str, float] = {}
        self.per_question: list[dict[str, float]] = []
        retriever = kb.retriever
        retriever.embedder = _Proxy(
            retriever.embedder, {"encode": self._wrap("embed question", retriever.embedder.encode)}
        )
        retriever.store = _Proxy(
            retriever.store,
            {
                "query": self._wrap("chroma query", retriever.store.query),
                "get_chunks": self._wrap("chroma get", retriever.store.get_chunks),
            },
        )
        retriever.lexical = _Proxy(
            retriever.lexical, {"search": self._wrap("bm25 search", retriever.lexical.search)}
        )

    def _wrap(self, stage: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.current[stage] = (
                    self.current.get(stage, 0.0) + (time.perf_counter() - started) * 1000
                )

        return timed

    def start(self) -> None:
        """Begin timing one question."""
        self.current = {}

    def stop(self, total_ms: float) -> None:
        """End timing one question that took ``total_ms`` in all."""
        self.current["other"] = max(0.0, total_ms - sum(self.current.values()))
        self.per_question.append(self.current)

    def medians(self) -> dict[str, float]:
        """Median milliseconds per stage."""
        return (
            {s: statistics.median(q.get(s, 0.0) for q in self.per_question) for s in STAGES}
            if self.per_question
            else {}
        )


class _Proxy:
    """An object that forwards everything to ``target`` except the given overrides."""

    def __init__(self, target: Any, overrides: dict[str, Callable[..., Any]]) -> None:
        self._target = target
        self.__dict__.update(overrides)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


def measure(
    kb: Any, questions: list[str], *, warmup: int = 5, k: int = 5, mode: str = "hybrid"
) -> dict[str, Any]:
    """Ask every question once (after ``warmup`` untimed ones) and collect latencies.

    Returns:
        Percentiles, found share, first-answer time and per-stage medians.
    """
    started = time.perf_counter()
    kb.ask(questions[0], k=k, mode=mode)
    first_s = time.perf_counter() - started
    for q in questions[1 : 1 + warmup]:
        kb.ask(q, k=k, mode=mode)
    timer = StageTimer(kb) if hasattr(kb, "retriever") else None  # a KnowledgeProcess: no stages
    latencies: list[float] = []
    found = 0
    named = named_total = 0
    for q in questions:
        if timer:
            timer.start()
        t0 = time.perf_counter()
        answer = kb.ask(q, k=k, mode=mode)
        ms = (time.perf_counter() - t0) * 1000
        if timer:
            timer.stop(ms)
        latencies.append(ms)
        found += answer.found
        name = _named_model(q)
        if name:
            named_total += 1
            top = answer.citations[0] if answer.citations else None
            named += bool(top and name.lower() in f"{top.section} {top.excerpt}".lower())
    return {
        "n": len(latencies),
        "p50": percentile(latencies, 50),
        "p95": percentile(latencies, 95),
        "mean": statistics.fmean(latencies),
        "max": max(latencies),
        "found": 100.0 * found / len(latencies),
        "top1_named": 100.0 * named / named_total if named_total else 0.0,
        "first_s": first_s,
        "stages": timer.medians() if timer else {},
    }


def _named_model(question: str) -> str | None:
    """The made-up model name a generated question asks about (known ones only)."""
    for word in question.replace("?", " ").split():
        stem = word.split("-")[0].split("에")[0].split("의")[0]
        if any(stem.startswith(p) for p in vocabulary.NAME_PREFIX) and any(
            s in stem for s in vocabulary.NAME_SUFFIX
        ):
            return stem
    return None


def _profile(kb: Any, questions: list[str]) -> str:
    import cProfile
    import io
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    for q in questions:
        kb.ask(q)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(25)
    return out.getvalue()


def run_embedded(
    size: int, embedder: Any, questions: list[str], args: argparse.Namespace
) -> list[dict[str, Any]]:
    """Latency over the embedded (PersistentClient) store, once per torch thread setting."""
    path, meta = synthetic.ensure_index(size, args.seed, embedder=embedder)
    started = time.perf_counter()
    kb = open_kb(path, embedder)
    open_s = time.perf_counter() - started
    out = []
    default = torch_threads(0)
    try:
        for n in args.torch_threads:
            threads = torch_threads(n)
            result = measure(kb, questions, warmup=args.warmup, k=args.k, mode=args.mode)
            out.append(
                {
                    "store": "embedded",
                    "threads": threads,
                    "chunks": meta["chunks"],
                    "open_s": open_s,
                    **result,
                }
            )
            if args.profile:
                print(
                    f"\n--- profile, embedded, {size} chunks ---\n{_profile(kb, questions[:30])}",
                    file=sys.stderr,
                )
    finally:
        torch_threads(default)
        kb.close()
    return out


def run_server(
    size: int, embedder: Any, questions: list[str], args: argparse.Namespace
) -> dict[str, Any]:
    """Latency with the same index served by ``chroma run`` on 127.0.0.1."""
    path, meta = synthetic.ensure_index(size, args.seed, embedder=embedder)
    work = CACHE / "server" / path.name
    if work.exists():
        shutil.rmtree(work)
    (work / "data").mkdir(parents=True)
    log.info("copying the %d-chunk index for the server", meta["chunks"])
    shutil.copytree(path / "chroma", work / "chroma")
    with chroma_server(work / "chroma") as (host, port):
        # the lexical index is derived data keyed by store location: reuse the embedded one
        shutil.copy2(
            path / "lexical-embedded.sqlite3", work / "data" / f"lexical-{host}_{port}.sqlite3"
        )
        started = time.perf_counter()
        kb = open_kb(work / "data", embedder, host, port)
        open_s = time.perf_counter() - started
        try:
            result = measure(kb, questions, warmup=args.warmup, k=args.k, mode=args.mode)
            if args.profile:
                print(
                    f"\n--- profile, server, {size} chunks ---\n{_profile(kb, questions[:30])}",
                    file=sys.stderr,
                )
        finally:
            kb.close()
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "store": "chroma server",
        "threads": torch_threads(0),
        "chunks": meta["chunks"],
        "open_s": open_s,
        **result,
    }


def run_process(size: int, questions: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """Latency through a knowledge process (as `digestbot run` serves): the pipe's cost included."""
    from knowledge.process.service import KnowledgeProcess

    path, meta = synthetic.ensure_index(size, args.seed)
    started = time.perf_counter()
    kb = KnowledgeProcess(settings_for(path))
    open_s = time.perf_counter() - started
    try:
        result = measure(kb, questions, warmup=args.warmup, k=args.k, mode=args.mode)
    finally:
        kb.close()
    return {"store": "embedded, knowledge process", "threads": 1, "chunks": meta["chunks"], "open_s": open_s, **result}


class _Relabelled:
    """An embedder under another label (to ask a store built by another backend; bench only)."""

    def __init__(self, real: Any, name: str) -> None:
        self._real = real
        self.name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._real, attr)


def run_sample(default: Any, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Long natural questions on the sample archive, once per encoder backend (1 thread)."""
    from bench.common import DEFAULT_ARCHIVE, ensure_archive_index, resolve
    from knowledge.embeddings import BACKENDS, get_embedder, set_threads

    archive = resolve(DEFAULT_ARCHIVE)
    if not archive.exists():
        log.warning("no sample archive at %s: skipping its latency rows", archive)
        return []
    path, meta = ensure_archive_index(archive, default)
    set_threads(1)
    torch_threads(1)
    questions = LONG_QUESTIONS * max(1, args.sample_rounds)
    words = [len(q.split()) for q in LONG_QUESTIONS]
    rows = []
    for backend in reversed(BACKENDS):  # torch first: the baseline
        real = get_embedder(None, backend).load()
        embedder = real if real.name == default.name else _Relabelled(real, default.name)
        kb = open_kb(path, embedder)
        try:
            result = measure(kb, questions, warmup=args.warmup, k=args.k, mode=args.mode)
        finally:
            kb.close()
        result.update(backend=real.backend, chunks=meta.get("chunks", 0), words=f"{min(words)}-{max(words)}")
        rows.append(result)
    return rows


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.latency", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--chunks", type=int, nargs="*", default=[10_000, 100_000], help="embedded index sizes"
    )
    parser.add_argument(
        "--server",
        type=int,
        nargs="*",
        default=[10_000],
        help="sizes to also measure through a chroma server",
    )
    parser.add_argument(
        "--process",
        type=int,
        nargs="*",
        default=[100_000],
        help="sizes to also measure through a knowledge process (as `digestbot run` serves)",
    )
    parser.add_argument("--questions", type=int, default=100, help="questions per size")
    parser.add_argument(
        "--no-sample", dest="sample", action="store_false", help="skip the sample archive's long questions"
    )
    parser.add_argument("--sample-rounds", type=int, default=3, help="times each long question is asked")
    parser.add_argument("--warmup", type=int, default=5, help="untimed questions first")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--mode", default="hybrid", choices=["hybrid", "dense", "lexical"])
    parser.add_argument(
        "--torch-threads",
        type=int,
        nargs="+",
        default=[0, 1],
        help="torch intra-op thread settings to measure the embedded store with (0: as configured)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="cProfile 30 questions per size (to stderr)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the server's copy of the index")
    parser.add_argument(
        "--no-write", action="store_true", help="do not update bench/results/latest.md"
    )
    return parser


def run(args: argparse.Namespace, argv: list[str]) -> list[Table]:
    """Measure every requested size and print the tables."""
    embedder = load_embedder()
    questions = synthetic.questions(args.questions, args.seed)
    results = [r for n in args.chunks for r in run_embedded(n, embedder, questions, args)]
    results += [run_server(n, embedder, questions, args) for n in args.server]
    results += [run_process(n, questions, args) for n in args.process]
    sample = run_sample(embedder, args) if args.sample else []
    table = Table(
        f"Question latency (warm, in-process ask, mode={args.mode}, k={args.k})",
        [
            "store",
            "torch threads",
            "chunks",
            "questions",
            "p50 ms",
            "p95 ms",
            "mean ms",
            "max ms",
            "top-1 names model %",
            "open s",
            "first answer s",
            "target",
        ],
    )
    stages = Table(
        "Median ms per stage of one question", ["store", "torch threads", "chunks", *STAGES]
    )
    for r in results:
        verdict = "met" if r["p95"] <= TARGET_P95_MS else "MISSED"
        table.rows.append(
            [
                r["store"],
                r["threads"],
                r["chunks"],
                r["n"],
                r["p50"],
                r["p95"],
                r["mean"],
                r["max"],
                r["top1_named"],
                r["open_s"],
                r["first_s"],
                f"<= {TARGET_P95_MS:.0f}: {verdict}",
            ]
        )
        if r["stages"]:
            stages.rows.append(
                [r["store"], r["threads"], r["chunks"], *[r["stages"].get(s, 0.0) for s in STAGES]]
            )
    table.notes += [
        "Synthetic index (bench/synthetic.py): real chunking, store and BM25 index; hashed bag-of-words vectors instead of model embeddings.",
        "Questions are embedded by the real model; 'first answer' includes building the in-memory BM25 index; neither it nor model load is in the percentiles.",
        "'top-1 names model': share of questions about a made-up model whose first citation names it (a sanity check that retrieval works).",
        "torch threads: the default is one intra-op thread per core; the 1-thread rows show the same process with torch.set_num_threads(1).",
        "'first answer' is only measured on the first row of each size (later rows reuse the built BM25 index).",
        "knowledge process rows: asked through knowledge/process/service.py's KnowledgeProcess (the default of `digestbot run`), "
        "so the pipe and pickling are in the times; 'open s' there includes the child loading the model.",
    ]
    tables = [table, stages]
    if sample:
        sample_table = Table(
            f"Question latency on the sample archive, long natural questions (warm, in-process ask, mode={args.mode}, k={args.k}, 1 thread)",
            ["encoder backend", "chunks", "questions", "words (min-max)", "p50 ms", "p95 ms", "mean ms", "max ms", "embed question ms (median)", "target"],
        )
        for r in sample:
            verdict = "met" if r["p95"] <= TARGET_SAMPLE_P95_MS else "MISSED"
            sample_table.rows.append(
                [r["backend"], r["chunks"], r["n"], r["words"], r["p50"], r["p95"], r["mean"], r["max"],
                 r["stages"].get("embed question", 0.0), f"<= {TARGET_SAMPLE_P95_MS:.0f}: {verdict}"]
            )
        sample_table.notes += [
            "Index built once with the default backend; the other backends answer over the same index (only the question's embedding differs).",
            f"questions: bench/latency.py LONG_QUESTIONS, each asked {args.sample_rounds} times after {args.warmup} untimed ones.",
        ]
        report(
            "latency_sample",
            "Question latency, sample archive, long natural questions",
            [sample_table],
            command("bench.latency", argv),
            write=not args.no_write,
        )
    if results:
        report(
            "latency",
            "Question latency",
            tables,
            command("bench.latency", argv),
            write=not args.no_write,
        )
    return tables + ([sample_table] if sample else [])


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    return cli_main(build_parser, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
