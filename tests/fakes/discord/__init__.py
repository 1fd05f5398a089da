"""A local fake of the Discord API (REST + gateway), split by concern.

* :mod:`.constants` -- default ids, permission bits, intents, opcodes.
* :mod:`.models` -- records exposed to tests (requests, sent messages, responses,
  gateway frames), internal state objects and REST reply helpers.
* :mod:`.state` -- users, guilds, roles, channels, members, permissions.
* :mod:`.recording` -- the assertion API (``sent_messages``, ``wait_for_*``).
* :mod:`.gateway` -- websocket connections, sessions and dispatch.
* :mod:`.messages` -- message building, echoes and validation.
* :mod:`.routing` -- the REST route table and request plumbing.
* :mod:`.rest_guilds`, :mod:`.rest_channels`, :mod:`.rest_interactions`, :mod:`.rest_threads`
  (threads started on a message, the bot's reactions) -- route handlers.
* :mod:`.options`, :mod:`.inject` -- building and injecting user activity.
* :mod:`.server` -- :class:`FakeDiscord` itself (lifecycle, discord.py patch, faults).

``tests.fakes.discord_api`` re-exports the public names and documents the behaviour.
"""

from .constants import (
    ADMIN_ID,
    ADMIN_PERMISSIONS,
    ADMIN_ROLE_ID,
    ALL_PERMISSIONS,
    APPLICATION_ID,
    BOT_ID,
    BOT_ROLE_ID,
    DEFAULT_MEMBER_PERMISSIONS,
    DISCORD_EPOCH_MS,
    GUILD_ID,
    OTHER_CHANNEL_ID,
    OWNER_ID,
    TEXT_CHANNEL_ID,
    USER_ID,
)
from .models import GatewayFrame, InteractionResponse, RecordedRequest, SentMessage, TypedOption
from .server import FakeDiscord

__all__ = [
    "ADMIN_ID",
    "ADMIN_PERMISSIONS",
    "ADMIN_ROLE_ID",
    "ALL_PERMISSIONS",
    "APPLICATION_ID",
    "BOT_ID",
    "BOT_ROLE_ID",
    "DEFAULT_MEMBER_PERMISSIONS",
    "DISCORD_EPOCH_MS",
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
