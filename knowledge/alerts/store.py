"""Watches and what they matched, in the state database: :class:`WatchStore`.

Three tables, created beside the poller's and the bot's (``CREATE TABLE IF NOT EXISTS``):

* ``watches``: one row per watch (a user's topic or paper); removing one marks it removed.
* ``watch_hits``: one row per (watch, document) that matched, with the citation to send and
  its delivery state. The primary key makes a match exactly-once per (watch, document), also
  when an edited post is indexed again under the same ``doc_id``.
* ``watch_queue``: newly indexed documents not yet matched against the watches.

Delivery states, as for announcements: ``pending`` (to send) -> ``sending`` (a nonce recorded
before the send, so a restart can find the message) -> ``sent``. Final otherwise: ``refused``
(the user does not accept DMs: never retried), ``failed`` (other errors, after
:data:`MAX_ATTEMPTS` tries with exponential backoff), ``skipped`` (watches turned off where the
watch was made).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from knowledge.alerts.words import WatchRefused, check_topic, topic_key
from knowledge.clients.arxiv_ids import InvalidArxivId, parse_arxiv_id
from knowledge.watch.state import StateDB

TOPIC, PAPER = "topic", "paper"
PENDING, SENDING, SENT, REFUSED, FAILED, SKIPPED = "pending", "sending", "sent", "refused", "failed", "skipped"
#: The user id of the terminal (``digestbot watch``, the terminal chat): its hits are printed, not DMed.
TERMINAL_USER = "terminal"
#: Tries before a hit that keeps failing (not a refusal) is given up as ``failed``.
MAX_ATTEMPTS = 5
#: Seconds before the first retry; doubled with each further failure, at most :data:`MAX_BACKOFF`.
BACKOFF_BASE = 60.0
MAX_BACKOFF = 6 * 3600.0
DEFAULT_MAX_PER_USER = 25
#: Scans a queued document may fail (a watch that cannot be matched) before it is dropped from the queue.
MAX_FAILED_SCANS = 5

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS watches (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT NOT NULL, guild_id TEXT, "
    "kind TEXT NOT NULL, target TEXT NOT NULL, norm TEXT NOT NULL, title TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL, "
    "removed INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX IF NOT EXISTS watches_user ON watches (user_id, removed)",
    "CREATE TABLE IF NOT EXISTS watch_hits (watch_id INTEGER NOT NULL, doc_id TEXT NOT NULL, user_id TEXT NOT NULL, "
    "state TEXT NOT NULL, nonce TEXT NOT NULL DEFAULT '', payload TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, "
    "last_error TEXT NOT NULL DEFAULT '', retry_at REAL NOT NULL DEFAULT 0, created_at REAL NOT NULL, sent_at REAL, "
    "message_id TEXT, PRIMARY KEY (watch_id, doc_id))",
    "CREATE INDEX IF NOT EXISTS watch_hits_state ON watch_hits (state, retry_at)",
    "CREATE INDEX IF NOT EXISTS watch_hits_user ON watch_hits (user_id, sent_at)",
    "CREATE TABLE IF NOT EXISTS watch_queue (doc_id TEXT PRIMARY KEY, queued_at REAL NOT NULL, failed_scans INTEGER NOT NULL DEFAULT 0)",
)


@dataclass(slots=True)
class Watch:
    """One user's watch.

    Attributes:
        id: Its number (what ``/watch remove`` takes).
        user_id: The Discord user's ID, or :data:`TERMINAL_USER`.
        guild_id: The server it was made in (None: a DM or the terminal).
        kind: ``topic`` or ``paper``.
        target: The topic text, or the normalised arXiv ID.
        title: The paper's title once known (empty for topics).
        created_at: When it was made (seconds since the epoch).
    """

    id: int
    user_id: str
    guild_id: str | None
    kind: str
    target: str
    title: str = ""
    created_at: float = 0.0

    def label(self) -> str:
        """How the watch is named to its owner: “topic” or arXiv:ID (title)."""
        if self.kind == TOPIC:
            return f"“{self.target}”"
        return f"arXiv:{self.target}" + (f" ({self.title})" if self.title else "")

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "target": self.target, "title": self.title,
                "guild_id": self.guild_id, "created_at": round(self.created_at, 3)}


@dataclass(slots=True)
class WatchHit:
    """A document one watch matched, and how far its delivery got.

    Attributes:
        watch: The watch that matched.
        doc_id: The document.
        state: ``pending``, ``sending``, ``sent``, ``refused``, ``failed`` or ``skipped``.
        nonce: Set when the first send starts; it goes into the message so a restart finds it.
        citation: What to show: digest, title (the issue), date, section, excerpt, url, doc_id, chunk_id.
        attempts: Failed sends so far.
        last_error: Why the last send failed (or was refused, or skipped).
        retry_at: Not before this time (backoff).
        created_at: When it matched.
        sent_at: When it was sent.
    """

    watch: Watch
    doc_id: str
    state: str
    nonce: str
    citation: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    last_error: str = ""
    retry_at: float = 0.0
    created_at: float = 0.0
    sent_at: float | None = None

    @property
    def key(self) -> tuple[int, str]:
        return (self.watch.id, self.doc_id)

    def to_json(self) -> dict[str, Any]:
        return {"watch": self.watch.to_json(), "doc_id": self.doc_id, "state": self.state, "citation": self.citation}


@dataclass(frozen=True, slots=True)
class WatchSummary:
    """Counts for ``/sources`` and the health line (no user's watches are named).

    Attributes:
        active: Active watches of Discord users.
        users: Users who have one.
        waiting: Matches still to be sent as a DM (pending, or being retried).
        refused: Matches whose user does not accept DMs from the bot.
        failed: Matches given up after repeated send failures.
    """

    active: int = 0
    users: int = 0
    waiting: int = 0
    refused: int = 0
    failed: int = 0


class WatchStore:
    """The watch tables in the state database (thread-safe through :class:`StateDB`).

    Args:
        state: The state database (the bot's :class:`~bot.state.BotState` or a plain one).
        max_per_user: Active watches one user may have (``WATCH_MAX_PER_USER``).
        clock: Wall clock, injectable for tests.
    """

    def __init__(self, state: StateDB, *, max_per_user: int = DEFAULT_MAX_PER_USER, clock=time.time) -> None:  # noqa: ANN001
        self.state = state
        self.max_per_user = max_per_user
        self.clock = clock
        with state.tx() as db:
            for statement in SCHEMA:
                db.execute(statement)

    # -- watches -------------------------------------------------------------
    def add(self, user_id: str | int, kind: str, target: str, *, guild_id: str | int | None = None, title: str = "") -> Watch:
        """Create a watch.

        Args:
            user_id: Whose watch it is.
            kind: ``topic`` or ``paper``.
            target: The topic text, or an arXiv ID or URL in any common form.
            guild_id: The server it was made in (None in a DM or the terminal).
            title: The paper's title, when known.

        Raises:
            WatchRefused: No usable words, too long, not an arXiv ID, a duplicate, or the user's cap reached.
        """
        user = str(user_id)
        if kind == TOPIC:
            target = check_topic(target)
            norm = topic_key(target)
        elif kind == PAPER:
            try:
                target = parse_arxiv_id(target)
            except InvalidArxivId as exc:
                raise WatchRefused(f"that is not an arXiv ID: {exc}") from exc
            norm = target.lower()
        else:
            raise WatchRefused(f"unknown kind of watch {kind!r}: topic or paper")
        with self.state.tx() as db:
            same = db.execute("SELECT id FROM watches WHERE user_id = ? AND kind = ? AND norm = ? AND removed = 0", (user, kind, norm)).fetchone()
            if same is not None:
                raise WatchRefused(f"you already watch this (watch #{same[0]})")
            count = db.execute("SELECT count(*) FROM watches WHERE user_id = ? AND removed = 0", (user,)).fetchone()[0]
            if count >= self.max_per_user:
                raise WatchRefused(f"you have {count} watches, the most one person may have; remove one first")
            now = self.clock()
            cur = db.execute(
                "INSERT INTO watches (user_id, guild_id, kind, target, norm, title, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (user, str(guild_id) if guild_id else None, kind, target, norm, title or "", now),
            )
            return Watch(int(cur.lastrowid), user, str(guild_id) if guild_id else None, kind, target, title or "", now)

    def watches(self, user_id: str | int) -> list[Watch]:
        """One user's active watches, oldest first."""
        with self.state.tx() as db:
            rows = db.execute("SELECT * FROM watches WHERE user_id = ? AND removed = 0 ORDER BY id", (str(user_id),)).fetchall()
        return [_watch(r) for r in rows]

    def active_watches(self) -> list[Watch]:
        """Every active watch of every user."""
        with self.state.tx() as db:
            return [_watch(r) for r in db.execute("SELECT * FROM watches WHERE removed = 0 ORDER BY id")]

    def has_active_watches(self) -> bool:
        with self.state.tx() as db:
            return db.execute("SELECT 1 FROM watches WHERE removed = 0 LIMIT 1").fetchone() is not None

    def remove(self, user_id: str | int, watch_id: int) -> bool:
        """Remove one of the user's own watches; False when the user has no active watch of that number.

        Another user's watch answers exactly as a missing one does: nothing tells it exists.
        Its hits not sent yet are dropped with it.
        """
        with self.state.tx() as db:
            cur = db.execute("UPDATE watches SET removed = 1 WHERE id = ? AND user_id = ? AND removed = 0", (int(watch_id), str(user_id)))
            if cur.rowcount:
                db.execute("UPDATE watch_hits SET state = ?, last_error = 'watch removed' WHERE watch_id = ? AND state IN (?, ?)",
                           (SKIPPED, int(watch_id), PENDING, SENDING))
            return cur.rowcount > 0

    def set_title(self, watch_id: int, title: str) -> None:
        """Record a paper watch's title once it is known (then the paper is also found by title)."""
        with self.state.tx() as db:
            db.execute("UPDATE watches SET title = ? WHERE id = ?", (title, int(watch_id)))

    # -- the queue of newly indexed documents ----------------------------------
    def queue(self, doc_ids: list[str]) -> None:
        """Newly indexed (or re-indexed) documents to match against the watches."""
        now = self.clock()
        with self.state.tx() as db:
            db.executemany("INSERT OR IGNORE INTO watch_queue (doc_id, queued_at) VALUES (?, ?)", [(d, now) for d in dict.fromkeys(doc_ids) if d])

    def queued(self) -> list[str]:
        """The documents waiting to be matched, oldest first."""
        with self.state.tx() as db:
            return [r[0] for r in db.execute("SELECT doc_id FROM watch_queue ORDER BY queued_at, doc_id")]

    def unqueue(self, doc_ids: list[str]) -> None:
        """These documents were matched against every watch."""
        with self.state.tx() as db:
            db.executemany("DELETE FROM watch_queue WHERE doc_id = ?", [(d,) for d in doc_ids])

    def scan_failed(self, doc_ids: list[str]) -> list[str]:
        """A scan of these documents failed: count it; those that failed :data:`MAX_FAILED_SCANS` times are dropped.

        Returns:
            The documents dropped from the queue (never matched again).
        """
        with self.state.tx() as db:
            db.executemany("UPDATE watch_queue SET failed_scans = failed_scans + 1 WHERE doc_id = ?", [(d,) for d in doc_ids])
            dropped = [r[0] for r in db.execute("SELECT doc_id FROM watch_queue WHERE failed_scans >= ?", (MAX_FAILED_SCANS,))]
            db.executemany("DELETE FROM watch_queue WHERE doc_id = ?", [(d,) for d in dropped])
        return dropped

    # -- hits ------------------------------------------------------------------
    def add_hit(self, watch: Watch, doc_id: str, citation: dict[str, Any]) -> bool:
        """Record that ``watch`` matched ``doc_id``; False when it had already (exactly once)."""
        with self.state.tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO watch_hits (watch_id, doc_id, user_id, state, payload, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (watch.id, doc_id, watch.user_id, PENDING, json.dumps(citation, ensure_ascii=False), self.clock()),
            )
            return cur.rowcount > 0

    def due_hits(self, *, user_id: str | None = None, limit: int = 200) -> list[WatchHit]:
        """Hits to deliver now: ``pending``, or ``sending`` left by a restart or a failed try, backoff over.

        Args:
            user_id: Only this user's (the terminal's); None: every user but the terminal.
            limit: At most this many, oldest first.
        """
        sql = ("SELECT h.*, w.user_id AS w_user, w.guild_id, w.kind, w.target, w.title, w.created_at AS w_created, w.id AS w_id "
               "FROM watch_hits h JOIN watches w ON w.id = h.watch_id WHERE w.removed = 0 AND h.state IN (?, ?) AND h.retry_at <= ?")
        args: list[Any] = [PENDING, SENDING, self.clock()]
        if user_id is None:
            sql += " AND h.user_id != ?"
            args.append(TERMINAL_USER)
        else:
            sql += " AND h.user_id = ?"
            args.append(str(user_id))
        with self.state.tx() as db:
            rows = db.execute(sql + " ORDER BY h.created_at, h.watch_id, h.doc_id LIMIT ?", [*args, limit]).fetchall()
        return [_hit(r) for r in rows]

    def hits(self, user_id: str | int | None = None) -> list[WatchHit]:
        """Every hit (of one user), oldest first: for status and tests."""
        sql = ("SELECT h.*, w.user_id AS w_user, w.guild_id, w.kind, w.target, w.title, w.created_at AS w_created, w.id AS w_id "
               "FROM watch_hits h JOIN watches w ON w.id = h.watch_id")
        args: list[Any] = []
        if user_id is not None:
            sql += " WHERE h.user_id = ?"
            args.append(str(user_id))
        with self.state.tx() as db:
            return [_hit(r) for r in db.execute(sql + " ORDER BY h.created_at, h.watch_id, h.doc_id", args)]

    def mark_sending(self, hit: WatchHit, nonce: str) -> None:
        """About to send: the nonce lets a restart find the message if the send went through."""
        hit.state, hit.nonce = SENDING, nonce
        self._update(hit, "state = ?, nonce = ?", (SENDING, nonce))

    def mark_sent(self, hit: WatchHit, message_id: int | str | None = None) -> None:
        """Delivered."""
        hit.state, hit.sent_at = SENT, self.clock()
        self._update(hit, "state = ?, sent_at = ?, message_id = ?, last_error = ''", (SENT, hit.sent_at, str(message_id) if message_id else None))

    def mark_refused(self, hit: WatchHit, reason: str) -> None:
        """The user does not take DMs from the bot (403): recorded, never retried."""
        hit.state, hit.last_error = REFUSED, reason[:300]
        self._update(hit, "state = ?, last_error = ?", (REFUSED, hit.last_error))

    def mark_skipped(self, hit: WatchHit, reason: str) -> None:
        """Not to be sent (watches turned off where the watch was made)."""
        hit.state, hit.last_error = SKIPPED, reason[:300]
        self._update(hit, "state = ?, last_error = ?", (SKIPPED, hit.last_error))

    def mark_failed_attempt(self, hit: WatchHit, error: str) -> str:
        """A send failed (5xx, network): back off exponentially; after :data:`MAX_ATTEMPTS`, ``failed``.

        The state stays ``sending`` once a nonce was given, so the next try looks for the
        message first (a send that timed out may still have gone through).

        Returns:
            The hit's new state.
        """
        hit.attempts += 1
        hit.last_error = error[:300]
        if hit.attempts >= MAX_ATTEMPTS:
            hit.state = FAILED
        hit.retry_at = self.clock() + min(BACKOFF_BASE * 2 ** (hit.attempts - 1), MAX_BACKOFF)
        self._update(hit, "state = ?, attempts = ?, last_error = ?, retry_at = ?", (hit.state, hit.attempts, hit.last_error, hit.retry_at))
        return hit.state

    def summary(self) -> WatchSummary:
        """How many watches Discord users have and how their DMs stand (the terminal's are left out)."""
        with self.state.tx() as db:
            active, users = db.execute(
                "SELECT count(*), count(DISTINCT user_id) FROM watches WHERE removed = 0 AND user_id != ?", (TERMINAL_USER,)
            ).fetchone()
            states = dict(db.execute(
                "SELECT h.state, count(*) FROM watch_hits h JOIN watches w ON w.id = h.watch_id "
                "WHERE w.removed = 0 AND h.user_id != ? GROUP BY h.state", (TERMINAL_USER,)
            ).fetchall())
        return WatchSummary(int(active), int(users), int(states.get(PENDING, 0) + states.get(SENDING, 0)),
                            int(states.get(REFUSED, 0)), int(states.get(FAILED, 0)))

    def sent_since(self, user_id: str | int, seconds: float = 3600.0) -> int:
        """How many watch DMs the user was sent in the last ``seconds`` (the hourly cap)."""
        with self.state.tx() as db:
            return int(db.execute("SELECT count(*) FROM watch_hits WHERE user_id = ? AND state = ? AND sent_at >= ?",
                                  (str(user_id), SENT, self.clock() - seconds)).fetchone()[0])

    def _update(self, hit: WatchHit, assignments: str, values: tuple) -> None:
        with self.state.tx() as db:
            db.execute(f"UPDATE watch_hits SET {assignments} WHERE watch_id = ? AND doc_id = ?", (*values, hit.watch.id, hit.doc_id))


def _watch(row: Any) -> Watch:
    return Watch(int(row["id"]), row["user_id"], row["guild_id"], row["kind"], row["target"], row["title"], float(row["created_at"]))


def _hit(row: Any) -> WatchHit:
    watch = Watch(int(row["w_id"]), row["w_user"], row["guild_id"], row["kind"], row["target"], row["title"], float(row["w_created"]))
    return WatchHit(
        watch=watch, doc_id=row["doc_id"], state=row["state"], nonce=row["nonce"], citation=json.loads(row["payload"] or "{}"),
        attempts=int(row["attempts"]), last_error=row["last_error"], retry_at=float(row["retry_at"]),
        created_at=float(row["created_at"]), sent_at=row["sent_at"],
    )


__all__ = [
    "FAILED", "MAX_ATTEMPTS", "PAPER", "PENDING", "REFUSED", "SENDING", "SENT", "SKIPPED", "TERMINAL_USER", "TOPIC",
    "Watch", "WatchHit", "WatchRefused", "WatchStore",
]
