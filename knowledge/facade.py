"""The knowledge base in this process: :class:`KnowledgeBase` (a :class:`~knowledge.Knowledge`).

It owns the embedder, the Chroma store, the lexical index, the arXiv client and
the state database, and offers the operations people need: ingest
(:mod:`knowledge.ingest.writer`), ask (here), paper (:mod:`knowledge.search.papers`),
latest issues, stats. Every method is blocking; the bot calls them in worker threads.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING

from knowledge.clients.arxiv_ids import InvalidArxivId
from knowledge.config import Settings
from knowledge.embeddings import Embedder, get_embedder
from knowledge.ingest.dedupe import DuplicateIndex
from knowledge.ingest.writer import IngestWriter
from knowledge.models import (
    Answer,
    IssueOverview,
    IssueSummary,
    Stats,
)
from knowledge.search.answers import (
    group_sections,
    section_members,
    select,
    shown_sentences,
    to_citation,
)
from knowledge.search.confidence import Calibration, gather
from knowledge.search.lexical import LexicalIndex
from knowledge.search.papers import PaperLookup
from knowledge.search.records import DocRecord, lexical_text
from knowledge.search.retrieval import Retriever
from knowledge.search.roundups import RoundupLookup
from knowledge.search.store import ChromaStore
from knowledge.search.tokenize import tokenize
from knowledge.search.topic_match import TopicMatching
from knowledge.text import clean_line

if TYPE_CHECKING:
    from knowledge.clients.arxiv_api import ArxivClient

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 1000

__all__ = ["KnowledgeBase", "InvalidArxivId", "MAX_QUESTION_CHARS"]


class KnowledgeBase(IngestWriter, PaperLookup, TopicMatching, RoundupLookup):
    """The digest archive: ingest documents, answer questions, look up papers.

    Args:
        settings: Configuration (data directory, Chroma location, model, arXiv endpoint).
        embedder: An embedder to share (tests pass one loaded per session); defaults to
            the process-wide one for ``settings.embedding_model``.
        arxiv: An arXiv client to use instead of one built from the settings.
        rebuild: Open a store built with another model, to :meth:`reindex` it.

    Raises:
        ModelMismatch: The store was built with another embedding model (and not ``rebuild``).
    """

    def __init__(
        self, settings: Settings, *, embedder: Embedder | None = None, arxiv: ArxivClient | None = None, rebuild: bool = False
    ) -> None:
        self.settings = settings
        self.embedder = embedder or get_embedder(settings.embedding_model)
        from knowledge.datadir import secure_data_dir

        secure_data_dir(settings.data_dir)  # 0700; what is already in it loses group/other access
        #: Called by :meth:`close` (an ownership of the store to give up, say).
        self.on_close: list[Callable[[], None]] = []
        self.store = ChromaStore(
            settings.data_dir,
            self.embedder.name,
            self.embedder.dimension,
            host=settings.chroma_host,
            port=settings.chroma_port,
            check_model=not rebuild,
        )
        self.lexical = LexicalIndex(self._lexical_path())
        self.duplicates = DuplicateIndex(self._lexical_path().with_name(self._lexical_path().stem.replace("lexical", "dedupe") + ".sqlite3"))
        self.retriever = Retriever(self.store, self.lexical, self.embedder)
        self.calibration = Calibration.load()
        self._arxiv = arxiv
        self._lock = threading.RLock()
        self._records: dict[str, DocRecord] = {}
        self._stamp = ""
        self._synced_at = 0.0
        self.refresh()

    @property
    def arxiv(self) -> ArxivClient:
        """The arXiv API client (built on first use, with its cache in the state database)."""
        if self._arxiv is None:
            from knowledge.clients.arxiv_api import ArxivCache, ArxivClient

            self._arxiv = ArxivClient(
                self.settings.arxiv_api_url,
                cache=ArxivCache(self.settings.state_db, ttl_seconds=self.settings.arxiv_cache_days * 86400),
                timeout=min(self.settings.http_timeout_seconds, 15.0),
            )
        return self._arxiv

    def _lexical_path(self) -> Path:
        where = f"{self.settings.chroma_host}_{self.settings.chroma_port}" if self.settings.chroma_host else "embedded"
        return self.settings.data_dir / f"lexical-{where}.sqlite3"

    # -- keeping derived data in step --------------------------------------
    def refresh(self) -> int:
        """Reload document records from the store and bring the lexical index in step.

        Returns:
            How many documents the lexical index had to add, replace or drop.
        """
        with self._lock:
            self._stamp = self.store.stamp()
            self._records = self.store.get_records()
            changed = self.lexical.sync({d: r.content_hash for d, r in self._records.items()}, self._chunks_for_lexical)
            self.duplicates.sync(self._records, self._texts_for_dedupe)
            self._synced_at = time.monotonic()
            return changed

    def _chunks_for_lexical(self, doc_ids: list[str]) -> dict[str, list[tuple[str, str, list[str]]]]:
        where = {"doc_id": doc_ids[0]} if len(doc_ids) == 1 else {"doc_id": {"$in": doc_ids}}
        out: dict[str, list[tuple[str, str, list[str]]]] = {}
        for row in self.store.get_chunks(where=where):
            out.setdefault(row.doc_id, []).append((row.chunk_id, lexical_text(row.meta, row.text), row.arxiv_ids))
        return out

    def _texts_for_dedupe(self, doc_ids: list[str]) -> dict[str, str]:
        parts: dict[str, list[tuple[int, int, str]]] = {}
        where = {"doc_id": doc_ids[0]} if len(doc_ids) == 1 else {"doc_id": {"$in": doc_ids}}
        for row in self.store.get_chunks(where=where):
            parts.setdefault(row.doc_id, []).append((*row.order, row.text))
        return {d: "\n".join(t for _, _, t in sorted(rows)) for d, rows in parts.items()}

    def _maybe_refresh(self) -> None:
        # another process (a CLI ingest, or a writer to a shared Chroma server) may have written;
        # never wait for an ingest running here: it brings the records up to date when it ends
        if time.monotonic() - self._synced_at <= 30 or not self._lock.acquire(blocking=False):
            return
        try:
            if self.store.stamp() != self._stamp or not self._stamp:
                self.refresh()  # a full read of the records: only when someone else wrote
            self._synced_at = time.monotonic()
        finally:
            self._lock.release()

    # -- ask ---------------------------------------------------------------
    def ask(self, question: str, *, k: int = 5, context: str | None = None, mode: str = "hybrid",
            shown: list[str] | None = None, exclude_docs: Collection[str] = ()) -> Answer:
        """Answer "what did the digests say about X?" with cited excerpts.

        Args:
            question: The question as typed (cleaned here; empty or huge ones get a clear answer).
            k: At most this many citations.
            context: The previous question in a conversation, for follow-ups ("and its limits?").
            mode: "hybrid" (default), or the "dense"/"lexical" baselines.
            shown: Excerpts the user was already shown in this conversation: a follow-up
                prefers sentences not shown yet.
            exclude_docs: Documents to answer without (the evaluation's cross-document
                questions leave out the document they were made from).
        """
        started = time.perf_counter()
        cleaned = clean_line(question or "")
        if not cleaned:
            return Answer(question="", found=False, citations=[], error="empty question",
                          answer="Ask me about a paper or topic, e.g. “what did the digest say about QLoRA?”")
        if len(cleaned) > MAX_QUESTION_CHARS:
            return Answer(question=cleaned[:200] + "…", found=False, citations=[], error="question too long",
                          answer=f"That question is {len(cleaned)} characters long; please keep it under {MAX_QUESTION_CHARS}.")
        if not tokenize(cleaned, drop_stopwords=False) and not any(ch.isalnum() for ch in cleaned):
            return Answer(question=cleaned, found=False, citations=[], error="no words",
                          answer="I could not find any words in that question. Ask about a paper or topic.")
        k = max(1, min(int(k), 10))
        self._maybe_refresh()
        query = f"{clean_line(context)} {cleaned}" if context else cleaned
        allowed = set(self._records).difference(exclude_docs)
        hits, terms = self.retriever.search(query, mode=mode, allowed_docs=allowed)
        sections = group_sections(hits)
        evidence = gather(sections, hits, terms)
        confidence = self.calibration.level(evidence) if sections else "none"
        found = confidence == "answer"
        chosen, more = select(sections, k) if confidence != "none" else ([], select(sections, k)[0])
        members = section_members(hits)
        weak = not found
        seen = shown_sentences(shown) if shown else None
        citations = [to_citation(i, h, terms, weak=weak, section_hits=members[h.section_key], shown=seen) for i, h in enumerate(chosen, 1)]
        extra = [to_citation(len(citations) + i, h, terms, weak=weak, section_hits=members[h.section_key], shown=seen)
                 for i, h in enumerate(more, 1)]
        return Answer(question=cleaned, found=found, citations=citations, more=extra,
                      took_ms=(time.perf_counter() - started) * 1000, confidence=confidence, evidence=evidence.to_json())

    # -- listings ----------------------------------------------------------
    def latest_issues(self, digest: str | None = None, limit: int = 5) -> list[IssueSummary]:
        """Newest digest issues (all digests, or one by name, case-insensitive)."""
        self._maybe_refresh()
        wanted = digest.lower().strip() if digest else None
        issues = [r for r in self._records.values() if r.kind == "digest" and (wanted is None or r.digest.lower() == wanted)]
        issues.sort(key=lambda r: (r.date, r.ingested_at), reverse=True)
        return [IssueSummary(r.digest, r.title, r.date, r.url, r.source, r.doc_id) for r in issues[:limit]]

    def issue_overview(self, doc_id: str, *, max_papers: int = 5) -> IssueOverview | None:
        """Title, first paragraph and covered papers of an indexed issue (for announcements)."""
        record = self.store.get_records([doc_id]).get(doc_id)
        if record is None:
            return None
        rows = sorted(self.store.get_chunks(where={"doc_id": doc_id}), key=lambda r: r.order)
        summary = ""
        for row in rows:
            first = next((p for p in row.text.split("\n\n") if len(p.split()) >= 8), "")
            if first:
                summary = first
                break
        papers: list[str] = []
        seen_sections: set[str] = set()
        for row in rows:
            heading = row.section
            ids = row.arxiv_ids
            label = heading if heading and heading not in seen_sections and heading != record.title and (ids or len(heading.split()) >= 3) else ""
            if not label and ids and ids[0] not in seen_sections:
                label = f"arXiv:{ids[0]}"
            if label:
                seen_sections.update({heading, *(ids[:1])})
                papers.append(label)
        return IssueOverview(doc_id, record.digest, record.title, record.date, record.url, summary, papers[:max_papers], record.paid)

    def documents(self, digest: str | None = None) -> list[IssueSummary]:
        """Every indexed document (one digest's, when named), newest first, with its section count."""
        self._maybe_refresh()
        wanted = digest.lower().strip() if digest else None
        rows = [r for r in self._records.values() if wanted is None or r.digest.lower() == wanted]
        rows.sort(key=lambda r: (r.kind != "digest", r.digest, r.date, r.title), reverse=False)
        return [IssueSummary(r.digest, r.title, r.date, r.url, r.source, r.doc_id, sections=r.sections, kind=r.kind) for r in rows]

    def digests(self) -> dict[str, int]:
        """Digest name -> number of issues indexed."""
        counts: dict[str, int] = {}
        for r in self._records.values():
            if r.kind == "digest":
                counts[r.digest] = counts.get(r.digest, 0) + 1
        return dict(sorted(counts.items()))

    def stats(self) -> Stats:
        """What is indexed, with which model, where."""
        self._maybe_refresh()
        papers = {r.doc_id.removeprefix("arxiv:") for r in self._records.values() if r.kind == "abstract"}
        papers |= set(self.lexical.all_mentioned_ids())
        last = max((r.ingested_at for r in self._records.values()), default=0.0)
        # only chunks of complete documents count; the rest belong to an interrupted ingest
        complete = sum(r.chunks for r in self._records.values())
        return Stats(
            documents=len(self._records),
            chunks=complete,
            digests={**self.digests(), **({"arXiv (abstracts)": sum(1 for r in self._records.values() if r.kind == "abstract")} if any(r.kind == "abstract" for r in self._records.values()) else {})},
            papers=len(papers),
            model=self.embedder.name,
            store=self.store.location,
            last_update=time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(last)) if last else "",
            orphan_chunks=max(0, self.store.count_chunks() - complete),
        )

    def close(self) -> None:
        """Run the :attr:`on_close` hooks, then release the lexical index's database connection."""
        while self.on_close:
            try:
                self.on_close.pop()()
            except Exception:  # noqa: BLE001 - closing goes on
                log.exception("a close hook failed")
        self.lexical.close()
