"""The one entry point the bot and the command line use: :class:`KnowledgeBase`.

It owns the embedder, the Chroma store, the lexical index, the arXiv client and
the state database, and offers the operations people need: ingest, ask, paper,
latest issues, stats. Every method is blocking; the bot calls them in worker
threads.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from knowledge.clients.arxiv_ids import InvalidArxivId, parse_arxiv_id
from knowledge.config import Settings
from knowledge.embeddings import Embedder, get_embedder
from knowledge.ingest.chunking import (
    TARGET_CHUNK_TOKENS,
    chunk_document,
    embedding_text,
    truncate_heading,
)
from knowledge.ingest.dedupe import DuplicateIndex
from knowledge.ingest.parsing import ParseError, discover, parse_file
from knowledge.ingest.parsing.documents import PARSER_VERSION
from knowledge.models import (
    Answer,
    Chunk,
    Document,
    IngestReport,
    IssueOverview,
    IssueSummary,
    Paper,
    PaperReport,
    Section,
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
from knowledge.search.lexical import LexicalIndex, tokenize
from knowledge.search.retrieval import Hit, QueryTerms, Retriever, query_terms
from knowledge.search.store import ChromaStore, DocRecord
from knowledge.text import clean_line, content_hash, normalise_title

if TYPE_CHECKING:
    from knowledge.clients.arxiv_api import ArxivClient

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 1000
EMBED_BATCH_CHUNKS = 256
Progress = Callable[[int, int, str], None]

__all__ = ["KnowledgeBase", "InvalidArxivId", "MAX_QUESTION_CHARS"]


@dataclass(slots=True)
class _Pending:
    doc: Document
    is_new: bool


class KnowledgeBase:
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
        for cid, text, meta, _ in self.store.get_chunks(where=where):
            out.setdefault(str(meta.get("doc_id", "")), []).append((cid, f"{meta.get('section', '')}\n{text}", _ids(meta)))
        return out

    def _texts_for_dedupe(self, doc_ids: list[str]) -> dict[str, str]:
        parts: dict[str, list[tuple[int, int, str]]] = {}
        where = {"doc_id": doc_ids[0]} if len(doc_ids) == 1 else {"doc_id": {"$in": doc_ids}}
        for _, text, meta, _ in self.store.get_chunks(where=where):
            parts.setdefault(str(meta.get("doc_id", "")), []).append((int(meta.get("section_index", 0)), int(meta.get("part", 0)), text))
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

    # -- ingest ------------------------------------------------------------
    def ingest(self, inputs: Iterable[str | Path], *, digest: str | None = None, progress: Progress | None = None) -> IngestReport:
        """Index files and folders (digest posts, Korean notes, abstract datasets).

        Unknown or unreadable files are reported in the result and skipped. Unchanged
        documents are skipped without embedding anything.

        Args:
            inputs: Files and folders.
            digest: Digest name for every document (overrides the folder/domain guess).
            progress: Called as ``progress(done, total, label)``.

        Raises:
            StoreBusy: Another process is writing to the same store.
        """
        started = time.perf_counter()
        report = IngestReport()
        docs: list[Document] = []
        for file, root in discover([Path(p) for p in inputs]):
            try:
                docs.extend(parse_file(file, root, digest=digest))
            except ParseError as exc:
                report.failed += 1
                report.failures.append((str(file), str(exc)))
                log.warning("skipped %s: %s", file, exc)
            except Exception as exc:  # noqa: BLE001 - one bad file never stops the rest
                report.failed += 1
                report.failures.append((str(file), f"unexpected error: {exc}"))
                log.exception("failed to parse %s", file)
        self.ingest_documents(docs, report=report, progress=progress)
        report.seconds = time.perf_counter() - started
        return report

    def ingest_documents(self, docs: list[Document], *, report: IngestReport | None = None, progress: Progress | None = None) -> IngestReport:
        """Index parsed documents (used by file ingest, feeds and paper lookups).

        Raises:
            StoreBusy: Another process is writing to the same store.
        """
        started = time.perf_counter()
        report = report or IngestReport()
        unique: dict[str, Document] = {}
        for doc in docs:
            unique[doc.doc_id] = doc  # the last one read wins for duplicate IDs
        with self._lock, self.store.write_lock(), self.lexical.batch():
            existing = self.store.get_records(list(unique))
            lexical_docs = self.lexical.known_docs()
            pending: list[_Pending] = []
            for doc in unique.values():
                record = existing.get(doc.doc_id)
                duplicate = self.duplicates.find(doc.doc_id, _doc_text(doc)) if not (record and record.content_hash == doc.content_hash) else None
                if duplicate is not None:
                    kept = self._records.get(duplicate[0]) or existing.get(duplicate[0])
                    report.duplicates.append({"source": doc.source, "duplicate_of": kept.source if kept else duplicate[0],
                                              "exact": duplicate[1]})
                    log.info("%s duplicates %s: not stored twice", doc.source, duplicate[0])
                    continue
                if record and record.content_hash == doc.content_hash:
                    report.unchanged += 1
                    if lexical_docs.get(doc.doc_id) != doc.content_hash:
                        self.lexical.put_document(doc.doc_id, doc.content_hash, self._chunks_for_lexical([doc.doc_id]).get(doc.doc_id, []))
                    continue
                pending.append(_Pending(doc, record is None))
            self._write(pending, report, progress, replacing={p.doc.doc_id for p in pending if not p.is_new})
        report.doc_ids = [p.doc.doc_id for p in pending]
        if not report.seconds:
            report.seconds = time.perf_counter() - started
        return report

    def _write(self, pending: list[_Pending], report: IngestReport, progress: Progress | None, *, replacing: set[str]) -> None:
        total = len(pending)
        done = 0
        batch: list[tuple[_Pending, list]] = []
        batch_chunks = 0
        count = self.embedder.count_tokens
        window = self.embedder.max_tokens

        def flush() -> None:
            nonlocal batch, batch_chunks, done
            if not batch:
                return
            texts = [
                embedding_text(truncate_heading(str(c.metadata["section"]), count), c.text)
                for _, chunks in batch
                for c in chunks
            ]
            vectors = self.embedder.encode(texts)
            offset = 0
            writes = []
            for item, chunks in batch:
                writes.append((item.doc, chunks, vectors[offset : offset + len(chunks)]))
                offset += len(chunks)
            stamp_before = self.store.stamp()
            written = self.store.write_documents(writes, replacing=replacing)
            self._records.update(written)
            if stamp_before == self._stamp:
                self._stamp = self.store.stamp()  # our own write: no full refresh needed
            for item, chunks in batch:
                self.duplicates.put(item.doc.doc_id, _doc_text(item.doc))
                report.documents.append(_made(item.doc))
                self.lexical.put_document(
                    item.doc.doc_id,
                    item.doc.content_hash,
                    [(c.chunk_id, f"{c.metadata['section']}\n{c.text}", _ids(c.metadata)) for c in chunks],
                )
                report.chunks_embedded += len(chunks)
                if item.is_new:
                    report.added += 1
                else:
                    report.updated += 1
                done += 1
                if progress:
                    progress(done, total, item.doc.title)
            batch, batch_chunks = [], 0

        for item in pending:
            chunks = chunk_document(item.doc, count, window, target_tokens=TARGET_CHUNK_TOKENS)
            if not chunks:
                report.failed += 1
                report.failures.append((item.doc.source, "no text to index"))
                continue
            batch.append((item, chunks))
            batch_chunks += len(chunks)
            if batch_chunks >= EMBED_BATCH_CHUNKS:
                flush()
        flush()

    def delete_document(self, doc_id: str) -> None:
        """Remove one document from the store and the lexical index."""
        with self._lock, self.store.write_lock():
            self.store.delete_document(doc_id)
            self.lexical.delete_document(doc_id)
            self.duplicates.remove(doc_id)
            self._records.pop(doc_id, None)
            self._stamp = self.store.stamp()

    def reindex(self, progress: Progress | None = None) -> int:
        """Re-embed every stored chunk with the current model (after changing EMBEDDING_MODEL).

        Returns:
            Number of chunks re-embedded.
        """
        with self._lock, self.store.write_lock():
            rows, records = self.store.read_all_for_rebuild()
            self.store.recreate_chunks(self.embedder.name, self.embedder.dimension)
            self.lexical.clear()
            by_doc: dict[str, list[tuple[str, str, dict]]] = {}
            for row in rows:
                by_doc.setdefault(str(row[2].get("doc_id", "")), []).append(row)
            done = 0
            for n, (doc_id, doc_rows) in enumerate(by_doc.items(), 1):
                record = records.get(doc_id)
                if record is None:
                    continue  # an incomplete document: dropped, the next ingest rewrites it
                chunks = [Chunk(cid, doc_id, text, meta) for cid, text, meta in doc_rows]
                vectors = self.embedder.encode([embedding_text(str(c.metadata.get("section", "")), c.text) for c in chunks])
                doc = Document(doc_id, record.digest, record.title, record.date, record.url, record.source, record.language,
                               record.content_hash, [], kind=record.kind,
                               extra={"paper_title": record.paper_title, "paid": record.paid})
                self.store.write_document(doc, chunks, vectors)
                self.lexical.put_document(doc_id, record.content_hash, [(c.chunk_id, f"{c.metadata.get('section', '')}\n{c.text}", _ids(c.metadata)) for c in chunks])
                done += len(chunks)
                if progress:
                    progress(n, len(by_doc), record.title)
            self._records = self.store.get_records()
            return done

    # -- ask ---------------------------------------------------------------
    def ask(self, question: str, *, k: int = 5, context: str | None = None, mode: str = "hybrid",
            shown: list[str] | None = None) -> Answer:
        """Answer "what did the digests say about X?" with cited excerpts.

        Args:
            question: The question as typed (cleaned here; empty or huge ones get a clear answer).
            k: At most this many citations.
            context: The previous question in a conversation, for follow-ups ("and its limits?").
            mode: "hybrid" (default), or the "dense"/"lexical" baselines.
            shown: Excerpts the user was already shown in this conversation: a follow-up
                prefers sentences not shown yet.
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
        hits, terms = self.retriever.search(query, mode=mode, allowed_docs=set(self._records))
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

    # -- papers ------------------------------------------------------------
    def paper(self, text: str, *, online: bool = True) -> PaperReport:
        """A paper and what every digest said about it.

        Args:
            text: An arXiv ID or URL in any common form.
            online: Whether the arXiv API may be asked when the paper is not known locally.

        Raises:
            InvalidArxivId: ``text`` is not an arXiv ID.
        """
        arxiv_id = parse_arxiv_id(text)
        self._maybe_refresh()
        paper = self._local_paper(arxiv_id)
        lookup_error = ""
        if (paper is None or not paper.title) and online:
            from knowledge.clients.arxiv_api import ArxivUnavailable

            try:
                fetched = self.arxiv.fetch(arxiv_id)
            except ArxivUnavailable as exc:
                lookup_error = f"arXiv lookup failed: {exc}"
                log.warning("arXiv lookup for %s failed: %s", arxiv_id, exc)
            else:
                if fetched is not None:
                    paper = fetched
                    self._index_paper(fetched)
        mentions = self._mentions(arxiv_id, paper)
        found = paper is not None or bool(mentions)
        return PaperReport(arxiv_id=arxiv_id, found=found, paper=paper, mentions=mentions, lookup_error=lookup_error)

    def _local_paper(self, arxiv_id: str) -> Paper | None:
        record = self._records.get(f"arxiv:{arxiv_id}")
        if record is None:
            return None
        rows = self.store.get_chunks(where={"doc_id": record.doc_id})
        rows.sort(key=lambda r: (int(r[2].get("section_index", 0)), int(r[2].get("part", 0))))
        abstract = " ".join(text for _, text, _, _ in rows)
        authors = [a for a in str(rows[0][2].get("authors", "")).split("; ") if a] if rows else []
        return Paper(arxiv_id=arxiv_id, title=record.paper_title, authors=authors, abstract=abstract,
                     published=record.date, metadata_source="index")

    def _index_paper(self, paper: Paper) -> None:
        heading = paper.title or f"arXiv:{paper.arxiv_id}"
        doc = Document(
            doc_id=f"arxiv:{paper.arxiv_id}",
            digest="arXiv",
            title=heading,
            date=paper.published,
            url=paper.abs_url,
            source=paper.abs_url,
            language="en",
            content_hash=content_hash(PARSER_VERSION, "abstract", paper.arxiv_id, paper.title, paper.published, paper.abstract),
            sections=[Section(heading=heading, text=paper.abstract or paper.title, arxiv_ids=[paper.arxiv_id])],
            kind="abstract",
            extra={"paper_title": paper.title, "authors": "; ".join(paper.authors)},
        )
        try:
            self.ingest_documents([doc])
        except Exception:  # noqa: BLE001 - indexing is a bonus; the lookup itself succeeded
            log.exception("could not index fetched paper %s", paper.arxiv_id)

    def _mentions(self, arxiv_id: str, paper: Paper | None) -> list:
        chunk_ids = set(self.lexical.chunks_mentioning(arxiv_id))
        title = paper.title if paper else ""
        if title:
            chunk_ids |= self._chunks_naming(title)
        own = f"arxiv:{arxiv_id}"
        rows = [r for r in self.store.get_chunks(sorted(chunk_ids)) if r[2].get("doc_id") != own and r[2].get("doc_id") in self._records]
        terms_text = title or arxiv_id
        hits = [Hit(cid, text, meta, dense=1.0, score=1.0) for cid, text, meta, _ in rows]
        best: dict[tuple[str, int], Hit] = {}
        for h in sorted(hits, key=lambda h: int(h.meta.get("part", 0))):
            best.setdefault(h.section_key, h)
        terms: QueryTerms = query_terms(terms_text, self.lexical)
        ordered = sorted(best.values(), key=lambda h: (str(h.meta.get("date", "")), h.meta.get("digest", "")), reverse=True)
        return [to_citation(i, h, terms, weak=False) for i, h in enumerate(ordered, 1)]

    def _chunks_naming(self, title: str) -> set[str]:
        """Chunks whose section heading or text names the paper title."""
        full = normalise_title(title)
        short = normalise_title(title.split(":", 1)[0]) if ":" in title else ""
        if len(short) < 3:
            short = ""
        candidates = self.lexical.search(tokenize(title), 200)
        if not candidates:
            return set()
        rows = self.store.get_chunks([cid for cid, _ in candidates])
        found = set()
        for cid, text, meta, _ in rows:
            heading = normalise_title(str(meta.get("section", "")))
            body = normalise_title(text)
            if full and (full in heading or f" {full} " in f" {body} ") or short and (heading == short or heading.startswith(short + " ")):
                found.add(cid)
        return found

    def suggest_papers(self, prefix: str, limit: int = 25) -> list[tuple[str, str]]:
        """Indexed papers whose ID or title starts with/contains ``prefix``: ``(arxiv_id, title)``."""
        prefix = prefix.strip().lower()
        out: list[tuple[str, str]] = []
        titles = {r.doc_id.removeprefix("arxiv:"): r.paper_title or r.title for r in self._records.values() if r.kind == "abstract"}
        for arxiv_id in sorted(set(titles) | set(self.lexical.all_mentioned_ids()), reverse=True):
            title = titles.get(arxiv_id, "")
            if not prefix or arxiv_id.startswith(prefix) or prefix in title.lower():
                out.append((arxiv_id, title))
                if len(out) >= limit:
                    break
        return out

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
        rows = self.store.get_chunks(where={"doc_id": doc_id})
        rows.sort(key=lambda r: (int(r[2].get("section_index", 0)), int(r[2].get("part", 0))))
        summary = ""
        for _, text, _, _ in rows:
            first = next((p for p in text.split("\n\n") if len(p.split()) >= 8), "")
            if first:
                summary = first
                break
        papers: list[str] = []
        seen_sections: set[str] = set()
        for _, _, meta, _ in rows:
            heading = str(meta.get("section", ""))
            ids = _ids(meta)
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


def _doc_text(doc: Document) -> str:
    """The text de-duplication compares (section texts, in order)."""
    return "\n".join(s.text for s in doc.sections)


def _made(doc: Document) -> dict:
    """What an ingest made of one document (``ingest --json`` lists these)."""
    made = {"doc_id": doc.doc_id, "title": doc.title, "date": doc.date, "digest": doc.digest, "kind": doc.kind,
            "sections": len(doc.sections), "source": doc.source}
    if doc.extra.get("digest_guessed"):
        made["digest_guessed"] = True
    return made


def _ids(meta: dict) -> list[str]:
    return [a for a in str(meta.get("arxiv_ids", "")).split(",") if a]
