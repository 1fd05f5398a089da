"""A BM25 (Lucene variant) weight matrix built by streaming, saved to disk, loaded memory-mapped.

Why not bm25s here: its build keeps the whole corpus as Python lists of tokens and token
IDs, which measured 1.1 GiB of extra RSS and ~8 s at 100k chunks (bench/results/latest.md,
"Memory" and "Cold start"). This module computes the same Lucene BM25 weights straight
into compact arrays (about 12 bytes per distinct token per chunk), saves them as ``.npy``
files, and memory-maps them on the next start, so a restart does not rebuild anything.

Scores are ``sum over query terms t of idf(t) * tf / (tf + k1 * (1 - b + b * len / avglen))``
with ``idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5))``.
"""

from __future__ import annotations

import json
import logging
from array import array
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse

log = logging.getLogger(__name__)

K1 = 1.2
B = 0.75


@dataclass(slots=True)
class BM25Matrix:
    """Chunk-by-term BM25 weights (CSC: one column per term) with its vocabulary."""

    ids: list[str]
    vocab: dict[str, int]
    df: np.ndarray
    weights: sparse.csc_matrix

    @classmethod
    def build(cls, rows: Iterable[tuple[str, str]]) -> BM25Matrix:
        """Build from ``(chunk_id, space-separated tokens)`` rows, streaming."""
        ids: list[str] = []
        vocab: dict[str, int] = {}
        doc_idx, term_idx = array("i"), array("i")
        tfs = array("f")
        lengths = array("f")
        for n, (chunk_id, tokens) in enumerate(rows):
            ids.append(chunk_id)
            counts = Counter(tokens.split())
            lengths.append(float(sum(counts.values())))
            for token, tf in counts.items():
                term = vocab.get(token)
                if term is None:
                    term = vocab[token] = len(vocab)
                doc_idx.append(n)
                term_idx.append(term)
                tfs.append(float(tf))
        n_docs, n_terms = len(ids), len(vocab)
        docs = np.frombuffer(doc_idx, dtype=np.int32)
        terms = np.frombuffer(term_idx, dtype=np.int32)
        tf = np.frombuffer(tfs, dtype=np.float32)
        dl = np.frombuffer(lengths, dtype=np.float32)
        df = np.bincount(terms, minlength=n_terms).astype(np.int32)
        idf = np.log1p((n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
        avg = float(dl.mean()) if n_docs else 1.0
        norm = K1 * (1 - B + B * dl / max(avg, 1e-9))
        data = idf[terms] * tf / (tf + norm[docs]) if n_docs else np.zeros(0, dtype=np.float32)
        weights = sparse.csc_matrix((data.astype(np.float32), (docs, terms)), shape=(n_docs, n_terms))
        return cls(ids=ids, vocab=vocab, df=df, weights=weights)

    def scores(self, tokens: list[str]) -> np.ndarray | None:
        """BM25 score of every chunk for the query tokens (None when no token is known)."""
        columns = [self.vocab[t] for t in dict.fromkeys(tokens) if t in self.vocab]
        if not columns:
            return None
        return np.asarray(self.weights[:, columns].sum(axis=1)).ravel()

    def document_frequency(self, token: str) -> int:
        """In how many chunks the token occurs."""
        term = self.vocab.get(token)
        return int(self.df[term]) if term is not None else 0

    # -- persistence ---------------------------------------------------------
    def save(self, folder: Path, fingerprint: str) -> None:
        """Write the matrix under ``folder`` (replacing what was there), tagged with a fingerprint."""
        folder.mkdir(parents=True, exist_ok=True)
        w = self.weights
        for name, arr in (("data", w.data), ("indices", w.indices), ("indptr", w.indptr), ("df", self.df)):
            np.save(folder / f"{name}.npy.tmp", arr, allow_pickle=False)
            (folder / f"{name}.npy.tmp.npy").replace(folder / f"{name}.npy")
        meta = {"fingerprint": fingerprint, "shape": list(w.shape), "ids": self.ids, "vocab": self.vocab}
        tmp = folder / "meta.json.tmp"
        tmp.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        tmp.replace(folder / "meta.json")  # written last: a crash before it leaves the old meta, whose fingerprint no longer matches

    @classmethod
    def load(cls, folder: Path, fingerprint: str) -> BM25Matrix | None:
        """The saved matrix if it was built from exactly this content (fingerprint), memory-mapped; else None."""
        try:
            meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
            if meta.get("fingerprint") != fingerprint:
                return None
            arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False) for name in ("data", "indices", "indptr", "df")}
        except (OSError, ValueError, KeyError) as exc:
            log.info("no usable saved BM25 index in %s (%s); rebuilding", folder, exc)
            return None
        shape = tuple(meta["shape"])
        if arrays["indptr"].shape[0] != shape[1] + 1:
            return None
        weights = sparse.csc_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=shape, copy=False)
        return cls(ids=list(meta["ids"]), vocab=dict(meta["vocab"]), df=arrays["df"], weights=weights)
