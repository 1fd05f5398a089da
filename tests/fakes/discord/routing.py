"""REST plumbing: the route table, request parsing and dispatch to handlers."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from aiohttp import web

from ._base import FakeDiscordBase
from .constants import (
    _log,
)
from .models import (
    RecordedRequest,
    _Call,
    _error,
    _Handler,
    _json_response,
    _Reply,
)


class RoutingMixin(FakeDiscordBase):
    """REST plumbing: the route table, request parsing and dispatch to handlers."""

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
                self._r_add_reaction,  # rest_threads.py
            ),
            (
                "DELETE",
                rf"/channels/(?P<channel_id>{snow})/messages/(?P<message_id>{snow})/reactions/(?P<emoji>[^/]+)/(?P<user>@me|{snow})",
                self._r_remove_reaction,  # rest_threads.py
            ),
            (
                "POST",
                rf"/channels/(?P<channel_id>{snow})/messages/(?P<message_id>{snow})/threads",
                self._r_start_thread,  # rest_threads.py
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
