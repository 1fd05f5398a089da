"""Watching digests: poll feeds, index each new issue, and queue it for announcement once.

Each entry's progress is recorded in the state database: ``seen`` (known, not yet
indexed), ``indexed`` (answerable, waiting to be announced), ``announced`` (done), or
``skipped`` (existed before we started watching, or folded into a summary line).
Because the state is written after each step, a crash or restart at any point
resumes where it stopped: nothing is lost and nothing is announced twice.

Failures are contained where they happen: a source that cannot be fetched (or raises
anything unexpected) backs off exponentially; an entry that cannot be indexed records
its error and backs off on its own while the source's other entries go on; an
announcement Discord refuses stays ``indexed`` and backs off the same way
(:meth:`Poller.mark_announce_failed`). A busy store (another process writing) is one
warning and a retry next round.

Document identity: an issue's ``doc_id`` comes from its canonical URL, so two sources
linking the same URL would share one document. The first digest to index a URL owns
that ID; another source's copy is indexed as ``source:<slug>/<doc_id>`` (see
:meth:`Poller.claim_doc_id`), so no source can replace another digest's document.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from knowledge.alerts.polling import WatchScanning
from knowledge.clients.entries import FeedEntry
from knowledge.clients.feeds import FeedFetcher, FetchResult
from knowledge.clients.http import FetchError
from knowledge.clients.substack import SubstackClient
from knowledge.config import Settings
from knowledge.ingest.inputs import document_from_entry, document_from_post, make_fetcher
from knowledge.ingest.parsing import ParseError
from knowledge.interface import Knowledge
from knowledge.models import Document
from knowledge.search.store import StoreBusy
from knowledge.text import content_hash, slugify
from knowledge.watch.announcing import MAX_BACKOFF_SECONDS, AnnouncementQueue
from knowledge.watch.reports import HealthNotice, PollReport
from knowledge.watch.sources import SourceAdmin, SourceConfig
from knowledge.watch.state import ANNOUNCED, INDEXED, SEEN, SKIPPED, EntryRow, SourceHealth, StateDB

log = logging.getLogger(__name__)

PAUSE_AFTER_FAILURES = 3
#: Prefix of a document ID scoped to one source (see :meth:`Poller.claim_doc_id`).
SCOPED_PREFIX = "source:"


def entry_hash(entry: FeedEntry) -> str:
    """What identifies an entry's content (an edit changes it)."""
    return content_hash(entry.title, entry.content_html or entry.summary_html, entry.link)


def scoped_doc_id(source_name: str, doc_id: str) -> str:
    """``doc_id`` made private to one source: ``source:<slug of its name>/<doc_id>``."""
    return f"{SCOPED_PREFIX}{slugify(source_name) or 'source'}/{doc_id}"


def one_line(exc: BaseException) -> str:
    """An exception as one short line: ``TypeName: message``."""
    text = " ".join(str(exc).split()) or "no details"
    return f"{type(exc).__name__}: {text}"[:300]


