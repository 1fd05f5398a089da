"""Building interaction payloads: command lookup, option typing and values."""

from __future__ import annotations

import copy
import secrets
import time
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

from ._base import FakeDiscordBase
from .constants import (
    _AUTO,
    APPLICATION_ID,
    BOT_ID,
    DEFAULT_MEMBER_PERMISSIONS,
    _Auto,
    _log,
)
from .models import (
    TypedOption,
    _Interaction,
)


class OptionsMixin(FakeDiscordBase):
    """Building interaction payloads: command lookup, option typing and values."""

    def _find_command(
        self, name: str, guild_id: int | None, ctype: int
    ) -> tuple[dict[str, Any] | None, int | None]:
        if guild_id is not None:
            for cmd in self.guild_commands.get(guild_id, {}).values():
                if cmd["name"] == name and cmd["type"] == ctype:
                    return cmd, guild_id
        for cmd in self.global_commands.values():
            if cmd["name"] == name and cmd["type"] == ctype:
                return cmd, None
        return None, None

    @staticmethod
    def _infer_option_type(value: Any) -> int:
        if isinstance(value, TypedOption):
            return value.type
        if isinstance(value, bool):
            return 5
        if isinstance(value, int):
            return 4
        if isinstance(value, float):
            return 10
        if isinstance(value, Mapping) and "filename" in value:
            return 11
        return 3

    def _option_value(
        self,
        opt_type: int,
        value: Any,
        resolved: dict[str, dict[str, Any]],
        guild_id: int | None,
        channel_id: int | None,
        focused: bool,
    ) -> Any:
        if isinstance(value, TypedOption):
            value = value.value
        if focused:
            return value if isinstance(value, str) else str(value)
        if opt_type == 4:
            return int(value)
        if opt_type == 10:
            return float(value)
        if opt_type == 5:
            return bool(value)
        if opt_type == 3:
            return str(value)
        if opt_type == 11:
            att = self._make_attachment(
                channel_id or 0,
                value["filename"],
                value.get("content", b""),
                value.get("content_type", "application/octet-stream"),
            )
            resolved.setdefault("attachments", {})[att["id"]] = att
            return att["id"]
        snowflake = int(value["id"]) if isinstance(value, Mapping) else int(value)
        key = str(snowflake)
        guild = self.guilds.get(guild_id) if guild_id is not None else None
        is_role = guild is not None and snowflake in guild.roles
        if opt_type == 7:
            channel = self.channels.get(snowflake)
            if channel is not None:
                perms = (
                    self.member_permissions(guild_id, BOT_ID)
                    if guild is not None
                    else DEFAULT_MEMBER_PERMISSIONS
                )
                resolved.setdefault("channels", {})[key] = {**channel, "permissions": str(perms)}
        elif opt_type == 8 or (opt_type == 9 and is_role):
            if guild is not None and snowflake in guild.roles:
                resolved.setdefault("roles", {})[key] = guild.roles[snowflake]
        elif opt_type in (6, 9):
            resolved.setdefault("users", {})[key] = self._user(snowflake)
            if guild is not None and snowflake in guild.members:
                member = self._member_payload(guild_id, snowflake, with_user=False)  # type: ignore[arg-type]
                member["permissions"] = str(self.member_permissions(guild_id, snowflake))  # type: ignore[arg-type]
                resolved.setdefault("members", {})[key] = member
        return key

    def _build_options(
        self,
        definitions: Sequence[Mapping[str, Any]],
        values: Mapping[str, Any],
        resolved: dict[str, dict[str, Any]],
        guild_id: int | None,
        channel_id: int | None,
        focused: str | None,
    ) -> list[dict[str, Any]]:
        by_name = {d["name"]: d for d in definitions}
        values = dict(values)
        if focused is not None and focused not in values:
            values[focused] = ""
        options = []
        for name, value in values.items():
            definition = by_name.get(name)
            opt_type = int(definition["type"]) if definition else self._infer_option_type(value)
            if definition is None and by_name:
                _log.warning(
                    "option %r is not part of the registered command (%s)", name, sorted(by_name)
                )
            option: dict[str, Any] = {
                "name": name,
                "type": opt_type,
                "value": self._option_value(
                    opt_type, value, resolved, guild_id, channel_id, name == focused
                ),
            }
            if name == focused:
                option["focused"] = True
            options.append(option)
        return options

    def _base_interaction(
        self,
        itype: int,
        *,
        user: int | Mapping[str, Any],
        guild_id: int | None,
        channel_id: int | None,
        permissions: int | None,
        locale: str,
        data: dict[str, Any],
        message: Mapping[str, Any] | None = None,
    ) -> _Interaction:
        user_obj = self._user(user)
        user_id = int(user_obj["id"])
        if guild_id is None:
            if channel_id is None or self._guild_of_channel(channel_id) is not None:
                channel_id = self.dm_channel_id(user_id)
        elif channel_id is None:
            guild = self.guilds[guild_id]
            channel_id = next(c for c in guild.channel_ids if self.channels[c]["type"] == 0)
        iid = self._snowflake()
        token = "aW50ZXJhY3Rpb24" + secrets.token_urlsafe(48)
        channel = copy.deepcopy(
            self.channels.get(channel_id or 0)
            or {"id": str(channel_id), "type": 1, "flags": 0, "recipients": [user_obj]}
        )
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": str(APPLICATION_ID),
            "type": itype,
            "data": data,
            "channel_id": str(channel_id),
            "channel": channel,
            "token": token,
            "version": 1,
            "locale": locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if guild_id is not None:
            guild = self.guilds[guild_id]
            perms = (
                permissions
                if permissions is not None
                else self.member_permissions(guild_id, user_id)
            )
            member = self._member_payload(guild_id, user_id)
            member["user"] = user_obj
            member["permissions"] = str(perms)
            app_perms = self.member_permissions(guild_id, BOT_ID)
            channel["permissions"] = str(perms)
            payload.update(
                {
                    "guild_id": str(guild_id),
                    "guild": {"id": str(guild_id), "locale": "en-US", "features": []},
                    "guild_locale": "en-US",
                    "member": member,
                    "app_permissions": str(app_perms),
                    "authorizing_integration_owners": {"0": str(guild.id)},
                    "context": 0,
                }
            )
        else:
            payload.update(
                {
                    "user": user_obj,
                    "app_permissions": str(
                        permissions if permissions is not None else DEFAULT_MEMBER_PERMISSIONS
                    ),
                    "authorizing_integration_owners": {"0": "0"},
                    "context": 1,
                }
            )
        if message is not None:
            payload["message"] = copy.deepcopy(dict(message))
        inter = _Interaction(
            id=iid,
            token=token,
            type=itype,
            payload=payload,
            channel_id=channel_id,
            guild_id=guild_id,
            created=time.monotonic(),
            component_message_id=int(message["id"]) if message is not None else None,
        )
        self._interactions[iid] = inter
        self._tokens[token] = iid
        return inter

    async def _send_interaction(self, inter: _Interaction) -> dict[str, Any]:
        await self.wait_for_session(inter.guild_id)
        inter.created = time.monotonic()
        sent = await self.dispatch("INTERACTION_CREATE", inter.payload, guild_id=inter.guild_id)
        if not sent:
            _log.warning("INTERACTION_CREATE %s was not delivered to any session", inter.id)
        return copy.deepcopy(inter.payload)

    def _command_data(
        self,
        name: str,
        options: Mapping[str, Any] | None,
        *,
        guild_id: int | None,
        channel_id: int | None,
        subcommand: str | None,
        focused: str | None,
        command_guild_id: int | None | _Auto,
        with_resolved: bool,
    ) -> dict[str, Any]:
        command, registered_guild = self._find_command(name, guild_id, 1)
        if command_guild_id is _AUTO:
            command_guild_id = registered_guild
        resolved: dict[str, dict[str, Any]] = {}
        definitions: Sequence[Mapping[str, Any]] = command["options"] if command else []
        chain = subcommand.split() if subcommand else []
        levels: list[tuple[str, int]] = []
        for index, part in enumerate(chain):
            sub_def = next((d for d in definitions if d["name"] == part), None)
            default_type = 2 if index < len(chain) - 1 else 1
            levels.append((part, int(sub_def["type"]) if sub_def else default_type))
            definitions = sub_def.get("options", []) if sub_def else []
        leaf = self._build_options(
            definitions, options or {}, resolved, guild_id, channel_id, focused
        )
        for part, ptype in reversed(levels):
            leaf = [{"name": part, "type": ptype, "options": leaf}]
        data: dict[str, Any] = {
            "id": command["id"] if command else str(self._stable_id(f"cmd:{name}")),
            "name": name,
            "type": 1,
            "options": leaf,
        }
        if with_resolved and resolved:
            data["resolved"] = resolved
        if command_guild_id is not None:
            data["guild_id"] = str(command_guild_id)
        if command is None:
            _log.info(
                "slash command %r is not registered with the fake; sending without a known id", name
            )
        return data

    @staticmethod
    def _stable_id(key: str) -> int:
        return (zlib.crc32(key.encode()) | (1 << 32)) << 22
