"""A fresh process that does what the bot's knowledge side does at start, measured from inside.

Run by :mod:`bench.cold_start` and :mod:`bench.memory` as
``python -m bench.child --data DIR --questions FILE --spawned-at T``: it imports the
knowledge layer, loads the model, opens the store, answers the first question (ready to
answer), then the rest, and prints one JSON line with the time of each step since
``T`` (the parent's clock when it started the process), the resident memory after each
step and its peak (``VmHWM``). Like ``digestbot run``, it answers with one torch thread. Only
the standard library is imported before the timer starts, as in the bot.

With ``--knowledge-process`` it serves as ``digestbot run`` does by default: the knowledge
base runs in a :class:`knowledge.process.service.KnowledgeProcess` child ("load model" and "open
store" are then one step, the child's start), and memory is this process plus that child.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path


def _status_mib(field: str, pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024.0
    return 0.0


def _rss_mib() -> float:
    return _status_mib("VmRSS")


def _peak_mib() -> float:
    """Peak RSS of this process image.

    ``getrusage(RUSAGE_SELF).ru_maxrss`` is used where ``/proc`` is missing, but on Linux it
    keeps the parent's resident size at fork across ``exec`` (a parent that had loaded a big
    index would show up here), so the kernel's ``VmHWM`` (reset at exec) is preferred.
    """
    return _status_mib("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(argv: list[str] | None = None) -> int:
    """Run the steps and print the JSON record."""
    parser = argparse.ArgumentParser(prog="python -m bench.child")
    parser.add_argument("--data", required=True, help="DIGESTBOT_DATA_DIR to open")
    parser.add_argument("--questions", required=True, help="JSON file with a list of questions")
    parser.add_argument(
        "--spawned-at",
        type=float,
        required=True,
        help="time.time() when the parent started this process",
    )
    parser.add_argument(
        "--torch-threads", type=int, default=1, help="as `digestbot run` sets (0: torch's default)"
    )
    parser.add_argument(
        "--knowledge-process", action="store_true", help="serve from a knowledge process, as `digestbot run`"
    )
    parser.add_argument(
        "--bare",
        action="store_true",
        help="the reference: only import sentence-transformers and load the model (no store, no answer)",
    )
    parser.add_argument("--host", default=None)
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    entered = time.time()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    steps: list[tuple[str, float, float]] = [
        ("interpreter start", entered - args.spawned_at, _rss_mib())
    ]

    helper: list[int] = []  # the knowledge process, when there is one

    def rss() -> float:
        return _rss_mib() + sum(_status_mib("VmRSS", pid) for pid in helper)

    def mark(step: str) -> None:
        steps.append((step, time.time() - args.spawned_at, rss()))

    env = {"DIGESTBOT_DATA_DIR": args.data, "ARXIV_API_URL": "http://127.0.0.1:9/api/query"}
    if args.host:
        env.update(CHROMA_HOST=args.host, CHROMA_PORT=str(args.port))
    if args.bare:
        return _bare(args, mark, steps)
    from knowledge.config import Settings

    if args.knowledge_process:
        from knowledge.process.service import KnowledgeProcess

        mark("import")
        kb = KnowledgeProcess(Settings.from_env(env, dotenv=False))
        helper.append(int(kb.pid))
        mark("load model")
        mark("open store")
    else:
        from knowledge.embeddings import get_embedder, set_threads
        from knowledge.facade import KnowledgeBase

        mark("import")
        set_threads(args.torch_threads or None)  # as the bot: torch only when it is the backend
        embedder = get_embedder(None)
        embedder.load()  # load it now, as the bot does before it connects
        mark("load model")
        kb = KnowledgeBase(Settings.from_env(env, dotenv=False), embedder=embedder)
        mark("open store")
    questions = json.loads(Path(args.questions).read_text(encoding="utf-8"))
    first = kb.ask(questions[0])
    mark("first answer")
    latencies = []
    for q in questions[1:]:
        started = time.perf_counter()
        kb.ask(q)
        latencies.append((time.perf_counter() - started) * 1000)
    mark(f"{len(questions) - 1} more answers")
    record = {
        "steps": [{"step": s, "at_s": round(t, 3), "rss_mib": round(r, 1)} for s, t, r in steps],
        "peak_rss_mib": round(_peak_mib() + sum(_status_mib("VmHWM", pid) for pid in helper), 1),
        "own_peak_rss_mib": round(_peak_mib(), 1),
        "chunks": kb.stats().chunks,
        "first_found": first.found,
        "latencies_ms": [round(x, 1) for x in latencies],
    }
    kb.close()
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()
    return 0


def _bare(args: argparse.Namespace, mark, steps: list[tuple[str, float, float]]) -> int:  # noqa: ANN001
    """The reference start: ``import sentence_transformers`` and load the bundled model by path."""
    from sentence_transformers import SentenceTransformer

    mark("import")
    import torch

    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    from knowledge.embeddings import default_model_path

    SentenceTransformer(default_model_path(), device="cpu")
    mark("load model")
    record = {
        "steps": [{"step": s, "at_s": round(t, 3), "rss_mib": round(r, 1)} for s, t, r in steps],
        "peak_rss_mib": round(_peak_mib(), 1),
        "own_peak_rss_mib": round(_peak_mib(), 1),
    }
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
