"""Announcements end to end: the real poller, the real bot, a fake feed server and the fake Discord API."""

from __future__ import annotations

import pytest
import pytest_asyncio

from bot.client import create_bot
from bot.state import BotState
from knowledge.watch.state import ANNOUNCED, INDEXED
from tests.bot.announce_helpers import BASE, issue, until
from tests.fakes.discord import TEXT_CHANNEL_ID, FakeDiscord
from tests.fakes.feeds import FakeEntry, FakeFeedServer
from tests.helpers.world import polling_world


@pytest.fixture
def feeds():
    with FakeFeedServer() as server:
        yield server


@pytest.fixture
def world(tmp_path, feeds, kb_factory):
    """Settings, knowledge base and a way to (re)open state + poller, as a restart would."""
    with polling_world(kb_factory(), feeds.url("/feed"), tmp_path, ANNOUNCE_CHANNEL_ID=str(TEXT_CHANNEL_ID)) as world:
        yield world


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
        await until(lambda: cog.rounds >= 1 or not cog.poll.is_running(), "the first polling round")
        return bot, cog


def message_sends(fake: FakeDiscord) -> list:
    return [r for r in fake.requests if r.method == "POST" and r.path == f"/channels/{TEXT_CHANNEL_ID}/messages"]


def summary_lines(fake: FakeDiscord) -> list[str]:
    return [m.content for m in fake.sent_messages(TEXT_CHANNEL_ID) if m.content and "more new issue" in m.content]


def _due_entry(state: BotState, guid: str) -> None:
    """Let time pass for one entry: its backoff is over."""
    row = state.find_entry("Glass Weekly", guid, "")
    row.retry_at = 0
    state.upsert_entry(row)


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

    monkeypatch.setattr(crashing.state, "mark_posted", crash)
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


@pytest.mark.parametrize("status", [403, 400, 503])
async def test_a_refused_announcement_stays_pending_and_goes_out_once_when_the_channel_works(discord_api, feeds, world, status):
    settings, kb, open_poller = world
    feeds.set_feed("/feed", [issue(1)])
    poller = open_poller()
    poller.poll_once()
    feeds.set_feed("/feed", [issue(2), issue(1)])
    discord_api.fail_sends(TEXT_CHANNEL_ID, status)  # an admin took Send Messages away, Discord is down, ...
    bot = create_bot(settings, kb, poller.state, poller, cogs=("bot.cogs.announce", "bot.cogs.digest", "bot.cogs.health"), guild_ready_timeout=0.05)
    async with discord_api.running(bot):
        cog = bot.get_cog("AnnounceCog")
        await until(lambda: cog.rounds >= 1, "the first round (the catch-up)")
        cog.poll.cancel()
        row = poller.state.find_entry("Glass Weekly", "issue-2", "")
        assert row.state == INDEXED and row.failures == 1 and f"HTTP {status}" in row.last_error  # not lost
        # visible in /sources and in the health report (which stays healthy: gateway and knowledge are fine)
        inter = await discord_api.inject_slash_command("sources")
        sources = await discord_api.wait_for_message(lambda m: m.interaction_id == int(inter["id"]))
        assert "refused by Discord" in sources.embeds[0]["fields"][1]["value"]
        health = await bot.get_cog("HealthCog").snapshot()
        assert health.ok and health.announcements_refused == 1 and "refused" in health.poller
        # backing off: the next round does not knock again
        tries = len(message_sends(discord_api))
        await cog.run_round()
        assert len(message_sends(discord_api)) == tries
        # the channel works again and the backoff is over: sent, once
        discord_api.fail_sends(TEXT_CHANNEL_ID, None)
        _due_entry(poller.state, "issue-2")
        await cog.run_round()
        await cog.run_round()
        health = await bot.get_cog("HealthCog").snapshot()
    assert [m.embeds[0]["title"] for m in announcements(discord_api)] == ["Weekly issue 2"]
    assert poller.state.find_entry("Glass Weekly", "issue-2", "").state == ANNOUNCED
    assert poller.state.announcement("Glass Weekly", "issue-2", TEXT_CHANNEL_ID)["state"] == "sent"
    assert health.announcements_refused == 0 and health.poller.startswith("ok")


async def test_missed_issues_after_downtime_end_with_one_summary_line(discord_api, feeds, world):
    settings, kb, open_poller = world  # ANNOUNCE_MAX_MISSED is 3 by default
    feeds.set_feed("/feed", [issue(1)])
    open_poller().poll_once()
    feeds.set_feed("/feed", [issue(n) for n in range(7, 0, -1)])
    open_poller().poll_once(force=True)  # `digestbot poll --once` while the bot is down: indexes, drops its report
    await run_bot_round(discord_api, settings, kb, open_poller())
    assert [m.embeds[0]["title"] for m in announcements(discord_api)] == ["Weekly issue 5", "Weekly issue 6", "Weekly issue 7"]
    (line,) = summary_lines(discord_api)
    assert line.startswith("…and 3 more new issues of **Glass Weekly**") and "Weekly issue 4" in line
    assert discord_api.sent_messages(TEXT_CHANNEL_ID)[-1].content == line  # after the announcements
    await run_bot_round(discord_api, settings, kb, open_poller())
    assert len(summary_lines(discord_api)) == 1 and len(announcements(discord_api)) == 3
    assert open_poller().pending() == []


async def test_feed_markup_and_a_bad_link_cannot_spoof_or_break_an_announcement(discord_api, feeds, world):
    settings, kb, open_poller = world
    feeds.set_feed("/feed", [issue(1)])
    open_poller().poll_once()
    bait = "[click here](http://evil.example/login) <@&1100000000000000010> @everyone ||hidden|| \u202eexe.gnp"
    hostile = FakeEntry(
        title=f"Weekly **issue** 9 {bait}", link="javascript:alert(1)", guid="issue-9", published=BASE + __import__("datetime").timedelta(days=70),
        content=f"<p>Issue 9 opens with {bait} and then a long note about what happened in machine learning this week.</p>"
                "<h2>Paper 9: Glass Routers for Sparse Experts number 9</h2><p>The authors route tokens through glass routers.</p>",
    )
    feeds.set_feed("/feed", [hostile, issue(1)])
    await run_bot_round(discord_api, settings, kb, open_poller())
    (sent,) = announcements(discord_api)
    embed = sent.embeds[0]
    text = embed["title"] + embed["description"] + embed["author"]["name"]
    assert "url" not in embed  # not http(s): dropped, so Discord has nothing to refuse
    assert "\u202e" not in str(sent.embeds)
    assert "\\[click here\\](http://evil.example/login)" in embed["description"]  # shown, not a masked link
    assert "@\u200beveryone" in embed["description"] and "<@\u200b&1100000000000000010>" in embed["description"]
    assert "\\|\\|hidden\\|\\|" in embed["description"] and "\\*\\*issue\\*\\*" in text
    assert sent.allowed_mentions == {"parse": []}
