"""Watches end to end: slash commands on the fake Discord, new issues on the local feed server,
the real poller and knowledge base (real model, real Chroma), DMs through the real discord.py client."""

from __future__ import annotations

import dataclasses

import pytest
import pytest_asyncio

from bot.client import create_bot
from knowledge.alerts.store import REFUSED, SENT, SKIPPED, WatchStore
from knowledge.config import Settings
from knowledge.watch.poller import Poller
from tests.fakes.discord import ADMIN_ID, GUILD_ID, USER_ID, FakeDiscord
from tests.fakes.feeds import FakeFeedServer
from tests.helpers.feeds import issue
from tests.helpers.paths import ARCHIVE
from tests.helpers.waiting import until
from tests.helpers.world import polling_world

COGS = ("bot.cogs.announce", "bot.cogs.watch", "bot.cogs.admin", "bot.cogs.health")
TOPIC = "glass routers for sparse experts"


@pytest.fixture
def feeds():
    with FakeFeedServer() as server:
        yield server


@pytest.fixture
def world(tmp_path, feeds, kb_factory):
    """Settings, a knowledge base with the fixture archive, and a way to (re)open state + poller, as a restart would."""
    kb = kb_factory()
    kb.ingest([ARCHIVE])
    with polling_world(kb, feeds.url("/feed"), tmp_path, DISCORD_GUILD_ID=str(GUILD_ID)) as world:
        yield world


@pytest_asyncio.fixture(loop_scope="function")
async def discord_api():
    async with FakeDiscord(heartbeat_interval_ms=200) as fake:
        yield fake


class Running:
    """The bot running against the fake until the block ends (a stop is a restart's first half)."""

    def __init__(self, fake: FakeDiscord, settings: Settings, kb, poller: Poller) -> None:
        self.fake, self.poller = fake, poller
        self.bot = create_bot(settings, kb, poller.state, poller, cogs=COGS, guild_ready_timeout=0.05)

    async def __aenter__(self) -> Running:
        self._ctx = self.fake.running(self.bot)
        await self._ctx.__aenter__()
        await until(lambda: self.bot.get_cog("AnnounceCog").rounds >= 1, "the first polling round")
        await until(lambda: self.bot.synced.is_set(), "commands synced")
        return self

    async def __aexit__(self, *exc) -> None:
        await self._ctx.__aexit__(*exc)

    async def command(self, sub: str, options: dict, user: int = USER_ID) -> str:
        inter = await self.fake.inject_slash_command("watch", options, subcommand=sub, user=user)
        reply = await self.fake.wait_for_message(lambda m: m.interaction_id == int(inter["id"]) and m.kind == "followup")
        assert [r.type for r in self.fake.interaction_responses(inter["id"])][0] == 5  # deferred at once
        assert reply.ephemeral, reply
        assert reply.allowed_mentions == {"parse": []}
        return reply.content

    async def poll_round(self) -> None:
        await self.bot.get_cog("AnnounceCog").run_round()


def dms(fake: FakeDiscord, user_id: int) -> list:
    return fake.sent_messages(fake.dm_channel_id(user_id))


def dm_sends(fake: FakeDiscord, user_id: int) -> list:
    return [r for r in fake.requests if r.method == "POST" and r.path == f"/channels/{fake.dm_channel_id(user_id)}/messages"]


