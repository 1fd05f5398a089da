"""Spec'd mocks of discord.py objects for testing cogs directly.

In the style of python-discord's ``tests/helpers.py``: every mock is a
``unittest.mock.MagicMock`` with ``spec_set`` of the real discord.py class (or of
a real instance, for the bot), so using an attribute or method that discord.py
does not have fails loudly, and coroutine methods are ``AsyncMock``s
automatically. A few pieces are real on purpose:

* :class:`MockInteractionResponse` remembers whether the interaction was
  answered (``is_done()``/``type`` follow ``defer``/``send_message``) and raises
  :class:`discord.InteractionResponded` on a second response, like discord.py.
* :class:`MockBot` has a real :class:`bot.client.UserCooldown`, a ``run_blocking``
  that really runs the function in a worker thread (and records the call), the
  real error handler, and a knowledge base spec'd on :class:`KnowledgeBase`.
* :meth:`MockMessage.reply` / :meth:`MockTextChannel.send` return new bot
  messages with fresh ids, so reply chains can be followed.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import itertools
import threading
import unittest.mock
from collections.abc import Callable, Iterable
from typing import Any

import discord

from bot.client import DigestBot, DigestBotMixin, UserCooldown
from bot.state import BotState as StateDB
from knowledge.config import Settings
from knowledge.facade import KnowledgeBase
from knowledge.models import Answer, Citation, Paper, PaperReport
from tests.fakes.discord.constants import BOT_ID as BOT_USER_ID
from tests.fakes.discord.constants import GUILD_ID

# Snowflake-sized ids, unique across all mocks of a test session.
_ids = itertools.count(1_400_000_000_000_000_000)

# BOT_USER_ID and GUILD_ID are the fake Discord's ids (tests.fakes.discord.constants).

#: What a regular member may do (no Manage Server).
MEMBER_PERMISSIONS = discord.Permissions(
    view_channel=True, send_messages=True, embed_links=True, read_message_history=True, use_application_commands=True
)
#: A member with Manage Server.
ADMIN_PERMISSIONS = discord.Permissions(MEMBER_PERMISSIONS.value | discord.Permissions(manage_guild=True).value)

_ASYNC_MAGICS = {"__aenter__", "__aexit__", "__anext__"}


def next_id() -> int:
    """A fresh snowflake-like id."""
    return next(_ids)


def _is_coroutine_attr(spec: Any, name: str | None) -> bool:
    if spec is None or not name:
        return False
    owner = spec if isinstance(spec, type) else type(spec)
    try:
        attr = inspect.getattr_static(owner, name)
    except AttributeError:
        return False
    return inspect.iscoroutinefunction(attr)


class CustomMockMixin:
    """``spec_set`` from the class attribute; children are plain MagicMocks (AsyncMock for coroutines)."""

    child_mock_type = unittest.mock.MagicMock
    spec_set: Any = None
    additional_spec_asyncs: tuple[str, ...] = ()

    def __init__(self, **kwargs: Any) -> None:
        name = kwargs.pop("name", None)  # `name` means something else to Mock
        super().__init__(spec_set=self.spec_set, **kwargs)
        if name is not None:
            self.name = name

    def _get_child_mock(self, **kw: Any) -> unittest.mock.NonCallableMock:
        new_name = kw.get("_new_name")
        if (
            new_name in self.__dict__.get("_spec_asyncs", ())
            or new_name in self.additional_spec_asyncs
            or new_name in _ASYNC_MAGICS
            or _is_coroutine_attr(self.spec_set, new_name)
        ):
            return unittest.mock.AsyncMock(**kw)
        return self.child_mock_type(**kw)


# -- people and places --------------------------------------------------------


class MockRole(CustomMockMixin, unittest.mock.MagicMock):
    spec_set = discord.Role

    def __init__(self, **kwargs: Any) -> None:
        defaults = {"id": next_id(), "name": "role", "position": 1, "permissions": discord.Permissions.none()}
        super().__init__(**(defaults | kwargs))
        self.mention = f"<@&{self.id}>"


class MockGuild(CustomMockMixin, unittest.mock.MagicMock):
    spec_set = discord.Guild

    def __init__(self, **kwargs: Any) -> None:
        defaults = {"id": GUILD_ID, "name": "Test Guild", "owner_id": next_id()}
        super().__init__(**(defaults | kwargs))


class MockUser(CustomMockMixin, unittest.mock.MagicMock):
    spec_set = discord.User

    def __init__(self, **kwargs: Any) -> None:
        defaults = {"id": next_id(), "name": "alice", "bot": False}
        super().__init__(**(defaults | kwargs))
        self.mention = f"<@{self.id}>"
        self.display_name = self.name


class MockMember(CustomMockMixin, unittest.mock.MagicMock):
    spec_set = discord.Member

    def __init__(self, **kwargs: Any) -> None:
        defaults = {"id": next_id(), "name": "alice", "bot": False, "guild_permissions": MEMBER_PERMISSIONS}
        super().__init__(**(defaults | kwargs))
        self.mention = f"<@{self.id}>"
        self.display_name = self.name
        if "guild" not in kwargs:
            self.guild = MockGuild()


class _MessageableMixin:
    """``send`` returns a new bot message in this channel; ``typing()`` works as a context manager."""

    def _setup_messageable(self, author: Any = None) -> None:
        def send(content: str | None = None, **kw: Any) -> MockMessage:
            return MockMessage(content=content or "", channel=self, author=author or MockUser(id=BOT_USER_ID, bot=True), embeds=_embeds(kw))

        self.send.side_effect = send  # type: ignore[attr-defined]
        self.fetch_message.side_effect = discord.NotFound(unittest.mock.MagicMock(status=404), "Unknown Message")  # type: ignore[attr-defined]


class MockTextChannel(_MessageableMixin, CustomMockMixin, unittest.mock.MagicMock):
    spec_set = discord.TextChannel

    def __init__(self, **kwargs: Any) -> None:
        defaults = {"id": next_id(), "name": "general", "guild": MockGuild()}
        super().__init__(**(defaults | kwargs))
        self.mention = f"<#{self.id}>"
        self._setup_messageable()


class MockThread(_MessageableMixin, CustomMockMixin, unittest.mock.MagicMock):
    spec_set = discord.Thread

    def __init__(self, **kwargs: Any) -> None:
        defaults = {"id": next_id(), "name": "a thread", "guild": MockGuild()}
        super().__init__(**(defaults | kwargs))
        self.mention = f"<#{self.id}>"
        self._setup_messageable()


class MockDMChannel(_MessageableMixin, CustomMockMixin, unittest.mock.MagicMock):
    spec_set = discord.DMChannel

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**({"id": next_id()} | kwargs))
        self._setup_messageable()


def _embeds(kw: dict[str, Any]) -> list[discord.Embed]:
    if kw.get("embed") is not None:
        return [kw["embed"]]
    return list(kw.get("embeds") or [])


class MockMessage(CustomMockMixin, unittest.mock.MagicMock):
    """A message; ``reply()`` returns the bot's answer as another MockMessage with a fresh id."""

    spec_set = discord.Message

    def __init__(self, **kwargs: Any) -> None:
        channel = kwargs.pop("channel", None) or MockTextChannel()
        defaults = {
            "id": next_id(),
            "content": "",
            "author": MockMember(),
            "channel": channel,
            "guild": None if isinstance(channel, discord.DMChannel) else channel.guild,
            "mentions": [],
            "embeds": [],
            "reference": None,
        }
        super().__init__(**(defaults | kwargs))

        def reply(content: str | None = None, **kw: Any) -> MockMessage:
            sent = MockMessage(content=content or "", channel=self.channel, author=MockUser(id=BOT_USER_ID, bot=True), embeds=_embeds(kw))
            reply.replies.append(sent)  # type: ignore[attr-defined]
            return sent

        reply.replies = []  # type: ignore[attr-defined]
        self.reply.side_effect = reply

    def bot_replies(self) -> list[MockMessage]:
        """The messages ``reply()`` returned, oldest first."""
        return self.reply.side_effect.replies

    def reply_to(self, sent: MockMessage, content: str, **kwargs: Any) -> MockMessage:
        """A user's message replying to ``sent`` in the same channel (resolved, like Discord's gateway)."""
        ref = discord.MessageReference(message_id=sent.id, channel_id=sent.channel.id)
        ref.resolved = sent
        return MockMessage(content=content, channel=self.channel, author=kwargs.pop("author", self.author), reference=ref, **kwargs)


