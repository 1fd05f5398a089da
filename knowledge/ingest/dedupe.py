"""Content de-duplication: the same issue ingested from two paths is stored once.

Two documents are duplicates when their normalised text is identical (a hash), or nearly so:
the estimated Jaccard similarity of their word 5-shingles is at least
:data:`NEAR_DUPLICATE` (MinHash with locality-sensitive hashing, from ``datasketch``). The
index is derived data kept in a small SQLite file beside the lexical index; it is rebuilt
from the store's chunks when missing, like the lexical index.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from datasketch import MinHash, MinHashLSH

NUM_PERM = 64
SCHEME = "affine32"  # datasketch's hashing scheme; stored signatures are only comparable within one
SHINGLE = 5
#: Estimated Jaccard similarity of shingles at which two documents count as the same.
NEAR_DUPLICATE = 0.85
_WORD = re.compile(r"\w+", re.UNICODE)


def normalise(text: str) -> list[str]:
    """The words of a text, lowercased (punctuation, markup and spacing do not count)."""
    return _WORD.findall(text.lower())


def _signature(words: list[str]) -> MinHash:
    m = MinHash(num_perm=NUM_PERM, scheme=SCHEME)
    shingles = {" ".join(words[i : i + SHINGLE]).encode() for i in range(max(1, len(words) - SHINGLE + 1))}
    m.update_batch(shingles)
    return m


@dataclass(frozen=True, slots=True)
class Duplicate:
    """A document that was not stored because another one holds the same text."""

    source: str
    duplicate_of: str  # the doc_id kept
    exact: bool


class DuplicateIndex:
    """Text hashes and MinHash signatures of every stored document.

    Args:
        path: SQLite file (derived data; safe to delete).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS docs (doc_id TEXT PRIMARY KEY, text_hash TEXT NOT NULL, sig BLOB NOT NULL)")
        self._db.execute("CREATE INDEX IF NOT EXISTS docs_hash ON docs(text_hash)")
        self._db.commit()
        self._lsh: MinHashLSH | None = None

    def _ensure_lsh(self) -> MinHashLSH:
        if self._lsh is None:
            lsh = MinHashLSH(threshold=NEAR_DUPLICATE, num_perm=NUM_PERM)
            for doc_id, sig in self._db.execute("SELECT doc_id, sig FROM docs"):
                lsh.insert(doc_id, MinHash(num_perm=NUM_PERM, hashvalues=np.frombuffer(sig, dtype=np.uint64), scheme=SCHEME))
            self._lsh = lsh
        return self._lsh

    def known(self) -> set[str]:
        """IDs of the documents indexed here."""
        with self._lock:
            return {r[0] for r in self._db.execute("SELECT doc_id FROM docs")}

    def find(self, doc_id: str, text: str) -> tuple[str, bool] | None:
        """The stored document (other than ``doc_id``) that ``text`` duplicates: ``(doc_id, exact)``."""
        words = normalise(text)
        if len(words) < SHINGLE * 2:
            return None  # too short to tell a duplicate from a shared boilerplate line
        digest = hashlib.sha256(" ".join(words).encode()).hexdigest()
        with self._lock:
            row = self._db.execute("SELECT doc_id FROM docs WHERE text_hash = ? AND doc_id != ? LIMIT 1", (digest, doc_id)).fetchone()
            if row:
                return row[0], True
            sig = _signature(words)
            for other in sorted(self._ensure_lsh().query(sig)):
                if other != doc_id:
                    return other, False
        return None

    def put(self, doc_id: str, text: str) -> None:
        """Record a stored document's text."""
        words = normalise(text)
        digest = hashlib.sha256(" ".join(words).encode()).hexdigest()
        sig = _signature(words)
        with self._lock:
            self._remove(doc_id)
            self._db.execute("INSERT OR REPLACE INTO docs VALUES (?, ?, ?)", (doc_id, digest, sig.hashvalues.astype(np.uint64).tobytes()))
            self._db.commit()
            if self._lsh is not None:
                self._lsh.insert(doc_id, sig)

    def remove(self, doc_id: str) -> None:
        """Forget a document."""
        with self._lock:
            self._remove(doc_id)
            self._db.commit()

    def _remove(self, doc_id: str) -> None:
        self._db.execute("DELETE FROM docs WHERE doc_id = ?", (doc_id,))
        if self._lsh is not None and doc_id in self._lsh.keys:
            self._lsh.remove(doc_id)

    def sync(self, doc_ids: Iterable[str], fetch_texts: Callable[[list[str]], dict[str, str]]) -> int:
        """Bring the index in step with the store's documents; returns how many changed."""
        wanted = set(doc_ids)
        known = self.known()
        for doc_id in known - wanted:
            self.remove(doc_id)
        missing = sorted(wanted - known)
        for start in range(0, len(missing), 200):
            for doc_id, text in fetch_texts(missing[start : start + 200]).items():
                self.put(doc_id, text)
        return len(missing) + len(known - wanted)

    def close(self) -> None:
        with self._lock:
            self._db.close()
