"""The bot's own tables in the state database: per-guild announcement channels, ask channels
and flags, feedback (with 👎 reasons), every answered question's confidence (for the gaps
report), and the message each announcement became in each channel.

:class:`BotState` is the knowledge layer's :class:`~knowledge.StateDB` (watched sources,
entry progress) plus these tables, in the same SQLite file. Whether an *entry* was announced
is the poller's (``Poller.mark_announced``); which *message* a channel got is recorded here
(:meth:`BotState.mark_posting`, :meth:`BotState.mark_posted`), so a restart finds the message
instead of posting twice.
"""

from __future__ import annotations

import json
import time
from typing import Any

from knowledge import StateDB

BOT_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, user_id TEXT NOT NULL, guild_id TEXT,
    question TEXT NOT NULL, answer TEXT NOT NULL, citations TEXT NOT NULL, verdict TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS guild_settings (
    guild_id TEXT PRIMARY KEY, announce_channel_id TEXT
);
CREATE TABLE IF NOT EXISTS ask_channels (
    guild_id TEXT NOT NULL, channel_id TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (guild_id, channel_id)
);
CREATE TABLE IF NOT EXISTS guild_flags (
    guild_id TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (guild_id, name)
);
CREATE TABLE IF NOT EXISTS questions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, user_id TEXT NOT NULL, guild_id TEXT,
    channel_id TEXT, question TEXT NOT NULL, norm TEXT NOT NULL, confidence TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS questions_by_confidence ON questions (confidence, norm);
