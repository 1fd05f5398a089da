"""The bot's own tables in the state database: per-guild announcement channels, feedback, and
the message each announcement became in each channel.

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
