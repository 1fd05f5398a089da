"""Fixtures shared by the end-to-end bot tests: the fake Discord, a fresh bot state, the bot."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator

import discord
import pytest
import pytest_asyncio

from bot.client import create_bot
from bot.state import BotState
from tests.fakes.discord import GUILD_ID, FakeDiscord, SentMessage


@pytest_asyncio.fixture(loop_scope="function")
async def fake() -> AsyncIterator[FakeDiscord]:
    # Discord's 3 s deadline for the first response is enforced; heartbeats every 50 ms.
    async with FakeDiscord(heartbeat_interval_ms=50, interaction_timeout=3.0) as server:
        yield server


@pytest.fixture
def state(tmp_path) -> Iterator[BotState]:
    """A fresh bot state database, closed after the test."""
    db = BotState(tmp_path / "state.sqlite3")
    yield db
    db.close()


@pytest.fixture
def make_bot(settings_factory, fixture_kb, state) -> Callable[..., discord.Client]:
    """Build the real bot over the session's fixture knowledge base; ``env`` overrides settings."""

    def make(**env: str) -> discord.Client:
        values = {"DISCORD_GUILD_ID": str(GUILD_ID), "ASK_COOLDOWN_SECONDS": "0.001"} | env
        return create_bot(settings_factory(**values), fixture_kb, state, None, guild_ready_timeout=0.05)

    return make


@pytest.fixture
def caplog_errors(caplog) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO)
    return caplog


def reply_to(message_id: int | str) -> Callable[[SentMessage], bool]:
    """A predicate for the fake's ``wait_for_message``: a channel reply to ``message_id``."""
    return lambda m: m.kind == "channel" and (m.message.get("message_reference") or {}).get("message_id") == str(message_id)
