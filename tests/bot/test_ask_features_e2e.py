"""End to end against the fake Discord: rate limits with a burst, ask channels and their
threads, the 🤔 working indicator, the 👎 modal, /admin gaps and answers in threads (#15).

The knowledge base is the session's ``fixture_kb``; the state database is fresh per test.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable

import discord
import pytest
import pytest_asyncio

from bot.client import create_bot
from bot.state import BotState
from tests.fakes.discord_api import (
    BOT_ID,
    GUILD_ID,
    TEXT_CHANNEL_ID,
    FakeDiscord,
    SentMessage,
)

Q = "what did the digest say about PebbleTune?"
REFUSAL = "Sorry, only members with **Manage Server** can use this command."


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest_asyncio.fixture(loop_scope="function")
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(heartbeat_interval_ms=50, interaction_timeout=3.0) as server:
        yield server


@pytest.fixture
def state(tmp_path) -> BotState:
    db = BotState(tmp_path / "state.sqlite3")
    yield db
    db.close()


@pytest.fixture
def make_bot(settings_factory, fixture_kb, state) -> Callable[..., discord.Client]:
    def make(**env: str) -> discord.Client:
        values = {"DISCORD_GUILD_ID": str(GUILD_ID), "ASK_COOLDOWN_SECONDS": "0"} | env
        return create_bot(settings_factory(**values), fixture_kb, state, None, guild_ready_timeout=0.05)

    return make


@pytest.fixture
def caplog_errors(caplog) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO)
    return caplog


def reply_to(message_id: int | str) -> Callable[[SentMessage], bool]:
    return lambda m: m.kind == "channel" and (m.message.get("message_reference") or {}).get("message_id") == str(message_id)


def assert_pings_nobody(m: SentMessage) -> None:
    assert m.allowed_mentions is not None and m.allowed_mentions.get("parse") == [], m.allowed_mentions
    assert not m.allowed_mentions.get("replied_user")
    assert m.message["mention_everyone"] is False and m.message["mentions"] == [] and m.message["mention_roles"] == []


def unexpected_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_burst_then_refused_then_allowed_after_time_passes(fake: FakeDiscord, make_bot, caplog_errors) -> None:
    clock = Clock()
    bot = make_bot(ASK_COOLDOWN_SECONDS="10", ASK_BURST="3")
    bot.cooldown.clock = clock
    async with fake.running(bot):
        for _ in range(3):  # three at once are fine
            asked = await fake.inject_message(TEXT_CHANNEL_ID, f"<@{BOT_ID}> {Q}")
            answer = await fake.wait_for_message(reply_to(asked["id"]))
            assert answer.embeds and answer.embeds[0]["title"] == Q
        asked = await fake.inject_message(TEXT_CHANNEL_ID, f"<@{BOT_ID}> {Q}")
        refused = await fake.wait_for_message(reply_to(asked["id"]))
        assert refused.content == "Slow down a little: try again in 10 s." and not refused.embeds
        assert_pings_nobody(refused)
        inter = await fake.inject_slash_command("ask", {"question": Q})  # /ask shares the bucket
        note = await fake.wait_for_message(lambda m: m.interaction_id == int(inter["id"]))
        assert note.ephemeral and note.content.startswith("Slow down a little")
        clock.now += 10  # one more token: one question
        asked = await fake.inject_message(TEXT_CHANNEL_ID, f"<@{BOT_ID}> {Q}")
        answer = await fake.wait_for_message(reply_to(asked["id"]))
        assert answer.embeds and answer.embeds[0]["title"] == Q
        asked = await fake.inject_message(TEXT_CHANNEL_ID, f"<@{BOT_ID}> {Q}")
        again = await fake.wait_for_message(reply_to(asked["id"]))
        assert again.content.startswith("Slow down a little")
    assert unexpected_errors(caplog_errors) == []
