"""The poller's half of watches: :class:`WatchScanning`, mixed into :class:`~knowledge.watch.poller.Poller`.

When an entry is indexed (or an edited post re-indexed) its document is queued; at the end of
each polling round the queue is matched against every watch. A failing scan is logged and
retried on the next round: it never breaks polling.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from knowledge.alerts.matching import ScanReport, WatchMatcher
from knowledge.alerts.store import WatchStore

if TYPE_CHECKING:
    from knowledge.config import Settings
    from knowledge.interface import Knowledge
    from knowledge.watch.state import StateDB

log = logging.getLogger(__name__)


class WatchScanning:
    """Queue indexed documents for the watches and scan them after a round."""

    kb: Knowledge
    state: StateDB
    settings: Settings

    @property
    def watch_store(self) -> WatchStore:
        """The watch tables in this poller's state database (created on first use)."""
        store = self.__dict__.get("_watch_store")
        if store is None:
            store = WatchStore(self.state, max_per_user=self.settings.watch_max_per_user)
            self.__dict__["_watch_store"] = store
        return store

    def queue_for_watches(self, doc_id: str) -> None:
        """A document was newly indexed (or re-indexed after an edit): match it on the next scan."""
        self.watch_store.queue([doc_id])

    def scan_watches(self) -> ScanReport | None:
        """Match the queued documents against every watch; None (logged) when that failed."""
        try:
            return WatchMatcher(self.kb, self.watch_store).scan()
        except Exception:  # noqa: BLE001 - watches never break polling; the queue is kept for the next round
            log.exception("matching new documents against watches failed; trying again next round")
            return None
