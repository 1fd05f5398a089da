"""The state database (SQLite under the data directory).

Holds what is not derived from Chroma: watched sources added by admins, each
source's health and conditional-GET validators, and every feed entry's progress
(seen -> indexed -> announced). The arXiv response cache shares the same file (see
:mod:`knowledge.clients.arxiv_api`), and so do the bot's own tables (``bot.state``:
per-guild channels, feedback, the messages each announcement became).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS sources (
    name TEXT PRIMARY KEY, feed TEXT NOT NULL, substack TEXT NOT NULL DEFAULT '',
    added_by TEXT NOT NULL DEFAULT '', added_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS source_health (
    name TEXT PRIMARY KEY, failures INTEGER NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '',
    last_ok REAL, last_attempt REAL, next_attempt REAL NOT NULL DEFAULT 0, paused INTEGER NOT NULL DEFAULT 0,
    pause_notice TEXT NOT NULL DEFAULT '', etag TEXT, last_modified TEXT, seeded INTEGER NOT NULL DEFAULT 0,
    backfilled INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS entries (
    source TEXT NOT NULL, guid TEXT NOT NULL, url TEXT NOT NULL DEFAULT '', title TEXT NOT NULL DEFAULT '',
    published TEXT NOT NULL DEFAULT '', content_hash TEXT NOT NULL DEFAULT '', doc_id TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL, first_seen REAL NOT NULL, updated_at REAL NOT NULL, announce TEXT NOT NULL DEFAULT '',
    failures INTEGER NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '', retry_at REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (source, guid)
);
CREATE INDEX IF NOT EXISTS entries_url ON entries(source, url);
CREATE INDEX IF NOT EXISTS entries_state ON entries(state);
CREATE INDEX IF NOT EXISTS entries_doc ON entries(doc_id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# Columns added after the first release: (table, column, declaration) added to older databases on open.
MIGRATIONS = (
    ("entries", "failures", "INTEGER NOT NULL DEFAULT 0"),
    ("entries", "last_error", "TEXT NOT NULL DEFAULT ''"),
    ("entries", "retry_at", "REAL NOT NULL DEFAULT 0"),
)

# entry states, in order
SEEN, INDEXED, ANNOUNCED, SKIPPED = "seen", "indexed", "announced", "skipped"


@dataclass(slots=True)
class EntryRow:
    """A feed entry's progress.

    ``failures``, ``last_error`` and ``retry_at`` describe the step the entry is waiting for:
    indexing while it is ``seen``, its announcement while it is ``indexed``. They are reset
    when the step succeeds.
    """

    source: str
    guid: str
    url: str
    title: str
    published: str
    content_hash: str
    doc_id: str
    state: str
    first_seen: float
    announce: str
    failures: int = 0
    last_error: str = ""
    retry_at: float = 0.0

    def record_failure(self, error: str, now: float, base_seconds: float, max_seconds: float) -> None:
        """Count one more failure of the current step and back off exponentially.

        Args:
            error: A one-line reason (shown in /sources and the health report).
            now: The current time (seconds since the epoch).
            base_seconds: The delay after the first failure; it doubles with each further one.
            max_seconds: The longest delay.
        """
        self.failures += 1
        self.last_error = error[:300]
        self.retry_at = now + min(base_seconds * (2 ** (self.failures - 1)), max_seconds)

    def clear_failures(self) -> None:
        """The current step succeeded: no more backoff."""
        self.failures, self.last_error, self.retry_at = 0, "", 0.0


@dataclass(slots=True)
class SourceHealth:
    """A watched source's health and HTTP validators."""

    name: str
    failures: int = 0
    last_error: str = ""
    last_ok: float | None = None
    last_attempt: float | None = None
    next_attempt: float = 0.0
    paused: bool = False
    pause_notice: str = ""
    etag: str | None = None
    last_modified: str | None = None
    seeded: bool = False
    backfilled: bool = False