# -- interactions -------------------------------------------------------------


class MockInteractionResponse(CustomMockMixin, unittest.mock.MagicMock):
    """Tracks the response like discord.py: one response only, ``is_done()`` and ``type`` follow it."""

    spec_set = discord.InteractionResponse

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        state: dict[str, Any] = {"type": None}
        T = discord.InteractionResponseType

        def responder(kind: Callable[..., discord.InteractionResponseType]) -> Callable[..., Any]:
            async def respond(*args: Any, **kw: Any) -> None:
                if state["type"] is not None:
                    raise discord.InteractionResponded(unittest.mock.MagicMock())
                state["type"] = kind(*args, **kw)

            return respond

        self.defer.side_effect = responder(lambda *, ephemeral=False, thinking=False: T.deferred_channel_message if thinking else T.deferred_message_update)
        self.send_message.side_effect = responder(lambda *a, **kw: T.channel_message)
        self.edit_message.side_effect = responder(lambda *a, **kw: T.message_update)
        self.autocomplete.side_effect = responder(lambda *a, **kw: T.autocomplete_result)
        self.send_modal.side_effect = responder(lambda *a, **kw: T.modal)
        self.is_done.side_effect = lambda: state["type"] is not None
        type(self).type = unittest.mock.PropertyMock(side_effect=lambda: state["type"])