async def test_topic_watch_gets_one_dm_for_a_new_issue_and_never_again(discord_api, feeds, world):
    settings, kb, open_poller = world
    feeds.set_feed("/feed", [issue(1)])
    async with Running(discord_api, settings, kb, open_poller()) as run:  # the first run seeds issue 1: no DMs for it
        said = await run.command("topic", {"text": TOPIC})
        assert "Watching “glass routers for sparse experts” (watch #1)" in said
        other = await run.command("topic", {"text": "quantum chemistry of bananas"}, user=ADMIN_ID)
        assert "watch #2" in other
        refused = await run.command("topic", {"text": "the of and ???"})
        assert refused.startswith("Not watched: the topic has no words to match")

        feeds.set_feed("/feed", [issue(2), issue(1)])
        await run.poll_round()
        [dm] = dms(discord_api, USER_ID)
        [embed] = dm.embeds
        assert embed["title"] == "Weekly issue 2" and embed["author"]["name"] == "New in Glass Weekly"
        assert embed["url"] == feeds.url("/p/issue-2")
        assert "§ Paper 2: Glass Routers for Sparse Experts number 2" in embed["description"]
        assert "route tokens through glass routers" in embed["description"].replace("**", "")
        assert "your watch #1" in embed["footer"]["text"] and "2024-03-15" in embed["footer"]["text"]
        assert dm.allowed_mentions == {"parse": []} and dm.message["mentions"] == []
        assert dms(discord_api, ADMIN_ID) == []  # the non-matching watch: nothing
        report = await run.bot.get_cog("HealthCog").snapshot()  # what `digestbot health` prints: counts only
        assert (report.watches_active, report.watch_dms_waiting) == (2, 0)

        feeds.set_feed("/feed", [issue(2, body="<p>Issue 2, edited: a longer note about the week in machine learning research.</p>"
                                                "<h2>Paper 2: Glass Routers for Sparse Experts</h2><p>The authors route tokens through "
                                                "glass routers; the edit adds that the speedup holds at scale.</p>"), issue(1)])
        await run.poll_round()  # the edited post is re-indexed under the same document: no second DM
        assert len(dms(discord_api, USER_ID)) == 1

    async with Running(discord_api, settings, kb, open_poller()) as run:  # a restart: polls and delivers again
        await run.poll_round()
    assert len(dms(discord_api, USER_ID)) == 1
    assert len(dm_sends(discord_api, USER_ID)) == 1
    [hit] = WatchStore(open_poller().state).hits(USER_ID)
    assert hit.state == SENT and hit.citation["section"].startswith("Paper 2: Glass Routers")


async def test_closed_dms_are_recorded_as_refused_and_not_retried(discord_api, feeds, world):
    settings, kb, open_poller = world
    feeds.set_feed("/feed", [issue(1)])
    discord_api.refuse_dms(USER_ID)
    async with Running(discord_api, settings, kb, open_poller()) as run:
        await run.command("topic", {"text": TOPIC})
        feeds.set_feed("/feed", [issue(2), issue(1)])
        await run.poll_round()
        [attempt] = dm_sends(discord_api, USER_ID)
        assert attempt.status == 403 and attempt.response["code"] == 50007
        [hit] = run.bot.get_cog("WatchCog").store.hits(USER_ID)
        assert hit.state == REFUSED and "403" in hit.last_error and "Cannot send messages to this user" in hit.last_error
        discord_api.refuse_dms(USER_ID, refused=False)
        await run.poll_round()
        await run.bot.get_cog("WatchCog").delivery.deliver_due()
    assert len(dm_sends(discord_api, USER_ID)) == 1  # refused is final
    assert dms(discord_api, USER_ID) == []


async def test_a_users_watches_are_invisible_to_others_and_paper_watches_say_what_covered_them(discord_api, feeds, world):
    settings, kb, open_poller = world
    feeds.set_feed("/feed", [issue(1)])
    async with Running(discord_api, settings, kb, open_poller()) as run:
        await run.command("topic", {"text": TOPIC})
        covered = await run.command("paper", {"id": "https://arxiv.org/abs/2403.05678v2"})
        assert "Already covered by:" in covered and "Model Notes" in covered and "watch #2" in covered
        fresh = await run.command("paper", {"id": "2403.01002"})
        assert "No digest has covered this yet." in fresh and "watch #3" in fresh
        bad = await run.command("paper", {"id": "not-a-paper"})
        assert bad.startswith("That is not an arXiv ID")

        mine = await run.command("list", {})
        assert "#1 · topic · “glass routers for sparse experts”" in mine and "arXiv:2403.05678" in mine
        theirs = await run.command("list", {}, user=ADMIN_ID)
        assert "no watches" in theirs and "glass" not in theirs
        assert await run.command("remove", {"id": 1}, user=ADMIN_ID) == "You have no watch #1 (see `/watch list`)."
        assert await run.command("remove", {"id": 99}) == "You have no watch #99 (see `/watch list`)."  # same answer: no hint
        assert len(run.bot.get_cog("WatchCog").store.watches(USER_ID)) == 3

        feeds.set_feed("/feed", [issue(2), issue(1)])  # issue 2 links arXiv 2403.01002 and answers the topic
        await run.poll_round()
        contents = sorted(m.content for m in dms(discord_api, USER_ID))
        assert len(contents) == 2
        assert "covers the paper you watch: arXiv:2403.01002" in contents[0] and "matches your watch" in contents[1]
        assert await run.command("remove", {"id": 1}) == "Removed watch #1."


