"""What the bot and the command line may ask of the knowledge layer: :class:`Knowledge`.

Both :class:`~knowledge.facade.KnowledgeBase` (in this process) and
:class:`~knowledge.process.service.KnowledgeProcess` (a knowledge base in a child process)
satisfy it; the bot is typed against this protocol alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from knowledge.config import Settings
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

#: ``progress(done, total, label)`` during an ingest or a reindex.
Progress = Callable[[int, int, str], None]


@runtime_checkable
class Knowledge(Protocol):
    """The digest archive's operations. Every method blocks; the bot calls them in worker threads."""

    settings: Settings

    def ask(self, question: str, *, k: int = 5, context: str | None = None, mode: str = "hybrid",
            shown: list[str] | None = None) -> Answer:
        """Cited excerpts that answer a question (a follow-up names the previous question as ``context``)."""
        ...

    def paper(self, text: str, *, online: bool = True) -> PaperReport:
        """A paper by arXiv ID or URL and what every digest said about it (raises ``InvalidArxivId``)."""
        ...

    def suggest_papers(self, prefix: str, limit: int = 25) -> list[tuple[str, str]]:
        """Indexed papers whose ID or title matches ``prefix``: ``(arxiv_id, title)``."""
        ...

    def latest_issues(self, digest: str | None = None, limit: int = 5) -> list[IssueSummary]:
        """Newest digest issues (all digests, or one by name)."""
        ...

    def issue_overview(self, doc_id: str, *, max_papers: int = 5) -> IssueOverview | None:
        """Title, first paragraph and covered papers of an indexed issue."""
        ...

    def digests(self) -> dict[str, int]:
        """Digest name -> number of issues indexed."""
        ...

    def documents(self, digest: str | None = None) -> list[IssueSummary]:
        """Every indexed document, with its section count."""
        ...

    def stats(self) -> Stats:
        """What is indexed, with which model, where."""
        ...

    def refresh(self) -> int:
        """Reload the store's records and bring derived indexes in step."""
        ...

    def ingest(self, inputs: Iterable[str | Path], *, digest: str | None = None,
               progress: Progress | None = None) -> IngestReport:
        """Index files and folders."""
        ...

    def ingest_documents(self, docs: list[Document], *, report: IngestReport | None = None,
                         progress: Progress | None = None) -> IngestReport:
        """Index parsed documents (feed entries, fetched papers)."""
        ...

    def delete_document(self, doc_id: str) -> None:
        """Remove one document everywhere."""
        ...

    def reindex(self, progress: Progress | None = None) -> int:
        """Re-embed every stored chunk with the current model; returns how many."""
        ...

    def close(self) -> None:
        """Release what the knowledge base holds."""
        ...

    def match_topic(self, text: str, doc_ids: list[str]) -> dict[str, Citation]:
        """The best citation answering a watch's topic in each of these documents that answers it (``ask``'s gate)."""

    def roundup(self, *, since: str | None = None, until: str | None = None, digest: str | None = None) -> Roundup:
        """The papers a window's digest issues covered, grouped by paper (raises ``InvalidDate``)."""
        ...
