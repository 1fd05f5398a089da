"""Papers: :class:`PaperLookup`, the arXiv half of :class:`~knowledge.facade.KnowledgeBase`.

A paper comes from the index (an ingested abstract) or the arXiv API (then indexed), with
every digest section that mentions it by arXiv ID or names it by title.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from knowledge.clients.arxiv_ids import parse_arxiv_id
from knowledge.ingest.parsing.documents import PARSER_VERSION
from knowledge.models import Citation, Document, IngestReport, Paper, PaperReport, Section
from knowledge.search.answers import to_citation
from knowledge.search.coverage import first_coverage
from knowledge.search.retrieval import Hit, QueryTerms, query_terms
from knowledge.search.roundups import heading_title
from knowledge.search.tokenize import tokenize
from knowledge.text import content_hash, normalise_title

if TYPE_CHECKING:
    from knowledge.clients.arxiv_api import ArxivClient
    from knowledge.search.lexical import LexicalIndex
    from knowledge.search.records import DocRecord
    from knowledge.search.store import ChromaStore

log = logging.getLogger(__name__)


class PaperLookup:
    """Paper reports and suggestions; mixed into :class:`~knowledge.facade.KnowledgeBase`."""

    store: ChromaStore
    lexical: LexicalIndex
    _records: dict[str, DocRecord]

    if TYPE_CHECKING:  # defined by KnowledgeBase and IngestWriter
        @property
        def arxiv(self) -> ArxivClient: ...

        def _maybe_refresh(self) -> None: ...

        def ingest_documents(self, docs: list[Document]) -> IngestReport: ...

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
                log.info("arXiv lookup for %s failed: %s", arxiv_id, exc)  # the card says so, once
            else:
                if fetched is not None:
                    paper = fetched
                    self._index_paper(fetched)
        mentions = self._mentions(arxiv_id, paper)
        found = paper is not None or bool(mentions)
        return PaperReport(arxiv_id=arxiv_id, found=found, paper=paper, mentions=mentions, lookup_error=lookup_error,
                           coverage=first_coverage(arxiv_id, paper, mentions))

    def _local_paper(self, arxiv_id: str) -> Paper | None:
        record = self._records.get(f"arxiv:{arxiv_id}")
        if record is None:
            return None
        rows = sorted(self.store.get_chunks(where={"doc_id": record.doc_id}), key=lambda r: r.order)
        abstract = " ".join(r.text for r in rows)
        authors = [a for a in str(rows[0].meta.get("authors", "")).split("; ") if a] if rows else []
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

    def _mentions(self, arxiv_id: str, paper: Paper | None) -> list[Citation]:
        chunk_ids = set(self.lexical.chunks_mentioning(arxiv_id))
        title = paper.title if paper else ""
        if not title:  # a section that links the ID under the paper's title names it for the others
            title = heading_title(self.store.get_chunks(sorted(chunk_ids))) if chunk_ids else ""
        if title:
            chunk_ids |= self._chunks_naming(title)
        own = f"arxiv:{arxiv_id}"
        rows = [r for r in self.store.get_chunks(sorted(chunk_ids)) if r.doc_id != own and r.doc_id in self._records]
        terms_text = title or arxiv_id
        hits = [Hit(r.chunk_id, r.text, r.meta, dense=1.0, score=1.0) for r in rows]
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
        for row in rows:
            heading = normalise_title(row.section)
            body = normalise_title(row.text)
            if full and (full in heading or f" {full} " in f" {body} ") or short and (heading == short or heading.startswith(short + " ")):
                found.add(row.chunk_id)
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

