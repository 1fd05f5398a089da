"""A local fake of the Discord API (REST + gateway) for end-to-end bot tests.

The real ``discord.py`` client connects to :class:`FakeDiscord` exactly as it would
connect to Discord: it logs in over REST, dials the gateway websocket, receives
``READY`` / ``GUILD_CREATE``, and then reacts to events that tests inject
(messages, slash commands, autocomplete, button clicks, modal submits). Everything
the bot sends back over REST is recorded so tests can assert on it.

Pointing discord.py at the fake
-------------------------------
discord.py has no "base URL" option, so two class attributes are patched
(:meth:`FakeDiscord.configure_discord_py` does it, :meth:`FakeDiscord.restore_discord_py`
undoes it; both run automatically in :meth:`FakeDiscord.start` / :meth:`FakeDiscord.stop`
unless ``patch_discord_py=False``):

* ``discord.http.Route.BASE`` -- every REST URL is ``Route.BASE + path`` and is
  computed when a ``Route`` is constructed. This also covers the webhook adapter
  used for interaction callbacks and follow-ups (it reuses ``discord.http.Route``).
  Set to :attr:`FakeDiscord.api_base` (``http://127.0.0.1:PORT/api/v10``).
* ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` -- ``Client.connect`` dials
  this URL directly (it never asks ``GET /gateway``), and an ``INVALID_SESSION``
  resets the connection to it. Set to ``yarl.URL(fake.gateway_url)``.

The remaining gateway URLs come from the fake itself: ``READY.resume_gateway_url``
(used for RESUME) and ``GET /gateway/bot`` (used by ``AutoShardedClient`` when
``shard_count`` is not given) both return :attr:`FakeDiscord.gateway_url`.

The patch is process-global, so only one started ``FakeDiscord`` should be
patched in at a time. Calling ``discord.http._set_api_version`` afterwards would
overwrite ``Route.BASE``.

Typical use::

    async with FakeDiscord() as fake:
        bot = commands.Bot(command_prefix="!", intents=intents, guild_ready_timeout=0.05)
        async with fake.running(bot):
            await fake.inject_message(TEXT_CHANNEL_ID, "hello")
            sent = await fake.wait_for_message(lambda m: m.channel_id == TEXT_CHANNEL_ID)

Behaviour worth knowing
-----------------------
* ``guild_ready_timeout`` (a ``Client`` kwarg, default 2 s) delays ``on_ready`` after
  the last ``GUILD_CREATE``; pass a small value in tests.
* Like Discord, the fake emulates the privileged intents: without ``MESSAGE_CONTENT``
  guild messages that do not mention the bot arrive with empty content; without
  ``GUILD_PRESENCES`` ``GUILD_CREATE`` only lists the bot member. Message events are
  only sent when ``GUILD_MESSAGES`` / ``DIRECT_MESSAGES`` are requested.
* The bot's own messages (channel posts and non-ephemeral interaction responses) are
  echoed back as ``MESSAGE_CREATE`` / ``MESSAGE_UPDATE`` like Discord does
  (``echo_bot_messages=False`` turns that off).
* Message payloads are validated (2000-char content, embed limits, empty message)
  and rejected with Discord's 400 error bodies (``validate_messages=False`` turns
  that off).
* As on Discord, the first follow-up after a deferred "thinking" response
  (``interaction.response.defer()``) edits the loading message instead of creating
  a new one, and keeps the defer's ephemeral state (an ``ephemeral=True`` follow-up
  after a public defer is public).
* :meth:`FakeDiscord.fail_sends` makes message sends to a channel answer 403 (Missing
  Permissions), 400 (Invalid Form Body), 5xx (any status), switchable at run time. discord.py
  retries 500/502/504 itself for ~16 s before raising; 503 is raised at once.
* JSON responses are sent with ``Content-Type: application/json`` exactly: discord.py
  only decodes JSON when the header is exactly that (aiohttp's ``json_response``
  adds ``; charset=utf-8`` and would make discord.py see a plain string).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime
import json
import logging
import re
import secrets
import socket
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import discord
import discord.gateway
import discord.http
import yarl
from aiohttp import WSMsgType, web

try:  # Optional: only needed when discord.py negotiates zstd-stream.
    import zstandard as _zstandard  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the environment
    _zstandard = None

_log = logging.getLogger(__name__)

__all__ = [
    "ADMIN_ID",
    "ADMIN_PERMISSIONS",
    "ADMIN_ROLE_ID",
    "ALL_PERMISSIONS",
    "APPLICATION_ID",
    "BOT_ID",
    "BOT_ROLE_ID",
    "DEFAULT_MEMBER_PERMISSIONS",
    "GUILD_ID",
    "OTHER_CHANNEL_ID",
    "OWNER_ID",
    "TEXT_CHANNEL_ID",
    "USER_ID",
    "FakeDiscord",
    "GatewayFrame",
    "InteractionResponse",
    "RecordedRequest",
    "SentMessage",
    "TypedOption",
]

# ---------------------------------------------------------------------------
# Default identifiers
# ---------------------------------------------------------------------------

#: The default guild ("Test Guild"). Also the id of its ``@everyone`` role.
GUILD_ID = 1100000000000000001
#: Default text channel ``#general`` in :data:`GUILD_ID`.
TEXT_CHANNEL_ID = 1100000000000000002
#: Second text channel ``#digest`` in :data:`GUILD_ID`.
OTHER_CHANNEL_ID = 1100000000000000003
#: Role granting ``MANAGE_GUILD`` (held by :data:`ADMIN_ID`).
ADMIN_ROLE_ID = 1100000000000000010
#: Managed role of the bot.
BOT_ROLE_ID = 1100000000000000011
#: Application id; like modern Discord apps, the bot user has the same id.
APPLICATION_ID = 1200000000000000001
#: The bot user id.
BOT_ID = APPLICATION_ID
#: Guild owner (also the application owner).
OWNER_ID = 1300000000000000001
#: A regular member without special permissions.
USER_ID = 1300000000000000002
#: A member holding :data:`ADMIN_ROLE_ID` (``MANAGE_GUILD``).
ADMIN_ID = 1300000000000000003

DISCORD_EPOCH_MS = 1420070400000

# Permission bits (https://discord.com/developers/docs/topics/permissions).
_CREATE_INSTANT_INVITE = 1 << 0
_ADMINISTRATOR = 1 << 3
_MANAGE_GUILD = 1 << 5
_ADD_REACTIONS = 1 << 6
_VIEW_CHANNEL = 1 << 10
_SEND_MESSAGES = 1 << 11
_MANAGE_MESSAGES = 1 << 13
_EMBED_LINKS = 1 << 14
_ATTACH_FILES = 1 << 15
_READ_MESSAGE_HISTORY = 1 << 16
_USE_EXTERNAL_EMOJIS = 1 << 18
_CHANGE_NICKNAME = 1 << 26
_USE_APPLICATION_COMMANDS = 1 << 31
_CREATE_PUBLIC_THREADS = 1 << 35
_SEND_MESSAGES_IN_THREADS = 1 << 38

#: Permissions of ``@everyone`` in the default guild (what a regular member has).
DEFAULT_MEMBER_PERMISSIONS = (
    _CREATE_INSTANT_INVITE
    | _ADD_REACTIONS
    | _VIEW_CHANNEL
    | _SEND_MESSAGES
    | _EMBED_LINKS
    | _ATTACH_FILES
    | _READ_MESSAGE_HISTORY
    | _USE_EXTERNAL_EMOJIS
    | _CHANGE_NICKNAME
    | _USE_APPLICATION_COMMANDS
    | _CREATE_PUBLIC_THREADS
    | _SEND_MESSAGES_IN_THREADS
)
#: Extra permissions of the admin role.
ADMIN_PERMISSIONS = _MANAGE_GUILD | _MANAGE_MESSAGES
#: Every permission (what the guild owner / an ADMINISTRATOR resolves to).
ALL_PERMISSIONS = discord.Permissions.all().value

# Gateway intents (https://discord.com/developers/docs/events/gateway#gateway-intents).
_INTENT_GUILD_MEMBERS = 1 << 1
_INTENT_GUILD_PRESENCES = 1 << 8
_INTENT_GUILD_MESSAGES = 1 << 9
_INTENT_DIRECT_MESSAGES = 1 << 12
_INTENT_MESSAGE_CONTENT = 1 << 15
_PRIVILEGED_INTENTS = _INTENT_GUILD_MEMBERS | _INTENT_GUILD_PRESENCES | _INTENT_MESSAGE_CONTENT

# Message flags.
_FLAG_EPHEMERAL = 1 << 6
_FLAG_LOADING = 1 << 7
_FLAG_COMPONENTS_V2 = 1 << 15

# Gateway opcodes.
_OP_DISPATCH = 0
_OP_HEARTBEAT = 1
_OP_IDENTIFY = 2
_OP_PRESENCE = 3
_OP_RESUME = 6
_OP_RECONNECT = 7
_OP_REQUEST_MEMBERS = 8
_OP_INVALID_SESSION = 9
_OP_HELLO = 10
_OP_HEARTBEAT_ACK = 11

# Interaction types and callback types.
_INTERACTION_APP_COMMAND = 2
_INTERACTION_COMPONENT = 3
_INTERACTION_AUTOCOMPLETE = 4
_INTERACTION_MODAL_SUBMIT = 5
_CALLBACK_MESSAGE = 4
_CALLBACK_DEFERRED_MESSAGE = 5
_CALLBACK_DEFERRED_UPDATE = 6
_CALLBACK_UPDATE_MESSAGE = 7
_CALLBACK_AUTOCOMPLETE = 8
_CALLBACK_MODAL = 9

_MENTION_USER_RE = re.compile(r"<@!?(\d+)>")
_MENTION_ROLE_RE = re.compile(r"<@&(\d+)>")


class _Auto:
    """Sentinel type meaning "work it out from the fake's state"."""

    def __repr__(self) -> str:
        return "AUTO"


_AUTO: Any = _Auto()


# ---------------------------------------------------------------------------
# Records exposed to tests
# ---------------------------------------------------------------------------


@dataclass
class RecordedRequest:
    """One REST request received by the fake.

    Attributes:
        method: HTTP method, upper case.
        path: Path relative to the API base, e.g. ``/channels/1/messages``.
        query: Query string parameters.
        json: Decoded JSON body; for multipart requests the parsed ``payload_json``.
        files: Uploaded files of a multipart request (``field``, ``filename``,
            ``content_type``, ``data``).
        headers: Request headers without ``Authorization``.
        authorized: Whether an ``Authorization`` header was sent.
        route: Name of the route that handled it, ``None`` for unknown routes.
        status: Response status code.
        response: Response body (decoded JSON) or ``None``.
    """

    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: list[dict[str, Any]]
    headers: dict[str, str]
    authorized: bool
    route: str | None = None
    status: int = 0
    response: Any = None


@dataclass
class SentMessage:
    """A message the bot produced (or edited) through any REST route.

    ``content``/``embeds``/``components``/``flags`` describe the resulting message
    after the operation; ``payload`` holds the raw request payload.

    Attributes:
        kind: One of ``channel`` (POST /channels/{id}/messages), ``edit_message``,
            ``interaction_response`` (callback type 4), ``interaction_update``
            (callback type 7), ``followup``, ``edit_original``, ``edit_followup``.
        channel_id: Channel of the message.
        message_id: Id of the message.
        content: Message content.
        embeds: Message embeds.
        components: Message components.
        flags: Message flags (64 = ephemeral).
        allowed_mentions: ``allowed_mentions`` of the payload, if any.
        attachments: Attachment objects of the message.
        interaction_id: Interaction this belongs to, if any.
        payload: Raw request payload.
        message: Full stored message object.
    """

    kind: str
    channel_id: int | None
    message_id: int | None
    content: str
    embeds: list[dict[str, Any]]
    components: list[dict[str, Any]]
    flags: int
    allowed_mentions: dict[str, Any] | None
    attachments: list[dict[str, Any]]
    interaction_id: int | None
    payload: dict[str, Any]
    message: dict[str, Any]

    @property
    def ephemeral(self) -> bool:
        """bool: Whether the message carries the EPHEMERAL flag."""
        return bool(self.flags & _FLAG_EPHEMERAL)


@dataclass
class InteractionResponse:
    """Something the bot did in reply to an interaction.

    Attributes:
        kind: ``callback``, ``followup``, ``edit_original``, ``delete_original``,
            ``edit_followup`` or ``delete_followup``.
        interaction_id: The interaction id.
        type: Callback type for ``callback`` records (4 message, 5 deferred message,
            6 deferred update, 7 update message, 8 autocomplete, 9 modal), else ``None``.
        data: The callback ``data`` or the webhook payload.
        message: The message created or edited, if any.
    """

    kind: str
    interaction_id: int
    type: int | None
    data: dict[str, Any]
    message: dict[str, Any] | None = None

    @property
    def choices(self) -> list[dict[str, Any]]:
        """list[dict]: Autocomplete choices (empty unless this is a type 8 callback)."""
        return list(self.data.get("choices") or [])


@dataclass
class GatewayFrame:
    """A gateway payload sent or received by the fake.

    Attributes:
        direction: ``"send"`` (fake to client) or ``"recv"`` (client to fake).
        op: Gateway opcode.
        t: Event name for dispatches.
        s: Sequence number for dispatches.
        d: Payload data.
        shard_id: Shard of the connection, if known.
    """

    direction: str
    op: int
    t: str | None
    s: int | None
    d: Any
    shard_id: int | None


@dataclass(frozen=True)
class TypedOption:
    """An explicit application command option value with its option type.

    Use when the command was not registered with the fake (so the type cannot be
    looked up) and the Python type of the value is ambiguous, e.g.
    ``TypedOption(7, TEXT_CHANNEL_ID)`` for a channel option.

    Attributes:
        type: Discord option type (3 string, 4 integer, 5 boolean, 6 user,
            7 channel, 8 role, 9 mentionable, 10 number, 11 attachment).
        value: The value.
    """

    type: int
    value: Any


# ---------------------------------------------------------------------------
# Internal state objects
# ---------------------------------------------------------------------------


@dataclass
class _Guild:
    id: int
    name: str
    owner_id: int
    roles: dict[int, dict[str, Any]] = field(default_factory=dict)
    channel_ids: list[int] = field(default_factory=list)
    members: dict[int, dict[str, Any]] = field(default_factory=dict)
    joined_at: str = ""


@dataclass
class _Interaction:
    id: int
    token: str
    type: int
    payload: dict[str, Any]
    channel_id: int | None
    guild_id: int | None
    created: float
    component_message_id: int | None = None
    response_type: int | None = None
    original_message_id: int | None = None
    responses: list[InteractionResponse] = field(default_factory=list)


@dataclass
class _GatewaySession:
    session_id: str
    shard_id: int | None
    shard_count: int | None
    intents: int
    seq: int = 0
    connection: _GatewayConnection | None = None


class _GatewayConnection:
    """One websocket connection with its transport compression."""

    def __init__(self, ws: web.WebSocketResponse, compress: str | None, fake: FakeDiscord) -> None:
        self.ws = ws
        self.fake = fake
        self.session: _GatewaySession | None = None
        self.heartbeats = 0
        self._lock = asyncio.Lock()
        self._zlib: Any = None
        self._zstd: Any = None
        self.compress: str | None = None
        if compress == "zlib-stream":
            self.compress = compress
            self._zlib = zlib.compressobj()
        elif compress == "zstd-stream" and _zstandard is not None:
            self.compress = compress
            self._zstd = _zstandard.ZstdCompressor().compressobj()
        elif compress:
            _log.warning("FakeDiscord: unsupported compress=%r, sending plain JSON", compress)

    @property
    def shard_id(self) -> int | None:
        return self.session.shard_id if self.session else None

    async def send(self, payload: dict[str, Any]) -> None:
        """Serialize, compress and send one gateway payload (in order)."""
        raw = json.dumps(payload, separators=(",", ":")).encode()
        async with self._lock:
            if self.ws.closed:
                return
            self.fake._log_frame("send", payload, self.shard_id)
            try:
                if self._zlib is not None:
                    data = self._zlib.compress(raw) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
                    await self.ws.send_bytes(data)
                elif self._zstd is not None:
                    data = self._zstd.compress(raw) + self._zstd.flush(
                        _zstandard.COMPRESSOBJ_FLUSH_BLOCK
                    )
                    await self.ws.send_bytes(data)
                else:
                    await self.ws.send_str(raw.decode())
            except ConnectionResetError:
                _log.debug("gateway send on a closing connection dropped: op=%s", payload.get("op"))


def _json_response(body: Any, status: int = 200) -> web.Response:
    # discord.py decodes JSON only if Content-Type is *exactly* application/json.
    return web.Response(
        body=json.dumps(body).encode(), status=status, headers={"Content-Type": "application/json"}
    )


def _error(
    status: int, message: str, code: int, errors: dict[str, Any] | None = None
) -> tuple[int, Any]:
    body: dict[str, Any] = {"message": message, "code": code}
    if errors:
        body["errors"] = errors
    return status, body


def _now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat()


def _field_error(code: str, message: str) -> dict[str, Any]:
    return {"_errors": [{"code": code, "message": message}]}


_Reply = tuple[int, Any]
_Handler = Callable[["_Call"], Awaitable[_Reply]]


@dataclass
class _Call:
    params: dict[str, str]
    query: dict[str, str]
    json: Any
    files: list[dict[str, Any]]
    record: RecordedRequest


# ---------------------------------------------------------------------------
# The fake
# ---------------------------------------------------------------------------


class FakeDiscord:
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

    def _send_fault(self, channel_id: int) -> _Reply | None:
        status = self._send_faults.get(channel_id)
        if status is None:
            return None
        if status == 403:
            return _error(403, "Missing Permissions", 50013)
        if status == 400:
            return _error(400, "Invalid Form Body", 50035, {"embeds": {"0": {"url": _field_error("URL_TYPE_INVALID_URL", "Not a well formed URL.")}}})
        if status == 404:
            return _error(404, "Unknown Channel", 10003)
        return _error(status, f"{status}: Internal Server Error", 0)

    # ------------------------------------------------------------------ state setup

    def _create_defaults(self) -> None:
        self.add_user(OWNER_ID, "owner")
        self.add_user(USER_ID, "alice")
        self.add_user(ADMIN_ID, "admin")
        self.add_guild(GUILD_ID, "Test Guild", owner_id=OWNER_ID)
        self.add_role(GUILD_ID, ADMIN_ROLE_ID, "Admin", ADMIN_PERMISSIONS, position=2)
        role = self.add_role(
            GUILD_ID, BOT_ROLE_ID, "digestbot", DEFAULT_MEMBER_PERMISSIONS, position=1
        )
        role["managed"] = True
        role["tags"] = {"bot_id": str(BOT_ID)}
        self.add_channel(GUILD_ID, TEXT_CHANNEL_ID, "general", topic="General chat")
        self.add_channel(GUILD_ID, OTHER_CHANNEL_ID, "digest", topic="Newsletter digests")
        self.add_member(GUILD_ID, OWNER_ID)
        self.add_member(GUILD_ID, USER_ID)
        self.add_member(GUILD_ID, ADMIN_ID, roles=[ADMIN_ROLE_ID])
        self.add_member(GUILD_ID, BOT_ID, roles=[BOT_ROLE_ID])

    @staticmethod
    def _user_payload(
        user_id: int, username: str, *, bot: bool = False, global_name: str | None = None
    ) -> dict[str, Any]:
        return {
            "id": str(user_id),
            "username": username,
            "discriminator": "0",
            "global_name": global_name
            if global_name is not None
            else (None if bot else username.title()),
            "avatar": None,
            "bot": bot,
            "system": False,
            "public_flags": 0,
            "flags": 0,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
        }

    def add_user(
        self, user_id: int, username: str, *, bot: bool = False, global_name: str | None = None
    ) -> dict[str, Any]:
        """Register a user.

        Args:
            user_id: Snowflake.
            username: Username.
            bot: Whether the user is a bot.
            global_name: Display name (defaults to the title-cased username).

        Returns:
            The stored user object.
        """
        user = self._user_payload(user_id, username, bot=bot, global_name=global_name)
        self.users[user_id] = user
        return user

    def add_guild(self, guild_id: int, name: str, *, owner_id: int) -> _Guild:
        """Register a guild with its ``@everyone`` role (call before the bot connects).

        Args:
            guild_id: Snowflake; also the ``@everyone`` role id.
            name: Guild name.
            owner_id: Owner user id.

        Returns:
            The internal guild record.
        """
        guild = _Guild(id=guild_id, name=name, owner_id=owner_id, joined_at=_now_iso())
        self.guilds[guild_id] = guild
        self.add_role(guild_id, guild_id, "@everyone", DEFAULT_MEMBER_PERMISSIONS, position=0)
        if BOT_ID not in guild.members:
            self.add_member(guild_id, BOT_ID)
        return guild

    def add_role(
        self, guild_id: int, role_id: int, name: str, permissions: int, *, position: int = 1
    ) -> dict[str, Any]:
        """Register a role in a guild.

        Args:
            guild_id: Guild id.
            role_id: Role id.
            name: Role name.
            permissions: Permission bits.
            position: Role position.

        Returns:
            The stored role object.
        """
        role = {
            "id": str(role_id),
            "name": name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": position,
            "permissions": str(permissions),
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }
        self.guilds[guild_id].roles[role_id] = role
        return role

    def add_channel(
        self,
        guild_id: int,
        channel_id: int,
        name: str,
        *,
        type: int = 0,
        topic: str | None = None,
        parent_id: int | None = None,
    ) -> dict[str, Any]:
        """Register a guild channel.

        Args:
            guild_id: Guild id.
            channel_id: Channel id.
            name: Channel name.
            type: Channel type (0 text, 2 voice, 4 category, 5 news, 15 forum).
            topic: Channel topic.
            parent_id: Category id.

        Returns:
            The stored channel object.
        """
        guild = self.guilds[guild_id]
        channel = {
            "id": str(channel_id),
            "type": type,
            "guild_id": str(guild_id),
            "name": name,
            "position": len(guild.channel_ids),
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": str(parent_id) if parent_id else None,
            "topic": topic,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
        }
        if type in (2, 13):
            channel.update({"bitrate": 64000, "user_limit": 0, "rtc_region": None})
        self.channels[channel_id] = channel
        guild.channel_ids.append(channel_id)
        return channel

    def add_member(
        self, guild_id: int, user_id: int, *, roles: Sequence[int] = (), nick: str | None = None
    ) -> dict[str, Any]:
        """Add a registered user to a guild.

        Args:
            guild_id: Guild id.
            user_id: User id (must be registered with :meth:`add_user`).
            roles: Role ids (``@everyone`` is implicit).
            nick: Nickname.

        Returns:
            The stored member object (with ``user``).
        """
        member = {
            "user": self.users[user_id],
            "nick": nick,
            "avatar": None,
            "banner": None,
            "roles": [str(r) for r in roles],
            "joined_at": _now_iso(),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        self.guilds[guild_id].members[user_id] = member
        return member

    def dm_channel_id(self, user_id: int) -> int:
        """Return (creating if needed) the DM channel id between the bot and a user.

        Args:
            user_id: The other user.

        Returns:
            The DM channel id.
        """
        if user_id in self._dm_channels:
            return self._dm_channels[user_id]
        channel_id = self._snowflake()
        self._dm_channels[user_id] = channel_id
        self.channels[channel_id] = {
            "id": str(channel_id),
            "type": 1,
            "last_message_id": None,
            "flags": 0,
            "recipients": [self._user(user_id)],
        }
        return channel_id

    def member_permissions(self, guild_id: int, user_id: int) -> int:
        """Compute a member's guild-level permissions (owner/ADMINISTRATOR -> all).

        Args:
            guild_id: Guild id.
            user_id: User id.

        Returns:
            Permission bits.
        """
        guild = self.guilds[guild_id]
        if user_id == guild.owner_id:
            return ALL_PERMISSIONS
        perms = int(guild.roles[guild_id]["permissions"])
        member = guild.members.get(user_id)
        for role_id in member["roles"] if member else []:
            role = guild.roles.get(int(role_id))
            if role:
                perms |= int(role["permissions"])
        if perms & _ADMINISTRATOR:
            return ALL_PERMISSIONS
        return perms

    # ------------------------------------------------------------------ helpers

    def _snowflake(self) -> int:
        now = int(time.time() * 1000) - DISCORD_EPOCH_MS
        value = (now << 22) | (1 << 17)
        if value <= self._last_snowflake:
            value = self._last_snowflake + 1
        self._last_snowflake = value
        return value

    def _user(self, user: int | Mapping[str, Any]) -> dict[str, Any]:
        if isinstance(user, Mapping):
            return dict(user)
        if user not in self.users:
            self.add_user(user, f"user{user}")
        return self.users[user]

    def _guild_of_channel(self, channel_id: int | None) -> int | None:
        channel = self.channels.get(channel_id) if channel_id is not None else None
        if channel and channel.get("guild_id"):
            return int(channel["guild_id"])
        return None

    def _member_payload(
        self, guild_id: int, user_id: int, *, with_user: bool = True
    ) -> dict[str, Any]:
        guild = self.guilds[guild_id]
        member = guild.members.get(user_id)
        if member is None:
            member = self.add_member(guild_id, user_id)
        data = copy.deepcopy(member)
        if not with_user:
            data.pop("user", None)
        return data

    def _shard_of(self, guild_id: int | None, shard_count: int | None) -> int:
        if guild_id is None or not shard_count:
            return 0
        return (guild_id >> 22) % shard_count

    def _summary(self) -> str:
        last = [f"{r.method} {r.path} -> {r.status}" for r in self.requests[-10:]]
        return f"last requests: {last}; sent messages: {len(self._sent)}"

    async def _notify(self) -> None:
        if self._cond is None:
            return
        async with self._cond:
            self._cond.notify_all()

    async def _wait_until(self, find: Callable[[], Any], timeout: float, what: str) -> Any:
        if self._cond is None:
            raise RuntimeError("FakeDiscord is not started")
        try:
            async with self._cond:
                return await asyncio.wait_for(self._cond.wait_for(find), timeout)
        except TimeoutError:
            raise TimeoutError(
                f"timed out after {timeout}s waiting for {what}; {self._summary()}"
            ) from None

    def _log_frame(self, direction: str, payload: Mapping[str, Any], shard_id: int | None) -> None:
        self.gateway_log.append(
            GatewayFrame(
                direction=direction,
                op=payload.get("op", -1),
                t=payload.get("t"),
                s=payload.get("s"),
                d=payload.get("d"),
                shard_id=shard_id,
            )
        )

    # ------------------------------------------------------------------ assertions API

    def sent_messages(self, channel_id: int | None = None) -> list[SentMessage]:
        """Messages the bot produced (channel posts, interaction responses, follow-ups, edits).

        Args:
            channel_id: Only messages of this channel.

        Returns:
            The matching records, oldest first.
        """
        return [m for m in self._sent if channel_id is None or m.channel_id == channel_id]

    def interaction_responses(self, interaction_id: int | str) -> list[InteractionResponse]:
        """Everything the bot did for one interaction (callbacks, follow-ups, edits).

        Args:
            interaction_id: Interaction id (as returned in the injected payload's ``id``).

        Returns:
            The records, oldest first.
        """
        inter = self._interactions.get(int(interaction_id))
        return list(inter.responses) if inter else []

    @property
    def heartbeats_received(self) -> int:
        """int: Number of HEARTBEAT (op 1) payloads received from clients."""
        return sum(1 for f in self.gateway_log if f.direction == "recv" and f.op == _OP_HEARTBEAT)

    async def wait_for_request(
        self, predicate: Callable[[RecordedRequest], bool], timeout: float = 10, *, after: int = 0
    ) -> RecordedRequest:
        """Wait for a recorded (already answered) REST request matching ``predicate``.

        Args:
            predicate: Called with each :class:`RecordedRequest`.
            timeout: Seconds to wait.
            after: Only consider ``requests[after:]`` (use ``len(fake.requests)``).

        Returns:
            The first matching request.

        Raises:
            TimeoutError: If none arrives in time.
        """

        def find() -> RecordedRequest | None:
            return next((r for r in self.requests[after:] if r.status and predicate(r)), None)

        return await self._wait_until(find, timeout, "request")

    async def wait_for_message(
        self,
        predicate: Callable[[SentMessage], bool] | None = None,
        timeout: float = 10,
        *,
        after: int = 0,
    ) -> SentMessage:
        """Wait for a bot-produced message matching ``predicate``.

        Args:
            predicate: Called with each :class:`SentMessage`; ``None`` matches any.
            timeout: Seconds to wait.
            after: Only consider ``sent_messages()[after:]``.

        Returns:
            The first matching message.

        Raises:
            TimeoutError: If none arrives in time.
        """

        def find() -> SentMessage | None:
            return next((m for m in self._sent[after:] if predicate is None or predicate(m)), None)

        return await self._wait_until(find, timeout, "message")

    async def wait_for_interaction_response(
        self,
        interaction_id: int | str,
        predicate: Callable[[InteractionResponse], bool] | None = None,
        timeout: float = 10,
    ) -> InteractionResponse:
        """Wait for a response record of an interaction.

        Args:
            interaction_id: Interaction id.
            predicate: Filter; ``None`` matches any.
            timeout: Seconds to wait.

        Returns:
            The first matching record.
        """

        def find() -> InteractionResponse | None:
            return next(
                (
                    r
                    for r in self.interaction_responses(interaction_id)
                    if predicate is None or predicate(r)
                ),
                None,
            )

        return await self._wait_until(find, timeout, f"response to interaction {interaction_id}")

    async def wait_for_gateway(
        self, predicate: Callable[[GatewayFrame], bool], timeout: float = 10, *, after: int = 0
    ) -> GatewayFrame:
        """Wait for a gateway frame (sent or received) matching ``predicate``.

        Args:
            predicate: Called with each :class:`GatewayFrame`.
            timeout: Seconds to wait.
            after: Only consider ``gateway_log[after:]``.

        Returns:
            The first matching frame.
        """

        def find() -> GatewayFrame | None:
            return next((f for f in self.gateway_log[after:] if predicate(f)), None)

        return await self._wait_until(find, timeout, "gateway frame")

    # ------------------------------------------------------------------ gateway

    async def _gateway_handler(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0, compress=False, autoping=True)
        await ws.prepare(request)
        if request.query.get("encoding", "json") != "json":
            await ws.close(code=4002, message=b"FakeDiscord only supports encoding=json")
            return ws
        conn = _GatewayConnection(ws, request.query.get("compress"), self)
        self.connections.append(conn)
        _log.debug("gateway connection opened (compress=%s)", conn.compress)
        try:
            await conn.send(
                {
                    "op": _OP_HELLO,
                    "d": {"heartbeat_interval": self.heartbeat_interval_ms, "_trace": ["fake"]},
                    "s": None,
                    "t": None,
                }
            )
            await self._notify()
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    payload = json.loads(msg.data)
                elif msg.type == WSMsgType.BINARY:
                    payload = json.loads(msg.data.decode())
                else:
                    break
                self._log_frame("recv", payload, conn.shard_id)
                await self._handle_gateway_payload(conn, payload)
                await self._notify()
        except Exception:
            _log.exception("FakeDiscord gateway handler failed")
        finally:
            if conn in self.connections:
                self.connections.remove(conn)
            if conn.session is not None and conn.session.connection is conn:
                conn.session.connection = None
            _log.debug("gateway connection closed (code=%s)", ws.close_code)
        return ws

    async def _handle_gateway_payload(
        self, conn: _GatewayConnection, payload: dict[str, Any]
    ) -> None:
        op = payload.get("op")
        data = payload.get("d")
        if op == _OP_HEARTBEAT:
            conn.heartbeats += 1
            if self.ack_heartbeats:
                await conn.send({"op": _OP_HEARTBEAT_ACK, "d": None, "s": None, "t": None})
        elif op == _OP_IDENTIFY:
            await self._identify(conn, data)
        elif op == _OP_RESUME:
            await self._resume(conn, data)
        elif op == _OP_REQUEST_MEMBERS:
            await self._request_members(conn, data)
        elif op == _OP_PRESENCE:
            pass
        else:
            _log.info("FakeDiscord: ignoring gateway op %s", op)

    async def _identify(self, conn: _GatewayConnection, data: dict[str, Any]) -> None:
        if self.token is not None and data.get("token") != self.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        intents = int(data.get("intents", 0))
        if intents & _PRIVILEGED_INTENTS & ~self.allowed_intents:
            await conn.ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        shard = data.get("shard")
        shard_id, shard_count = (int(shard[0]), int(shard[1])) if shard else (None, None)
        session = _GatewaySession(
            session_id=uuid.uuid4().hex, shard_id=shard_id, shard_count=shard_count, intents=intents
        )
        session.connection = conn
        conn.session = session
        self.sessions[session.session_id] = session
        guilds = [
            g for g in self.guilds.values() if self._shard_of(g.id, shard_count) == (shard_id or 0)
        ]
        ready: dict[str, Any] = {
            "v": 10,
            "user": self.bot_user,
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(APPLICATION_ID), "flags": self.application_flags},
            "private_channels": [],
            "presences": [],
            "relationships": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "_trace": ["fake-discord"],
        }
        if shard is not None:
            ready["shard"] = [shard_id, shard_count]
        await self._send_dispatch(session, "READY", ready)
        for guild in guilds:
            await self._send_dispatch(
                session, "GUILD_CREATE", self._guild_create_payload(guild, intents)
            )

    async def _resume(self, conn: _GatewayConnection, data: dict[str, Any]) -> None:
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or (self.token is not None and data.get("token") != self.token):
            await conn.send({"op": _OP_INVALID_SESSION, "d": False, "s": None, "t": None})
            return
        session.connection = conn
        conn.session = session
        await self._send_dispatch(session, "RESUMED", {"_trace": ["fake-discord"]})

    async def _request_members(self, conn: _GatewayConnection, data: dict[str, Any]) -> None:
        if conn.session is None:
            return
        guild_ids = data.get("guild_id")
        for gid in guild_ids if isinstance(guild_ids, list) else [guild_ids]:
            guild = self.guilds.get(int(gid))
            if guild is None:
                continue
            wanted = {int(u) for u in data.get("user_ids") or []}
            query = (data.get("query") or "").lower()
            members = [
                copy.deepcopy(m)
                for uid, m in guild.members.items()
                if (not wanted or uid in wanted) and m["user"]["username"].lower().startswith(query)
            ]
            chunk = {
                "guild_id": str(guild.id),
                "members": members,
                "chunk_index": 0,
                "chunk_count": 1,
                "not_found": [],
            }
            if data.get("nonce") is not None:
                chunk["nonce"] = data["nonce"]
            await self._send_dispatch(conn.session, "GUILD_MEMBERS_CHUNK", chunk)

    def _guild_payload(self, guild: _Guild) -> dict[str, Any]:
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": str(guild.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [copy.deepcopy(r) for r in guild.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": None,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
        }

    def _guild_create_payload(self, guild: _Guild, intents: int) -> dict[str, Any]:
        data = self._guild_payload(guild)
        full = self.full_member_list
        if full is None:
            full = bool(intents & _INTENT_GUILD_PRESENCES)
        members = [copy.deepcopy(m) for uid, m in guild.members.items() if full or uid == BOT_ID]
        data.update(
            {
                "unavailable": False,
                "joined_at": guild.joined_at,
                "large": False,
                "member_count": len(guild.members),
                "members": members,
                "channels": [
                    {k: v for k, v in self.channels[c].items() if k != "guild_id"}
                    for c in guild.channel_ids
                ],
                "threads": [],
                "presences": [],
                "voice_states": [],
                "stage_instances": [],
                "guild_scheduled_events": [],
                "soundboard_sounds": [],
            }
        )
        return data

    async def _send_dispatch(self, session: _GatewaySession, event: str, data: Any) -> None:
        conn = session.connection
        if conn is None or conn.ws.closed:
            return
        session.seq += 1
        await conn.send({"op": _OP_DISPATCH, "t": event, "s": session.seq, "d": data})

    def _sessions_for(self, guild_id: int | None) -> list[_GatewaySession]:
        return [
            s
            for s in self.sessions.values()
            if s.connection is not None
            and not s.connection.ws.closed
            and self._shard_of(guild_id, s.shard_count) == (s.shard_id or 0)
        ]

    async def dispatch(
        self,
        event: str,
        data: Mapping[str, Any],
        *,
        guild_id: int | None = None,
        transform: Callable[[dict[str, Any], _GatewaySession], dict[str, Any] | None] | None = None,
    ) -> int:
        """Send a DISPATCH event to every live session owning ``guild_id``'s shard.

        Args:
            event: Event name, e.g. ``"GUILD_MEMBER_ADD"``.
            data: Event data.
            guild_id: Guild the event belongs to (``None`` -> shard 0).
            transform: Optional per-session rewrite; returning ``None`` skips the session.

        Returns:
            Number of sessions the event was sent to.
        """
        sent = 0
        for session in self._sessions_for(guild_id):
            payload = copy.deepcopy(dict(data))
            if transform is not None:
                payload = transform(payload, session)
                if payload is None:
                    continue
            await self._send_dispatch(session, event, payload)
            sent += 1
        await self._notify()
        return sent

    async def dispatch_guild_create(self, guild_id: int) -> None:
        """Send GUILD_CREATE for a guild added after the client connected.

        Args:
            guild_id: The guild.
        """
        guild = self.guilds[guild_id]
        for session in self._sessions_for(guild_id):
            await self._send_dispatch(
                session, "GUILD_CREATE", self._guild_create_payload(guild, session.intents)
            )
        await self._notify()

    async def wait_for_session(self, guild_id: int | None = None, timeout: float = 10) -> None:
        """Wait until a client has identified on the shard that owns ``guild_id``.

        Args:
            guild_id: Guild whose shard must be connected (``None`` -> shard 0).
            timeout: Seconds to wait.
        """
        await self._wait_until(
            lambda: bool(self._sessions_for(guild_id)), timeout, "an identified gateway session"
        )

    async def send_reconnect(self) -> None:
        """Send op 7 RECONNECT on every connection (clients then RESUME)."""
        for conn in list(self.connections):
            await conn.send({"op": _OP_RECONNECT, "d": None, "s": None, "t": None})

    async def close_gateway(self, code: int = 4000) -> None:
        """Close every gateway connection from the server side.

        Args:
            code: Websocket close code (4000 lets discord.py resume; 4004 is fatal).
        """
        for conn in list(self.connections):
            await conn.ws.close(code=code)

    # ------------------------------------------------------------------ message building

    def _mentions_from(
        self, content: str, allowed: Mapping[str, Any] | None
    ) -> tuple[list[int], list[int], bool]:
        users = [int(u) for u in _MENTION_USER_RE.findall(content or "")]
        roles = [int(r) for r in _MENTION_ROLE_RE.findall(content or "")]
        everyone = "@everyone" in (content or "") or "@here" in (content or "")
        if allowed is not None:
            parse = allowed.get("parse") or []
            allowed_users = {int(u) for u in allowed.get("users") or []}
            allowed_roles = {int(r) for r in allowed.get("roles") or []}
            users = [u for u in users if "users" in parse or u in allowed_users]
            roles = [r for r in roles if "roles" in parse or r in allowed_roles]
            everyone = everyone and "everyone" in parse
        return list(dict.fromkeys(users)), list(dict.fromkeys(roles)), everyone

    def _build_message(
        self,
        *,
        channel_id: int,
        author: Mapping[str, Any],
        payload: Mapping[str, Any],
        message_id: int | None = None,
        mentions: Sequence[int] | None = None,
        type: int = 0,
        files: Sequence[Mapping[str, Any]] = (),
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        content = payload.get("content") or ""
        allowed = payload.get("allowed_mentions")
        user_mentions, role_mentions, everyone = self._mentions_from(content, allowed)
        if mentions is not None:
            user_mentions = [int(m) for m in mentions]
        guild_id = self._guild_of_channel(channel_id)
        mid = message_id if message_id is not None else self._snowflake()
        msg: dict[str, Any] = {
            "id": str(mid),
            "channel_id": str(channel_id),
            "author": dict(author),
            "content": content,
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "tts": bool(payload.get("tts", False)),
            "mention_everyone": everyone,
            "mentions": [self._user(u) for u in user_mentions],
            "mention_roles": [str(r) for r in role_mentions],
            "attachments": self._attachments_for(channel_id, payload, files),
            "embeds": list(payload.get("embeds") or []),
            "reactions": [],
            "pinned": False,
            "type": type,
            "flags": int(payload.get("flags") or 0),
            "components": list(payload.get("components") or []),
        }
        if payload.get("nonce") is not None:
            msg["nonce"] = payload["nonce"]
        if guild_id is not None:
            msg["guild_id"] = str(guild_id)
        ref = payload.get("message_reference")
        if ref:
            ref = {k: str(v) if k.endswith("_id") and v is not None else v for k, v in ref.items()}
            ref.setdefault("channel_id", str(channel_id))
            if guild_id is not None:
                ref.setdefault("guild_id", str(guild_id))
            ref.setdefault("type", 0)
            msg["message_reference"] = ref
            referenced = (
                self.messages.get(int(ref["message_id"])) if ref.get("message_id") else None
            )
            if referenced is not None:
                nested = {k: v for k, v in referenced.items() if k != "referenced_message"}
                msg["referenced_message"] = copy.deepcopy(nested)
            else:
                msg["referenced_message"] = None
            if type == 0:
                msg["type"] = 19
        if extra:
            msg.update(extra)
        return msg

    def _attachments_for(
        self, channel_id: int, payload: Mapping[str, Any], files: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        meta = {
            str(a.get("id")): a for a in payload.get("attachments") or [] if isinstance(a, Mapping)
        }
        result: list[dict[str, Any]] = []
        for index, file in enumerate(files):
            aid = self._snowflake()
            data: bytes = file.get("data", b"")
            self.attachment_data[aid] = data
            filename = file.get("filename") or f"file{index}"
            info = meta.get(str(index), {})
            url = f"{self.base_url}/attachments/{channel_id}/{aid}/{filename}"
            result.append(
                {
                    "id": str(aid),
                    "filename": filename,
                    "size": len(data),
                    "url": url,
                    "proxy_url": url,
                    "content_type": file.get("content_type") or "application/octet-stream",
                    "description": info.get("description"),
                    "flags": 0,
                }
            )
        return result

    def _make_attachment(
        self, channel_id: int, filename: str, data: bytes | str, content_type: str
    ) -> dict[str, Any]:
        raw = data.encode() if isinstance(data, str) else data
        return self._attachments_for(
            channel_id, {}, [{"filename": filename, "data": raw, "content_type": content_type}]
        )[0]

    def _gateway_message(self, msg: Mapping[str, Any]) -> dict[str, Any]:
        data = copy.deepcopy(dict(msg))
        guild_id = int(data["guild_id"]) if data.get("guild_id") else None
        if guild_id is not None and guild_id in self.guilds:
            author_id = int(data["author"]["id"])
            if not data.get("webhook_id") or author_id == BOT_ID:
                data["member"] = self._member_payload(guild_id, author_id, with_user=False)
            for mention in data.get("mentions", []):
                if int(mention["id"]) in self.guilds[guild_id].members:
                    mention["member"] = self._member_payload(
                        guild_id, int(mention["id"]), with_user=False
                    )
        return data

    def _message_visibility(
        self, msg: Mapping[str, Any], *, blank_content: bool = True
    ) -> Callable[[dict[str, Any], _GatewaySession], dict[str, Any] | None]:
        in_guild = bool(msg.get("guild_id"))

        def transform(data: dict[str, Any], session: _GatewaySession) -> dict[str, Any] | None:
            needed = _INTENT_GUILD_MESSAGES if in_guild else _INTENT_DIRECT_MESSAGES
            if not session.intents & needed:
                return None
            if not blank_content:
                return data
            author_id = int(data["author"]["id"]) if "author" in data else None
            mentioned = any(int(m["id"]) == BOT_ID for m in data.get("mentions", []))
            if (
                in_guild
                and not session.intents & _INTENT_MESSAGE_CONTENT
                and author_id != BOT_ID
                and not mentioned
            ):
                data.update({"content": "", "embeds": [], "attachments": [], "components": []})
                data.pop("poll", None)
            return data

        return transform

    async def _echo(self, event: str, msg: Mapping[str, Any]) -> None:
        if not self.echo_bot_messages or int(msg.get("flags") or 0) & _FLAG_EPHEMERAL:
            return
        guild_id = int(msg["guild_id"]) if msg.get("guild_id") else None
        deleting = event == "MESSAGE_DELETE"
        if deleting:
            data: dict[str, Any] = {"id": msg["id"], "channel_id": msg["channel_id"]}
            if guild_id is not None:
                data["guild_id"] = str(guild_id)
        else:
            data = self._gateway_message(msg)
        transform = self._message_visibility(msg, blank_content=not deleting)
        await self.dispatch(event, data, guild_id=guild_id, transform=transform)

    def _record_sent(
        self,
        kind: str,
        msg: dict[str, Any],
        payload: Mapping[str, Any],
        interaction: _Interaction | None = None,
    ) -> SentMessage:
        record = SentMessage(
            kind=kind,
            channel_id=int(msg["channel_id"]) if msg.get("channel_id") else None,
            message_id=int(msg["id"]),
            content=msg.get("content") or "",
            embeds=copy.deepcopy(msg.get("embeds") or []),
            components=copy.deepcopy(msg.get("components") or []),
            flags=int(msg.get("flags") or 0),
            allowed_mentions=copy.deepcopy(payload.get("allowed_mentions")),
            attachments=copy.deepcopy(msg.get("attachments") or []),
            interaction_id=interaction.id if interaction else None,
            payload=copy.deepcopy(dict(payload)),
            message=copy.deepcopy(msg),
        )
        self._sent.append(record)
        _log.debug("bot message (%s) in %s: %r", kind, record.channel_id, record.content[:80])
        return record

    def _apply_edit(
        self, msg: dict[str, Any], payload: Mapping[str, Any], files: Sequence[Mapping[str, Any]]
    ) -> None:
        for key in ("content", "embeds", "components"):
            if key in payload:
                value = payload[key]
                msg[key] = value if value is not None else ("" if key == "content" else [])
        if "flags" in payload and payload["flags"] is not None:
            # Only SUPPRESS_EMBEDS / components-v2 can be changed; keep ephemeral.
            msg["flags"] = (int(payload["flags"]) & ~(_FLAG_EPHEMERAL | _FLAG_LOADING)) | (
                int(msg.get("flags") or 0) & _FLAG_EPHEMERAL
            )
        if "attachments" in payload or files:
            kept_ids = {
                str(a.get("id")) for a in payload.get("attachments") or [] if isinstance(a, Mapping)
            }
            kept = [a for a in msg.get("attachments", []) if a["id"] in kept_ids]
            msg["attachments"] = kept + self._attachments_for(
                int(msg["channel_id"]), payload, files
            )
        if "content" in payload:
            users, roles, everyone = self._mentions_from(
                msg["content"], payload.get("allowed_mentions")
            )
            msg["mentions"] = [self._user(u) for u in users]
            msg["mention_roles"] = [str(r) for r in roles]
            msg["mention_everyone"] = everyone
        msg["flags"] = int(msg.get("flags") or 0) & ~_FLAG_LOADING
        msg["edited_timestamp"] = _now_iso()

    # ------------------------------------------------------------------ validation

    def _validate(
        self, payload: Mapping[str, Any], *, files: int = 0, creating: bool = True
    ) -> _Reply | None:
        if not self.validate_messages:
            return None
        errors: dict[str, Any] = {}
        content = payload.get("content")
        if content is not None and len(str(content)) > 2000:
            errors["content"] = _field_error(
                "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length."
            )
        embeds = payload.get("embeds") or []
        if len(embeds) > 10:
            errors["embeds"] = _field_error(
                "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length."
            )
        total = 0
        embed_errors: dict[str, Any] = {}
        limits = {"title": 256, "description": 4096}
        for i, embed in enumerate(embeds):
            errs: dict[str, Any] = {}
            for key, limit in limits.items():
                value = embed.get(key) or ""
                total += len(value)
                if len(value) > limit:
                    errs[key] = _field_error(
                        "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length."
                    )
            url = embed.get("url")
            if url is not None and not re.match(r"(?i)^https?://[^\s/]+", str(url)):
                errs["url"] = _field_error("URL_TYPE_INVALID_URL", "Not a well formed URL.")
            footer = (embed.get("footer") or {}).get("text") or ""
            author = (embed.get("author") or {}).get("name") or ""
            total += len(footer) + len(author)
            if len(footer) > 2048:
                errs["footer"] = {
                    "text": _field_error("BASE_TYPE_MAX_LENGTH", "Must be 2048 or fewer in length.")
                }
            if len(author) > 256:
                errs["author"] = {
                    "name": _field_error("BASE_TYPE_MAX_LENGTH", "Must be 256 or fewer in length.")
                }
            fields = embed.get("fields") or []
            if len(fields) > 25:
                errs["fields"] = _field_error(
                    "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
                )
            field_errs: dict[str, Any] = {}
            for j, f in enumerate(fields):
                name, value = str(f.get("name") or ""), str(f.get("value") or "")
                total += len(name) + len(value)
                ferr: dict[str, Any] = {}
                if not name:
                    ferr["name"] = _field_error("BASE_TYPE_REQUIRED", "This field is required")
                elif len(name) > 256:
                    ferr["name"] = _field_error(
                        "BASE_TYPE_MAX_LENGTH", "Must be 256 or fewer in length."
                    )
                if not value:
                    ferr["value"] = _field_error("BASE_TYPE_REQUIRED", "This field is required")
                elif len(value) > 1024:
                    ferr["value"] = _field_error(
                        "BASE_TYPE_MAX_LENGTH", "Must be 1024 or fewer in length."
                    )
                if ferr:
                    field_errs[str(j)] = ferr
            if field_errs:
                errs["fields"] = field_errs
            if errs:
                embed_errors[str(i)] = errs
        if embed_errors:
            errors["embeds"] = embed_errors
        elif total > 6000:
            errors["embeds"] = _field_error(
                "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000"
            )
        components = payload.get("components") or []
        flags = int(payload.get("flags") or 0)
        if not flags & _FLAG_COMPONENTS_V2:
            if len(components) > 5:
                errors["components"] = _field_error(
                    "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length."
                )
            else:
                comp_errors: dict[str, Any] = {}
                for i, row in enumerate(components):
                    children = row.get("components") or []
                    if row.get("type") == 1 and not 1 <= len(children) <= 5:
                        comp_errors[str(i)] = {
                            "components": _field_error(
                                "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length."
                            )
                        }
                    for j, child in enumerate(children):
                        custom_id = child.get("custom_id")
                        if custom_id is not None and len(custom_id) > 100:
                            comp_errors.setdefault(str(i), {}).setdefault("components", {})[
                                str(j)
                            ] = {
                                "custom_id": _field_error(
                                    "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length."
                                )
                            }
                        label = child.get("label")
                        if label is not None and len(label) > 80:
                            comp_errors.setdefault(str(i), {}).setdefault("components", {})[
                                str(j)
                            ] = {
                                "label": _field_error(
                                    "BASE_TYPE_MAX_LENGTH", "Must be 80 or fewer in length."
                                )
                            }
                if comp_errors:
                    errors["components"] = comp_errors
        if errors:
            return _error(400, "Invalid Form Body", 50035, errors)
        if creating and not (
            content
            or embeds
            or components
            or files
            or payload.get("sticker_ids")
            or payload.get("poll")
        ):
            return _error(400, "Cannot send an empty message", 50006)
        return None

    # ------------------------------------------------------------------ REST plumbing

    def _register_routes(self) -> None:
        app = r"(?P<app_id>\d+|@me)"
        snow = r"\d+"
        table: list[tuple[str, str, _Handler]] = [
            ("GET", r"/gateway", self._r_gateway),
            ("GET", r"/gateway/bot", self._r_gateway_bot),
            ("GET", r"/users/@me", self._r_me),
            ("GET", rf"/users/(?P<user_id>{snow})", self._r_get_user),
            ("POST", r"/users/@me/channels", self._r_create_dm),
            ("GET", r"/applications/@me", self._r_application),
            ("GET", r"/oauth2/applications/@me", self._r_application),
            ("GET", rf"/applications/{app}/commands", self._r_list_commands),
            ("PUT", rf"/applications/{app}/commands", self._r_bulk_commands),
            ("POST", rf"/applications/{app}/commands", self._r_upsert_command),
            ("GET", rf"/applications/{app}/commands/(?P<command_id>{snow})", self._r_get_command),
            (
                "PATCH",
                rf"/applications/{app}/commands/(?P<command_id>{snow})",
                self._r_edit_command,
            ),
            (
                "DELETE",
                rf"/applications/{app}/commands/(?P<command_id>{snow})",
                self._r_delete_command,
            ),
            (
                "GET",
                rf"/applications/{app}/guilds/(?P<guild_id>{snow})/commands/permissions",
                self._r_command_permissions,
            ),
            (
                "GET",
                rf"/applications/{app}/guilds/(?P<guild_id>{snow})/commands",
                self._r_list_commands,
            ),
            (
                "PUT",
                rf"/applications/{app}/guilds/(?P<guild_id>{snow})/commands",
                self._r_bulk_commands,
            ),
            (
                "POST",
                rf"/applications/{app}/guilds/(?P<guild_id>{snow})/commands",
                self._r_upsert_command,
            ),
            (
                "GET",
                rf"/applications/{app}/guilds/(?P<guild_id>{snow})/commands/(?P<command_id>{snow})",
                self._r_get_command,
            ),
            (
                "PATCH",
                rf"/applications/{app}/guilds/(?P<guild_id>{snow})/commands/(?P<command_id>{snow})",
                self._r_edit_command,
            ),
            (
                "DELETE",
                rf"/applications/{app}/guilds/(?P<guild_id>{snow})/commands/(?P<command_id>{snow})",
                self._r_delete_command,
            ),
            ("GET", rf"/applications/{app}/emojis", self._r_empty_items),
            ("GET", rf"/applications/{app}/entitlements", self._r_empty_list),
            ("GET", rf"/guilds/(?P<guild_id>{snow})", self._r_get_guild),
            ("GET", rf"/guilds/(?P<guild_id>{snow})/channels", self._r_guild_channels),
            ("GET", rf"/guilds/(?P<guild_id>{snow})/roles", self._r_guild_roles),
            ("GET", rf"/guilds/(?P<guild_id>{snow})/members", self._r_guild_members),
            (
                "GET",
                rf"/guilds/(?P<guild_id>{snow})/members/(?P<user_id>{snow})",
                self._r_guild_member,
            ),
            ("GET", rf"/channels/(?P<channel_id>{snow})", self._r_get_channel),
            ("GET", rf"/channels/(?P<channel_id>{snow})/messages", self._r_history),
            ("POST", rf"/channels/(?P<channel_id>{snow})/messages", self._r_send_message),
            (
                "GET",
                rf"/channels/(?P<channel_id>{snow})/messages/(?P<message_id>{snow})",
                self._r_get_message,
            ),
            (
                "PATCH",
                rf"/channels/(?P<channel_id>{snow})/messages/(?P<message_id>{snow})",
                self._r_edit_message,
            ),
            (
                "DELETE",
                rf"/channels/(?P<channel_id>{snow})/messages/(?P<message_id>{snow})",
                self._r_delete_message,
            ),
            (
                "PUT",
                rf"/channels/(?P<channel_id>{snow})/messages/(?P<message_id>{snow})/reactions/(?P<emoji>[^/]+)/@me",
                self._r_no_content,
            ),
            (
                "DELETE",
                rf"/channels/(?P<channel_id>{snow})/messages/(?P<message_id>{snow})/reactions/(?P<emoji>[^/]+)/(?P<user>@me|{snow})",
                self._r_no_content,
            ),
            (
                "DELETE",
                rf"/channels/(?P<channel_id>{snow})/messages/(?P<message_id>{snow})/reactions(?:/(?P<emoji>[^/]+))?",
                self._r_no_content,
            ),
            ("POST", rf"/channels/(?P<channel_id>{snow})/typing", self._r_no_content),
            (
                "POST",
                rf"/interactions/(?P<interaction_id>{snow})/(?P<token>[^/]+)/callback",
                self._r_callback,
            ),
            (
                "GET",
                rf"/webhooks/(?P<app_id>{snow})/(?P<token>[^/]+)/messages/(?P<message_id>@original|{snow})",
                self._r_webhook_get,
            ),
            (
                "PATCH",
                rf"/webhooks/(?P<app_id>{snow})/(?P<token>[^/]+)/messages/(?P<message_id>@original|{snow})",
                self._r_webhook_edit,
            ),
            (
                "DELETE",
                rf"/webhooks/(?P<app_id>{snow})/(?P<token>[^/]+)/messages/(?P<message_id>@original|{snow})",
                self._r_webhook_delete,
            ),
            ("POST", rf"/webhooks/(?P<app_id>{snow})/(?P<token>[^/]+)", self._r_webhook_execute),
        ]
        self._routes = [
            (m, re.compile(p + r"/?"), h, h.__name__.removeprefix("_r_")) for m, p, h in table
        ]

    async def _read_body(self, request: web.Request) -> tuple[Any, list[dict[str, Any]]]:
        files: list[dict[str, Any]] = []
        if not request.body_exists:
            return None, files
        if request.content_type.startswith("multipart/"):
            body: Any = None
            reader = await request.multipart()
            while True:
                part = await reader.next()
                if part is None:
                    break
                data = await part.read(decode=False)  # type: ignore[union-attr]
                if part.name == "payload_json":  # type: ignore[union-attr]
                    body = json.loads(bytes(data).decode())
                else:
                    files.append(
                        {
                            "field": part.name,  # type: ignore[union-attr]
                            "filename": part.filename,  # type: ignore[union-attr]
                            "content_type": part.headers.get("Content-Type"),  # type: ignore[union-attr]
                            "data": bytes(data),
                        }
                    )
            return body, files
        raw = await request.read()
        if not raw:
            return None, files
        try:
            return json.loads(raw.decode()), files
        except ValueError:
            return raw.decode(errors="replace"), files

    async def _rest_handler(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["tail"]
        body, files = await self._read_body(request)
        record = RecordedRequest(
            method=request.method,
            path=path,
            query=dict(request.query),
            json=body,
            files=files,
            headers={k: v for k, v in request.headers.items() if k.lower() != "authorization"},
            authorized="Authorization" in request.headers,
        )
        self.requests.append(record)
        status, reply = await self._route(request, record)
        record.status = status
        record.response = copy.deepcopy(reply)
        await self._notify()
        if reply is None:
            return web.Response(status=status)
        return _json_response(reply, status)

    async def _route(self, request: web.Request, record: RecordedRequest) -> _Reply:
        needs_auth = not (
            record.path.startswith("/interactions/") or record.path.startswith("/webhooks/")
        )
        if (
            self.token is not None
            and needs_auth
            and request.headers.get("Authorization") != f"Bot {self.token}"
        ):
            return _error(401, "401: Unauthorized", 0)
        path_matched = False
        for method, pattern, handler, name in self._routes:
            match = pattern.fullmatch(record.path)
            if match is None:
                continue
            path_matched = True
            if method != record.method:
                continue
            record.route = name
            call = _Call(
                params={k: v for k, v in match.groupdict().items() if v is not None},
                query=record.query,
                json=record.json,
                files=record.files,
                record=record,
            )
            try:
                return await handler(call)
            except Exception as exc:  # keep discord.py from retrying 5xx for seconds
                _log.exception("FakeDiscord route %s failed", name)
                return _error(400, f"FakeDiscord internal error in {name}: {exc!r}", 0)
        if path_matched:
            _log.warning("FakeDiscord: method not allowed: %s %s", record.method, record.path)
            return _error(405, "405: Method Not Allowed", 0)
        _log.warning(
            "FakeDiscord: unknown route %s %s (json=%r)", record.method, record.path, record.json
        )
        return _error(404, "Unknown route", 0)

    async def _unknown_handler(self, request: web.Request) -> web.StreamResponse:
        body, files = await self._read_body(request)
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            json=body,
            files=files,
            headers={k: v for k, v in request.headers.items() if k.lower() != "authorization"},
            authorized="Authorization" in request.headers,
            status=404,
            response={"message": "Unknown route", "code": 0},
        )
        self.requests.append(record)
        _log.warning("FakeDiscord: unknown route %s %s", request.method, request.path)
        await self._notify()
        return _json_response(record.response, 404)

    async def _attachment_handler(self, request: web.Request) -> web.StreamResponse:
        data = self.attachment_data.get(int(request.match_info["attachment_id"]))
        if data is None:
            return _json_response({"message": "Unknown attachment", "code": 0}, 404)
        return web.Response(body=data, headers={"Content-Type": "application/octet-stream"})

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

    # -- interactions

    def _interaction_by_token(self, call: _Call) -> _Interaction | None:
        iid = self._tokens.get(call.params.get("token", ""))
        return self._interactions.get(iid) if iid is not None else None

    def _interaction_message(
        self,
        inter: _Interaction,
        payload: Mapping[str, Any],
        files: Sequence[Mapping[str, Any]],
        *,
        loading: bool = False,
    ) -> dict[str, Any]:
        assert inter.channel_id is not None
        user = inter.payload.get("member", {}).get("user") or inter.payload.get("user")
        data = inter.payload.get("data") or {}
        metadata: dict[str, Any] = {
            "id": str(inter.id),
            "type": inter.type,
            "user": user,
            "authorizing_integration_owners": inter.payload.get(
                "authorizing_integration_owners", {}
            ),
        }
        if inter.type == _INTERACTION_APP_COMMAND:
            metadata["name"] = data.get("name")
            metadata["command_type"] = data.get("type", 1)
        if inter.component_message_id is not None:
            metadata["interacted_message_id"] = str(inter.component_message_id)
        if inter.original_message_id is not None:
            metadata["original_response_message_id"] = str(inter.original_message_id)
        mtype = 0
        if inter.type == _INTERACTION_APP_COMMAND:
            mtype = 20 if data.get("type", 1) == 1 else 23
        payload = dict(payload)
        if loading:
            payload["flags"] = int(payload.get("flags") or 0) | _FLAG_LOADING
        return self._build_message(
            channel_id=inter.channel_id,
            author=self.bot_user,
            payload=payload,
            type=mtype,
            files=files,
            extra={
                "webhook_id": str(APPLICATION_ID),
                "application_id": str(APPLICATION_ID),
                "interaction_metadata": metadata,
            },
        )

    def _ensure_channel_known(self, channel_id: int | None) -> None:
        if channel_id is not None and channel_id not in self.channels:
            self.channels[channel_id] = {
                "id": str(channel_id),
                "type": 1,
                "last_message_id": None,
                "flags": 0,
                "recipients": [],
            }

    async def _r_callback(self, call: _Call) -> _Reply:
        inter = self._interactions.get(int(call.params["interaction_id"]))
        if inter is None or inter.token != call.params["token"]:
            return _error(404, "Unknown interaction", 10062)
        if inter.response_type is not None:
            return _error(400, "Interaction has already been acknowledged.", 40060)
        if (
            self.interaction_timeout is not None
            and time.monotonic() - inter.created > self.interaction_timeout
        ):
            return _error(404, "Unknown interaction", 10062)
        body = call.json or {}
        cb_type = int(body.get("type", 0))
        data = body.get("data") or {}
        self._ensure_channel_known(inter.channel_id)
        message: dict[str, Any] | None = None
        loading = False
        if cb_type in (_CALLBACK_MESSAGE, _CALLBACK_UPDATE_MESSAGE):
            invalid = self._validate(
                data, files=len(call.files), creating=cb_type == _CALLBACK_MESSAGE
            )
            if invalid:
                return invalid
        if cb_type == _CALLBACK_AUTOCOMPLETE and self.validate_messages:
            choices = data.get("choices") or []
            if len(choices) > 25:
                return _error(
                    400,
                    "Invalid Form Body",
                    50035,
                    {
                        "data": {
                            "choices": _field_error(
                                "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
                            )
                        }
                    },
                )
            for i, choice in enumerate(choices):
                name = str(choice.get("name", ""))
                if not 1 <= len(name) <= 100 or (
                    isinstance(choice.get("value"), str) and len(choice["value"]) > 100
                ):
                    return _error(
                        400,
                        "Invalid Form Body",
                        50035,
                        {
                            "data": {
                                "choices": {
                                    str(i): _field_error(
                                        "BASE_TYPE_BAD_LENGTH",
                                        "Must be between 1 and 100 in length.",
                                    )
                                }
                            }
                        },
                    )
        if cb_type not in (
            _CALLBACK_MESSAGE,
            _CALLBACK_DEFERRED_MESSAGE,
            _CALLBACK_DEFERRED_UPDATE,
            _CALLBACK_UPDATE_MESSAGE,
            _CALLBACK_AUTOCOMPLETE,
            _CALLBACK_MODAL,
        ):
            return _error(400, "Invalid interaction response type", 50035)
        if (
            cb_type in (_CALLBACK_DEFERRED_UPDATE, _CALLBACK_UPDATE_MESSAGE)
            and inter.component_message_id is None
        ):
            return _error(
                400, "Interaction response type only valid for component interactions", 40043
            )
        inter.response_type = cb_type
        if cb_type == _CALLBACK_MESSAGE:
            message = self._interaction_message(inter, data, call.files)
            inter.original_message_id = int(message["id"])
            self.messages[int(message["id"])] = message
            self._record_sent("interaction_response", message, data, inter)
            await self._echo("MESSAGE_CREATE", message)
        elif cb_type == _CALLBACK_DEFERRED_MESSAGE:
            message = self._interaction_message(
                inter, {"flags": data.get("flags", 0)}, (), loading=True
            )
            loading = True
            inter.original_message_id = int(message["id"])
            self.messages[int(message["id"])] = message
            await self._echo("MESSAGE_CREATE", message)
        elif cb_type in (_CALLBACK_DEFERRED_UPDATE, _CALLBACK_UPDATE_MESSAGE):
            inter.original_message_id = inter.component_message_id
            message = self.messages.get(inter.component_message_id or 0)
            if cb_type == _CALLBACK_UPDATE_MESSAGE and message is not None:
                self._apply_edit(message, data, call.files)
                self._record_sent("interaction_update", message, data, inter)
                await self._echo("MESSAGE_UPDATE", message)
        inter.responses.append(
            InteractionResponse(
                kind="callback",
                interaction_id=inter.id,
                type=cb_type,
                data=copy.deepcopy(data),
                message=copy.deepcopy(message),
            )
        )
        if call.query.get("with_response") not in ("1", "true", "True"):
            return 204, None
        flags = int((message or {}).get("flags") or 0)
        info: dict[str, Any] = {"id": str(inter.id), "type": inter.type}
        if message is not None:
            info.update(
                {
                    "response_message_id": message["id"],
                    "response_message_loading": loading,
                    "response_message_ephemeral": bool(flags & _FLAG_EPHEMERAL),
                }
            )
        reply: dict[str, Any] = {"interaction": info}
        if cb_type != _CALLBACK_AUTOCOMPLETE:
            reply["resource"] = {"type": cb_type}
            if message is not None:
                reply["resource"]["message"] = message
        return 200, reply

    def _webhook_target(self, call: _Call, inter: _Interaction) -> dict[str, Any] | None:
        mid_raw = call.params["message_id"]
        mid = inter.original_message_id if mid_raw == "@original" else int(mid_raw)
        return self.messages.get(mid) if mid is not None else None

    async def _r_webhook_get(self, call: _Call) -> _Reply:
        inter = self._interaction_by_token(call)
        if inter is None:
            return _error(401, "Invalid Webhook Token", 50027)
        msg = self._webhook_target(call, inter)
        return (200, msg) if msg else _error(404, "Unknown Message", 10008)

    async def _r_webhook_edit(self, call: _Call) -> _Reply:
        inter = self._interaction_by_token(call)
        if inter is None:
            return _error(401, "Invalid Webhook Token", 50027)
        msg = self._webhook_target(call, inter)
        if msg is None:
            return _error(404, "Unknown Message", 10008)
        payload = call.json or {}
        invalid = self._validate(payload, creating=False)
        if invalid:
            return invalid
        was_loading = bool(int(msg.get("flags") or 0) & _FLAG_LOADING)
        self._apply_edit(msg, payload, call.files)
        original = call.params["message_id"] == "@original"
        kind = "edit_original" if original else "edit_followup"
        self._record_sent(kind, msg, payload, inter)
        inter.responses.append(
            InteractionResponse(
                kind=kind,
                interaction_id=inter.id,
                type=None,
                data=copy.deepcopy(payload),
                message=copy.deepcopy(msg),
            )
        )
        await self._echo("MESSAGE_UPDATE", msg)
        _log.debug("webhook edit (%s, was_loading=%s)", kind, was_loading)
        return 200, msg

    async def _r_webhook_delete(self, call: _Call) -> _Reply:
        inter = self._interaction_by_token(call)
        if inter is None:
            return _error(401, "Invalid Webhook Token", 50027)
        msg = self._webhook_target(call, inter)
        if msg is None:
            return _error(404, "Unknown Message", 10008)
        del self.messages[int(msg["id"])]
        kind = "delete_original" if call.params["message_id"] == "@original" else "delete_followup"
        inter.responses.append(
            InteractionResponse(
                kind=kind, interaction_id=inter.id, type=None, data={}, message=copy.deepcopy(msg)
            )
        )
        await self._echo("MESSAGE_DELETE", msg)
        return 204, None

    async def _r_webhook_execute(self, call: _Call) -> _Reply:
        inter = self._interaction_by_token(call)
        if inter is None or int(call.params["app_id"]) != APPLICATION_ID:
            return _error(401, "Invalid Webhook Token", 50027)
        if inter.response_type is None:
            return _error(404, "Unknown Webhook", 10015)
        payload = call.json or {}
        invalid = self._validate(payload, files=len(call.files))
        if invalid:
            return invalid
        self._ensure_channel_known(inter.channel_id)
        original = self.messages.get(inter.original_message_id or 0)
        replaces_loading = (
            inter.response_type == _CALLBACK_DEFERRED_MESSAGE
            and original is not None
            and bool(int(original.get("flags") or 0) & _FLAG_LOADING)
        )
        if replaces_loading:
            # Discord: the first follow-up after a deferred "thinking" response edits
            # that loading message (keeping the defer's ephemeral state).
            assert original is not None
            self._apply_edit(
                original, {k: v for k, v in payload.items() if k != "flags"}, call.files
            )
            msg = original
            event = "MESSAGE_UPDATE"
        else:
            msg = self._interaction_message(inter, payload, call.files)
            self.messages[int(msg["id"])] = msg
            event = "MESSAGE_CREATE"
        self._record_sent("followup", msg, payload, inter)
        inter.responses.append(
            InteractionResponse(
                kind="followup",
                interaction_id=inter.id,
                type=None,
                data=copy.deepcopy(payload),
                message=copy.deepcopy(msg),
            )
        )
        await self._echo(event, msg)
        if call.query.get("wait") in ("1", "true", "True"):
            return 200, msg
        return 204, None

    # ------------------------------------------------------------------ injection

    async def inject_message(
        self,
        channel_id: int,
        content: str,
        author: int | Mapping[str, Any] = USER_ID,
        mentions: Sequence[int] | None = None,
        guild_id: int | None | _Auto = _AUTO,
        message_reference: int | Mapping[str, Any] | None = None,
        message_id: int | None = None,
        *,
        embeds: Sequence[Mapping[str, Any]] = (),
        attachments: Sequence[tuple[str, bytes | str]] = (),
    ) -> dict[str, Any]:
        """Dispatch ``MESSAGE_CREATE`` as if a user posted a message.

        Args:
            channel_id: Channel id. A guild channel registered with the fake makes a
                guild message; any other id is treated as a DM channel with ``author``
                (see :meth:`dm_channel_id`).
            content: Message content. Mentions like ``<@BOT_ID>`` are parsed into
                ``mentions`` unless ``mentions`` is given.
            author: User id (registered users) or a user object.
            mentions: Explicit mentioned user ids.
            guild_id: Guild id; by default taken from the channel. Pass ``None`` to
                force a DM.
            message_reference: Message id (or reference object) this replies to.
            message_id: Explicit id; a new snowflake by default.
            embeds: Embeds of the message.
            attachments: ``(filename, data)`` pairs, served by the fake.

        Returns:
            The stored message object (as REST would return it).
        """
        author_obj = self._user(author)
        if guild_id is _AUTO:
            guild_id = self._guild_of_channel(channel_id)
        if guild_id is None:
            if self._guild_of_channel(channel_id) is not None:
                raise ValueError(
                    f"channel {channel_id} is a guild channel; use fake.dm_channel_id(user) for DMs"
                )
            if channel_id not in self.channels:
                self.channels[channel_id] = {
                    "id": str(channel_id),
                    "type": 1,
                    "last_message_id": None,
                    "flags": 0,
                    "recipients": [author_obj],
                }
            self._dm_channels.setdefault(int(author_obj["id"]), channel_id)
        payload: dict[str, Any] = {"content": content, "embeds": list(embeds)}
        if message_reference is not None:
            ref = (
                {"message_id": str(message_reference)}
                if isinstance(message_reference, int | str)
                else dict(message_reference)
            )
            payload["message_reference"] = ref
        msg = self._build_message(
            channel_id=channel_id,
            author=author_obj,
            payload=payload,
            message_id=message_id,
            mentions=mentions,
        )
        if guild_id is None:
            msg.pop("guild_id", None)
        else:
            msg["guild_id"] = str(guild_id)
        if attachments:
            msg["attachments"] = [
                self._make_attachment(
                    channel_id,
                    name,
                    data,
                    "text/plain" if isinstance(data, str) else "application/octet-stream",
                )
                for name, data in attachments
            ]
        self.messages[int(msg["id"])] = msg
        if channel_id in self.channels:
            self.channels[channel_id]["last_message_id"] = msg["id"]
        await self.wait_for_session(guild_id)
        sent = await self.dispatch(
            "MESSAGE_CREATE",
            self._gateway_message(msg),
            guild_id=guild_id,
            transform=self._message_visibility(msg),
        )
        if not sent:
            _log.warning("MESSAGE_CREATE not delivered (intents?) for channel %s", channel_id)
        return msg

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

    async def inject_slash_command(
        self,
        name: str,
        options: Mapping[str, Any] | None = None,
        user: int | Mapping[str, Any] = USER_ID,
        guild_id: int | None = GUILD_ID,
        channel_id: int | None = None,
        permissions: int | None = None,
        subcommand: str | None = None,
        *,
        locale: str = "en-US",
        command_guild_id: int | None | _Auto = _AUTO,
    ) -> dict[str, Any]:
        """Dispatch ``INTERACTION_CREATE`` type 2 (chat input command).

        Option types come from the command payload the bot registered (bulk
        overwrite / upsert); unregistered options are typed from their Python value
        (``bool`` 5, ``int`` 4, ``float`` 10, ``str`` 3) or a :class:`TypedOption`.
        User/channel/role/attachment options get ``resolved`` data.

        Args:
            name: Top-level command name.
            options: Option name -> value (of the leaf subcommand if ``subcommand``).
            user: Invoking user id or user object.
            guild_id: Guild, or ``None`` for a DM with the bot.
            channel_id: Channel (default: first text channel / the user's DM channel).
            permissions: ``member.permissions``; default computed from the member's
                roles (owner and ADMINISTRATOR get all).
            subcommand: ``"sub"`` or ``"group sub"``.
            locale: User locale.
            command_guild_id: ``data.guild_id``; by default the guild the command was
                registered in (``None`` for global commands).

        Returns:
            The interaction payload that was dispatched.
        """
        data = self._command_data(
            name,
            options,
            guild_id=guild_id,
            channel_id=channel_id,
            subcommand=subcommand,
            focused=None,
            command_guild_id=command_guild_id,
            with_resolved=True,
        )
        inter = self._base_interaction(
            _INTERACTION_APP_COMMAND,
            user=user,
            guild_id=guild_id,
            channel_id=channel_id,
            permissions=permissions,
            locale=locale,
            data=data,
        )
        return await self._send_interaction(inter)

    async def inject_autocomplete(
        self,
        name: str,
        options: Mapping[str, Any] | None,
        focused: str,
        user: int | Mapping[str, Any] = USER_ID,
        guild_id: int | None = GUILD_ID,
        channel_id: int | None = None,
        permissions: int | None = None,
        subcommand: str | None = None,
        *,
        locale: str = "en-US",
        command_guild_id: int | None | _Auto = _AUTO,
    ) -> dict[str, Any]:
        """Dispatch ``INTERACTION_CREATE`` type 4 (autocomplete).

        Like Discord, the focused value is sent as typed text (a string) and no
        ``resolved`` data is included.

        Args:
            name: Command name.
            options: Option values typed so far.
            focused: Name of the focused option (added with ``""`` if missing).
            user: Invoking user.
            guild_id: Guild or ``None`` for DM.
            channel_id: Channel.
            permissions: ``member.permissions`` override.
            subcommand: ``"sub"`` or ``"group sub"``.
            locale: User locale.
            command_guild_id: See :meth:`inject_slash_command`.

        Returns:
            The interaction payload. Use :meth:`wait_for_autocomplete` for the choices.
        """
        data = self._command_data(
            name,
            options,
            guild_id=guild_id,
            channel_id=channel_id,
            subcommand=subcommand,
            focused=focused,
            command_guild_id=command_guild_id,
            with_resolved=False,
        )
        inter = self._base_interaction(
            _INTERACTION_AUTOCOMPLETE,
            user=user,
            guild_id=guild_id,
            channel_id=channel_id,
            permissions=permissions,
            locale=locale,
            data=data,
        )
        return await self._send_interaction(inter)

    async def wait_for_autocomplete(
        self, interaction: Mapping[str, Any] | int, timeout: float = 10
    ) -> list[dict[str, Any]]:
        """Wait for the autocomplete callback of an injected interaction.

        Args:
            interaction: The payload returned by :meth:`inject_autocomplete` or its id.
            timeout: Seconds to wait.

        Returns:
            The choices (``{"name", "value"}`` dicts).
        """
        iid = int(interaction["id"]) if isinstance(interaction, Mapping) else int(interaction)
        record = await self.wait_for_interaction_response(
            iid, lambda r: r.kind == "callback" and r.type == _CALLBACK_AUTOCOMPLETE, timeout
        )
        return record.choices

    async def inject_context_menu(
        self,
        name: str,
        target: int | Mapping[str, Any],
        user: int | Mapping[str, Any] = USER_ID,
        guild_id: int | None = GUILD_ID,
        channel_id: int | None = None,
        permissions: int | None = None,
        *,
        locale: str = "en-US",
        command_guild_id: int | None | _Auto = _AUTO,
    ) -> dict[str, Any]:
        """Dispatch a user (type 2) or message (type 3) context menu command.

        Args:
            name: Command name.
            target: A message object (message command) or a user id (user command).
            user: Invoking user.
            guild_id: Guild or ``None``.
            channel_id: Channel (defaults to the target message's channel).
            permissions: ``member.permissions`` override.
            locale: User locale.
            command_guild_id: See :meth:`inject_slash_command`.

        Returns:
            The interaction payload.
        """
        is_message = isinstance(target, Mapping)
        ctype = 3 if is_message else 2
        command, registered_guild = self._find_command(name, guild_id, ctype)
        if command_guild_id is _AUTO:
            command_guild_id = registered_guild
        resolved: dict[str, Any] = {}
        if is_message:
            msg = dict(target)  # type: ignore[arg-type]
            target_id = msg["id"]
            resolved["messages"] = {target_id: self.messages.get(int(target_id), msg)}
            channel_id = channel_id or int(msg["channel_id"])
        else:
            target_id = str(target)
            self._option_value(6, target, resolved, guild_id, channel_id, False)
        data: dict[str, Any] = {
            "id": command["id"] if command else str(self._stable_id(f"ctx:{ctype}:{name}")),
            "name": name,
            "type": ctype,
            "target_id": target_id,
            "resolved": resolved,
        }
        if command_guild_id is not None:
            data["guild_id"] = str(command_guild_id)
        inter = self._base_interaction(
            _INTERACTION_APP_COMMAND,
            user=user,
            guild_id=guild_id,
            channel_id=channel_id,
            permissions=permissions,
            locale=locale,
            data=data,
        )
        return await self._send_interaction(inter)

    async def inject_component(
        self,
        message: Mapping[str, Any] | int,
        custom_id: str,
        component_type: int = 2,
        values: Sequence[str] | None = None,
        user: int | Mapping[str, Any] = USER_ID,
        permissions: int | None = None,
        *,
        locale: str = "en-US",
    ) -> dict[str, Any]:
        """Dispatch ``INTERACTION_CREATE`` type 3 for a component on a bot message.

        Args:
            message: The bot's message (object or id); the stored version is used.
            custom_id: The component's custom id.
            component_type: 2 button, 3 string select, 5 user select, ...
            values: Selected values for select menus.
            user: Clicking user.
            permissions: ``member.permissions`` override.
            locale: User locale.

        Returns:
            The interaction payload.
        """
        mid = int(message["id"]) if isinstance(message, Mapping) else int(message)
        stored = self.messages.get(mid)
        if stored is None:
            if not isinstance(message, Mapping):
                raise KeyError(f"unknown message {mid}")
            stored = dict(message)
        channel_id = int(stored["channel_id"])
        guild_id = int(stored["guild_id"]) if stored.get("guild_id") else None
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = list(values)
        inter = self._base_interaction(
            _INTERACTION_COMPONENT,
            user=user,
            guild_id=guild_id,
            channel_id=channel_id,
            permissions=permissions,
            locale=locale,
            data=data,
            message=stored,
        )
        return await self._send_interaction(inter)

    async def inject_button_click(
        self,
        message: Mapping[str, Any] | int,
        custom_id: str,
        user: int | Mapping[str, Any] = USER_ID,
        permissions: int | None = None,
        *,
        locale: str = "en-US",
    ) -> dict[str, Any]:
        """Click a button (component type 2) on a message the bot sent.

        Args:
            message: The bot's message (object, e.g. ``SentMessage.message``, or id).
            custom_id: The button's custom id.
            user: Clicking user.
            permissions: ``member.permissions`` override.
            locale: User locale.

        Returns:
            The interaction payload.
        """
        return await self.inject_component(
            message, custom_id, 2, None, user, permissions, locale=locale
        )

    async def inject_modal_submit(
        self,
        custom_id: str,
        values: Mapping[str, str],
        user: int | Mapping[str, Any] = USER_ID,
        guild_id: int | None = GUILD_ID,
        channel_id: int | None = None,
        permissions: int | None = None,
        *,
        locale: str = "en-US",
    ) -> dict[str, Any]:
        """Dispatch ``INTERACTION_CREATE`` type 5 (modal submit) with text inputs.

        Args:
            custom_id: The modal's custom id (see the type 9 callback data).
            values: Text input custom id -> submitted value.
            user: Submitting user.
            guild_id: Guild or ``None``.
            channel_id: Channel.
            permissions: ``member.permissions`` override.
            locale: User locale.

        Returns:
            The interaction payload.
        """
        data = {
            "custom_id": custom_id,
            "components": [
                {"type": 1, "components": [{"type": 4, "custom_id": key, "value": value}]}
                for key, value in values.items()
            ],
        }
        inter = self._base_interaction(
            _INTERACTION_MODAL_SUBMIT,
            user=user,
            guild_id=guild_id,
            channel_id=channel_id,
            permissions=permissions,
            locale=locale,
            data=data,
        )
        return await self._send_interaction(inter)
