"""Ingest throughput: the whole pipeline against the model's raw ``encode`` on the same chunks.

The pipeline is ``KnowledgeBase.ingest`` on a folder into a fresh data directory: discover,
parse, chunk (the model's tokenizer), embed, write to Chroma, update the BM25 index. The raw
baseline is one ``Embedder.encode`` call on exactly the texts the pipeline embedded
(recorded as it ran: section heading + chunk text, see ``chunking.embedding_text``). Both
run in this process with the same warmed-up model; with ``--repeat`` they alternate and
the best run of each counts. Then the unchanged archive is ingested again (in the same
process, and from a freshly opened knowledge base as a new CLI run would): nothing may be
embedded, and it should take under 5% of the first ingest.

The encoder backends (``EMBEDDING_BACKEND``) are measured side by side in the same run, on
the same chunk texts: raw PyTorch fp32 ``encode``, the ONNX Runtime fp32 export and its int8
quantisation, each with its vectors' cosine to PyTorch fp32. The pipeline runs with the
default backend. One path that is not a backend is measured beside them, to show why it is
not one: PyTorch's own dynamic int8 quantisation of every ``Linear`` (per channel), the
usual next step on a CPU.

Targets: pipeline chunks/s >= 0.85 x raw encode of its own backend, and >= 2.0 x raw PyTorch
fp32 encode; the backend's vectors within cosine 0.99 of fp32 on every chunk; re-ingest < 5%
of the first ingest.
"""

from __future__ import annotations

import argparse
import functools
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import (
    CACHE,
    DEFAULT_ARCHIVE,
    DEFAULT_LARGE_ARCHIVE,
    Table,
    cli_main,
    command,
    load_embedder,
    open_kb,
    report,
    resolve,
    torch_threads,
)

log = logging.getLogger(__name__)

TARGET_RATIO = 0.85
TARGET_VS_TORCH = 2.0
TARGET_COSINE = 0.99
BACKENDS = ("torch", "onnx", "onnx-int8")
TARGET_REINGEST_PCT = 5.0
STAGES = (
    "discover + parse",
    "chunking (token counts)",
    "embedding (encode)",
    "chroma writes",
    "lexical index",
    "other",
)


