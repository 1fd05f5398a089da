"""The announcement queue: indexed entries waiting to be announced, capped per source, with the
rest folded into one summary line; refused announcements back off and are retried, never lost.

Whether an *entry* was announced is recorded here (:meth:`AnnouncementQueue.mark_announced`);
which message each channel got is the bot's (``bot.state``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from knowledge.watch.reports import Announcement, Summary
from knowledge.watch.state import ANNOUNCED, INDEXED, SKIPPED, EntryRow

if TYPE_CHECKING:
    from collections.abc import Callable

    from knowledge.config import Settings
    from knowledge.interface import Knowledge
    from knowledge.watch.state import StateDB

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 6 * 3600
#: ``announce`` note of an indexed entry folded into a summary line that is not posted yet.
TO_SUMMARISE = "to summarise"


class AnnouncementQueue:
    """Announcements of indexed entries; mixed into :class:`~knowledge.watch.poller.Poller`."""

    kb: Knowledge
    state: StateDB
    settings: Settings
    clock: Callable[[], float]

    if TYPE_CHECKING:  # defined by Poller
        @property
        def backoff_base(self) -> float: ...

    # -- announcing ------------------------------------------------------------
    def _pending_with_cap(self, *, force: bool = False) -> tuple[list[Announcement], list[Summary]]:
        """Indexed, unannounced entries: the newest N per source, the rest folded into one summary line.

        Entries whose announcement was refused wait for their backoff (unless ``force``).
        An entry folded into a summary is remembered as such (``TO_SUMMARISE``) but stays
        pending until :meth:`mark_summarised`: the bot marks entries once the message went out.
        """
        cap = max(0, self.settings.announce_max_missed)
        now = self.clock()
        out: list[Announcement] = []
        summaries: list[Summary] = []
        by_source: dict[str, list[EntryRow]] = {}
        for row in self.state.entries(state=INDEXED):
            by_source.setdefault(row.source, []).append(row)
        for source, rows in by_source.items():
            rows.sort(key=lambda r: (r.published, r.first_seen))
            folded = [r for r in rows if r.announce == TO_SUMMARISE]  # decided in an earlier round
            rows = [r for r in rows if r.announce != TO_SUMMARISE]
            keep, rest = (rows[len(rows) - cap:], rows[: len(rows) - cap]) if len(rows) > cap else (rows, [])
            for r in rest:
                r.announce = TO_SUMMARISE  # remembered, so a report that is dropped loses nothing
                self.state.upsert_entry(r)
            folded = sorted(folded + rest, key=lambda r: (r.published, r.first_seen))
            if folded:
                summaries.append(Summary(source, [r.guid for r in folded], [r.title for r in folded[-5:]]))
            out.extend(self.announcement_for(r) for r in keep if force or r.retry_at <= now)
        return out, summaries

    def mark_summarised(self, summary: Summary) -> None:
        """Record that a summary line went out: its entries are done (``skipped``, "summarised")."""
        for guid in summary.guids:
            row = self.state.find_entry(summary.source, guid, "")
            if row is not None and row.state == INDEXED:
                row.state = SKIPPED
                row.announce = "summarised"
                row.clear_failures()
                self.state.upsert_entry(row)

    def mark_announce_failed(self, source: str, guid: str, error: str) -> None:
        """Discord refused an announcement: it stays pending and is retried with exponential backoff."""
        row = self.state.find_entry(source, guid, "")
        if row is not None and row.state == INDEXED:
            row.record_failure(error, self.clock(), self.backoff_base, MAX_BACKOFF_SECONDS)
            self.state.upsert_entry(row)
            log.warning("announcement of %s (%s) refused %d time(s), retry in %.0f s: %s",
                        row.title, source, row.failures, row.retry_at - self.clock(), error)

    def pending(self) -> list[Announcement]:
        """Every indexed entry not yet announced (no cap)."""
        return [self.announcement_for(r) for r in self.state.entries(state=INDEXED)]

    def announcement_for(self, row: EntryRow) -> Announcement:
        """Build the announcement of one indexed entry from what the index holds."""
        overview = self.kb.issue_overview(row.doc_id) if row.doc_id else None
        return Announcement(
            source=row.source,
            guid=row.guid,
            doc_id=row.doc_id,
            digest=overview.digest if overview else row.source,
            title=(overview.title if overview else "") or row.title,
            date=(overview.date if overview else "") or row.published,
            url=(overview.url if overview else "") or row.url,
            summary=overview.summary if overview else "",
            papers=overview.papers if overview else [],
            paid=overview.paid if overview else False,
        )

    def mark_announced(self, source: str, guid: str, note: str = "") -> None:
        """Record that an entry's announcement went out (to every target channel)."""
        row = self.state.find_entry(source, guid, "")
        if row is not None:
            row.state = ANNOUNCED
            row.announce = note
            row.clear_failures()
            self.state.upsert_entry(row)
