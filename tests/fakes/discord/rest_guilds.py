"""REST routes for the gateway, users, the application, its commands and guilds."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ._base import FakeDiscordBase
from .constants import (
    APPLICATION_ID,
    OWNER_ID,
    _log,
)
from .models import (
    _Call,
    _error,
    _Reply,
)


class GuildRoutesMixin(FakeDiscordBase):
    """REST routes for the gateway, users, the application, its commands and guilds."""

    # ------------------------------------------------------------------ REST routes

    async def _r_gateway(self, call: _Call) -> _Reply:
        return 200, {"url": self.gateway_url}

    async def _r_gateway_bot(self, call: _Call) -> _Reply:
        return 200, {
            "url": self.gateway_url,
            "shards": self.shards,
            "session_start_limit": {
                "total": 1000,
                "remaining": 999,
                "reset_after": 0,
                "max_concurrency": 1,
            },
        }

    async def _r_me(self, call: _Call) -> _Reply:
        return 200, self.bot_user

    async def _r_get_user(self, call: _Call) -> _Reply:
        user = self.users.get(int(call.params["user_id"]))
        return (200, user) if user else _error(404, "Unknown User", 10013)

    async def _r_create_dm(self, call: _Call) -> _Reply:
        recipient = int((call.json or {}).get("recipient_id", 0))
        if recipient not in self.users:
            return _error(400, "Invalid Recipient(s)", 50033)
        return 200, self.channels[self.dm_channel_id(recipient)]

    async def _r_application(self, call: _Call) -> _Reply:
        return 200, {
            "id": str(APPLICATION_ID),
            "name": self.bot_user["username"],
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "hook": True,
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "owner": self._user(OWNER_ID),
            "team": None,
            "flags": self.application_flags,
            "rpc_origins": [],
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "approximate_guild_count": len(self.guilds),
            "bot": self.bot_user,
            "integration_types_config": {"0": {}},
        }

    def _command_store(self, call: _Call) -> dict[int, dict[str, Any]] | None:
        if call.params.get("app_id") not in (str(APPLICATION_ID), "@me"):
            return None
        if "guild_id" in call.params:
            return self.guild_commands.setdefault(int(call.params["guild_id"]), {})
        return self.global_commands

    def _store_command(
        self,
        store: dict[int, dict[str, Any]],
        payload: Mapping[str, Any],
        guild_id: int | None,
        command_id: int | None = None,
    ) -> dict[str, Any]:
        ctype = int(payload.get("type", 1))
        if command_id is None:
            command_id = (
                next(
                    (
                        cid
                        for cid, c in store.items()
                        if c["name"] == payload["name"] and c["type"] == ctype
                    ),
                    None,
                )
                or self._snowflake()
            )
        command = {
            "id": str(command_id),
            "application_id": str(APPLICATION_ID),
            "version": str(self._snowflake()),
            "type": ctype,
            "name": payload["name"],
            "description": payload.get("description", ""),
            "options": copy.deepcopy(payload.get("options") or []),
            "default_member_permissions": payload.get("default_member_permissions"),
            "dm_permission": payload.get("dm_permission", True),
            "nsfw": payload.get("nsfw", False),
            "contexts": payload.get("contexts"),
            "integration_types": payload.get("integration_types", [0]),
            "name_localizations": payload.get("name_localizations"),
            "description_localizations": payload.get("description_localizations"),
        }
        if guild_id is not None:
            command["guild_id"] = str(guild_id)
        store[command_id] = command
        return command

    async def _r_list_commands(self, call: _Call) -> _Reply:
        store = self._command_store(call)
        if store is None:
            return _error(403, "Missing Access", 50001)
        return 200, list(store.values())

    async def _r_bulk_commands(self, call: _Call) -> _Reply:
        store = self._command_store(call)
        if store is None:
            return _error(403, "Missing Access", 50001)
        payload = call.json or []
        guild_id = int(call.params["guild_id"]) if "guild_id" in call.params else None
        old = dict(store)
        store.clear()
        result = []
        for cmd in payload:
            ctype = int(cmd.get("type", 1))
            existing = next(
                (cid for cid, c in old.items() if c["name"] == cmd["name"] and c["type"] == ctype),
                None,
            )
            result.append(self._store_command(store, cmd, guild_id, existing))
        _log.debug("bulk overwrite of %d commands (guild=%s)", len(result), guild_id)
        return 200, result

    async def _r_upsert_command(self, call: _Call) -> _Reply:
        store = self._command_store(call)
        if store is None:
            return _error(403, "Missing Access", 50001)
        guild_id = int(call.params["guild_id"]) if "guild_id" in call.params else None
        return 201, self._store_command(store, call.json or {}, guild_id)

    async def _r_get_command(self, call: _Call) -> _Reply:
        store = self._command_store(call) or {}
        command = store.get(int(call.params["command_id"]))
        return (200, command) if command else _error(404, "Unknown application command", 10063)

    async def _r_edit_command(self, call: _Call) -> _Reply:
        store = self._command_store(call) or {}
        cid = int(call.params["command_id"])
        if cid not in store:
            return _error(404, "Unknown application command", 10063)
        merged = {**store[cid], **(call.json or {})}
        guild_id = int(call.params["guild_id"]) if "guild_id" in call.params else None
        return 200, self._store_command(store, merged, guild_id, cid)

    async def _r_delete_command(self, call: _Call) -> _Reply:
        store = self._command_store(call) or {}
        if store.pop(int(call.params["command_id"]), None) is None:
            return _error(404, "Unknown application command", 10063)
        return 204, None

    async def _r_command_permissions(self, call: _Call) -> _Reply:
        return 200, []

    async def _r_empty_items(self, call: _Call) -> _Reply:
        return 200, {"items": []}

    async def _r_empty_list(self, call: _Call) -> _Reply:
        return 200, []

    async def _r_get_guild(self, call: _Call) -> _Reply:
        guild = self.guilds.get(int(call.params["guild_id"]))
        if guild is None:
            return _error(404, "Unknown Guild", 10004)
        data = self._guild_payload(guild)
        if call.query.get("with_counts") in ("1", "true", "True"):
            data["approximate_member_count"] = len(guild.members)
            data["approximate_presence_count"] = len(guild.members)
        return 200, data

    async def _r_guild_channels(self, call: _Call) -> _Reply:
        guild = self.guilds.get(int(call.params["guild_id"]))
        if guild is None:
            return _error(404, "Unknown Guild", 10004)
        return 200, [self.channels[c] for c in guild.channel_ids]

    async def _r_guild_roles(self, call: _Call) -> _Reply:
        guild = self.guilds.get(int(call.params["guild_id"]))
        if guild is None:
            return _error(404, "Unknown Guild", 10004)
        return 200, list(guild.roles.values())

    async def _r_guild_members(self, call: _Call) -> _Reply:
        guild = self.guilds.get(int(call.params["guild_id"]))
        if guild is None:
            return _error(404, "Unknown Guild", 10004)
        limit = int(call.query.get("limit", 1))
        after = int(call.query.get("after", 0))
        members = [m for uid, m in sorted(guild.members.items()) if uid > after]
        return 200, members[:limit]

    async def _r_guild_member(self, call: _Call) -> _Reply:
        guild = self.guilds.get(int(call.params["guild_id"]))
        if guild is None:
            return _error(404, "Unknown Guild", 10004)
        member = guild.members.get(int(call.params["user_id"]))
        return (200, member) if member else _error(404, "Unknown Member", 10007)

    async def _r_get_channel(self, call: _Call) -> _Reply:
        channel = self.channels.get(int(call.params["channel_id"]))
        return (200, channel) if channel else _error(404, "Unknown Channel", 10003)
