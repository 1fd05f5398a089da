"""Watching digests: poll feeds, index each new issue, and queue it for announcement once.

Each entry's progress is recorded in the state database: ``seen`` (known, not yet
indexed), ``indexed`` (answerable, waiting to be announced), ``announced`` (done), or
``skipped`` (existed before we started watching, or folded into a summary line).
Because the state is written after each step, a crash or restart at any point
resumes where it stopped: nothing is lost and nothing is announced twice.
"""

from __future__ import annotations

import logging
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from knowledge.config import Settings
from knowledge.facade import KnowledgeBase
from knowledge.feeds import FeedEntry, FeedFetcher, FetchError, FetchResult
from knowledge.parsing import ParseError
from knowledge.remote_ingest import document_from_entry, document_from_post, make_fetcher
from knowledge.state import ANNOUNCED, INDEXED, SEEN, SKIPPED, EntryRow, SourceHealth, StateDB
from knowledge.substack import SubstackClient
from knowledge.text import content_hash
from knowledge.urlsafety import UnsafeUrl, check_source_url

log = logging.getLogger(__name__)

PAUSE_AFTER_FAILURES = 3
MAX_BACKOFF_SECONDS = 6 * 3600


@dataclass(slots=True)
class SourceConfig:
    """A watched digest."""

    name: str
    feed: str
    substack: str = ""
    origin: str = "file"  # "file" (sources.toml) or "discord" (added by an admin)


@dataclass(slots=True)
class Announcement:
    """A new issue, indexed and ready to announce."""

    source: str
    guid: str
    doc_id: str
    digest: str
    title: str
    date: str
    url: str
    summary: str = ""
    papers: list[str] = field(default_factory=list)
    paid: bool = False

    @property
    def key(self) -> str:
        return f"{self.source}\x1f{self.guid}"


@dataclass(slots=True)
class HealthNotice:
    """A source was paused after repeated failures, or recovered."""

    source: str
    kind: str  # "paused" | "recovered"
    message: str


@dataclass(slots=True)
class PollReport:
    """What one polling round did."""

    checked: list[str] = field(default_factory=list)
    new_entries: int = 0
    indexed: int = 0
    reindexed: int = 0
    seeded: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    announcements: list[Announcement] = field(default_factory=list)
    summaries: list[str] = field(default_factory=list)
    notices: list[HealthNotice] = field(default_factory=list)
    would_index: list[str] = field(default_factory=list)


_WARNED_MISSING: set[Path] = set()


def load_sources(path: Path) -> list[SourceConfig]:
    """Digests listed in a sources TOML file (``[[digest]]`` tables); a missing file lists none.

    Raises:
        ValueError: The file is not valid TOML or a table lacks ``name``/``feed``.
    """
    if not path.exists():
        if path not in _WARNED_MISSING:
            _WARNED_MISSING.add(path)
            log.warning("sources file %s does not exist: no digests are watched (set DIGESTBOT_SOURCES)", path)
        return []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML ({exc})") from exc
    out = []
    for i, table in enumerate(data.get("digest", []), 1):
        if not table.get("name") or not table.get("feed"):
            raise ValueError(f"{path}: digest #{i} needs a name and a feed")
        out.append(SourceConfig(str(table["name"]), str(table["feed"]), str(table.get("substack", "")), "file"))
    return out


def entry_hash(entry: FeedEntry) -> str:
    """What identifies an entry's content (an edit changes it)."""
    return content_hash(entry.title, entry.content_html or entry.summary_html, entry.link)


