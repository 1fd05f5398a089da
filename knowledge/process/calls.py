"""The knowledge base's methods as calls to another process: :class:`ForwardedCalls`.

Each method has the facade's signature (:class:`~knowledge.Knowledge`) and forwards to
``self._call``, which :class:`~knowledge.process.service.KnowledgeProcess` implements
over its pipe: results and exceptions come back as themselves.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from knowledge.models import (
    Answer,
    Citation,
    Document,
    IngestReport,
    IssueOverview,
    IssueSummary,
    PaperReport,
    Roundup,
    Stats,
)

if TYPE_CHECKING:
    from knowledge.interface import Progress


class ForwardedCalls:
    """The facade's methods, forwarded with :meth:`_call`; :attr:`call_timeout` bounds the quick ones."""

    call_timeout: float

    def _call(self, method: str, *args: Any, timeout: float | None = None, progress: Progress | None = None, **kwargs: Any) -> Any:
        raise NotImplementedError

    # -- the facade's methods -------------------------------------------------------------
    def ask(self, question: str, *, k: int = 5, context: str | None = None, mode: str = "hybrid",
            shown: list[str] | None = None) -> Answer:
        """Answer a question with cited excerpts (see :meth:`KnowledgeBase.ask`)."""
        return self._call("ask", question, k=k, context=context, mode=mode, shown=shown, timeout=self.call_timeout)

    def paper(self, text: str, *, online: bool = True) -> PaperReport:
        """A paper and its mentions (see :meth:`KnowledgeBase.paper`)."""
        return self._call("paper", text, online=online, timeout=self.call_timeout)

    def suggest_papers(self, prefix: str, limit: int = 25) -> list[tuple[str, str]]:
        """Indexed papers matching a prefix: ``(arxiv_id, title)``."""
        return self._call("suggest_papers", prefix, limit, timeout=self.call_timeout)

    def latest_issues(self, digest: str | None = None, limit: int = 5) -> list[IssueSummary]:
        """Newest digest issues (see :meth:`KnowledgeBase.latest_issues`)."""
        return self._call("latest_issues", digest, limit, timeout=self.call_timeout)

    def issue_overview(self, doc_id: str, *, max_papers: int = 5) -> IssueOverview | None:
        """Title, first paragraph and papers of an indexed issue (for announcements)."""
        return self._call("issue_overview", doc_id, max_papers=max_papers, timeout=self.call_timeout)

    def digests(self) -> dict[str, int]:
        """Digest name -> number of issues indexed."""
        return self._call("digests", timeout=self.call_timeout)

    def documents(self, digest: str | None = None) -> list[IssueSummary]:
        """Every indexed document with its section count (see :meth:`KnowledgeBase.documents`)."""
        return self._call("documents", digest, timeout=self.call_timeout)

    def stats(self) -> Stats:
        """What is indexed, with which model, where."""
        return self._call("stats", timeout=self.call_timeout)

    def refresh(self) -> int:
        """Reload the store's records and bring the lexical index in step."""
        return self._call("refresh")

    def ingest(self, inputs: Iterable[str | Path], *, digest: str | None = None, progress: Progress | None = None) -> IngestReport:
        """Index files and folders (see :meth:`KnowledgeBase.ingest`); ``progress`` is called here."""
        return self._call("ingest", [str(p) for p in inputs], digest=digest, progress=progress)

    def ingest_documents(self, docs: list[Document], *, report: IngestReport | None = None, progress: Progress | None = None) -> IngestReport:
        """Index parsed documents (see :meth:`KnowledgeBase.ingest_documents`).

        As with the facade, a ``report`` passed in is updated in place and returned.
        """
        result: IngestReport = self._call("ingest_documents", list(docs), report=report, progress=progress)
        if report is None:
            return result
        for f in dataclasses.fields(IngestReport):
            setattr(report, f.name, getattr(result, f.name))
        return report

    def delete_document(self, doc_id: str) -> None:
        """Remove one document from the store and the lexical index."""
        self._call("delete_document", doc_id)

    def reindex(self, progress: Progress | None = None) -> int:
        """Re-embed every stored chunk with the current model; returns how many."""
        return self._call("reindex", progress=progress)

    def match_topic(self, text: str, doc_ids: list[str]) -> dict[str, Citation]:
        """A watch's topic matched in newly indexed documents (see :meth:`KnowledgeBase.match_topic`)."""
        return self._call("match_topic", text, list(doc_ids))

    def roundup(self, *, since: str | None = None, until: str | None = None, digest: str | None = None) -> Roundup:
        """The papers a window's digest issues covered (see :meth:`KnowledgeBase.roundup`)."""
        return self._call("roundup", since=since, until=until, digest=digest, timeout=self.call_timeout)
