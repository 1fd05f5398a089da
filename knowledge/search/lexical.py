"""The lexical (BM25) index beside Chroma, with tokenization for English and Korean.

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
import functools
import hashlib
import logging
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import snowballstemmer

from knowledge.search.bm25 import BM25Matrix
from knowledge.search.transliteration import Transliterator

log = logging.getLogger(__name__)

# Bump when tokenize() changes: stored token lists are then rebuilt from the store.
TOKENIZER_VERSION = "3"
SYNC_BATCH = 200
_LATIN = re.compile(r"[a-z0-9]+(?:[.\-+_/][a-z0-9]+)*")
_HANGUL_RUN = re.compile(r"[\uac00-\ud7a3]+")
_SPLIT = re.compile(r"[.\-+_/]")
# Korean particles and endings stripped from the end of a word to find its stem.
_PARTICLES = sorted(
    ["은", "는", "이", "가", "을", "를", "에", "의", "와", "과", "로", "으로", "에서", "에게", "도", "만", "까지", "부터",
     "이나", "나", "라고", "이라고", "처럼", "보다", "에는", "에서는", "와의", "과의", "으로는", "로는", "이란", "란", "이며"],
    key=len,
    reverse=True,
)
STOPWORDS = frozenset(
    ["a", "an", "the", "and", "or", "but", "if", "then", "of", "to", "in", "on", "at", "by", "for", "with", "from", "as", "is", "are", "was", "were", "be", "been", "being", "this", "that", "these", "those", "it", "its", "it's", "what", "which", "who", "whom", "whose", "how", "why", "when", "where", "does", "do", "did", "done", "doing", "say", "said", "says", "about", "into", "than", "there", "their", "they", "them", "we", "our", "you", "your", "he", "she", "his", "her", "i", "me", "my", "can", "could", "would", "should", "will", "shall", "may", "might", "have", "has", "had", "not", "no", "yes", "so", "such", "very", "just", "also", "any", "some", "more", "most", "other", "own", "same", "too", "only", "over", "under", "again", "further", "once", "here", "all", "both", "each", "few", "between", "through", "during", "before", "after", "above", "below", "up", "down", "out", "off", "s", "t", "digest", "digests", "newsletter", "newsletters", "tell", "me", "please", "paper", "papers", "issue", "issues", "mention", "mentioned", "mentions", "explain", "explained", "describe", "described", "talk", "talked", "write", "wrote", "written", "think", "thought", "know"]
)
KOREAN_STOPWORDS = frozenset(
    ["대해", "대한", "대해서", "뭐라고", "무엇", "무엇인가", "무엇을", "했나", "했나요", "했어", "했어요", "했는지", "알려줘", "알려주세요", "어떻게", "어떤", "관련", "관해", "관한", "말했나요", "말했어", "이야기", "내용", "설명", "했다고", "있나요", "뭐야", "뭔가요"]
)


def _korean_tokens(run: str) -> list[str]:
    if len(run) < 2 or run in KOREAN_STOPWORDS:
        return []
    stem = run
    for particle in _PARTICLES:
        if len(run) > len(particle) + 1 and run.endswith(particle):
            stem = run[: -len(particle)]
            break
    if stem in KOREAN_STOPWORDS:
        return []
    tokens = list(dict.fromkeys([run, stem]))
    if len(stem) >= 3:
        tokens.extend(stem[i : i + 2] for i in range(len(stem) - 1))
    return tokens


def korean_words(text: str) -> list[str]:
    """The Hangul words of a text with their particles stripped (no bigrams), in order."""
    words = []
    for match in _HANGUL_RUN.finditer(text):
        tokens = _korean_tokens(match.group(0))
        if tokens:
            words.append(tokens[1] if len(tokens) > 1 else tokens[0])
    return list(dict.fromkeys(words))


_STEMMER = snowballstemmer.stemmer("english")
_STEM_LOCK = threading.Lock()


@functools.lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The English (Snowball) stem of a lowercase word: "evaluated" and "evaluation" -> "evalu".

    Words with digits or other marks ("rho-1", "gpt-4", "2305.14314") are kept whole.
    """
    if not word.isalpha() or len(word) < 4 or not word.isascii():
        return word
    with _STEM_LOCK:  # a Snowball stemmer keeps state while it works
        return _STEMMER.stemWord(word)


def tokenize(text: str, *, drop_stopwords: bool = True) -> list[str]:
    """Tokens for BM25: lowercase, stemmed words and compounds, plus Hangul stems and bigrams.

    ``"Rho-1"`` gives ``rho-1``, ``rho`` and ``1``; ``"2305.14314"`` keeps the whole ID;
    ``"evaluated"`` and ``"evaluation"`` both give ``evalu``; ``"소프트맥스 병목"`` gives
    ``소프트맥스``, its bigrams and ``병목``, so a Korean question finds a word inside a longer
    compound, and ``"QLoRA에"`` still gives ``qlora``.
    """
    lowered = text.lower()
    tokens: list[str] = []
    for match in _LATIN.finditer(lowered):
        word = match.group(0)
        if drop_stopwords and word in STOPWORDS:
            continue
        tokens.append(stem(word))
        if _SPLIT.search(word):
            tokens.extend(stem(p) for p in _SPLIT.split(word) if p and not (drop_stopwords and p in STOPWORDS))
    for match in _HANGUL_RUN.finditer(text):
        tokens.extend(_korean_tokens(match.group(0)))
    return tokens


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

    def search(self, query_tokens: list[str], k: int) -> list[tuple[str, float]]:
        """Top ``k`` chunks by BM25: ``(chunk_id, score)``, best first, scores > 0 only."""
        matrix = self._ready()
        scores = matrix.scores(query_tokens)
        if scores is None or not len(scores):
            return []
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(matrix.ids[i], float(scores[i])) for i in top if scores[i] > 0]

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
