"""Identifiers, permission bits, intents and opcodes used by the fake Discord."""

from __future__ import annotations

import logging
import re
from typing import Any

import discord
import discord.gateway
import discord.http

#: One logger for the whole fake (the name it always had).
_log = logging.getLogger("tests.fakes.discord")

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
