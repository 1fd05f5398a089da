"""The gateway websocket: sessions, IDENTIFY/RESUME, dispatch of events."""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
import zlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from ._base import FakeDiscordBase
from .constants import (
    _INTENT_GUILD_PRESENCES,
    _OP_DISPATCH,
    _OP_HEARTBEAT,
    _OP_HEARTBEAT_ACK,
    _OP_HELLO,
    _OP_IDENTIFY,
    _OP_INVALID_SESSION,
    _OP_PRESENCE,
    _OP_RECONNECT,
    _OP_REQUEST_MEMBERS,
    _OP_RESUME,
    _PRIVILEGED_INTENTS,
    APPLICATION_ID,
    BOT_ID,
    _log,
)
from .models import (
    _GatewaySession,
    _Guild,
)

try:  # Optional: only needed when discord.py negotiates zstd-stream.
    import zstandard as _zstandard  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the environment
    _zstandard = None

if TYPE_CHECKING:
    from .server import FakeDiscord


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


class GatewayMixin(FakeDiscordBase):
    """The gateway websocket: sessions, IDENTIFY/RESUME, dispatch of events."""

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
