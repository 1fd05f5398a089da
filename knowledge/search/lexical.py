"""The lexical (BM25) index beside Chroma (tokens from :mod:`knowledge.search.tokenize`).

Chroma's embedded mode has no sparse index, so exact terms (model names,
numbers, arXiv IDs) are matched here. The index is *derived*: token lists live
in a small SQLite file under the data directory, keyed by chunk and by the
document content hash they were built from; :meth:`LexicalIndex.sync` brings it
in step with the store's document records (adding what is missing, dropping what
is gone), so it rebuilds itself when missing or stale, embedded or server.
Scoring uses a BM25 weight matrix (:mod:`knowledge.search.bm25`) rebuilt after each change,
saved beside the SQLite file and memory-mapped on the next start.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from knowledge.search.bm25 import BM25Matrix
from knowledge.search.tokenize import TOKENIZER_VERSION, tokenize
from knowledge.search.transliteration import Transliterator

log = logging.getLogger(__name__)

SYNC_BATCH = 200


class LexicalIndex:
    """BM25 over chunk token lists, persisted in SQLite and scored with a saved weight matrix.

    Args:
        path: SQLite file for the token lists (derived data; safe to delete).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS docs (doc_id TEXT PRIMARY KEY, content_hash TEXT NOT NULL)")
        self._db.execute("CREATE TABLE IF NOT EXISTS chunks (chunk_id TEXT PRIMARY KEY, doc_id TEXT NOT NULL, tokens TEXT NOT NULL)")
        self._db.execute("CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id)")
        self._db.execute("CREATE TABLE IF NOT EXISTS mentions (arxiv_id TEXT NOT NULL, chunk_id TEXT NOT NULL, doc_id TEXT NOT NULL, PRIMARY KEY (arxiv_id, chunk_id))")
        self._db.execute("CREATE INDEX IF NOT EXISTS mentions_doc ON mentions(doc_id)")
        self._db.commit()
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        row = self._db.execute("SELECT value FROM meta WHERE key = 'tokenizer'").fetchone()
        if row is None or row[0] != TOKENIZER_VERSION:
            # token lists from another tokenizer are stale: start empty, sync() refills from the store
            self._db.execute("DELETE FROM chunks")
            self._db.execute("DELETE FROM mentions")
            self._db.execute("DELETE FROM docs")
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('tokenizer', ?)", (TOKENIZER_VERSION,))
        self._db.commit()
        self._matrix: BM25Matrix | None = None
        self._dirty = True
        self._batching = 0
        self._build_lock = threading.Lock()
        self._transliterator: tuple[int, Transliterator] | None = None
        self._row_index: tuple[int, dict[str, int]] | None = None

    # -- writing -----------------------------------------------------------
    def known_docs(self) -> dict[str, str]:
        """``doc_id -> content_hash`` of the documents indexed here."""
        with self._lock:
            return dict(self._db.execute("SELECT doc_id, content_hash FROM docs").fetchall())

    def put_document(self, doc_id: str, content_hash: str, chunks: Iterable[tuple[str, str, list[str]]]) -> None:
        """Replace one document's chunks: ``chunks`` yields ``(chunk_id, text to index, arxiv_ids)``."""
        chunks = list(chunks)
        rows = [(cid, doc_id, " ".join(tokenize(text))) for cid, text, _ in chunks]
        mentions = [(a, cid, doc_id) for cid, _, ids in chunks for a in ids]
        with self._lock:
            self._db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
            self._db.execute("DELETE FROM mentions WHERE doc_id = ?", (doc_id,))
            self._db.executemany("INSERT OR REPLACE INTO chunks VALUES (?, ?, ?)", rows)
            self._db.executemany("INSERT OR REPLACE INTO mentions VALUES (?, ?, ?)", mentions)
            self._db.execute("INSERT OR REPLACE INTO docs VALUES (?, ?)", (doc_id, content_hash))
            self._db.commit()
            self._dirty = True

    def delete_document(self, doc_id: str) -> None:
        """Forget one document."""
        with self._lock:
            self._db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
            self._db.execute("DELETE FROM mentions WHERE doc_id = ?", (doc_id,))
            self._db.execute("DELETE FROM docs WHERE doc_id = ?", (doc_id,))
            self._db.commit()
            self._dirty = True

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._db.execute("DELETE FROM chunks")
            self._db.execute("DELETE FROM mentions")
            self._db.execute("DELETE FROM docs")
            self._db.commit()
            self._dirty = True

    def sync(self, records: dict[str, str], fetch_chunks: Callable[[list[str]], dict[str, list[tuple[str, str, list[str]]]]]) -> int:
        """Bring the index in step with the store.

        Args:
            records: ``doc_id -> content_hash`` of every complete document in the store.
            fetch_chunks: Given document IDs, returns ``doc_id -> [(chunk_id, text to index, arxiv_ids)]``
                from the store (called in batches).

        Returns:
            The number of documents added, replaced or removed.
        """
        known = self.known_docs()
        changed = 0
        for doc_id in known.keys() - records.keys():
            self.delete_document(doc_id)
            changed += 1
        stale = [doc_id for doc_id, digest in records.items() if known.get(doc_id) != digest]
        for start in range(0, len(stale), SYNC_BATCH):
            batch = stale[start : start + SYNC_BATCH]
            fetched = fetch_chunks(batch)
            for doc_id in batch:
                self.put_document(doc_id, records[doc_id], fetched.get(doc_id, []))
                changed += 1
        if changed:
            log.info("lexical index: brought %d document(s) in step with the store", changed)
        return changed

    # -- reading -----------------------------------------------------------
    def fingerprint(self) -> str:
        """A hash of which documents (and which versions) the index holds."""
        h = hashlib.sha256(TOKENIZER_VERSION.encode())
        with self._lock:
            for doc_id, digest in self._db.execute("SELECT doc_id, content_hash FROM docs ORDER BY doc_id"):
                h.update(f"{doc_id}\x1f{digest}\x1e".encode())
        return h.hexdigest()

    def _build(self) -> None:
        fingerprint = self.fingerprint()
        folder = self.path.with_name(self.path.stem + "-bm25")
        matrix = BM25Matrix.load(folder, fingerprint)
        if matrix is None:
            with self._lock:
                rows = self._db.execute("SELECT chunk_id, tokens FROM chunks ORDER BY chunk_id")
                built = BM25Matrix.build(rows)
            built.save(folder, fingerprint)
            # reopen memory-mapped: the weights stay on disk until a query touches them
            matrix = BM25Matrix.load(folder, fingerprint) or built
            log.info("lexical index: built BM25 weights for %d chunks", len(built.ids))
        with self._lock:
            self._matrix = matrix
            self._dirty = False

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Defer rebuilding the BM25 weights until the block ends (an ingest of many documents).

        Meanwhile questions are served from the previous weights: no rebuild per document.
        """
        with self._lock:
            self._batching += 1
        try:
            yield
        finally:
            with self._lock:
                self._batching -= 1
                rebuild = self._batching == 0 and self._dirty and self._matrix is not None
            if rebuild:
                self._ready()

    def _ready(self) -> BM25Matrix:
        matrix = self._matrix
        if matrix is not None and (not self._dirty or self._batching):
            return matrix
        with self._build_lock:  # one rebuild at a time; others wait for it, then reuse it
            if self._matrix is None or (self._dirty and not self._batching):
                self._build()
        assert self._matrix is not None
        return self._matrix

    @property
    def size(self) -> int:
        """Number of chunks indexed."""
        return len(self._ready().ids)

    def document_frequency(self, token: str) -> int:
        """In how many chunks a token occurs."""
        return self._ready().document_frequency(token)

    def transliterator(self) -> Transliterator:
        """Hangul spellings -> Latin tokens of this index's vocabulary (rebuilt with the weights)."""
        matrix = self._ready()
        cached = self._transliterator
        if cached is None or cached[0] != id(matrix):
            cached = (id(matrix), Transliterator(matrix.vocab))
            self._transliterator = cached
        return cached[1]

    def search(self, query_tokens: list[str], k: int, *, doc_ids: list[str] | None = None) -> list[tuple[str, float]]:
        """Top ``k`` chunks by BM25: ``(chunk_id, score)``, best first, scores > 0 only.

        Args:
            query_tokens: The query's tokens.
            k: At most this many.
            doc_ids: Only chunks of these documents (scored as in the whole index).
        """
        matrix = self._ready()
        scores = matrix.scores(query_tokens)
        if scores is None or not len(scores):
            return []
        if doc_ids is not None:
            rows = self._rows_of(matrix, doc_ids)
            ranked = sorted((i for i in rows if scores[i] > 0), key=lambda i: -scores[i])[:k]
            return [(matrix.ids[i], float(scores[i])) for i in ranked]
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(matrix.ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def _rows_of(self, matrix: BM25Matrix, doc_ids: list[str]) -> list[int]:
        """The matrix rows of some documents' chunks."""
        cached = self._row_index
        if cached is None or cached[0] != id(matrix):
            cached = (id(matrix), {cid: i for i, cid in enumerate(matrix.ids)})
            self._row_index = cached
        with self._lock:
            chunk_ids = [r[0] for start in range(0, len(doc_ids), 500)
                         for r in self._db.execute(f"SELECT chunk_id FROM chunks WHERE doc_id IN ({','.join('?' * len(doc_ids[start:start + 500]))})",
                                                   doc_ids[start : start + 500])]
        return [cached[1][cid] for cid in chunk_ids if cid in cached[1]]

    def tokens_for(self, chunk_ids: list[str]) -> dict[str, list[str]]:
        """The stored token lists of some chunks (chunks not indexed are absent)."""
        out: dict[str, list[str]] = {}
        with self._lock:
            for start in range(0, len(chunk_ids), 500):
                part = chunk_ids[start : start + 500]
                marks = ",".join("?" * len(part))
                out.update((cid, toks.split()) for cid, toks in self._db.execute(f"SELECT chunk_id, tokens FROM chunks WHERE chunk_id IN ({marks})", part))
        return out

    def chunks_mentioning(self, arxiv_id: str) -> list[str]:
        """IDs of chunks whose section mentions the arXiv ID."""
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT chunk_id FROM mentions WHERE arxiv_id = ?", (arxiv_id,))]

    def all_mentioned_ids(self) -> list[str]:
        """Every arXiv ID mentioned anywhere in the index."""
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT DISTINCT arxiv_id FROM mentions")]

    def close(self) -> None:
        """Close the SQLite connection."""
        with self._lock:
            self._db.close()
