"""Helpers shared by the benchmarks: paths, settings, tables, results file, Chroma server.

Nothing here is timed; the benchmarks time their own work.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import re
import resource
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from knowledge.embeddings import Embedder
    from knowledge.facade import KnowledgeBase

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
CACHE = BENCH / ".cache"
RESULTS = BENCH / "results" / "latest.md"
DEFAULT_ARCHIVE = Path("../shared/archive")
DEFAULT_LARGE_ARCHIVE = Path("../shared/archive-large")

_HEADER = """# digestbot benchmark results

Written by `python -m bench.run_all` (`make bench`); each benchmark rewrites its own section
when run alone. Numbers are from one machine (see each section's "machine" line); the CPU is
shared with whatever else ran at the time, which the load average hints at.
"""


def offline_env() -> None:
    """Make the model load offline and quietly, as the bot does."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


def setup_logging(verbose: bool = False) -> None:
    """Progress to stderr; tables go to stdout."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    for noisy in (
        "chromadb",
        "httpx",
        "sentence_transformers",
        "urllib3",
        "bm25s",
        "knowledge.search.lexical",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def resolve(path: Path | str) -> Path:
    """A path relative to the repository root (the CLI defaults are written that way)."""
    p = Path(path)
    return p if p.is_absolute() else (REPO / p).resolve()


def load_embedder() -> Embedder:
    """The bundled all-MiniLM-L6-v2, loaded and warmed up (one encode of a short text)."""
    offline_env()
    from knowledge.embeddings import get_embedder

    embedder = get_embedder(None)
    embedder.encode(["warm up the model"])
    return embedder


def torch_threads(n: int = 0) -> int:
    """Set torch's intra-op threads (``0``: leave as configured); returns the number in effect."""
    import torch

    if n > 0:
        torch.set_num_threads(n)
    return int(torch.get_num_threads())


def settings_for(data_dir: Path, host: str | None = None, port: int | None = None) -> Any:
    """Settings for a data directory (and optionally a Chroma server), nothing read from .env."""
    from knowledge.config import Settings

    env = {"DIGESTBOT_DATA_DIR": str(data_dir), "ARXIV_API_URL": "http://127.0.0.1:9/api/query"}
    if host:
        env.update(CHROMA_HOST=host, CHROMA_PORT=str(port or 8000))
    return Settings.from_env(env, dotenv=False)


def open_kb(
    data_dir: Path, embedder: Any, host: str | None = None, port: int | None = None
) -> KnowledgeBase:
    """A :class:`~knowledge.facade.KnowledgeBase` over ``data_dir`` (and a server when given)."""
    from knowledge.facade import KnowledgeBase

    return KnowledgeBase(settings_for(data_dir, host, port), embedder=embedder)


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (linear interpolation), 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100.0
    lo = int(rank)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo)


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB (``ru_maxrss`` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def current_rss_mib() -> float:
    """Current resident set size of this process in MiB (from ``/proc/self/status``)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def machine_line() -> str:
    """Cores, load average, torch threads and versions: context for the numbers."""
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    parts = [f"{os.cpu_count()} cores", f"load avg {load}", f"python {platform.python_version()}"]
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        parts.append(f"torch {torch.__version__} ({torch.get_num_threads()} threads)")
    with contextlib.suppress(Exception):
        import chromadb

        parts.append(f"chromadb {chromadb.__version__}")
    return ", ".join(parts)


def command(module: str, argv: Sequence[str]) -> str:
    """The shell command that reproduces a benchmark run."""
    return " ".join(["python", "-m", module, *[shlex.quote(a) for a in argv]]).strip()


@dataclass(slots=True)
class Table:
    """A small results table, printable as aligned text and as markdown."""

    title: str
    headers: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @staticmethod
    def _cell(value: Any) -> str:
        if isinstance(value, float):
            if value == 0:
                return "0"
            if abs(value) >= 100:
                return f"{value:,.0f}"
            if abs(value) >= 10:
                return f"{value:.1f}"
            return f"{value:.2f}" if abs(value) >= 0.1 else f"{value:.3f}"
        if isinstance(value, int) and not isinstance(value, bool):
            return f"{value:,}"
        return str(value)

    def text(self) -> str:
        """Aligned plain text for the terminal."""
        cells = [self.headers] + [[self._cell(v) for v in row] for row in self.rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(self.headers))]
        lines = [self.title, "-" * len(self.title)]
        for n, row in enumerate(cells):
            lines.append(
                "  ".join(c.rjust(w) if n else c.ljust(w) for c, w in zip(row, widths, strict=True))
            )
            if n == 0:
                lines.append("  ".join("-" * w for w in widths))
        lines.extend(f"  {note}" for note in self.notes)
        return "\n".join(lines)

    def markdown(self) -> str:
        """A markdown table with its title and notes."""
        lines = [
            f"**{self.title}**",
            "",
            "| " + " | ".join(self.headers) + " |",
            "|" + "---|" * len(self.headers),
        ]
        lines.extend(
            "| " + " | ".join(self._cell(v).replace("|", "\\|") for v in row) + " |"
            for row in self.rows
        )
        if self.notes:
            lines.append("")
            lines.extend(f"- {note}" for note in self.notes)
        return "\n".join(lines)


def report(name: str, heading: str, tables: list[Table], cmd: str, *, write: bool = True) -> str:
    """Print the tables with the reproducing command, and update ``bench/results/latest.md``.

    Args:
        name: Section key in the results file (one per benchmark).
        heading: Section heading.
        tables: The tables to print.
        cmd: The command that reproduces them.
        write: Whether to update the results file.

    Returns:
        The markdown section.
    """
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    print()
    for table in tables:
        print(table.text())
        print()
    print(f"reproduce: {cmd}")
    print(f"machine:   {machine_line()}")
    sys.stdout.flush()
    body = "\n\n".join(t.markdown() for t in tables)
    section = (
        f"<!-- begin {name} -->\n## {heading}\n\n```\n{cmd}\n```\n\n{body}\n\n"
        f"_{stamp}; machine: {machine_line()}_\n<!-- end {name} -->"
    )
    if write:
        update_results(name, section)
    return section


def update_results(name: str, section: str) -> None:
    """Replace (or append) one benchmark's section in the results file."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else _HEADER
    pattern = re.compile(
        rf"<!-- begin {re.escape(name)} -->.*?<!-- end {re.escape(name)} -->", re.S
    )
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    tmp = RESULTS.with_suffix(".md.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(RESULTS)


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def chroma_executable() -> str:
    """The ``chroma`` command shipped by chromadb (in this interpreter's bin folder or on PATH)."""
    candidate = Path(sys.executable).parent / "chroma"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("chroma")
    if not found:
        raise RuntimeError(
            "the chroma command is missing: install chromadb (it ships `chroma run`)"
        )
    return found


@contextlib.contextmanager
def chroma_server(path: Path, *, timeout: float = 120.0) -> Iterator[tuple[str, int]]:
    """Run ``chroma run --host 127.0.0.1 --port P --path PATH`` for the duration of the block.

    Yields:
        ``(host, port)`` of the running server.
    """
    import httpx

    port = free_port()
    path.mkdir(parents=True, exist_ok=True)
    log_path = path.parent / f"{path.name}.server.log"
    with log_path.open("w") as out:
        proc = subprocess.Popen(
            [
                chroma_executable(),
                "run",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--path",
                str(path),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"chroma run exited: {log_path.read_text()[-2000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if (
                        httpx.get(
                            f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1
                        ).status_code
                        == 200
                    ):
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"chroma run did not answer within {timeout:.0f} s")
                time.sleep(0.3)
            log.info("chroma server on 127.0.0.1:%d serving %s (pid %d)", port, path, proc.pid)
            yield "127.0.0.1", port
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def ensure_archive_index(archive: Path, embedder: Any = None) -> tuple[Path, dict[str, Any]]:
    """A cached index of a real archive folder (ingested once with the real model).

    The cache is keyed by the archive's file names, sizes and modification times.
    """
    import hashlib
    import json

    archive = resolve(archive)
    embedder = embedder or load_embedder()
    h = hashlib.sha256(f"{embedder.name}\n".encode())  # a store records its model label (int8 has its own)
    for p in sorted(archive.rglob("*")):
        if p.is_file():
            st = p.stat()
            h.update(f"{p.relative_to(archive)}\0{st.st_size}\0{int(st.st_mtime)}\n".encode())
    path = CACHE / f"archive-index-{h.hexdigest()[:12]}"
    meta_path = path / "bench-meta.json"
    if meta_path.exists():
        return path, json.loads(meta_path.read_text())
    shutil.rmtree(path, ignore_errors=True)
    log.info("indexing %s once for the benchmarks (cached in %s)", archive, path)
    kb = open_kb(path, embedder)
    try:
        rep = kb.ingest([archive])
        meta = {
            "archive": str(archive),
            "documents": rep.added,
            "chunks": kb.store.count_chunks(),
            "seconds": round(rep.seconds, 1),
        }
    finally:
        kb.close()
    meta_path.write_text(json.dumps(meta, indent=2))
    return path, meta


def dev_questions(limit: int = 40) -> list[str]:
    """Questions over the sample archive (``../shared/eval/dev_questions.jsonl``), if present."""
    import json

    path = resolve("../shared/eval/dev_questions.jsonl")
    if not path.exists():
        return [
            "what did the digest say about QLoRA?",
            "mixture of experts",
            "what is new in long context?",
        ]
    rows = [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    return [r["question"] for r in rows[:limit]]


def spawn_child(
    data_dir: Path,
    questions: list[str],
    *,
    host: str | None = None,
    port: int | None = None,
    timeout: float = 900,
    knowledge_process: bool = False,
    bare: bool = False,
) -> dict[str, Any]:
    """Run :mod:`bench.child` on an index in a fresh interpreter and return its record.

    With ``knowledge_process`` the child serves from a knowledge process, as ``digestbot run``;
    with ``bare`` it only imports sentence-transformers and loads the model (the reference).

    The record gains ``wall_s``: the parent's time from starting the process to its exit.
    """
    import json

    CACHE.mkdir(parents=True, exist_ok=True)
    qfile = CACHE / f"questions-{os.getpid()}.json"
    qfile.write_text(json.dumps(questions, ensure_ascii=False), encoding="utf-8")
    argv = [sys.executable, "-m", "bench.child", "--data", str(data_dir), "--questions", str(qfile)]
    if host:
        argv += ["--host", host, "--port", str(port)]
    if knowledge_process:
        argv.append("--knowledge-process")
    if bare:
        argv.append("--bare")
    env = dict(
        os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false"
    )
    started = time.perf_counter()
    spawned_at = time.time()
    try:
        proc = subprocess.run(
            [*argv, "--spawned-at", repr(spawned_at)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    finally:
        qfile.unlink(missing_ok=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"bench.child failed ({proc.returncode}): {proc.stderr[-3000:]}")
    record = json.loads(proc.stdout.strip().splitlines()[-1])
    record["wall_s"] = wall
    return record


def cli_main(build_parser: Any, run: Any, argv: Sequence[str] | None = None) -> int:
    """Shared ``main`` of the benchmarks: parse arguments, set up logging, run, exit 0."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    setup_logging()
    run(args, argv)
    return 0