class RecordingEmbedder:
    """Forwards to the real embedder; records what ``encode`` was given and times both calls."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.texts: list[str] = []
        self.seconds: dict[str, float] = {"encode": 0.0, "count_tokens": 0.0}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def encode(self, texts: list[str], **kwargs: Any) -> Any:
        self.texts.extend(texts)
        started = time.perf_counter()
        try:
            return self._real.encode(texts, **kwargs)
        finally:
            self.seconds["encode"] += time.perf_counter() - started

    def count_tokens(self, texts: list[str]) -> list[int]:
        started = time.perf_counter()
        try:
            return self._real.count_tokens(texts)
        finally:
            self.seconds["count_tokens"] += time.perf_counter() - started


def _timed(fn: Callable[..., Any], into: dict[str, float], key: str) -> Callable[..., Any]:
    """``fn``, adding its run time to ``into[key]`` (outermost calls only, so nested wrapped calls count once)."""
    into.setdefault(f"{key}:depth", 0.0)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        outer = into[f"{key}:depth"] == 0
        into[f"{key}:depth"] += 1
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            into[f"{key}:depth"] -= 1
            if outer:
                into[key] = into.get(key, 0.0) + time.perf_counter() - started

    return wrapper


def inputs_for(archive: Path, large: int, large_root: Path, files: int = 0) -> list[Path]:
    """The archive folder (or its ``files`` smallest files), plus the first ``large`` files (sorted) of the large archive."""
    inputs = [archive]
    if files:
        inputs = sorted((p for p in archive.rglob("*") if p.is_file()), key=lambda p: (p.stat().st_size, str(p)))[:files]
    if large:
        files = sorted(
            p
            for p in large_root.rglob("*")
            if p.is_file() and p.suffix.lower() in {".md", ".txt", ".html"}
        )
        inputs.extend(files[:large])
    return inputs


def pipeline_run(inputs: list[Path], embedder: Any, data_dir: Path) -> dict[str, Any]:
    """Ingest into a fresh data directory, timing the stages; then re-ingest twice."""
    if data_dir.exists():
        shutil.rmtree(data_dir)
    recorder = RecordingEmbedder(embedder)
    kb = open_kb(data_dir, recorder)
    seconds: dict[str, float] = {}
    for name in ("write_document", "write_documents"):  # whichever the facade calls
        if hasattr(kb.store, name):
            setattr(kb.store, name, _timed(getattr(kb.store, name), seconds, "store"))
    kb.lexical.put_document = _timed(kb.lexical.put_document, seconds, "lexical")
    kb.ingest_documents = _timed(kb.ingest_documents, seconds, "ingest_documents")
    try:
        started, cpu_started = time.perf_counter(), time.process_time()
        first = kb.ingest(inputs)
        total, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        stages = {
            "discover + parse": total - seconds.get("ingest_documents", 0.0),
            "chunking (token counts)": recorder.seconds["count_tokens"],
            "embedding (encode)": recorder.seconds["encode"],
            "chroma writes": seconds.get("store", 0.0),
            "lexical index": seconds.get("lexical", 0.0),
        }
        stages["other"] = max(0.0, total - sum(stages.values()))
        started = time.perf_counter()
        again = kb.ingest(inputs)
        again_s = time.perf_counter() - started
    finally:
        kb.close()
    started = time.perf_counter()
    fresh = open_kb(data_dir, embedder)
    try:
        third = fresh.ingest(inputs)
    finally:
        fresh.close()
    fresh_s = time.perf_counter() - started
    return {
        "docs": first.added + first.updated,
        "failed": first.failed,
        "chunks": first.chunks_embedded,
        "seconds": total,
        "cpu_seconds": cpu,
        "stages": stages,
        "texts": recorder.texts,
        "reingest": [
            ("same process", again_s, again),
            ("new knowledge base (as a new CLI run)", fresh_s, third),
        ],
    }


def raw_run(texts: list[str], embedder: Any) -> tuple[float, float]:
    """Wall and CPU seconds (all threads of this process) for one ``encode`` call on the texts."""
    started, cpu_started = time.perf_counter(), time.process_time()
    embedder.encode(texts)
    return time.perf_counter() - started, time.process_time() - cpu_started


class TorchDynamicInt8:
    """The bundled model with every ``nn.Linear`` quantised by ``torch.ao.quantization.quantize_dynamic``.

    Per-channel int8 weights, activations quantised per batch (fbgemm/x86); measured beside the
    backends on the same texts, with the same ``encode`` call as the torch backend.
    """

    name = "torch dynamic int8 (every Linear, per channel)"

    def __init__(self) -> None:
        import warnings

        from sentence_transformers import SentenceTransformer
        from torch import nn
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        from knowledge.embeddings import default_model_path

        self.model = SentenceTransformer(default_model_path(), device="cpu")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.ao.quantization is deprecated in favour of torchao
            quantize_dynamic(self.model[0].auto_model, {nn.Linear: per_channel_dynamic_qconfig}, inplace=True)

    def encode(self, texts: list[str]) -> Any:
        return self.model.encode(
            texts, batch_size=16, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest_throughput", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--archive",
        type=Path,
        default=DEFAULT_ARCHIVE,
        help="folder to ingest (relative paths: from the repo root)",
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
        "--backend", default="", choices=["", "torch", "onnx", "onnx-int8"], help="the pipeline's encoder (default: EMBEDDING_BACKEND)"
    )
    parser.add_argument(
        "--files", type=int, default=0, metavar="N", help="ingest only the N smallest files of --archive (0: all)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=2,
        help="alternate pipeline and raw runs this many times; best of each counts",
    )
    parser.add_argument(
        "--torch-threads", type=int, default=0, help="torch intra-op threads (0: as configured)"
    )
    parser.add_argument(
        "--no-write", action="store_true", help="do not update bench/results/latest.md"
    )
    return parser


def run(args: argparse.Namespace, argv: list[str]) -> list[Table]:
    """Measure and print the tables."""
    archive = resolve(args.archive)
    if not archive.exists():
        raise SystemExit(f"no archive at {archive} (use --archive)")
    inputs = inputs_for(archive, args.large, resolve(args.large_archive), args.files)
    threads = torch_threads(args.torch_threads)
    if args.torch_threads:
        from knowledge.embeddings import set_threads

        set_threads(args.torch_threads)
    load_embedder()
    from knowledge.embeddings import get_embedder

    embedder = get_embedder(None, args.backend or None).load()

    warm = ["a slightly longer warm-up text so that every kernel has run once"] * 16
    encoders: dict[str, Any] = {b: get_embedder(None, b) for b in BACKENDS}
    encoders[TorchDynamicInt8.name] = TorchDynamicInt8()
    for enc in encoders.values():
        enc.encode(warm)
    embedder.encode(warm)
    encode_s: dict[str, list[float]] = {b: [] for b in encoders}
    runs_dir = CACHE / "ingest-runs"
    shutil.rmtree(runs_dir, ignore_errors=True)
    pipelines: list[dict[str, Any]] = []
    raws: list[tuple[float, float]] = []
    for n in range(max(1, args.repeat)):
        log.info(
            "run %d: pipeline ingest of %s%s",
            n + 1,
            args.archive,
            f" + {args.large} large-archive files" if args.large else "",
        )
        # a new directory per run: chromadb caches its client per path within a process
        pipelines.append(pipeline_run(inputs, embedder, runs_dir / f"run{n + 1}"))
        log.info("run %d: raw encode of the same %d texts", n + 1, len(pipelines[-1]["texts"]))
        raws.append(raw_run(pipelines[-1]["texts"], embedder))
        for backend in encoders:
            log.info("run %d: raw encode with %s", n + 1, backend)
            encode_s[backend].append(raw_run(pipelines[-1]["texts"], encoders[backend])[0])
    shutil.rmtree(runs_dir, ignore_errors=True)
    best = min(pipelines, key=lambda p: p["seconds"])
    raw_s = min(r[0] for r in raws)
    chunks = best["chunks"]
    pipe_rate, raw_rate = chunks / best["seconds"], chunks / raw_s
    ratio = pipe_rate / raw_rate
    cpu_ratio = min(r[1] for r in raws) / min(p["cpu_seconds"] for p in pipelines)
    corpus = str(args.archive) + (
        f" + {args.large} files of {args.large_archive}" if args.large else ""
    )
    main = Table(
        f"Ingest throughput: whole pipeline vs raw encode of its own backend ({embedder.backend}) on the same chunks ({threads} threads)",
        [
            "corpus",
            "docs",
            "chunks",
            "pipeline s",
            "pipeline chunks/s",
            "raw encode s",
            "raw chunks/s",
            "pipeline / raw",
            "target",
        ],
    )
    main.rows.append(
        [
            corpus,
            best["docs"],
            chunks,
            best["seconds"],
            pipe_rate,
            raw_s,
            raw_rate,
            ratio,
            f">= {TARGET_RATIO}: {'met' if ratio >= TARGET_RATIO else 'MISSED'}",
        ]
    )
    main.notes.append(
        f"by CPU time (all threads; less sensitive to other load on the machine): pipeline / raw = {cpu_ratio:.2f}"
    )
    if len(pipelines) > 1:
        main.notes.append(
            "runs, wall s (pipeline / raw): "
            + ", ".join(
                f"{p['seconds']:.1f}/{r[0]:.1f}" for p, r in zip(pipelines, raws, strict=True)
            )
            + "; best of each counts (the machine's CPU is shared)"
        )
    if best["failed"]:
        main.notes.append(f"{best['failed']} input(s) failed to parse and were skipped")
    stages = Table(
        "Where the pipeline's time goes (best run)",
        ["stage", "seconds", "% of pipeline", "chunks/s if only this stage"],
    )
    for name in STAGES:
        s = best["stages"][name]
        stages.rows.append([name, s, 100 * s / best["seconds"], chunks / s if s > 0.01 else "-"])
    stages.notes.append(
        f"raw encode of the same texts in one call: {raw_s:.1f} s (pipeline encodes in batches of >= 256 chunks)"
    )
    reingest = Table(
        "Re-ingesting the unchanged archive",
        ["run", "seconds", "% of first ingest", "chunks embedded", "docs unchanged", "target"],
    )
    for label, secs, rep in best["reingest"]:
        pct = 100 * secs / best["seconds"]
        ok = pct < TARGET_REINGEST_PCT and rep.chunks_embedded == 0
        reingest.rows.append(
            [
                label,
                secs,
                pct,
                rep.chunks_embedded,
                rep.unchanged,
                f"< {TARGET_REINGEST_PCT:.0f}%, 0 embedded: {'met' if ok else 'MISSED'}",
            ]
        )
    reingest.notes.append(
        "'new knowledge base' includes opening the store and syncing the lexical index, as `digestbot ingest` does (the model is already loaded)."
    )
    import numpy as np

    texts = best["texts"]
    log.info("cosines of each backend's vectors to PyTorch fp32 on the %d chunk texts", len(texts))
    vectors = {b: np.asarray(encoders[b].encode(texts), dtype=np.float32) for b in encoders}
    torch_s = min(encode_s["torch"])
    side = Table(
        f"Encoder backends side by side on the same {chunks} chunk texts (one run; pipeline backend: {embedder.backend})",
        ["path", "seconds", "chunks/s", "x raw PyTorch fp32", "cosine to fp32: min", "mean", "label"],
    )
    for b in encoders:
        cos = np.sum(vectors[b] * vectors["torch"], axis=1)
        secs = min(encode_s[b])
        label = f"raw encode, {b}" + (" (fp32)" if b in ("torch", "onnx") else "")
        side.rows.append(
            [label, secs, chunks / secs, torch_s / secs, float(cos.min()), float(cos.mean()),
             encoders[b].name if b in BACKENDS else "not a backend"]
        )
    vs_torch = torch_s / best["seconds"]
    own_cos = np.sum(vectors[embedder.backend] * vectors["torch"], axis=1)
    side.rows.append(
        [f"whole ingest pipeline ({embedder.backend})", best["seconds"], pipe_rate, vs_torch,
         float(own_cos.min()), float(own_cos.mean()), embedder.name]
    )
    ok = vs_torch >= TARGET_VS_TORCH and float(own_cos.min()) >= TARGET_COSINE
    side.notes.append(
        f"target: pipeline >= {TARGET_VS_TORCH} x raw PyTorch fp32 encode with cosine >= {TARGET_COSINE} on every chunk: "
        f"{'met' if ok else 'MISSED'} ({vs_torch:.2f} x, min cosine {float(own_cos.min()):.4f})"
    )
    side.notes.append(
        "runs, wall s per backend: "
        + "; ".join(f"{b} " + "/".join(f"{x:.1f}" for x in encode_s[b]) for b in encoders)
        + f"; best of each counts; {threads} threads for every backend"
    )
    side.notes.append(
        "onnx-int8: dynamic per-channel quantisation of the fp32 export's feed-forward MatMuls that stay within cosine 0.99 "
        "(knowledge.onnx_export.int8_node; attention stays fp32); its vectors get their own store label (cosine < 0.999), "
        "fp32 ONNX shares PyTorch's (cosine 1.0000)"
    )
    tables = [side, main, stages, reingest]
    report(
        "ingest_throughput",
        "Ingest throughput",
        tables,
        command("bench.ingest_throughput", argv),
        write=not args.no_write,
    )
    return tables


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    return cli_main(build_parser, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