class MockWebhook(CustomMockMixin, unittest.mock.MagicMock):
    """``interaction.followup``."""

    spec_set = discord.Webhook


class MockInteraction(CustomMockMixin, unittest.mock.MagicMock):
    """An application-command interaction in a guild text channel, from a regular member."""

    spec_set = discord.Interaction

    def __init__(self, **kwargs: Any) -> None:
        channel = kwargs.pop("channel", None) or MockTextChannel()
        guild = kwargs.pop("guild", channel.guild if not isinstance(channel, discord.DMChannel) else None)
        user = kwargs.pop("user", None) or MockMember(guild=guild)
        defaults = {
            "id": next_id(),
            "type": discord.InteractionType.application_command,
            "user": user,
            "guild": guild,
            "guild_id": guild.id if guild is not None else None,
            "channel": channel,
            "channel_id": channel.id,
            "permissions": MEMBER_PERMISSIONS,
            "response": MockInteractionResponse(),
            "followup": MockWebhook(),
            "command": None,
            "message": None,
            "extras": {},
        }
        super().__init__(**(defaults | kwargs))


# -- the bot ------------------------------------------------------------------


async def run_in_thread(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """What ``DigestBot.run_blocking`` does: the function runs in a worker thread."""
    return await asyncio.to_thread(fn, *args, **kwargs)


def _bot_spec() -> DigestBot:
    # A real (never started) bot instance, so instance attributes such as kb, state,
    # settings, cooldown and poller are part of the spec.
    return DigestBot(Settings(), None, None, None)  # type: ignore[arg-type]


_BOT_SPEC = _bot_spec()


class MockBot(CustomMockMixin, unittest.mock.MagicMock):
    """A DigestBot with a spec'd knowledge base, a real cooldown and a thread-running ``run_blocking``.

    Args:
        cooldown: Seconds between questions of one user.
        clock: The cooldown's clock (default ``time.monotonic``).
        state: The state database (default: a MagicMock spec'd on StateDB).
        kb: The knowledge base (default: a MagicMock spec'd on KnowledgeBase).

    No cog is loaded: ``get_cog`` answers None, as a real bot's does for a cog it does not have
    (a test that needs one sets ``get_cog`` itself).
    """

    spec_set = _BOT_SPEC

    def __init__(self, *, cooldown: float = 5.0, clock: Callable[[], float] | None = None, state: Any = None, kb: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = Settings(ask_cooldown_seconds=cooldown)
        self.kb = kb if kb is not None else unittest.mock.MagicMock(spec_set=KnowledgeBase)
        self.state = state if state is not None else unittest.mock.MagicMock(spec_set=StateDB)
        self.poller = None
        self.get_cog = unittest.mock.MagicMock(return_value=None)
        self.cooldown = UserCooldown(cooldown, clock) if clock else UserCooldown(cooldown)
        self.run_blocking = unittest.mock.AsyncMock(side_effect=run_in_thread)
        self.user = MockUser(id=BOT_USER_ID, name="digestbot", bot=True)
        self.on_app_command_error = functools.partial(DigestBotMixin.on_app_command_error, self)


# -- data ---------------------------------------------------------------------


def make_citation(rank: int = 1, **overrides: Any) -> Citation:
    """A citation from the Weekly Paper Roundup, fields overridable."""
    values: dict[str, Any] = {
        "rank": rank,
        "digest": "Weekly Paper Roundup",
        "title": "2024-3-17 arXiv roundup: tiny adapters, sparse routers, and a new tokenizer trick",
        "date": "2024-03-17",
        "section": "PebbleTune: Finetuning Frozen Models with Pebble-Sized Adapters",
        "url": "https://roundup.example.org/p/2024-3-17",
        "source": "tests/fixtures/archive/weekly-paper-roundup/2024-3-17-roundup.txt",
        "excerpt": "They report that PebbleTune matches full finetuning on 7 of 9 benchmarks.",
        "score": 0.8,
        "arxiv_ids": [],
        "highlights": ["PebbleTune"],
    }
    values.update(overrides)
    return Citation(**values)


def make_answer(question: str = "what did the digest say about PebbleTune?", citations: int = 1, more: int = 0, **overrides: Any) -> Answer:
    """An answer with ``citations`` cited excerpts and ``more`` held back."""
    cited = [make_citation(i) for i in range(1, citations + 1)]
    extra = [make_citation(citations + i, excerpt=f"Further excerpt {i}.") for i in range(1, more + 1)]
    values: dict[str, Any] = {
        "question": question,
        "found": bool(cited),
        "answer": f"Here is what Weekly Paper Roundup said ({citations} excerpt(s)):",
        "citations": cited,
        "more": extra,
        "took_ms": 12.0,
    }
    values.update(overrides)
    return Answer(**values)


def make_report(arxiv_id: str = "2403.05678", mentions: int = 2, abstract: str = "We present Lantern-7B.", **overrides: Any) -> PaperReport:
    """A paper report for Lantern-7B with ``mentions`` digest mentions."""
    paper = Paper(arxiv_id=arxiv_id, title="Lantern-7B: A Small Model That Reads Long Documents", authors=["A. Author", "B. Author"], abstract=abstract, published="2024-03-08")
    values: dict[str, Any] = {
        "arxiv_id": arxiv_id,
        "found": True,
        "paper": paper,
        "mentions": [make_citation(i, digest="Model Notes", section=paper.title, arxiv_ids=[arxiv_id]) for i in range(1, mentions + 1)],
    }
    values.update(overrides)
    return PaperReport(**values)


# -- assertions ---------------------------------------------------------------

LIMITS = {"title": 256, "description": 4096, "field_name": 256, "field_value": 1024, "fields": 25, "footer": 2048, "author": 256, "total": 6000, "content": 2000}


def embed_violations(embed: discord.Embed) -> list[str]:
    """Every way ``embed`` breaks Discord's limits (empty when it fits)."""
    problems = []
    if len(embed.title or "") > LIMITS["title"]:
        problems.append(f"title {len(embed.title or '')} > 256")
    if len(embed.description or "") > LIMITS["description"]:
        problems.append(f"description {len(embed.description or '')} > 4096")
    if len(embed.fields) > LIMITS["fields"]:
        problems.append(f"{len(embed.fields)} fields > 25")
    for i, f in enumerate(embed.fields):
        if not f.name or len(f.name) > LIMITS["field_name"]:
            problems.append(f"field {i} name length {len(f.name or '')}")
        if not f.value or len(f.value) > LIMITS["field_value"]:
            problems.append(f"field {i} value length {len(f.value or '')}")
    if len(embed.footer.text or "") > LIMITS["footer"]:
        problems.append(f"footer {len(embed.footer.text or '')} > 2048")
    if len(embed.author.name or "") > LIMITS["author"]:
        problems.append(f"author {len(embed.author.name or '')} > 256")
    if len(embed) > LIMITS["total"]:
        problems.append(f"total {len(embed)} > 6000")
    return problems


SEND_METHODS = ("send", "reply", "send_message", "edit_message", "edit_original_response")


def send_calls(*mocks: unittest.mock.Mock) -> list[unittest.mock._Call]:
    """Every call that posts or edits a message, on the given mocks and their children."""
    out = []
    for m in mocks:
        for name, args, kwargs in m.mock_calls:
            if name.rsplit(".", 1)[-1] in SEND_METHODS:
                out.append(unittest.mock.call(*args, **kwargs))
    return out


def assert_no_pings(calls: Iterable[unittest.mock._Call]) -> None:
    """Each send passes ``allowed_mentions`` that ping nobody, and content fits 2000 characters."""
    calls = list(calls)
    assert calls, "nothing was sent"
    for c in calls:
        allowed = c.kwargs.get("allowed_mentions")
        assert isinstance(allowed, discord.AllowedMentions), f"no allowed_mentions in {c}"
        data = allowed.to_dict()
        assert data["parse"] == [] and not data.get("users") and not data.get("roles") and not data.get("replied_user"), data
        content = c.args[0] if c.args else c.kwargs.get("content")
        assert content is None or len(content) <= LIMITS["content"]


def main_thread_guard() -> Callable[[], None]:
    """A function that fails when called on the thread running the event loop."""
    loop_thread = threading.current_thread()

    def check() -> None:
        assert threading.current_thread() is not loop_thread, "blocking work ran on the event loop"

    return check


__all__ = [
    "ADMIN_PERMISSIONS",
    "BOT_USER_ID",
    "MEMBER_PERMISSIONS",
    "MockBot",
    "MockDMChannel",
    "MockGuild",
    "MockInteraction",
    "MockInteractionResponse",
    "MockMember",
    "MockMessage",
    "MockRole",
    "MockTextChannel",
    "MockThread",
    "MockUser",
    "MockWebhook",
    "assert_no_pings",
    "embed_violations",
    "make_answer",
    "make_citation",
    "make_report",
    "send_calls",
]
