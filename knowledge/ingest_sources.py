"""Ingest whatever the user names: files and folders, feed URLs, Substack publications."""

from __future__ import annotations

import logging
from pathlib import Path

from knowledge.config import Settings
from knowledge.facade import KnowledgeBase, Progress
from knowledge.models import IngestReport

log = logging.getLogger(__name__)


def is_url(text: str) -> bool:
    """Whether an input names a URL rather than a path."""
    return text.startswith(("http://", "https://"))


def ingest_inputs(
    kb: KnowledgeBase,
    inputs: list[str],
    *,
    digest: str | None = None,
    progress: Progress | None = None,
    settings: Settings | None = None,
) -> IngestReport:
    """Ingest paths and URLs into the knowledge base; one failing input never stops the rest.

    Args:
        kb: The knowledge base.
        inputs: Files, folders, feed URLs or Substack publication URLs.
        digest: Digest name to use for everything (else guessed).
        progress: Progress callback for file ingests.
        settings: Settings for network fetches (timeouts, size caps).
    """
    paths = [p for p in inputs if not is_url(p)]
    urls = [u for u in inputs if is_url(u)]
    missing = [p for p in paths if not Path(p).exists()]
    report = kb.ingest([p for p in paths if p not in missing], digest=digest, progress=progress) if paths else IngestReport()
    for p in missing:
        report.failed += 1
        report.failures.append((p, "no such file or folder"))
    if urls:
        from knowledge.remote_ingest import ingest_url

        for url in urls:
            part = ingest_url(kb, url, digest=digest, settings=settings or kb.settings)
            _merge(report, part)
    return report


def _merge(into: IngestReport, part: IngestReport) -> None:
    into.added += part.added
    into.updated += part.updated
    into.unchanged += part.unchanged
    into.failed += part.failed
    into.chunks_embedded += part.chunks_embedded
    into.seconds += part.seconds
    into.failures.extend(part.failures)
    into.doc_ids.extend(part.doc_ids)
