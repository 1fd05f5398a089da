"""The fake Discord server: :class:`FakeDiscord`, its lifecycle and the discord.py patch."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import discord
import discord.gateway
import discord.http
import yarl
from aiohttp import web

from .constants import (
    _PRIVILEGED_INTENTS,
    BOT_ID,
    _log,
)
from .gateway import GatewayMixin, _GatewayConnection
from .inject import InjectMixin
from .messages import MessagesMixin
from .models import (
    GatewayFrame,
    RecordedRequest,
    SentMessage,
    _error,
    _field_error,
    _GatewaySession,
    _Guild,
    _Handler,
    _Interaction,
    _Reply,
)
from .options import OptionsMixin
from .recording import RecordingMixin
from .rest_channels import ChannelRoutesMixin
from .rest_guilds import GuildRoutesMixin
from .rest_interactions import InteractionRoutesMixin
from .rest_threads import ThreadRoutesMixin
from .routing import RoutingMixin
from .state import StateMixin

#: A send fault (see :meth:`FakeDiscord.refuse_dms`): the user does not take DMs from the bot.
_DMS_CLOSED = -50007


class FakeDiscord(
    StateMixin,
    RecordingMixin,
    GatewayMixin,
    MessagesMixin,
    RoutingMixin,
    GuildRoutesMixin,
    ChannelRoutesMixin,
    InteractionRoutesMixin,
    ThreadRoutesMixin,
    OptionsMixin,
    InjectMixin,
):
    """A fake Discord REST API and gateway served on 127.0.0.1.

    Args:
        heartbeat_interval_ms: ``heartbeat_interval`` sent in HELLO.
        shards: Shard count returned by ``GET /gateway/bot``.
        default_guild: Create the default users, guild ("Test Guild"), roles and
            channels (see the module constants).
        token: If set, only this bot token is accepted (401 / close 4004 otherwise).
        application_flags: Application flags in ``READY`` and application info.
        allowed_intents: Privileged intents the application may request; requesting
            others closes the gateway with 4014 like Discord.
        full_member_list: ``GUILD_CREATE`` member list policy: ``None`` follows
            Discord (all members only with ``GUILD_PRESENCES``, else just the bot);
            ``True``/``False`` force all members / only the bot.
        echo_bot_messages: Send ``MESSAGE_CREATE``/``UPDATE``/``DELETE`` for the
            bot's own messages like Discord does.
        validate_messages: Reject message payloads Discord would reject.
        interaction_timeout: If set, initial interaction callbacks arriving later
            than this many seconds fail with "Unknown interaction" (Discord: 3 s).
        patch_discord_py: Call :meth:`configure_discord_py` in :meth:`start` and
            :meth:`restore_discord_py` in :meth:`stop`.
        bot_name: Username of the bot user.
    """

    def __init__(
        self,
        *,
        heartbeat_interval_ms: int = 41250,
        shards: int = 1,
        default_guild: bool = True,
        token: str | None = None,
        application_flags: int = (1 << 19) | (1 << 15) | (1 << 23),
        allowed_intents: int = _PRIVILEGED_INTENTS,
        full_member_list: bool | None = None,
        echo_bot_messages: bool = True,
        validate_messages: bool = True,
        interaction_timeout: float | None = None,
        patch_discord_py: bool = True,
        bot_name: str = "digestbot",
    ) -> None:
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.shards = shards
        self.token = token
        self.application_flags = application_flags
        self.allowed_intents = allowed_intents
        self.full_member_list = full_member_list
        self.echo_bot_messages = echo_bot_messages
        self.validate_messages = validate_messages
        self.interaction_timeout = interaction_timeout
        self.patch_discord_py = patch_discord_py
        #: If False, heartbeats are not acknowledged (to test zombie connections).
        self.ack_heartbeats = True

        #: All REST requests, in arrival order.
        self.requests: list[RecordedRequest] = []
        #: All gateway payloads sent and received, in order.
        self.gateway_log: list[GatewayFrame] = []
        self.users: dict[int, dict[str, Any]] = {}
        self.guilds: dict[int, _Guild] = {}
        self.channels: dict[int, dict[str, Any]] = {}
        self.messages: dict[int, dict[str, Any]] = {}
        #: Registered global application commands by id.
        self.global_commands: dict[int, dict[str, Any]] = {}
        #: Registered guild application commands: guild id -> command id -> command.
        self.guild_commands: dict[int, dict[int, dict[str, Any]]] = {}
        #: Attachment bytes served at ``/attachments/...``.
        self.attachment_data: dict[int, bytes] = {}
        #: Gateway sessions by session id.
        self.sessions: dict[str, _GatewaySession] = {}
        #: Open gateway connections.
        self.connections: list[_GatewayConnection] = []

        self._sent: list[SentMessage] = []
        self._send_faults: dict[int, int] = {}
        self._interactions: dict[int, _Interaction] = {}
        self._tokens: dict[str, int] = {}
        self._dm_channels: dict[int, int] = {}
        self._last_snowflake = 0
        self._cond: asyncio.Condition | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._saved_patch: tuple[str, yarl.URL] | None = None
        self._routes: list[tuple[str, re.Pattern[str], _Handler, str]] = []
        self._register_routes()

        self.bot_user = self._user_payload(BOT_ID, bot_name, bot=True)
        self.bot_user.update({"verified": True, "mfa_enabled": False, "email": None})
        self.users[BOT_ID] = self.bot_user
        if default_guild:
            self._create_defaults()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> FakeDiscord:
        """Start serving on a free port of 127.0.0.1 (and patch discord.py if enabled).

        Returns:
            The fake itself.
        """
        if self._runner is not None:
            raise RuntimeError("FakeDiscord already started")
        self._cond = asyncio.Condition()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("GET", "/gateway", self._gateway_handler)
        app.router.add_route("GET", "/gateway/", self._gateway_handler)
        app.router.add_route(
            "GET",
            r"/attachments/{channel_id}/{attachment_id:\d+}/{filename}",
            self._attachment_handler,
        )
        app.router.add_route("*", "/api/{version:v\\d+}{tail:/.*}", self._rest_handler)
        app.router.add_route("*", "/{tail:.*}", self._unknown_handler)
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        sock.setblocking(False)
        self._port = sock.getsockname()[1]
        await web.SockSite(runner, sock).start()
        self._runner = runner
        _log.info("FakeDiscord listening on %s", self.base_url)
        if self.patch_discord_py:
            self.configure_discord_py()
        return self

    async def stop(self) -> None:
        """Close gateway connections, stop the server and restore discord.py."""
        if self.patch_discord_py:
            self.restore_discord_py()
        for conn in list(self.connections):
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1001, message=b"FakeDiscord stopping")
        self.connections.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        _log.info("FakeDiscord stopped")

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """int: The bound port (only after :meth:`start`)."""
        if self._port is None:
            raise RuntimeError("FakeDiscord is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """str: ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        """str: REST base for ``discord.http.Route.BASE`` (``http://127.0.0.1:PORT/api/v10``)."""
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        """str: Gateway websocket URL (``ws://127.0.0.1:PORT/gateway``)."""
        return f"ws://127.0.0.1:{self.port}/gateway"

    def configure_discord_py(self) -> None:
        """Point discord.py's REST and gateway URLs at this fake (process-global)."""
        if self._saved_patch is None:
            self._saved_patch = (
                discord.http.Route.BASE,
                discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
            )
        discord.http.Route.BASE = self.api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        _log.debug(
            "discord.py patched: Route.BASE=%s DEFAULT_GATEWAY=%s", self.api_base, self.gateway_url
        )

    def restore_discord_py(self) -> None:
        """Undo :meth:`configure_discord_py` (no-op if it was not called)."""
        if self._saved_patch is None:
            return
        base, gateway = self._saved_patch
        discord.http.Route.BASE = base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway
        self._saved_patch = None

    @contextlib.asynccontextmanager
    async def running(
        self, client: discord.Client, *, token: str = "fake-bot-token", ready_timeout: float = 10.0
    ) -> AsyncIterator[discord.Client]:
        """Run ``client.start(token)`` in the background until the block exits.

        Waits for the client to become ready before entering the block and always
        closes the client afterwards.

        Args:
            client: A discord.py client or bot (not started yet).
            token: Bot token to log in with.
            ready_timeout: Seconds to wait for ``client.is_ready()``.

        Yields:
            The running client.

        Raises:
            TimeoutError: If the client is not ready in time.
        """
        task = asyncio.create_task(client.start(token), name="FakeDiscord-client")
        try:
            deadline = time.monotonic() + ready_timeout
            while not client.is_ready():
                if task.done():
                    exc = task.exception()
                    if exc is not None:
                        raise exc  # the login/connect error, e.g. LoginFailure
                    raise RuntimeError("client.start() returned before the client became ready")
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"client not ready after {ready_timeout}s; {self._summary()}"
                    )
                await asyncio.sleep(0.01)
            yield client
        finally:
            await client.close()
            if not task.done():
                try:
                    await asyncio.wait_for(task, timeout=5)
                except (asyncio.CancelledError, TimeoutError):
                    task.cancel()
                except Exception:
                    _log.exception("client.start() raised while closing")
            elif not task.cancelled():
                task.exception()  # mark retrieved; it was re-raised above if it happened early

    # ------------------------------------------------------------------ faults

    def fail_sends(self, channel_id: int, status: int | None = 403) -> None:
        """Make ``POST /channels/{channel_id}/messages`` answer ``status`` until changed.

        Like Discord: 403 is "Missing Permissions" (code 50013, e.g. after an admin took the
        bot's Send Messages away), 400 "Invalid Form Body" (50035), 5xx an internal error.
        Nothing is created. Other channels, interaction responses and webhooks are unaffected.

        Args:
            channel_id: The channel.
            status: The HTTP status to answer; ``None`` makes sends work again.
        """
        if status is None:
            self._send_faults.pop(channel_id, None)
        else:
            self._send_faults[channel_id] = status

    def refuse_dms(self, user_id: int, refused: bool = True) -> None:
        """Make sends to the DM channel with ``user_id`` answer like a user who closed DMs.

        Discord answers 403 "Cannot send messages to this user" (code 50007) when the user
        disabled DMs from server members or blocked the bot; opening the DM channel still works.

        Args:
            user_id: The user.
            refused: False makes DMs to the user work again.
        """
        channel_id = self.dm_channel_id(user_id)
        if refused:
            self._send_faults[channel_id] = _DMS_CLOSED
        else:
            self._send_faults.pop(channel_id, None)

    def _send_fault(self, channel_id: int) -> _Reply | None:
        status = self._send_faults.get(channel_id)
        if status == _DMS_CLOSED:
            return _error(403, "Cannot send messages to this user", 50007)
        if status is None:
            return None
        if status == 403:
            return _error(403, "Missing Permissions", 50013)
        if status == 400:
            return _error(
                400,
                "Invalid Form Body",
                50035,
                {
                    "embeds": {
                        "0": {"url": _field_error("URL_TYPE_INVALID_URL", "Not a well formed URL.")}
                    }
                },
            )
        if status == 404:
            return _error(404, "Unknown Channel", 10003)
        return _error(status, f"{status}: Internal Server Error", 0)
