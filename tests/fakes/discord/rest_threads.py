"""REST routes for threads started from a message and for the bot's reactions.

* ``POST /channels/{id}/messages/{id}/threads``: a public thread (type 11) whose id is the
  message's, owned by the bot, parented to the channel; ``THREAD_CREATE`` is dispatched (as
  Discord does) so the client caches it, and later messages injected into the thread id are
  guild messages in that thread.
* ``PUT``/``DELETE .../reactions/{emoji}/@me``: recorded in :attr:`reaction_log` (``("add" |
  "remove", message_id, emoji)``, emoji URL-decoded); :meth:`bot_reactions` is what the bot's
  reactions on a message are now.
"""

from __future__ import annotations

import urllib.parse
from datetime import UTC, datetime
from typing import Any

from ._base import FakeDiscordBase
from .constants import BOT_ID
from .models import _Call, _error, _field_error, _Reply


class ThreadRoutesMixin(FakeDiscordBase):
    """Threads started on a message, and the bot's reactions."""

    @property
    def reaction_log(self) -> list[tuple[str, int, str]]:
        """Every reaction the bot added or removed, in order."""
        return self.__dict__.setdefault("_reaction_log", [])

    def bot_reactions(self, message_id: int | str) -> list[str]:
        """The bot's reactions on a message now."""
        current: list[str] = []
        for action, mid, emoji in self.reaction_log:
            if mid != int(message_id):
                continue
            if action == "add" and emoji not in current:
                current.append(emoji)
            elif action == "remove" and emoji in current:
                current.remove(emoji)
        return current

    def threads(self, parent_id: int | None = None) -> list[dict[str, Any]]:
        """Threads started through the API (optionally of one channel)."""
        return [c for c in self.channels.values() if c.get("type") == 11 and (parent_id is None or c.get("parent_id") == str(parent_id))]

    async def _r_start_thread(self, call: _Call) -> _Reply:
        channel_id = int(call.params["channel_id"])
        message_id = int(call.params["message_id"])
        msg = self.messages.get(message_id)
        if channel_id not in self.channels or msg is None or int(msg["channel_id"]) != channel_id:
            return _error(404, "Unknown Message", 10008)
        if message_id in self.channels:
            return _error(400, "A thread has already been created for this message", 160004)
        body = call.json or {}
        name = str(body.get("name") or "")
        if not 1 <= len(name) <= 100:
            return _error(400, "Invalid Form Body", 50035, {"name": _field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")})
        guild_id = self._guild_of_channel(channel_id)
        if guild_id is None:
            return _error(400, "Cannot execute action on a DM channel", 50003)
        thread = {
            "id": str(message_id),
            "type": 11,
            "guild_id": str(guild_id),
            "parent_id": str(channel_id),
            "owner_id": str(BOT_ID),
            "name": name,
            "last_message_id": None,
            "message_count": 0,
            "member_count": 1,
            "rate_limit_per_user": int(body.get("rate_limit_per_user") or 0),
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": int(body.get("auto_archive_duration") or 1440),
                "archive_timestamp": datetime.now(UTC).isoformat(),
                "locked": False,
            },
        }
        self.channels[message_id] = thread
        msg["thread"] = dict(thread)
        await self.dispatch("THREAD_CREATE", thread | {"newly_created": True}, guild_id=guild_id)
        return 201, thread

    async def _r_add_reaction(self, call: _Call) -> _Reply:
        return self._react("add", call)

    async def _r_remove_reaction(self, call: _Call) -> _Reply:
        return self._react("remove", call)

    def _react(self, action: str, call: _Call) -> _Reply:
        msg = self.messages.get(int(call.params["message_id"]))
        if msg is None or int(msg["channel_id"]) != int(call.params["channel_id"]):
            return _error(404, "Unknown Message", 10008)
        self.reaction_log.append((action, int(msg["id"]), urllib.parse.unquote(call.params["emoji"])))
        return 204, None
