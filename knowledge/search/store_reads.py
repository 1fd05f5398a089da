"""Reading the Chroma store: :class:`StoreReads`, the read half of
:class:`~knowledge.search.store.ChromaStore` (records, chunks by ID or filter, nearest chunks).

Every read goes through ``self._read``, which reopens a stale embedded client once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from knowledge.search.records import DocRecord, StoredChunk, record_from_meta

_T = TypeVar("_T")
CHUNKS = "digestbot_chunks"
DOCUMENTS = "digestbot_documents"
#: Rows per Chroma get (and five times that per page of a full read).
BATCH = 1000


class StoreReads:
    """Reads of records and chunks; mixed into :class:`~knowledge.search.store.ChromaStore`."""

    _client: Any
    _chunks: Any  # chromadb Collection
    _docs: Any
    _count: tuple[int, float] | None

    if TYPE_CHECKING:  # defined by ChromaStore
        def _read(self, op: Callable[[], _T]) -> _T: ...

    # -- documents ---------------------------------------------------------
    def get_records(self, doc_ids: Sequence[str] | None = None) -> dict[str, DocRecord]:
        """Records of complete documents (all, or the given IDs that exist)."""
        out: dict[str, DocRecord] = {}
        if doc_ids is not None:
            ids = list(dict.fromkeys(doc_ids))
            for start in range(0, len(ids), BATCH):
                part = ids[start : start + BATCH]
                got = self._read(lambda part=part: self._docs.get(ids=part, include=["metadatas"]))
                for doc_id, meta in zip(got["ids"], got["metadatas"] or [], strict=False):
                    out[doc_id] = record_from_meta(doc_id, meta or {})
            return out
        offset = 0
        while True:
            got = self._read(lambda offset=offset: self._docs.get(include=["metadatas"], limit=BATCH * 5, offset=offset))
            for doc_id, meta in zip(got["ids"], got["metadatas"] or [], strict=False):
                out[doc_id] = record_from_meta(doc_id, meta or {})
            if len(got["ids"]) < BATCH * 5:
                return out
            offset += len(got["ids"])

    # -- chunks ------------------------------------------------------------
    def count_chunks(self) -> int:
        """Number of chunks stored (cached for a few seconds: queries ask for it every time)."""
        now = time.monotonic()
        if self._count is None or now - self._count[1] > 5.0:
            self._count = (self._read(lambda: self._chunks.count()), now)
        return self._count[0]

    def query(self, embeddings: np.ndarray, k: int, *, where: dict | None = None) -> list[StoredChunk]:
        """Nearest chunks to any of the query vectors, with their embeddings."""
        n = min(k, max(1, self.count_chunks()))
        vectors = np.atleast_2d(np.asarray(embeddings, dtype=np.float32))
        got = self._read(
            lambda: self._chunks.query(
                query_embeddings=list(vectors),
                n_results=n,
                where=where,
                include=["documents", "metadatas", "embeddings"],
            )
        )
        out: dict[str, StoredChunk] = {}
        for row in range(len(got["ids"] or [])):
            ids = got["ids"][row]
            docs = (got["documents"] or [[]] * (row + 1))[row]
            metas = (got["metadatas"] or [[]] * (row + 1))[row]
            embs = got["embeddings"][row] if got.get("embeddings") is not None else [None] * len(ids)
            for i, t, m, e in zip(ids, docs, metas, embs, strict=False):
                out.setdefault(i, StoredChunk(i, t or "", dict(m or {}), np.asarray(e, dtype=np.float32)))
        return list(out.values())

    def get_chunks(self, chunk_ids: Sequence[str] | None = None, *, where: dict | None = None, with_embeddings: bool = False) -> list[StoredChunk]:
        """Chunks by ID or filter (embeddings only ``with_embeddings``)."""
        include = ["documents", "metadatas"] + (["embeddings"] if with_embeddings else [])
        out: list[StoredChunk] = []
        if chunk_ids is not None:
            ids = list(dict.fromkeys(chunk_ids))
            batches = [dict(ids=ids[s : s + BATCH]) for s in range(0, len(ids), BATCH)]
        else:
            batches = []
        if chunk_ids is None:
            offset = 0
            while True:
                got = self._read(lambda offset=offset: self._chunks.get(where=where, include=include, limit=BATCH * 5, offset=offset))
                out.extend(self._rows(got, with_embeddings))
                if len(got["ids"]) < BATCH * 5:
                    return out
                offset += len(got["ids"])
        for batch in batches:
            got = self._read(lambda batch=batch: self._chunks.get(**batch, where=where, include=include))
            out.extend(self._rows(got, with_embeddings))
        return out

    @staticmethod
    def _rows(got: dict, with_embeddings: bool) -> list[StoredChunk]:
        embeddings = got.get("embeddings") if with_embeddings else None
        rows = []
        for n, chunk_id in enumerate(got["ids"]):
            text = (got["documents"] or [])[n] if got.get("documents") else ""
            meta = (got["metadatas"] or [])[n] if got.get("metadatas") else {}
            emb = embeddings[n] if embeddings is not None else None
            rows.append(StoredChunk(chunk_id, text or "", dict(meta or {}), emb))
        return rows

    def read_all_for_rebuild(self) -> tuple[list[StoredChunk], dict[str, DocRecord]]:
        """Every chunk (without embeddings) and every record, to re-embed under a new model."""
        records = self.get_records()
        offset = 0
        rows: list[StoredChunk] = []
        collection = self._client.get_collection(CHUNKS)
        while True:
            got = collection.get(include=["documents", "metadatas"], limit=BATCH * 5, offset=offset)
            rows.extend(StoredChunk(i, t or "", dict(m or {})) for i, t, m in zip(got["ids"], got["documents"] or [], got["metadatas"] or [], strict=False))
            if len(got["ids"]) < BATCH * 5:
                return rows, records
            offset += len(got["ids"])
