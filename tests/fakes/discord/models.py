"""Records exposed to tests, internal state objects and REST reply helpers."""

from __future__ import annotations

import datetime
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .constants import _FLAG_EPHEMERAL

if TYPE_CHECKING:
    from .gateway import _GatewayConnection

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
