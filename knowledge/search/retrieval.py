"""Hybrid retrieval: dense (Chroma) and lexical (BM25) candidates, fused.

Every candidate from either side gets both scores (its cosine similarity to the
question and its BM25 score), so the fusion compares like with like. The fused
score (:mod:`knowledge.search.fusion`) weighs both ranks with how much of the
question's distinctive vocabulary the chunk and its section heading contain
(model names, numbers and arXiv IDs are rare tokens, so they weigh most); its
weights are fitted on questions generated from the archive.
"""

from __future__ import annotations

import logging
import math
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from knowledge.embeddings import Embedder
from knowledge.search.fusion import Fusion
from knowledge.search.lexical import LexicalIndex
from knowledge.search.records import lexical_text, search_heading
from knowledge.search.store import ChromaStore
from knowledge.search.tokenize import korean_words, tokenize
from knowledge.text import has_hangul

log = logging.getLogger(__name__)

MODES = ("hybrid", "dense", "lexical")
_HANGUL_RUN = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]+")


@dataclass(slots=True)
class Hit:
    """One retrieved chunk with its scores."""

    chunk_id: str
    text: str
    meta: dict
    dense: float = 0.0
    bm25: float = 0.0
    coverage: float = 0.0
    heading_match: float = 0.0
    score: float = 0.0
    matched: list[str] = field(default_factory=list)

    @property
    def doc_id(self) -> str:
        return str(self.meta.get("doc_id", ""))

    @property
    def section_key(self) -> tuple[str, int]:
        return (self.doc_id, int(self.meta.get("section_index", 0)))


@dataclass(slots=True)
class QueryTerms:
    """The question's tokens with their weights (inverse document frequency).

    Attributes:
        tokens: Distinct tokens of the question (stopwords dropped).
        weights: Token -> IDF weight (a token the index never saw weighs most).
        alternatives: Token -> Latin spellings of the index it may stand for, with a
            similarity in 0-1 (a Korean 미스트랄 -> "mistral"); see :mod:`knowledge.search.transliteration`.
        known: Share of the question's weight that the index knows (directly or by an
            alternative spelling), 0-1.
        unknown: Tokens the index has never seen, even by an alternative spelling.
    """

    tokens: list[str]
    weights: dict[str, float]
    alternatives: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    known: float = 1.0
    unknown: frozenset[str] = frozenset()

    @property
    def total(self) -> float:
        return sum(self.weights.values()) or 1.0

    @property
    def search_tokens(self) -> list[str]:
        """Tokens to look up in the lexical index: the question's and their alternatives."""
        extra = [alt for alts in self.alternatives.values() for alt, _ in alts]
        return list(dict.fromkeys([*self.tokens, *extra]))

    def matched_weight(self, token: str, text_tokens: set[str] | frozenset[str]) -> float:
        """How much of ``token``'s weight a text with ``text_tokens`` matches (0 when absent)."""
        if token in text_tokens:
            return self.weights[token]
        best = max((sim for alt, sim in self.alternatives.get(token, ()) if alt in text_tokens), default=0.0)
        return self.weights[token] * best

    def weight_in(self, text_tokens: set[str] | frozenset[str]) -> float:
        """The summed :meth:`matched_weight` of every question token (one set operation, not a loop per token)."""
        total = sum(self.weights[t] for t in text_tokens.intersection(self.weights))
        for token, alternatives in self.alternatives.items():
            if token not in text_tokens:
                total += self.weights[token] * max((sim for alt, sim in alternatives if alt in text_tokens), default=0.0)
        return total


def query_terms(question: str, lexical: LexicalIndex) -> QueryTerms:
    """Tokens of a question weighted by rarity, with Latin spellings of its Korean words."""
    tokens = list(dict.fromkeys(tokenize(question)))
    n = max(1, lexical.size)
    dfs = {tok: lexical.document_frequency(tok) for tok in tokens}
    weights = {tok: math.log(1 + (n - df + 0.5) / (df + 0.5)) if df else math.log(1 + n) for tok, df in dfs.items()}
    alternatives: dict[str, list[tuple[str, float]]] = {}
    words = [w for w in korean_words(question) if w in weights]
    if words:
        translit = lexical.transliterator()
        for word in words:
            spellings = translit.spellings(word)
            if spellings:
                alternatives[word] = [(s.token, s.similarity) for s in spellings]
    unknown = frozenset(t for t in tokens if not dfs[t] and t not in alternatives)
    terms = QueryTerms(tokens=tokens, weights=weights, alternatives=alternatives, unknown=unknown)
    terms.known = sum(w for t, w in weights.items() if t not in unknown) / terms.total if tokens else 0.0
    return terms