class StateDB:
    """Thread-safe access to the state database.

    Args:
        path: The SQLite file (created with its folder when missing).
    """

    #: The tables this class needs (a subclass adds its own).
    schema = SCHEMA

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(self.schema)
        self._migrate()
        self._db.commit()

    def _migrate(self) -> None:
        for table, column, declaration in MIGRATIONS:
            have = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            if column not in have:
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A transaction (committed on success, rolled back on error)."""
        with self._lock:
            try:
                yield self._db
                self._db.commit()
            except BaseException:
                self._db.rollback()
                raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- meta --------------------------------------------------------------
    def get_meta(self, key: str, default: str = "") -> str:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row["value"] if row else default

    def set_meta(self, key: str, value: str) -> None:
        with self.tx() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # -- sources -----------------------------------------------------------
    def add_source(self, name: str, feed: str, substack: str = "", added_by: str = "") -> None:
        with self.tx() as db:
            db.execute("INSERT OR REPLACE INTO sources VALUES (?, ?, ?, ?, ?)", (name, feed, substack, added_by, time.time()))

    def remove_source(self, name: str) -> bool:
        with self.tx() as db:
            cur = db.execute("DELETE FROM sources WHERE lower(name) = lower(?)", (name,))
            return cur.rowcount > 0

    def sources(self) -> list[dict[str, str]]:
        with self._lock:
            return [dict(r) for r in self._db.execute("SELECT name, feed, substack, added_by FROM sources ORDER BY name")]

    # -- health ------------------------------------------------------------
    def health(self, name: str) -> SourceHealth:
        with self._lock:
            row = self._db.execute("SELECT * FROM source_health WHERE name = ?", (name,)).fetchone()
        if row is None:
            return SourceHealth(name=name)
        data = dict(row)
        data["paused"] = bool(data["paused"])
        data["seeded"] = bool(data["seeded"])
        data["backfilled"] = bool(data["backfilled"])
        return SourceHealth(**data)

    def save_health(self, h: SourceHealth) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO source_health VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (h.name, h.failures, h.last_error, h.last_ok, h.last_attempt, h.next_attempt, int(h.paused), h.pause_notice,
                 h.etag, h.last_modified, int(h.seeded), int(h.backfilled)),
            )

    # -- entries -----------------------------------------------------------
    def find_entry(self, source: str, guid: str, url: str) -> EntryRow | None:
        """An entry by GUID, falling back to its canonical URL."""
        with self._lock:
            row = self._db.execute("SELECT * FROM entries WHERE source = ? AND guid = ?", (source, guid)).fetchone()
            if row is None and url:
                row = self._db.execute("SELECT * FROM entries WHERE source = ? AND url = ?", (source, url)).fetchone()
        return _entry(row) if row else None

    def upsert_entry(self, e: EntryRow) -> None:
        """Insert or update an entry's progress (its first-seen time is kept)."""
        now = time.time()
        with self.tx() as db:
            db.execute(
                "INSERT INTO entries (source, guid, url, title, published, content_hash, doc_id, state, first_seen, updated_at, "
                "announce, failures, last_error, retry_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(source, guid) DO UPDATE SET url=excluded.url, title=excluded.title, published=excluded.published, "
                "content_hash=excluded.content_hash, doc_id=excluded.doc_id, state=excluded.state, updated_at=excluded.updated_at, "
                "announce=excluded.announce, failures=excluded.failures, last_error=excluded.last_error, retry_at=excluded.retry_at",
                (e.source, e.guid, e.url, e.title, e.published, e.content_hash, e.doc_id, e.state, e.first_seen or now, now, e.announce,
                 e.failures, e.last_error, e.retry_at),
            )

    def doc_owners(self, doc_id: str) -> set[str]:
        """The sources whose entries were indexed as ``doc_id``."""
        with self._lock:
            rows = self._db.execute("SELECT DISTINCT source FROM entries WHERE doc_id = ?", (doc_id,)).fetchall()
        return {r[0] for r in rows}

    def entries(self, source: str | None = None, state: str | None = None) -> list[EntryRow]:
        sql, args = "SELECT * FROM entries WHERE 1=1", []
        if source is not None:
            sql += " AND source = ?"
            args.append(source)
        if state is not None:
            sql += " AND state = ?"
            args.append(state)
        with self._lock:
            return [_entry(r) for r in self._db.execute(sql + " ORDER BY first_seen, published, guid", args)]


def _entry(row: sqlite3.Row) -> EntryRow:
    return EntryRow(
        source=row["source"], guid=row["guid"], url=row["url"], title=row["title"], published=row["published"],
        content_hash=row["content_hash"], doc_id=row["doc_id"], state=row["state"], first_seen=row["first_seen"], announce=row["announce"],
        failures=row["failures"], last_error=row["last_error"], retry_at=row["retry_at"],
    )
