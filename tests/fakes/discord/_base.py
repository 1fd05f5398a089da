"""The state every mixin of :class:`~tests.fakes.discord.server.FakeDiscord` shares.

:class:`FakeDiscordBase` only declares attributes (``FakeDiscord.__init__`` sets them), so
each concern's mixin can be read and type-checked on its own.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any

import yarl
from aiohttp import web

from .models import (
    GatewayFrame,
    RecordedRequest,
    SentMessage,
    _GatewaySession,
    _Guild,
    _Handler,
    _Interaction,
)

if TYPE_CHECKING:
    from .gateway import _GatewayConnection


class FakeDiscordBase:
    """Attribute declarations shared by the fake's mixins (no behaviour)."""

    heartbeat_interval_ms: int
    shards: int
    token: str | None
    application_flags: int
    allowed_intents: int
    full_member_list: bool | None
    echo_bot_messages: bool
    validate_messages: bool
    interaction_timeout: float | None
    patch_discord_py: bool
    ack_heartbeats: bool

    requests: list[RecordedRequest]
    gateway_log: list[GatewayFrame]
    users: dict[int, dict[str, Any]]
    guilds: dict[int, _Guild]
    channels: dict[int, dict[str, Any]]
    messages: dict[int, dict[str, Any]]
    global_commands: dict[int, dict[str, Any]]
    guild_commands: dict[int, dict[int, dict[str, Any]]]
    attachment_data: dict[int, bytes]
    sessions: dict[str, _GatewaySession]
    connections: list[_GatewayConnection]
    bot_user: dict[str, Any]

    _sent: list[SentMessage]
    _send_faults: dict[int, int]
    _interactions: dict[int, _Interaction]
    _tokens: dict[str, int]
    _dm_channels: dict[int, int]
    _last_snowflake: int
    _cond: asyncio.Condition | None
    _runner: web.AppRunner | None
    _port: int | None
    _saved_patch: tuple[str, yarl.URL] | None
    _routes: list[tuple[str, re.Pattern[str], _Handler, str]]
