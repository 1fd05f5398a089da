"""REST routes for channel messages (history, send, edit, delete)."""

from __future__ import annotations

from typing import Any

from ._base import FakeDiscordBase
from .constants import (
    _FLAG_EPHEMERAL,
    BOT_ID,
)
from .models import (
    _Call,
    _error,
    _Reply,
)


class ChannelRoutesMixin(FakeDiscordBase):
    """REST routes for channel messages (history, send, edit, delete)."""

    def _visible_messages(self, channel_id: int) -> list[dict[str, Any]]:
        return sorted(
            (
                m
                for m in self.messages.values()
                if int(m["channel_id"]) == channel_id
                and not int(m.get("flags") or 0) & _FLAG_EPHEMERAL
            ),
            key=lambda m: int(m["id"]),
            reverse=True,
        )

    async def _r_history(self, call: _Call) -> _Reply:
        channel_id = int(call.params["channel_id"])
        if channel_id not in self.channels:
            return _error(404, "Unknown Channel", 10003)
        limit = min(int(call.query.get("limit", 50)), 100)
        messages = self._visible_messages(channel_id)
        if "before" in call.query:
            messages = [m for m in messages if int(m["id"]) < int(call.query["before"])]
        if "after" in call.query:
            messages = [m for m in messages if int(m["id"]) > int(call.query["after"])][-limit:]
        if "around" in call.query:
            around = int(call.query["around"])
            messages = sorted(messages, key=lambda m: abs(int(m["id"]) - around))[:limit]
            messages.sort(key=lambda m: int(m["id"]), reverse=True)
        return 200, messages[:limit]

    async def _r_send_message(self, call: _Call) -> _Reply:
        channel_id = int(call.params["channel_id"])
        if channel_id not in self.channels:
            return _error(404, "Unknown Channel", 10003)
        fault = self._send_fault(channel_id)
        if fault is not None:
            return fault
        payload = call.json or {}
        invalid = self._validate(payload, files=len(call.files))
        if invalid:
            return invalid
        msg = self._build_message(
            channel_id=channel_id, author=self.bot_user, payload=payload, files=call.files
        )
        self.messages[int(msg["id"])] = msg
        self.channels[channel_id]["last_message_id"] = msg["id"]
        self._record_sent("channel", msg, payload)
        await self._echo("MESSAGE_CREATE", msg)
        return 200, msg

    async def _r_get_message(self, call: _Call) -> _Reply:
        msg = self.messages.get(int(call.params["message_id"]))
        if (
            msg is None
            or int(msg["channel_id"]) != int(call.params["channel_id"])
            or int(msg.get("flags") or 0) & _FLAG_EPHEMERAL
        ):
            return _error(404, "Unknown Message", 10008)
        return 200, msg

    async def _r_edit_message(self, call: _Call) -> _Reply:
        msg = self.messages.get(int(call.params["message_id"]))
        if msg is None or int(msg["channel_id"]) != int(call.params["channel_id"]):
            return _error(404, "Unknown Message", 10008)
        if int(msg["author"]["id"]) != BOT_ID:
            return _error(403, "Cannot edit a message authored by another user", 50005)
        payload = call.json or {}
        invalid = self._validate(payload, creating=False)
        if invalid:
            return invalid
        self._apply_edit(msg, payload, call.files)
        self._record_sent("edit_message", msg, payload)
        await self._echo("MESSAGE_UPDATE", msg)
        return 200, msg

    async def _r_delete_message(self, call: _Call) -> _Reply:
        msg = self.messages.get(int(call.params["message_id"]))
        if msg is None or int(msg["channel_id"]) != int(call.params["channel_id"]):
            return _error(404, "Unknown Message", 10008)
        del self.messages[int(msg["id"])]
        await self._echo("MESSAGE_DELETE", msg)
        return 204, None

    async def _r_no_content(self, call: _Call) -> _Reply:
        return 204, None