CREATE TABLE IF NOT EXISTS feedback_reasons (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, user_id TEXT NOT NULL, guild_id TEXT,
    question TEXT NOT NULL, norm TEXT NOT NULL, confidence TEXT, citations TEXT NOT NULL,
    reason TEXT NOT NULL, details TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS announcements (
    source TEXT NOT NULL, guid TEXT NOT NULL, channel_id TEXT NOT NULL, nonce TEXT NOT NULL,
    message_id TEXT, state TEXT NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (source, guid, channel_id)
);
"""


class BotState(StateDB):
    """The state database with the bot's tables (thread-safe, like :class:`~knowledge.StateDB`)."""

    schema = StateDB.schema + BOT_SCHEMA

    # -- feedback ----------------------------------------------------------
    def add_feedback(self, *, user_id: int | str, guild_id: int | str | None, question: str, answer: str, citations: list[dict[str, Any]], verdict: str) -> int:
        """Store a 👍/👎 verdict with what was asked and answered."""
        with self.tx() as db:
            cur = db.execute(
                "INSERT INTO feedback (at, user_id, guild_id, question, answer, citations, verdict) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (time.time(), str(user_id), str(guild_id) if guild_id else None, question, answer, json.dumps(citations, ensure_ascii=False), verdict),
            )
            return int(cur.lastrowid)

    def feedback(self) -> list[dict[str, Any]]:
        with self.tx() as db:
            return [dict(r) for r in db.execute("SELECT * FROM feedback ORDER BY id")]

    # -- guild settings ----------------------------------------------------
    def set_announce_channel(self, guild_id: int, channel_id: int | None) -> None:
        with self.tx() as db:
            db.execute("INSERT OR REPLACE INTO guild_settings VALUES (?, ?)", (str(guild_id), str(channel_id) if channel_id else None))

    def announce_channels(self) -> dict[int, int]:
        """``guild_id -> channel_id`` set by admins."""
        with self.tx() as db:
            rows = db.execute("SELECT guild_id, announce_channel_id FROM guild_settings WHERE announce_channel_id IS NOT NULL").fetchall()
        return {int(r[0]): int(r[1]) for r in rows}

    # -- ask channels and per-guild flags ----------------------------------
    def set_ask_channel(self, guild_id: int, channel_id: int, on: bool) -> None:
        """Mark (or unmark) a channel where every question is answered without a mention."""
        with self.tx() as db:
            if on:
                db.execute("INSERT OR REPLACE INTO ask_channels VALUES (?, ?, ?)", (str(guild_id), str(channel_id), time.time()))
            else:
                db.execute("DELETE FROM ask_channels WHERE guild_id = ? AND channel_id = ?", (str(guild_id), str(channel_id)))

    def ask_channels(self, guild_id: int | None = None) -> set[int]:
        """Ask channel IDs (of one guild, or of all)."""
        with self.tx() as db:
            if guild_id is None:
                rows = db.execute("SELECT channel_id FROM ask_channels").fetchall()
            else:
                rows = db.execute("SELECT channel_id FROM ask_channels WHERE guild_id = ?", (str(guild_id),)).fetchall()
        return {int(r[0]) for r in rows}

    def set_guild_flag(self, guild_id: int, name: str, on: bool) -> None:
        """A per-guild on/off setting (``threads``: answers to mentions go in a thread)."""
        with self.tx() as db:
            db.execute("INSERT OR REPLACE INTO guild_flags VALUES (?, ?, ?)", (str(guild_id), name, "1" if on else "0"))

    def guild_flag(self, guild_id: int | None, name: str, default: bool = False) -> bool:
        if guild_id is None:
            return default
        with self.tx() as db:
            row = db.execute("SELECT value FROM guild_flags WHERE guild_id = ? AND name = ?", (str(guild_id), name)).fetchone()
        return default if row is None else row[0] == "1"

    # -- questions and the gaps they show ----------------------------------
    def record_question(self, *, user_id: int | str, guild_id: int | str | None, channel_id: int | str | None, question: str, confidence: str) -> None:
        """Every answered question with its confidence ("answer", "related", "none")."""
        with self.tx() as db:
            db.execute(
                "INSERT INTO questions (at, user_id, guild_id, channel_id, question, norm, confidence) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (time.time(), str(user_id), str(guild_id) if guild_id else None, str(channel_id) if channel_id else None, question, normalize_question(question), confidence),
            )

    def questions(self) -> list[dict[str, Any]]:
        with self.tx() as db:
            return [dict(r) for r in db.execute("SELECT * FROM questions ORDER BY id")]

    def add_feedback_reason(self, *, user_id: int | str, guild_id: int | str | None, question: str, confidence: str | None,
                            citations: list[dict[str, Any]], reason: str, details: str) -> int:
        """What was wrong with an answer (from the 👎 modal)."""
        with self.tx() as db:
            cur = db.execute(
                "INSERT INTO feedback_reasons (at, user_id, guild_id, question, norm, confidence, citations, reason, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (time.time(), str(user_id), str(guild_id) if guild_id else None, question, normalize_question(question), confidence,
                 json.dumps(citations, ensure_ascii=False), reason, details),
            )
            return int(cur.lastrowid)

    def feedback_reasons(self) -> list[dict[str, Any]]:
        with self.tx() as db:
            return [dict(r) for r in db.execute("SELECT * FROM feedback_reasons ORDER BY id")]

    def gaps(self, guild_id: int | None = None, *, limit: int = 10) -> dict[str, list[dict[str, Any]]]:
        """What the archive misses: the most common questions answered "none" or "related", and the
        most downvoted questions (with their most given reason), with counts; of one guild or all.
        Questions are grouped case- and space-insensitively."""
        where, args = ("AND guild_id = ?", [str(guild_id)]) if guild_id is not None else ("", [])
        with self.tx() as db:
            unanswered = [dict(r) for r in db.execute(
                "SELECT min(question) AS question, count(*) AS count, sum(confidence = 'none') AS none, sum(confidence = 'related') AS related "
                f"FROM questions WHERE confidence IN ('none', 'related') {where} GROUP BY norm ORDER BY count DESC, max(at) DESC LIMIT ?",
                [*args, limit],
            )]
            downs: dict[str, dict[str, Any]] = {}
            for r in db.execute(f"SELECT question FROM feedback WHERE verdict = 'down' {where}", args):
                row = downs.setdefault(normalize_question(r[0]), {"question": r[0], "count": 0, "reason": ""})
                row["count"] += 1
            reasons: dict[str, dict[str, int]] = {}
            for r in db.execute(f"SELECT norm, reason FROM feedback_reasons WHERE 1 {where}", args):
                counts = reasons.setdefault(r[0], {})
                counts[r[1]] = counts.get(r[1], 0) + 1
        for norm, row in downs.items():
            if norm in reasons:
                row["reason"] = max(reasons[norm].items(), key=lambda kv: kv[1])[0]
        downvoted = sorted(downs.values(), key=lambda r: -r["count"])[:limit]
        return {"unanswered": unanswered, "downvoted": downvoted}

    # -- the messages announcements became ---------------------------------
    def announcement(self, source: str, guid: str, channel_id: int) -> dict[str, Any] | None:
        """What was posted (or is being posted) for an entry in a channel: nonce, message ID, state."""
        with self.tx() as db:
            row = db.execute("SELECT * FROM announcements WHERE source = ? AND guid = ? AND channel_id = ?", (source, guid, str(channel_id))).fetchone()
        return dict(row) if row else None

    def mark_posting(self, source: str, guid: str, channel_id: int, nonce: str) -> None:
        """About to post: the nonce lets a restart find the message if the send went through."""
        with self.tx() as db:
            db.execute("INSERT OR REPLACE INTO announcements VALUES (?, ?, ?, ?, NULL, 'sending', ?)", (source, guid, str(channel_id), nonce, time.time()))

    def mark_posted(self, source: str, guid: str, channel_id: int, message_id: int | None) -> None:
        """The message went out in this channel."""
        with self.tx() as db:
            db.execute(
                "UPDATE announcements SET state = 'sent', message_id = ?, at = ? WHERE source = ? AND guid = ? AND channel_id = ?",
                (str(message_id) if message_id else None, time.time(), source, guid, str(channel_id)),
            )

    # -- per-guild values and posts that need no message -------------------
    def set_guild_value(self, guild_id: int, name: str, value: str | None) -> None:
        """A per-guild setting with a value (``roundup``: the weekly post's day and hour); None removes it."""
        with self.tx() as db:
            if value is None:
                db.execute("DELETE FROM guild_flags WHERE guild_id = ? AND name = ?", (str(guild_id), name))
            else:
                db.execute("INSERT OR REPLACE INTO guild_flags VALUES (?, ?, ?)", (str(guild_id), name, value))

    def guild_values(self, name: str) -> dict[int, str]:
        """``guild_id -> value`` of one per-guild setting."""
        with self.tx() as db:
            rows = db.execute("SELECT guild_id, value FROM guild_flags WHERE name = ?", (name,)).fetchall()
        return {int(r[0]): str(r[1]) for r in rows}

    def claim_posting(self, source: str, guid: str, channel_id: int, nonce: str) -> bool:
        """Like :meth:`mark_posting`, but only if nothing is recorded yet: False when another process got there first."""
        with self.tx() as db:
            cur = db.execute("INSERT OR IGNORE INTO announcements VALUES (?, ?, ?, ?, NULL, 'sending', ?)", (source, guid, str(channel_id), nonce, time.time()))
            return cur.rowcount == 1

    def mark_unposted(self, source: str, guid: str, channel_id: int, state: str) -> None:
        """Settled without a message: ``empty`` (nothing to post) or ``gone`` (the channel no longer exists)."""
        with self.tx() as db:
            db.execute("INSERT OR REPLACE INTO announcements VALUES (?, ?, ?, '', NULL, ?, ?)", (source, guid, str(channel_id), state, time.time()))


def normalize_question(question: str) -> str:
    """Lower case, single spaces, no trailing punctuation: how questions are grouped."""
    return " ".join(question.casefold().split()).rstrip("?!.。？ ")