async def test_admins_turn_watches_off_per_server(discord_api, feeds, world):
    settings, kb, open_poller = world
    feeds.set_feed("/feed", [issue(1)])
    async with Running(discord_api, settings, kb, open_poller()) as run:
        await run.command("topic", {"text": TOPIC})
        inter = await discord_api.inject_slash_command("admin", {"state": "off"}, subcommand="watches", user=USER_ID)
        refusal = await discord_api.wait_for_message(lambda m: m.interaction_id == int(inter["id"]))
        assert "Manage Server" in refusal.content
        inter = await discord_api.inject_slash_command("admin", {"state": "off"}, subcommand="watches", user=ADMIN_ID)
        done = await discord_api.wait_for_message(lambda m: m.interaction_id == int(inter["id"]))
        assert done.ephemeral and "Watches are off" in done.content
        assert await run.command("topic", {"text": "speculative decoding"}) == "Watches are turned off in this server by its admins."

        feeds.set_feed("/feed", [issue(2), issue(1)])
        await run.poll_round()
        assert dms(discord_api, USER_ID) == []
        [hit] = run.bot.get_cog("WatchCog").store.hits(USER_ID)
        assert hit.state == SKIPPED


async def test_a_restart_between_send_and_record_finds_the_dm_instead_of_sending_twice(discord_api, feeds, world, monkeypatch, caplog):
    settings, kb, open_poller = world
    feeds.set_feed("/feed", [issue(1)])
    async with Running(discord_api, settings, kb, open_poller()) as run:
        await run.command("topic", {"text": TOPIC})
        store = run.bot.get_cog("WatchCog").store

        def crash(*args, **kwargs):
            raise RuntimeError("killed right after sending")

        monkeypatch.setattr(store, "mark_sent", crash)
        feeds.set_feed("/feed", [issue(2), issue(1)])
        await run.poll_round()  # the DM went out, the process "died" before recording it
        assert any("delivering watch DMs failed" in r.getMessage() for r in caplog.records)
    assert len(dms(discord_api, USER_ID)) == 1
    monkeypatch.undo()
    async with Running(discord_api, settings, kb, open_poller()) as run:
        await run.bot.get_cog("WatchCog").delivery.deliver_due()
        [hit] = run.bot.get_cog("WatchCog").store.hits(USER_ID)
        assert hit.state == SENT  # found in the DM history by its nonce
    assert len(dm_sends(discord_api, USER_ID)) == 1


async def test_server_errors_back_off_and_the_hourly_cap_delays_the_rest(discord_api, feeds, world):
    settings, kb, open_poller = world
    settings = dataclasses.replace(settings, watch_dms_per_hour=1)
    feeds.set_feed("/feed", [issue(1)])
    async with Running(discord_api, settings, kb, open_poller()) as run:
        await run.command("topic", {"text": TOPIC})
        await run.command("topic", {"text": "glass routers speedup"})
        cog = run.bot.get_cog("WatchCog")
        discord_api.fail_sends(discord_api.dm_channel_id(USER_ID), 503)
        feeds.set_feed("/feed", [issue(2), issue(1)])
        await run.poll_round()
        hits = cog.store.hits(USER_ID)
        assert [(h.state, h.attempts) for h in hits] == [("sending", 1), ("sending", 1)]
        assert all("HTTP 503" in h.last_error for h in hits)
        discord_api.fail_sends(discord_api.dm_channel_id(USER_ID), None)
        await cog.delivery.deliver_due()
        assert dms(discord_api, USER_ID) == []  # still backing off
        with run.poller.state.tx() as db:
            db.execute("UPDATE watch_hits SET retry_at = 0")  # the backoff is over
        await cog.delivery.deliver_due()
        assert sorted(h.state for h in cog.store.hits(USER_ID)) == ["sending", "sent"]  # one DM this hour; the other waits
        await cog.delivery.deliver_due()
    assert len(dms(discord_api, USER_ID)) == 1