class Poller(SourceAdmin, AnnouncementQueue, WatchScanning):
    """Polls every watched source once per call of :meth:`poll_once`.

    Args:
        kb: The knowledge base new issues are indexed into.
        state: The state database (entry progress, source health).
        settings: Poll interval, announcement cap, URL policy, HTTP limits.
        fetcher: The HTTP fetcher (default: one built from the settings).
        clock: Wall clock, injectable for tests.
        backfill_max: At most this many Substack archive posts on a source's first run.
    """

    def __init__(
        self,
        kb: Knowledge,
        state: StateDB,
        settings: Settings,
        *,
        fetcher: FeedFetcher | None = None,
        clock: Callable[[], float] = time.time,
        backfill_max: int | None = None,
        substack_pace: float = 1.0,
    ) -> None:
        self.kb = kb
        self.state = state
        self.settings = settings
        self.fetcher = fetcher or make_fetcher(settings)
        self.clock = clock
        self.backfill_max = backfill_max
        self.substack_pace = substack_pace
        self._stop = threading.Event()

    def stop(self) -> None:
        """Ask a running :meth:`poll_once` to return after the source/entry it is handling (shutdown)."""
        self._stop.set()

    @property
    def backoff_base(self) -> float:
        """Seconds before the first retry of anything that failed: one poll interval."""
        return max(1.0, self.settings.poll_minutes * 60)

    # -- polling -------------------------------------------------------------
    def poll_once(self, *, dry_run: bool = False, force: bool = False) -> PollReport:
        """Poll every source whose backoff allows it; index new issues; return what to announce.

        Args:
            dry_run: Fetch and report only: nothing is indexed or recorded.
            force: Ignore backoff timers (the command line's ``poll --once``, the bot's first round).
        """
        self._stop.clear()
        report = PollReport()
        for source in self.sources():
            if self._stop.is_set():
                break
            self._poll_guarded(source, report, dry_run=dry_run, force=force)
        if not dry_run:
            report.announcements, report.summaries = self._pending_with_cap(force=force)
            self.scan_watches()  # newly indexed issues against every user's watches (guarded)
        return report

    def _poll_guarded(self, source: SourceConfig, report: PollReport, *, dry_run: bool, force: bool) -> None:
        """One source; nothing it raises stops the others."""
        try:
            self._poll_source(source, report, dry_run=dry_run, force=force)
        except StoreBusy as exc:
            log.warning("%s: %s; trying again next round", source.name, exc)
            report.errors[source.name] = f"store busy: {exc}"
            report.busy.append(source.name)
        except Exception as exc:  # noqa: BLE001 - one broken source never stops the others
            log.exception("polling %s failed unexpectedly", source.name)
            if dry_run:
                report.errors[source.name] = f"unexpected error: {one_line(exc)}"
            else:
                health = self.state.health(source.name)  # as last saved: the failed round's changes are dropped
                health.last_attempt = self.clock()
                self._failed(source, health, f"unexpected error: {one_line(exc)}", report, self.clock())

    def _poll_source(self, source: SourceConfig, report: PollReport, *, dry_run: bool, force: bool) -> None:
        now = self.clock()
        health = self.state.health(source.name)
        if not force and now < health.next_attempt:
            return
        report.checked.append(source.name)
        result = self.fetcher.fetch(source.feed, etag=health.etag, last_modified=health.last_modified)
        if self._stop.is_set():
            return  # shutting down: nothing recorded, the next start fetches again
        if dry_run:
            if result.status == "error":
                report.errors[source.name] = result.error
            for entry in result.entries:
                if self.state.find_entry(source.name, entry.guid, entry.link) is None:
                    report.would_index.append(f"{source.name}: {entry.title}")
            return
        health.last_attempt = now
        if result.status == "error":
            health.etag = result.etag or health.etag
            self._failed(source, health, result.error or "unknown error", report, now)
            return
        self._succeeded(source, health, result, report, now)
        handled: set[str] = set()
        if result.status == "ok" and not health.seeded:
            self._seed(source, result.entries, report)
            health.seeded = True
        elif result.status == "ok":
            for entry in result.entries:
                if self._stop.is_set():
                    break
                self._entry_guarded(source, entry, report, force=force)
                handled.add(entry.guid)
        self._retry_unindexed(source, result, report, skip=handled, force=force)
        self.state.save_health(health)

    def _failed(self, source: SourceConfig, health: SourceHealth, error: str, report: PollReport, now: float) -> None:
        """Count a failed poll: exponential backoff, a pause notice after PAUSE_AFTER_FAILURES."""
        health.failures += 1
        health.last_error = error
        health.next_attempt = now + min(self.backoff_base * (2 ** (health.failures - 1)), MAX_BACKOFF_SECONDS)
        report.errors[source.name] = health.last_error
        if health.failures >= PAUSE_AFTER_FAILURES and not health.paused:
            health.paused = True
            health.pause_notice = "paused"
            report.notices.append(HealthNotice(source.name, "paused", health.failures, health.last_error))
        log.warning("source %s failed (%d in a row): %s", source.name, health.failures, health.last_error)
        self.state.save_health(health)

    def _succeeded(self, source: SourceConfig, health: SourceHealth, result: FetchResult, report: PollReport, now: float) -> None:
        if health.paused:
            report.notices.append(HealthNotice(source.name, "recovered"))
        health.failures = 0
        health.last_error = ""
        health.paused = False
        health.pause_notice = ""
        health.last_ok = now
        health.next_attempt = 0.0  # the loop sets the cadence; only failures back off
        health.etag = result.etag
        health.last_modified = result.last_modified

    def _seed(self, source: SourceConfig, entries: list[FeedEntry], report: PollReport) -> None:
        """First run: index what exists (and the Substack archive), announce nothing."""
        docs = []
        for entry in entries:
            doc_id = ""
            try:
                doc = self.claim_doc_id(source, document_from_entry(entry, source.name, self.fetcher))
                docs.append(doc)
                doc_id = doc.doc_id
            except StoreBusy:
                raise
            except Exception as exc:  # noqa: BLE001 - one bad item never stops the seeding
                log.info("seeding %s: %s has no indexable text (%s)", source.name, entry.title, one_line(exc))
            self.state.upsert_entry(EntryRow(source.name, entry.guid, entry.link, entry.title, entry.published, entry_hash(entry), doc_id, SKIPPED, 0.0, "existed before watching"))
        if source.substack:
            docs.extend(self._backfill(source))
        if docs:
            self.kb.ingest_documents(docs)
        report.seeded[source.name] = len(entries)

    def _backfill(self, source: SourceConfig) -> list:
        client = SubstackClient(self.fetcher, source.substack, pace_seconds=self.substack_pace)
        docs = []
        try:
            for post in client.iter_archive(max_posts=self.backfill_max):
                try:
                    docs.append(self.claim_doc_id(source, document_from_post(post, source.name)))
                except StoreBusy:
                    raise
                except Exception as exc:  # noqa: BLE001 - one bad post never stops the backfill
                    log.info("backfill %s: skipped %s (%s)", source.name, post.slug, one_line(exc))
        except FetchError as exc:
            log.warning("backfill of %s stopped: %s", source.name, exc)
        log.info("backfill of %s: %d posts (%d failed)", source.name, len(docs), client.failures)
        return docs

    def claim_doc_id(self, source: SourceConfig, doc: Document) -> Document:
        """Give ``doc`` an ID no other digest uses, so a source can never replace another's document.

        The rule: the first digest to index a canonical URL owns its ID. A document of
        another source with the same ID (another source's entry was indexed under it, or the
        index holds it under another digest's name, e.g. from ``digestbot ingest``) gets
        :func:`scoped_doc_id` instead. The result is deterministic, so an edited post keeps
        its scoped ID.
        """
        if self._owned_by_another(source.name, doc.doc_id):
            scoped = scoped_doc_id(source.name, doc.doc_id)
            log.info("%s: %s belongs to another digest; indexing this copy as %s", source.name, doc.doc_id, scoped)
            doc.doc_id = scoped
        return doc

    def _owned_by_another(self, name: str, doc_id: str) -> bool:
        if self.state.doc_owners(doc_id) - {name}:
            return True
        overview = self.kb.issue_overview(doc_id, max_papers=0)
        return overview is not None and overview.digest.casefold() != name.casefold()

    def _entry_guarded(self, source: SourceConfig, entry: FeedEntry, report: PollReport, *, force: bool) -> None:
        """One entry; an exception is recorded on it (with backoff) and the source's other entries go on."""
        try:
            self._handle_entry(source, entry, report, force=force)
        except StoreBusy:
            raise
        except Exception as exc:  # noqa: BLE001 - one bad item never poisons its source
            row = self.state.find_entry(source.name, entry.guid, entry.link)
            if row is None:
                row = EntryRow(source.name, entry.guid, entry.link, entry.title, entry.published, "", "", SEEN, 0.0, "")
            self._entry_failed(source, row, exc, report, first=row.failures == 0)

    def _entry_failed(self, source: SourceConfig, row: EntryRow, exc: BaseException, report: PollReport, *, first: bool) -> None:
        reason = exc if isinstance(exc, ParseError | FetchError) else one_line(exc)
        report.entry_errors[f"{source.name}: {row.title}"] = str(reason)
        report.errors.setdefault(source.name, f"{row.title}: {reason}")
        if row.state != SEEN:  # an edit that failed to re-index: the next round tries again
            log.warning("could not re-index %s from %s: %s", row.title, source.name, reason)
            return
        row.record_failure(str(reason), self.clock(), self.backoff_base, MAX_BACKOFF_SECONDS)
        wait = max(0.0, row.retry_at - self.clock())
        if first and not isinstance(exc, ParseError | FetchError):
            log.warning("could not index %s from %s (retry in %.0f s)", row.title, source.name, wait, exc_info=exc)
        else:
            log.warning("could not index %s from %s yet (%d failure(s), retry in %.0f s): %s", row.title, source.name, row.failures, wait, reason)
        try:
            self.state.upsert_entry(row)
        except Exception:  # noqa: BLE001 - text the database cannot store; the next round tries again
            log.warning("could not record the failure of %s from %s", row.guid, source.name)

    def _handle_entry(self, source: SourceConfig, entry: FeedEntry, report: PollReport, *, force: bool = False) -> None:
        known = self.state.find_entry(source.name, entry.guid, entry.link)
        digest = entry_hash(entry)
        if known is None:
            report.new_entries += 1
            row = EntryRow(source.name, entry.guid, entry.link, entry.title, entry.published, digest, "", SEEN, 0.0, "")
            self.state.upsert_entry(row)  # seen: not lost if indexing fails or we crash now
            self._index(source, entry, row, report)
        elif known.state == SEEN:
            if force or known.retry_at <= self.clock():  # an earlier try failed: again once its backoff is over
                known.content_hash = digest
                known.title = entry.title or known.title
                self._index(source, entry, known, report)
        elif known.content_hash != digest and known.state in (INDEXED, ANNOUNCED, SKIPPED):
            # an edited post: re-index, never re-announce
            known.content_hash = digest
            known.title = entry.title
            if self._index(source, entry, known, report, keep_state=True):
                report.reindexed += 1

    def _index(self, source: SourceConfig, entry: FeedEntry, row: EntryRow, report: PollReport, *, keep_state: bool = False) -> bool:
        """Fetch, parse and index one entry; False (failure recorded, backing off) when it has no indexable text yet.

        Raises:
            StoreBusy: Another process is writing to the store.
            Exception: Anything unexpected (the caller records it on the entry).
        """
        try:
            doc = self.claim_doc_id(source, document_from_entry(entry, source.name, self.fetcher))
            written = self.kb.ingest_documents([doc])
        except (ParseError, FetchError) as exc:
            self._entry_failed(source, row, exc, report, first=row.failures == 0)
            return False
        if not keep_state or doc.doc_id in written.doc_ids:
            self.queue_for_watches(doc.doc_id)  # a new issue, or an edit that changed it: for the watches
        row.doc_id = doc.doc_id
        if not keep_state:
            row.state = INDEXED
            row.clear_failures()
            report.indexed += 1
        self.state.upsert_entry(row)
        return True

    def _retry_unindexed(self, source: SourceConfig, result: FetchResult, report: PollReport, *, skip: set[str], force: bool = False) -> None:
        """Entries seen earlier whose indexing failed (or was cut short by a crash) are tried again once due.

        The feed's copy is used when this poll has it; otherwise the post page is fetched.
        """
        by_guid = {e.guid: e for e in result.entries}
        now = self.clock()
        for row in self.state.entries(source.name, SEEN):
            if row.guid in skip or self._stop.is_set() or (not force and row.retry_at > now):
                continue
            entry = by_guid.get(row.guid) or FeedEntry(guid=row.guid, link=row.url, title=row.title, published=row.published)
            try:
                self._index(source, entry, row, report)
            except StoreBusy:
                raise
            except Exception as exc:  # noqa: BLE001 - recorded on the entry, the others go on
                self._entry_failed(source, row, exc, report, first=row.failures == 0)






