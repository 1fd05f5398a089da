"""Announcements end to end: the real poller, the real bot, a fake feed server and the fake Discord API."""

from __future__ import annotations

import asyncio

import pytest
import pytest_asyncio

from bot.client import create_bot
from knowledge.config import Settings
from knowledge.poller import Poller
from knowledge.state import StateDB
from tests.bot.announce_helpers import issue
from tests.fakes.discord_api import TEXT_CHANNEL_ID, FakeDiscord
from tests.fakes.feed_server import FakeFeedServer


@pytest.fixture
def feeds():
    with FakeFeedServer() as server:
        yield server


@pytest.fixture
def world(tmp_path, feeds, kb_factory):
    """Settings, knowledge base and a way to (re)open state + poller, as a restart would."""
    kb = kb_factory()
    sources = tmp_path / "sources.toml"
    sources.write_text(f'[[digest]]\nname = "Glass Weekly"\nfeed = "{feeds.url("/feed")}"\n')
    settings = Settings.from_env({
        "DIGESTBOT_DATA_DIR": str(kb.settings.data_dir), "DIGESTBOT_SOURCES": str(sources), "DIGESTBOT_ALLOW_PRIVATE_URLS": "1",
        "POLL_MINUTES": "60", "ANNOUNCE_CHANNEL_ID": str(TEXT_CHANNEL_ID), "HTTP_TIMEOUT_SECONDS": "2",
    })
    opened: list[StateDB] = []

    def open_poller() -> Poller:
        state = StateDB(settings.state_db)
        opened.append(state)
        return Poller(kb, state, settings, substack_pace=0)

    yield settings, kb, open_poller
    for state in opened:
        state.close()


@pytest_asyncio.fixture(loop_scope="function")
async def discord_api():
    async with FakeDiscord(heartbeat_interval_ms=200) as fake:
        yield fake


def announcements(fake: FakeDiscord) -> list:
    return [m for m in fake.sent_messages(TEXT_CHANNEL_ID) if m.embeds and "New in" in str(m.embeds[0].get("author", {}).get("name", ""))]


async def run_bot_round(fake: FakeDiscord, settings, kb, poller):
    """Start the bot (its loop polls once at start), wait for that round, and stop it."""
    bot = create_bot(settings, kb, poller.state, poller, cogs=("bot.cogs.announce",), guild_ready_timeout=0.05)
    async with fake.running(bot):
        cog = bot.get_cog("AnnounceCog")
        assert cog.poll.is_running()  # started in cog_load
        for _ in range(200):
            if cog.poll.current_loop >= 1 or not cog.poll.is_running():
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        return bot, cog


async def test_first_run_seeds_then_one_new_issue_is_announced_once(discord_api, feeds, world):
    settings, kb, open_poller = world
    feeds.set_feed("/feed", [issue(1)])
    poller = open_poller()
    await run_bot_round(discord_api, settings, kb, poller)
    assert announcements(discord_api) == []  # first run: record, announce nothing

    feeds.set_feed("/feed", [issue(2), issue(1)])
    bot, cog = await run_bot_round(discord_api, settings, kb, open_poller())
    (sent,) = announcements(discord_api)
    embed = sent.embeds[0]
    assert embed["title"] == "Weekly issue 2" and "Glass Routers" in embed["description"]
    assert "Ask me" in embed["description"] and sent.allowed_mentions == {"parse": []}

    await run_bot_round(discord_api, settings, kb, open_poller())
    assert len(announcements(discord_api)) == 1  # restart after announce: not again


async def test_restart_between_index_and_announce(discord_api, feeds, world):
    settings, kb, open_poller = world
    feeds.set_feed("/feed", [issue(1)])
    poller = open_poller()
    poller.poll_once()
    feeds.set_feed("/feed", [issue(2), issue(1)])
    poller.poll_once(force=True)  # indexed, then the process "dies" before announcing
    assert [p.guid for p in poller.pending()] == ["issue-2"]
    await run_bot_round(discord_api, settings, kb, open_poller())
    assert [m.embeds[0]["title"] for m in announcements(discord_api)] == ["Weekly issue 2"]


async def test_restart_mid_announcement_does_not_send_twice(discord_api, feeds, world, monkeypatch):
    settings, kb, open_poller = world
    feeds.set_feed("/feed", [issue(1)])
    open_poller().poll_once()
    feeds.set_feed("/feed", [issue(2), issue(1)])
    crashing = open_poller()

    def crash(*args, **kwargs):
        raise RuntimeError("killed right after sending")

    monkeypatch.setattr(crashing.state, "mark_announced", crash)
    await run_bot_round(discord_api, settings, kb, crashing)
    assert len(announcements(discord_api)) == 1
    assert crashing.state.announcement("Glass Weekly", "issue-2", TEXT_CHANNEL_ID)["state"] == "sending"
    monkeypatch.undo()

    restarted = open_poller()
    await run_bot_round(discord_api, settings, kb, restarted)
    assert len(announcements(discord_api)) == 1  # found in the channel history by its nonce
    assert restarted.state.announcement("Glass Weekly", "issue-2", TEXT_CHANNEL_ID)["state"] == "sent"
    assert restarted.pending() == []


async def test_health_messages_when_a_source_pauses_and_recovers(discord_api, feeds, world):
    settings, kb, open_poller = world
    feeds.set_feed("/feed", [issue(1)])
    feeds.fail("/feed", 500)
    poller = open_poller()
    bot = create_bot(settings, kb, poller.state, poller, cogs=("bot.cogs.announce",), guild_ready_timeout=0.05)
    async with discord_api.running(bot):
        cog = bot.get_cog("AnnounceCog")
        cog.poll.cancel()
        for _ in range(4):
            poller.state.save_health(_due(poller.state.health("Glass Weekly")))
            await cog.run_round()
        feeds.clear_fault("/feed")
        poller.state.save_health(_due(poller.state.health("Glass Weekly")))
        await cog.run_round()
    texts = [m.content for m in discord_api.sent_messages(TEXT_CHANNEL_ID) if m.content]
    assert len([t for t in texts if "paused" in t]) == 1 and "HTTP 500" in texts[0]
    assert len([t for t in texts if "reachable again" in t]) == 1


def _due(health):
    health.next_attempt = 0
    return health


async def test_only_one_process_polls_per_deployment(discord_api, world):
    settings, kb, open_poller = world
    first = create_bot(settings, kb, open_poller().state, open_poller(), cogs=("bot.cogs.announce",), guild_ready_timeout=0.05)
    second = create_bot(settings, kb, open_poller().state, open_poller(), cogs=("bot.cogs.announce",), guild_ready_timeout=0.05)
    async with discord_api.running(first):
        assert first.get_cog("AnnounceCog").poll.is_running()
        await second.load_extension("bot.cogs.announce")
        assert not second.get_cog("AnnounceCog").poll.is_running()
        await second.remove_cog("AnnounceCog")
