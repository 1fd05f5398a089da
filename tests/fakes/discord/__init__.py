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
* :meth:`FakeDiscord.refuse_dms` makes sends to a user's DM channel answer 403 "Cannot send
  messages to this user" (50007), as Discord does when the user closed DMs.
* :meth:`FakeDiscord.fail_sends` makes message sends to a channel answer 403 (Missing
  Permissions), 400 (Invalid Form Body), 5xx (any status), switchable at run time. discord.py
  retries 500/502/504 itself for ~16 s before raising; 503 is raised at once.
* ``POST /channels/{id}/messages/{id}/threads`` (``Message.create_thread``) opens a public
  thread whose id is the message's, owned by the bot, and dispatches ``THREAD_CREATE``;
  :meth:`FakeDiscord.threads` lists them and messages injected into the thread id are guild
  messages in it. The bot's reaction ``PUT``/``DELETE`` are recorded in
  :attr:`FakeDiscord.reaction_log` (:meth:`FakeDiscord.bot_reactions`: the current ones).
* JSON responses are sent with ``Content-Type: application/json`` exactly: discord.py
  only decodes JSON when the header is exactly that (aiohttp's ``json_response``
  adds ``; charset=utf-8`` and would make discord.py see a plain string).

Modules, one per concern:

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
