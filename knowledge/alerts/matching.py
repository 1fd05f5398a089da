"""Matching newly indexed documents against every watch: :class:`WatchMatcher`.

A scan takes the queued documents, matches each active watch against them, records the hits
(exactly once per watch and document: the store's primary key) and only then takes the
documents off the queue. A crash in the middle leaves them queued; the next scan matches them
again and records nothing twice.

* A **topic** watch fires on a document whose best section answers the topic with the same
  retrieval and the same "found" gate as ``ask``, restricted to that document
  (:meth:`knowledge.facade.KnowledgeBase.match_topic`).
* A **paper** watch fires on a document that mentions the paper: by arXiv ID, or by title once
  the title is known (the abstract indexed), as ``paper`` lists mentions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from knowledge.alerts.store import PAPER, TOPIC, Watch, WatchStore
from knowledge.interface import Knowledge

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ScanReport:
    """What one scan did.

    Attributes:
        documents: Documents taken off the queue (matched, or given up after repeated failures).
        hits: New hits recorded, as ``(watch_id, doc_id)``.
        errors: Watches that could not be matched this time (they are matched on the next scan).
    """

    documents: list[str] = field(default_factory=list)
    hits: list[tuple[int, str]] = field(default_factory=list)
    errors: dict[int, str] = field(default_factory=dict)


class WatchMatcher:
    """Matches queued documents against the watches.

    Args:
        kb: The knowledge base (in this process or the knowledge process).
        store: The watch tables.
    """

    def __init__(self, kb: Knowledge, store: WatchStore) -> None:
        self.kb = kb
        self.store = store

    def scan(self) -> ScanReport:
        """Match every queued document against every active watch, record the hits, empty the queue.

        When a watch cannot be matched (the knowledge process restarting, say), the documents
        stay queued for the next scan (at most :data:`~knowledge.alerts.store.MAX_FAILED_SCANS`
        failed scans); hits already recorded are not recorded again.
        """
        report = ScanReport()
        queued = self.store.queued()
        if not queued:
            return report
        for watch in self.store.active_watches():
            try:
                found = self._match(watch, queued)
            except Exception as exc:  # noqa: BLE001 - one watch never stops the others; retried next scan
                log.warning("could not match watch #%s against %d new document(s): %s", watch.id, len(queued), exc)
                report.errors[watch.id] = f"{type(exc).__name__}: {exc}"[:300]
                continue
            for doc_id, citation in found.items():
                if self.store.add_hit(watch, doc_id, citation):
                    report.hits.append((watch.id, doc_id))
        if not report.errors:
            self.store.unqueue(queued)
            report.documents = queued
        else:
            dropped = self.store.scan_failed(queued)  # retried on the next scans, but not forever
            if dropped:
                log.warning("watches: gave up matching %d document(s) after repeated failures: %s", len(dropped), ", ".join(dropped[:5]))
            report.documents = dropped
        if report.hits:
            log.info("watches: %d new match(es) in %d new document(s)", len(report.hits), len(queued))
        return report

    def _match(self, watch: Watch, doc_ids: list[str]) -> dict[str, dict]:
        if watch.kind == TOPIC:
            return {doc_id: c.to_json() for doc_id, c in self.kb.match_topic(watch.target, doc_ids).items()}
        if watch.kind == PAPER:
            report = self.kb.paper(watch.target, online=False)
            title = report.paper.title if report.paper else ""
            if title and title != watch.title:
                self.store.set_title(watch.id, title)  # from now on the paper is also found by its title
            wanted = set(doc_ids)
            out: dict[str, dict] = {}
            for c in report.mentions:  # newest first: the first mention of each document is kept
                if c.doc_id in wanted and c.doc_id not in out:
                    out[c.doc_id] = c.to_json()
            return out
        return {}