class Poller:
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
        kb: KnowledgeBase,
        state: StateDB,
        settings: Settings,
        *,
        fetcher: FeedFetcher | None = None,
        clock=time.time,  # noqa: ANN001
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

    # -- sources -------------------------------------------------------------
    def sources(self) -> list[SourceConfig]:
        """Sources from the sources file, then those admins added (a name given twice: the file wins)."""
        file_sources = load_sources(self.settings.sources_file)
        names = {s.name.lower() for s in file_sources}
        added = [SourceConfig(r["name"], r["feed"], r["substack"], "discord") for r in self.state.sources() if r["name"].lower() not in names]
        return file_sources + added

    def add_source(self, name: str, feed: str, substack: str = "", added_by: str = "") -> SourceConfig:
        """Watch a new digest (admins, from Discord).

        Raises:
            ValueError: A URL is not http(s), resolves to a private address (unless allowed), or the name is taken.
        """
        name = " ".join(name.split())
        if not name:
            raise ValueError("the name is empty")
        try:
            feed = check_source_url(feed, allow_private=self.settings.allow_private_urls)
            substack = check_source_url(substack, allow_private=self.settings.allow_private_urls) if substack else ""
        except UnsafeUrl as exc:
            raise ValueError(str(exc)) from exc
        if any(s.name.lower() == name.lower() and s.origin == "file" for s in self.sources()):
            raise ValueError(f"{name} is already configured in the sources file")
        self.state.add_source(name, feed, substack, added_by)
        return SourceConfig(name, feed, substack, "discord")

    def remove_source(self, name: str) -> bool:
        """Stop watching a source added from Discord."""
        return self.state.remove_source(name)

    def health_lines(self) -> list[str]:
        """One line per source: name, health, last success."""
        lines = []
        for s in self.sources():
            h = self.state.health(s.name)
            if h.paused:
                status = f"⏸ paused after {h.failures} failures: {h.last_error}"
            elif h.failures:
                status = f"⚠ {h.failures} failure(s): {h.last_error}"
            elif h.last_ok:
                status = "✅ ok, last checked " + time.strftime("%Y-%m-%d %H:%M", time.localtime(h.last_ok))
            else:
                status = "not checked yet"
            lines.append(f"• {s.name} — {status}")
        return lines

    # -- polling -------------------------------------------------------------
    def poll_once(self, *, dry_run: bool = False, force: bool = False) -> PollReport:
        """Poll every source whose backoff allows it; index new issues; return what to announce.

        Args:
            dry_run: Fetch and report only: nothing is indexed or recorded.
            force: Ignore backoff timers (the command line's ``poll --once``).
        """
        report = PollReport()
        for source in self.sources():
            try:
                self._poll_source(source, report, dry_run=dry_run, force=force)
            except Exception as exc:  # noqa: BLE001 - one broken source never stops the others
                log.exception("polling %s failed", source.name)
                report.errors[source.name] = f"unexpected error: {exc}"
        if not dry_run:
            report.announcements, report.summaries = self._pending_with_cap()
        return report

    def _poll_source(self, source: SourceConfig, report: PollReport, *, dry_run: bool, force: bool) -> None:
        now = self.clock()
        health = self.state.health(source.name)
        if not force and now < health.next_attempt:
            return
        report.checked.append(source.name)
        result = self.fetcher.fetch(source.feed, etag=health.etag, last_modified=health.last_modified)
        if dry_run:
            if result.status == "error":
                report.errors[source.name] = result.error
            for entry in result.entries:
                if self.state.find_entry(source.name, entry.guid, entry.link) is None:
                    report.would_index.append(f"{source.name}: {entry.title}")
            return
        health.last_attempt = now
        if result.status == "error":
            self._failed(source, health, result, report, now)
            return
        self._succeeded(source, health, result, report, now)
        handled: set[str] = set()
        if result.status == "ok" and not health.seeded:
            self._seed(source, result.entries, report)
            health.seeded = True
        elif result.status == "ok":
            for entry in result.entries:
                self._handle_entry(source, entry, report)
                handled.add(entry.guid)
        self._retry_unindexed(source, result, report, skip=handled)
        self.state.save_health(health)

    def _failed(self, source: SourceConfig, health: SourceHealth, result: FetchResult, report: PollReport, now: float) -> None:
        health.failures += 1
        health.last_error = result.error or "unknown error"
        interval = self.settings.poll_minutes * 60
        health.next_attempt = now + min(interval * (2 ** (health.failures - 1)), MAX_BACKOFF_SECONDS)
        health.etag = result.etag or health.etag
        report.errors[source.name] = health.last_error
        if health.failures >= PAUSE_AFTER_FAILURES and not health.paused:
            health.paused = True
            health.pause_notice = "paused"
            report.notices.append(HealthNotice(source.name, "paused", f"⏸ **{source.name}** is paused after {health.failures} failed polls: {health.last_error}. I will keep retrying less often."))
        log.warning("source %s failed (%d in a row): %s", source.name, health.failures, health.last_error)
        self.state.save_health(health)

    def _succeeded(self, source: SourceConfig, health: SourceHealth, result: FetchResult, report: PollReport, now: float) -> None:
        if health.paused:
            report.notices.append(HealthNotice(source.name, "recovered", f"▶ **{source.name}** is reachable again and back to normal polling."))
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
                doc = document_from_entry(entry, source.name, self.fetcher)
                docs.append(doc)
                doc_id = doc.doc_id
            except (ParseError, FetchError) as exc:
                log.info("seeding %s: %s has no indexable text (%s)", source.name, entry.title, exc)
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
                    docs.append(document_from_post(post, source.name))
                except ParseError as exc:
                    log.info("backfill %s: skipped %s (%s)", source.name, post.slug, exc)
        except FetchError as exc:
            log.warning("backfill of %s stopped: %s", source.name, exc)
        log.info("backfill of %s: %d posts (%d failed)", source.name, len(docs), client.failures)
        return docs

    def _handle_entry(self, source: SourceConfig, entry: FeedEntry, report: PollReport) -> None:
        known = self.state.find_entry(source.name, entry.guid, entry.link)
        digest = entry_hash(entry)
        if known is None:
            report.new_entries += 1
            row = EntryRow(source.name, entry.guid, entry.link, entry.title, entry.published, digest, "", SEEN, 0.0, "")
            self.state.upsert_entry(row)  # seen: not lost if indexing fails or we crash now
            self._index(source, entry, row, report)
        elif known.content_hash != digest and known.state in (INDEXED, ANNOUNCED, SKIPPED):
            # an edited post: re-index, never re-announce
            known.content_hash = digest
            known.title = entry.title
            if self._index(source, entry, known, report, keep_state=True):
                report.reindexed += 1

    def _index(self, source: SourceConfig, entry: FeedEntry, row: EntryRow, report: PollReport, *, keep_state: bool = False) -> bool:
        try:
            doc = document_from_entry(entry, source.name, self.fetcher)
            self.kb.ingest_documents([doc])
        except (ParseError, FetchError) as exc:
            log.warning("could not index %s from %s yet: %s", entry.title, source.name, exc)
            report.errors.setdefault(source.name, f"{entry.title}: {exc}")
            return False
        row.doc_id = doc.doc_id
        if not keep_state:
            row.state = INDEXED
            report.indexed += 1
        self.state.upsert_entry(row)
        return True

    def _retry_unindexed(self, source: SourceConfig, result: FetchResult, report: PollReport, *, skip: set[str]) -> None:
        """Entries seen earlier whose indexing failed (or was cut short by a crash) are tried again.

        The feed's copy is used when this poll has it; otherwise the post page is fetched.
        """
        by_guid = {e.guid: e for e in result.entries}
        for row in self.state.entries(source.name, SEEN):
            if row.guid in skip:
                continue
            entry = by_guid.get(row.guid) or FeedEntry(guid=row.guid, link=row.url, title=row.title, published=row.published)
            self._index(source, entry, row, report)

    # -- announcing ------------------------------------------------------------
    def _pending_with_cap(self) -> tuple[list[Announcement], list[str]]:
        """Indexed, unannounced entries: at most N per source, the rest folded into one summary line."""
        cap = max(0, self.settings.announce_max_missed)
        out: list[Announcement] = []
        summaries: list[str] = []
        by_source: dict[str, list[EntryRow]] = {}
        for row in self.state.entries(state=INDEXED):
            by_source.setdefault(row.source, []).append(row)
        for source, rows in by_source.items():
            rows.sort(key=lambda r: (r.published, r.first_seen))
            keep, rest = (rows[-cap:], rows[:-cap]) if len(rows) > cap else (rows, [])
            if rest:
                titles = "; ".join(r.title for r in rest[-5:])
                summaries.append(f"…and {len(rest)} more new issue{'s' if len(rest) > 1 else ''} of **{source}** while I was away: {titles}")
                for r in rest:
                    r.state = SKIPPED
                    r.announce = "summarised"
                    self.state.upsert_entry(r)
            out.extend(self.announcement_for(r) for r in keep)
        return out, summaries

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
            self.state.upsert_entry(row)
