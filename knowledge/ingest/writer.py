"""Writing to the index: :class:`IngestWriter`, the ingest half of :class:`~knowledge.facade.KnowledgeBase`.

Parsed documents are de-duplicated, chunked for the model's window, embedded in batches and
written to Chroma, the lexical index and the near-duplicate index together; unchanged
documents embed nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from knowledge.ingest.chunking import (
    TARGET_CHUNK_TOKENS,
    chunk_document,
    embedding_text,
    truncate_heading,
)
from knowledge.ingest.parsing import ParseError, discover, parse_file
from knowledge.interface import Progress
from knowledge.models import Chunk, Document, IngestReport
from knowledge.search.records import arxiv_ids_of, lexical_text

if TYPE_CHECKING:
    from knowledge.embeddings import Embedder
    from knowledge.ingest.dedupe import DuplicateIndex
    from knowledge.search.lexical import LexicalIndex
    from knowledge.search.records import DocRecord, StoredChunk
    from knowledge.search.store import ChromaStore

log = logging.getLogger(__name__)

EMBED_BATCH_CHUNKS = 256


@dataclass(slots=True)
class _Pending:
    doc: Document
    is_new: bool



class IngestWriter:
    """Ingest, delete and reindex; mixed into :class:`~knowledge.facade.KnowledgeBase`, whose
    store and indexes it writes."""

    embedder: Embedder
    store: ChromaStore
    lexical: LexicalIndex
    duplicates: DuplicateIndex
    _lock: threading.RLock
    _records: dict[str, DocRecord]
    _stamp: str

    if TYPE_CHECKING:  # defined by KnowledgeBase
        def _chunks_for_lexical(self, doc_ids: list[str]) -> dict[str, list[tuple[str, str, list[str]]]]: ...

    def ingest(self, inputs: Iterable[str | Path], *, digest: str | None = None, progress: Progress | None = None) -> IngestReport:
        """Index files and folders (digest posts, Korean notes, abstract datasets).

        Unknown or unreadable files are reported in the result and skipped. Unchanged
        documents are skipped without embedding anything.

        Args:
            inputs: Files and folders.
            digest: Digest name for every document (overrides the folder/domain guess).
            progress: Called as ``progress(chunks_embedded, chunks_total, label)`` (documents kept
                as they are written: an interrupted ingest keeps what was written).

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
        """Chunk, embed and store the pending documents; progress counts chunks embedded."""
        count = self.embedder.count_tokens
        window = self.embedder.max_tokens
        chunked: list[tuple[_Pending, list]] = []
        for item in pending:
            chunks = chunk_document(item.doc, count, window, target_tokens=TARGET_CHUNK_TOKENS)
            if chunks:
                chunked.append((item, chunks))
            else:
                report.failed += 1
                report.failures.append((item.doc.source, "no text to index"))
        total = sum(len(chunks) for _, chunks in chunked)
        done = 0
        if progress and total:
            progress(0, total, "embedding")
        batch: list[tuple[_Pending, list]] = []

        def flush() -> None:
            nonlocal batch, done
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
                    [(c.chunk_id, lexical_text(c.metadata, c.text), arxiv_ids_of(c.metadata)) for c in chunks],
                )
                report.chunks_embedded += len(chunks)
                if item.is_new:
                    report.added += 1
                else:
                    report.updated += 1
                done += len(chunks)
                if progress:
                    progress(done, total, item.doc.title)
            batch = []

        batch_chunks = 0
        for item, chunks in chunked:
            batch.append((item, chunks))
            batch_chunks += len(chunks)
            if batch_chunks >= EMBED_BATCH_CHUNKS:
                flush()
                batch_chunks = 0
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
            by_doc: dict[str, list[StoredChunk]] = {}
            for row in rows:
                by_doc.setdefault(row.doc_id, []).append(row)
            done = 0
            for n, (doc_id, doc_rows) in enumerate(by_doc.items(), 1):
                record = records.get(doc_id)
                if record is None:
                    continue  # an incomplete document: dropped, the next ingest rewrites it
                chunks = [Chunk(r.chunk_id, doc_id, r.text, r.meta) for r in doc_rows]
                vectors = self.embedder.encode([embedding_text(str(c.metadata.get("section", "")), c.text) for c in chunks])
                doc = Document(doc_id, record.digest, record.title, record.date, record.url, record.source, record.language,
                               record.content_hash, [], kind=record.kind,
                               extra={"paper_title": record.paper_title, "paid": record.paid})
                self.store.write_document(doc, chunks, vectors)
                self.lexical.put_document(doc_id, record.content_hash, [(c.chunk_id, lexical_text(c.metadata, c.text), arxiv_ids_of(c.metadata)) for c in chunks])
                done += len(chunks)
                if progress:
                    progress(n, len(by_doc), record.title)
            self._records = self.store.get_records()
            return done


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
