"""The Chroma store: chunks with embeddings, and one record per complete document.

Chroma is the single source of truth. Two collections:

* ``digestbot_chunks``: one entry per chunk (embedding, text, citation metadata).
  Its collection metadata records the embedding model and dimension that built it.
* ``digestbot_documents``: one record per *completely written* document (content
  hash, title, date, ...). A document is written as: delete its record, replace its
  chunks, then write its record. A crash in between leaves no record, so the
  document never looks complete and the next ingest rewrites it.

The same code path serves the embedded ``PersistentClient`` and a Chroma server
(``HttpClient``) when ``CHROMA_HOST`` is set.

Embedded Chroma is single-process: a process that has the store open does not see another
process's writes safely (its next query fails with ``Error creating hnsw segment reader`` or
``Error finding id``). One process owns an embedded store and the others hand it their
ingests (:mod:`knowledge.process.ownership`); :meth:`ChromaStore.write_lock` refuses a writer while
another process owns the store. A reader that sees another process's writes (the stamp
changed, or Chroma fails that way) drops its cached client, reopens and retries once.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from knowledge.models import Chunk, Document
from knowledge.search.records import (
    DocRecord,
    arxiv_ids_of,
    join_arxiv_ids,
    record_from_meta,
)
from knowledge.search.store_reads import BATCH, CHUNKS, DOCUMENTS, StoreReads

log = logging.getLogger(__name__)

# Chroma's bindings hold the GIL for a whole add: small slices keep a bot's event loop
# responsive during an ingest (measured in bench/responsiveness.py) at ~3-5% ingest cost.
_ADD_SLICE = 64
_T = TypeVar("_T")
#: What Chroma's embedded bindings say when another process changed the store under them.
_STALE_SIGNS = ("hnsw", "Error finding id", "Nothing found on disk")


class StoreError(RuntimeError):
    """The store cannot be used as asked."""


class ModelMismatch(StoreError):
    """The collection was built with another embedding model."""


class StoreBusy(StoreError):
    """Another process is writing to the same embedded store."""


class ChromaStore(StoreReads):
    """Chunks and document records in Chroma (embedded or server).

    Args:
        data_dir: Directory for the embedded store (and the write lock).
        model_name: The embedding model's stable name, recorded with the collection.
        dimension: The embedding dimension.
        host: Chroma server host; when set, an ``HttpClient`` is used.
        port: Chroma server port.
        check_model: Refuse a collection built with another model (off only to rebuild it).

    Raises:
        ModelMismatch: The collection was built with another model and ``check_model`` is set.
        StoreError: The Chroma server cannot be reached.
    """

    def __init__(
        self, data_dir: Path, model_name: str, dimension: int, *, host: str | None = None, port: int = 8000, check_model: bool = True
    ) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        self.data_dir = Path(data_dir)
        self.model_name = model_name
        self.dimension = dimension
        self.host = host
        self.port = port
        settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        self._settings = settings
        self._reopen_lock = threading.Lock()
        self._generation = 0
        if host:
            self.location = f"chroma server http://{host}:{port}"
            try:
                self._client = chromadb.HttpClient(host=host, port=port, settings=settings)
                self._client.heartbeat()
            except Exception as exc:  # noqa: BLE001 - any connection failure
                raise StoreError(f"cannot reach the Chroma server at {host}:{port} ({exc}); check CHROMA_HOST/CHROMA_PORT") from exc
        else:
            path = self.data_dir / "chroma"
            path.mkdir(parents=True, exist_ok=True)
            self.location = f"embedded chroma at {path}"
            self._client = chromadb.PersistentClient(path=str(path), settings=settings)
        self._check_model = check_model
        self._count: tuple[int, float] | None = None
        self._chunks = self._open_chunks()
        self._docs = self._client.get_or_create_collection(DOCUMENTS, embedding_function=None)
        self._seen_stamp = self._read_stamp()

    # -- another process's writes (embedded store) --------------------------
    def _is_stale_error(self, exc: BaseException) -> bool:
        if self.host:
            return False
        from chromadb.errors import InternalError

        return isinstance(exc, InternalError) or any(sign in str(exc) for sign in _STALE_SIGNS)

    def reopen(self, generation: int | None = None) -> None:
        """Drop the cached embedded client and open the store again (sees other processes' writes).

        chromadb caches one system per path (``SharedSystemClient``); a new ``PersistentClient``
        on the same path would get the stale one back, so this store's entry is removed first.

        Args:
            generation: Reopen only if nobody reopened since this generation (concurrent callers).
        """
        if self.host:
            return
        import chromadb
        from chromadb.api.shared_system_client import SharedSystemClient

        with self._reopen_lock:
            if generation is not None and generation != self._generation:
                return  # another thread reopened already
            path = str(self.data_dir / "chroma")
            with SharedSystemClient._refcount_lock:
                # not stopped: calls running on it in other threads finish (or retry on the new one)
                SharedSystemClient._identifier_to_system.pop(path, None)
                SharedSystemClient._identifier_to_refcount.pop(path, None)
            log.info("reopening %s: another process wrote to it", self.location)
            self._client = chromadb.PersistentClient(path=path, settings=self._settings)
            self._chunks = self._open_chunks()
            self._docs = self._client.get_or_create_collection(DOCUMENTS, embedding_function=None)
            self._count = None
            self._generation += 1

    def _read(self, op: Callable[[], _T]) -> _T:
        """Run a Chroma call; if another process's writes broke this client, reopen and retry once.

        Raises:
            StoreError: It still fails after reopening.
        """
        generation = self._generation
        try:
            return op()
        except Exception as exc:
            if not self._is_stale_error(exc):
                raise
            log.warning("%s changed under this process (%s); reopening it", self.location, exc)
            first = exc
        self.reopen(generation)
        try:
            return op()
        except Exception as exc:
            if not self._is_stale_error(exc):
                raise
            raise StoreError(
                f"the {self.location} cannot be read after another process wrote to it ({exc}; first: {first}). "
                "Embedded Chroma serves one process at a time: restart this command, and ingest through the process "
                "that owns the store, or use a Chroma server (CHROMA_HOST)"
            ) from exc

    # -- collections -------------------------------------------------------
    def _open_chunks(self):  # noqa: ANN202 - chromadb Collection
        collection = self._client.get_or_create_collection(
            CHUNKS,
            metadata={"embedding_model": self.model_name, "embedding_dimension": self.dimension},
            configuration={"hnsw": {"space": "cosine"}},
            embedding_function=None,
        )
        meta = collection.metadata or {}
        built_with = meta.get("embedding_model")
        built_dim = meta.get("embedding_dimension")
        if self._check_model and built_with and (built_with != self.model_name or int(built_dim or 0) != self.dimension):
            raise ModelMismatch(
                f"the index at {self.location} was built with embedding model {built_with!r} ({built_dim} dimensions), "
                f"but EMBEDDING_MODEL is {self.model_name!r} ({self.dimension} dimensions). "
                "Set EMBEDDING_MODEL back, or rebuild the index with the new model: `digestbot reindex`."
            )
        return collection

    @property
    def built_with(self) -> str:
        """The model recorded with the chunk collection."""
        return str((self._chunks.metadata or {}).get("embedding_model", self.model_name))

    # -- locking -----------------------------------------------------------
    @contextlib.contextmanager
    def write_lock(self) -> Iterator[None]:
        """Hold the store's write lock; another writer gets :class:`StoreBusy` at once.

        Raises:
            StoreBusy: Another process holds the lock.
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.data_dir / ".write.lock"
        fh = path.open("a+")
        try:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                fh.seek(0)
                holder = fh.read().strip() or "another process"
                raise StoreBusy(
                    f"another digestbot process ({holder}) is writing to {self.location}; "
                    "wait for it to finish (or stop it) and try again"
                ) from exc
            if not self.host:
                from knowledge.process.ownership import StoreOwned, current_owner, owned_message

                owner = current_owner(self.data_dir)
                if owner is not None:
                    raise StoreOwned(owned_message(owner, self.location, "write"))
                seen = self._read_stamp()
                if seen != self._seen_stamp:
                    self.reopen()  # written by another process since we looked: never write through a stale client
                    self._seen_stamp = seen
            fh.seek(0)
            fh.truncate()
            fh.write(f"pid {os.getpid()}")
            fh.flush()
            yield
        finally:
            with contextlib.suppress(OSError):
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
            fh.close()

    def write_document(self, doc: Document, chunks: list[Chunk], embeddings: np.ndarray) -> None:
        """Replace a document's chunks and then mark it complete (crash-safe order)."""
        self.write_documents([(doc, chunks, embeddings)])

    def write_documents(self, items: list[tuple[Document, list[Chunk], np.ndarray]], *, replacing: set[str] | None = None) -> dict[str, DocRecord]:
        """Replace several documents' chunks, then mark them complete, in few Chroma calls.

        Order: drop the records (the documents stop looking complete), drop their old
        chunks, add the new chunks, write the records. A crash anywhere leaves documents
        without a record, which are never cited and are rewritten by the next ingest.

        Args:
            items: ``(document, chunks, embeddings)`` to write.
            replacing: IDs of documents known to have chunks already (updates). Others are
                checked by their first chunk's ID (always written first), which is cheap; a
                filtered delete scans metadata and is only run where chunks exist.

        Returns:
            The records written, by document ID.
        """
        if not items:
            return {}
        self._count = None
        doc_ids = [doc.doc_id for doc, _, _ in items]
        self._docs.delete(ids=doc_ids)
        stale = [d for d in doc_ids if replacing and d in replacing]
        unknown = [d for d in doc_ids if d not in set(stale)]
        for start in range(0, len(unknown), BATCH):
            firsts = {f"{d}#0:0": d for d in unknown[start : start + BATCH]}
            stale += [firsts[cid] for cid in self._read(lambda firsts=firsts: self._chunks.get(ids=list(firsts), include=[]))["ids"]]
        for start in range(0, len(stale), BATCH):
            part = stale[start : start + BATCH]
            self._chunks.delete(where={"doc_id": part[0]} if len(part) == 1 else {"doc_id": {"$in": part}})
        chunks = [c for _, cs, _ in items for c in cs]
        vectors = np.concatenate([np.asarray(v, dtype=np.float32) for _, _, v in items]) if chunks else np.zeros((0, self.dimension), dtype=np.float32)
        for start in range(0, len(chunks), _ADD_SLICE):
            part = chunks[start : start + _ADD_SLICE]
            self._chunks.add(
                ids=[c.chunk_id for c in part],
                embeddings=vectors[start : start + _ADD_SLICE],
                documents=[c.text for c in part],
                metadatas=[c.metadata for c in part],
            )
        now = time.time()
        records = [self._record_meta(doc, cs, now) for doc, cs, _ in items]
        for start in range(0, len(items), BATCH):
            self._docs.upsert(ids=doc_ids[start : start + BATCH], embeddings=[[0.0]] * len(records[start : start + BATCH]), metadatas=records[start : start + BATCH])
        self.touch()
        return {d: record_from_meta(d, m) for d, m in zip(doc_ids, records, strict=True)}

    def stamp(self) -> str:
        """A token that changes whenever any process writes documents (cheap to read).

        When it shows another process's write to the embedded store, the store is reopened
        first, so that what is read next is read through a client that knows the new data.
        """
        value = self._read_stamp()
        if value != self._seen_stamp:
            if value:
                with contextlib.suppress(StoreError):
                    self.reopen()
            self._seen_stamp = value
        return value

    def _read_stamp(self) -> str:
        try:
            meta = self._client.get_collection(DOCUMENTS).metadata or {}
        except Exception:  # noqa: BLE001 - a missing collection reads as "changed"
            return ""
        return str(meta.get("stamp", ""))

    def touch(self) -> str:
        """Mark the documents as changed (see :meth:`stamp`); returns the new stamp."""
        value = uuid.uuid4().hex
        self._docs.modify(metadata={"stamp": value})
        self._seen_stamp = value
        return value

    @staticmethod
    def _record_meta(doc: Document, chunks: list[Chunk], now: float) -> dict[str, Any]:
        arxiv_ids = sorted({a for c in chunks for a in arxiv_ids_of(c.metadata)})
        return {
            "content_hash": doc.content_hash,
            "digest": doc.digest,
            "title": doc.title,
            "date": doc.date,
            "url": doc.url,
            "source": doc.source,
            "kind": doc.kind,
            "language": doc.language,
            "chunks": len(chunks),
            "sections": len({c.metadata.get("section_index") for c in chunks}),
            "arxiv_ids": join_arxiv_ids(arxiv_ids)[:30000],
            "paper_title": str(doc.extra.get("paper_title", "")),
            "paid": bool(doc.extra.get("paid", False)),
            "ingested_at": now,
        }

    def delete_document(self, doc_id: str) -> None:
        """Remove a document and its chunks."""
        self._count = None
        self._docs.delete(ids=[doc_id])
        self._chunks.delete(where={"doc_id": doc_id})
        self.touch()

    def recreate_chunks(self, model_name: str, dimension: int) -> None:
        """Drop the chunk collection and document records, then recreate them for a model."""
        for name in (CHUNKS, DOCUMENTS):
            with contextlib.suppress(Exception):
                self._client.delete_collection(name)
        self.model_name, self.dimension = model_name, dimension
        self._check_model = True
        self._count = None
        self._chunks = self._open_chunks()
        self._docs = self._client.get_or_create_collection(DOCUMENTS, embedding_function=None)