def _coverage(terms: QueryTerms, text_tokens: set[str]) -> tuple[float, list[str]]:
    matched, total = [], 0.0
    for t in terms.tokens:
        got = terms.matched_weight(t, text_tokens)
        if got > 0:
            matched.append(t)
            total += got
    return total / terms.total, matched


class Retriever:
    """Finds the chunks that answer a question.

    Args:
        store: The Chroma store.
        lexical: The BM25 index kept in step with it.
        embedder: The embedding model that built the store.
        fusion: The fused score's weights (default: the stored ``fusion.json``).
    """

    def __init__(self, store: ChromaStore, lexical: LexicalIndex, embedder: Embedder, fusion: Fusion | None = None) -> None:
        self.store = store
        self.lexical = lexical
        self.embedder = embedder
        #: The fused score's weights (``fusion.json``, fitted by ``bench.quality --fit-fusion``).
        self.fusion = fusion or Fusion.load()
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="retrieval")

    def search(self, question: str, *, mode: str = "hybrid", k: int = 40, allowed_docs: set[str] | None = None,
               within: list[str] | None = None) -> tuple[list[Hit], QueryTerms]:
        """Candidates for a question, best first.

        Args:
            question: The cleaned question (with any follow-up context prepended).
            mode: "hybrid", "dense" or "lexical".
            k: Candidates taken from each side.
            allowed_docs: Only chunks of these documents (complete ones) are returned.
            within: Search only these documents' chunks (both sides look inside them, not
                through the global top ``k``); a watch's match on a newly indexed issue.
        """
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        terms = query_terms(question, self.lexical)
        lex = self.lexical.search(terms.search_tokens, k, doc_ids=within) if mode in ("hybrid", "lexical") else []
        # the lexical hits' texts and vectors are fetched while the model embeds the question
        fetching = self._pool.submit(self.store.get_chunks, [cid for cid, _ in lex], with_embeddings=True) if lex else None
        q = self._query_vectors(question, terms)
        hits: dict[str, Hit] = {}
        if mode in ("hybrid", "dense"):
            where = None if within is None else {"doc_id": within[0]} if len(within) == 1 else {"doc_id": {"$in": list(within)}}
            for row in self.store.query(q, k, where=where):
                hits[row.chunk_id] = Hit(row.chunk_id, row.text, row.meta, dense=float(np.max(q @ row.embedding)))
        bm25 = dict(lex)
        for row in fetching.result() if fetching else []:
            if row.chunk_id not in hits:
                sim = float(np.max(q @ np.asarray(row.embedding, dtype=np.float32))) if row.embedding is not None else 0.0
                hits[row.chunk_id] = Hit(row.chunk_id, row.text, row.meta, dense=sim)
        if allowed_docs is not None:
            hits = {cid: h for cid, h in hits.items() if h.doc_id in allowed_docs}
        if not hits:
            return [], terms
        cached = self.lexical.tokens_for(list(hits))
        headings: dict[str, set[str]] = {}
        section_tokens: dict[tuple[str, int], set[str]] = {}
        for hit in hits.values():
            hit.bm25 = bm25.get(hit.chunk_id, 0.0)
            tokens = set(cached[hit.chunk_id]) if hit.chunk_id in cached else set(tokenize(lexical_text(hit.meta, hit.text)))
            section_tokens.setdefault(hit.section_key, set()).update(tokens)
            heading = search_heading(hit.meta)
            if heading not in headings:
                headings[heading] = set(tokenize(heading))
            hit.heading_match, _ = _coverage(terms, headings[heading])
        for hit in hits.values():
            # a section's chunks share what the section says: "NEFTune" in the heading and
            # "noise" two chunks later both belong to the same discussion
            hit.coverage, hit.matched = _coverage(terms, section_tokens[hit.section_key])
        self._fuse(list(hits.values()), mode)
        return sorted(hits.values(), key=lambda h: h.score, reverse=True), terms

    def _query_vectors(self, question: str, terms: QueryTerms) -> np.ndarray:
        """The question's embedding; for a Korean question, also its Latin part's.

        The default model reads English: "QLoRA에 대해 뭐라고 했어?" is matched through
        "QLoRA", and "미스트랄 7B는?" through "mistral 7B" (the Latin spellings of its Korean words).
        """
        if has_hangul(question):
            spelled = [alts[0][0] for alts in terms.alternatives.values()]
            latin = " ".join([*_HANGUL_RUN.sub(" ", question).split(), *spelled])
            if re.search(r"[A-Za-z]{2,}", latin):
                return self.embedder.encode([question, latin])
        return self.embedder.encode([question])

    def _fuse(self, hits: list[Hit], mode: str) -> None:
        if mode == "dense":
            for h in hits:
                h.score = h.dense
            return
        if mode == "lexical":
            for h in hits:
                h.score = h.bm25
            return
        self.fusion.score(hits)
