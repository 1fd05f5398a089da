"""/digest week, the /paper card's coverage, /admin roundup and the scheduled weekly post, end to end:
the real bot against the fake Discord, over the fixture archive plus three digests of one week."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from bot.client import create_bot
from bot.cogs.roundup import SOURCE
from knowledge.models import Citation, Roundup, RoundupPaper
from tests.fakes.discord import (
    ADMIN_ID,
    GUILD_ID,
    TEXT_CHANNEL_ID,
    USER_ID,
    FakeDiscord,
    SentMessage,
)

FRIDAY_AFTER = datetime(2024, 4, 12, 10, 0, tzinfo=UTC)  # ISO week 2024-W15; the fixtures are dated 2024-04-09..11
WEEK = "2024-W15"
COGS = ("bot.cogs.paper", "bot.cogs.digest", "bot.cogs.admin", "bot.cogs.roundup")


@pytest.fixture
def make_roundup_bot(settings_factory, roundup_kb, state):
    def make():
        settings = settings_factory(DISCORD_GUILD_ID=str(GUILD_ID), ASK_COOLDOWN_SECONDS="0.001")
        return create_bot(settings, roundup_kb, state, None, cogs=COGS, guild_ready_timeout=0.05)

    return make


def assert_pings_nobody(m: SentMessage) -> None:
    assert m.allowed_mentions is not None and m.allowed_mentions.get("parse") == [], m.allowed_mentions


def roundup_posts(fake: FakeDiscord) -> list[SentMessage]:
    return [m for m in fake.sent_messages(TEXT_CHANNEL_ID) if m.kind == "channel" and m.embeds and "weekly roundup" in m.embeds[0].get("footer", {}).get("text", "")]


async def command(fake: FakeDiscord, name: str, options: dict, *, subcommand: str | None = None, user: int = USER_ID) -> SentMessage:
    inter = await fake.inject_slash_command(name, options, subcommand=subcommand, user=user)
    return await fake.wait_for_message(lambda m: m.interaction_id == int(inter["id"]))


async def test_digest_week_groups_papers_with_each_digests_quoted_take(fake: FakeDiscord, make_roundup_bot) -> None:
    async with fake.running(make_roundup_bot()):
        inter = await fake.inject_slash_command("digest", {}, subcommand="week")
        week = await fake.wait_for_message(lambda m: m.kind == "followup" and m.interaction_id == int(inter["id"]))
        assert fake.interaction_responses(inter["id"])[0].type == 5  # deferred first
        [embed] = week.embeds
        assert embed["title"] == "Papers covered, 2024-04-05 to 2024-04-11"
        assert "newest week with issues" in embed["description"]  # the archive is old: said, not hidden
        names = [f["name"] for f in embed["fields"]]
        assert names[:2] == ["Patchwork Memory for Streaming Video Models · arXiv:2404.02222 · 2 digests",
                             "Rho-1: Not All Tokens Are What You Need · arXiv:2404.07965 · 2 digests"]
        rho = embed["fields"][1]["value"]
        assert rho.count("\n> ") + rho.startswith("> ") == 2
        assert "— **Gradient Gazette** · [Gradient Gazette: which tokens deserve a loss](https://gazette.example.org/p/which-tokens-deserve-a-loss) · 2024-04-10" in rho
        assert "— **Tensor Tea** ·" in rho
        video = embed["fields"][0]["value"]
        assert "§ This week's video paper" in video  # a section not named for the paper says which it was
        assert_pings_nobody(week)

        tea = await command(fake, "digest", {"digest": "Tensor Tea"}, subcommand="week")
        [embed] = tea.embeds
        assert embed["title"].startswith("Papers covered in Tensor Tea") and len(embed["fields"]) == 3
        assert all("digests" not in f["name"] for f in embed["fields"])


async def test_a_huge_hostile_roundup_fits_and_says_how_many_more(fake: FakeDiscord, make_roundup_bot, roundup_kb, monkeypatch) -> None:
    bait = "@everyone [click](http://evil.example) ||spoiler|| " + "long words " * 200

    def take(i: int, digest: str) -> Citation:
        return Citation(rank=i, digest=digest + " <@&1100000000000000010>", title="T" * 300, date="2024-04-10", section="S" * 300,
                        url="https://example.org/" + "u" * 200, source="s", excerpt=bait, score=0.0, arxiv_ids=[])

    papers = [RoundupPaper(key=f"title:p{i}", title=f"Paper {i} " + "x" * 300, arxiv_id="", takes=[take(1, "A"), take(2, "B"), take(3, "C")])
              for i in range(40)]
    monkeypatch.setattr(roundup_kb, "roundup", lambda **kw: Roundup("2024-04-05", "2024-04-11", papers, [], note="n" * 5000))
    async with fake.running(make_roundup_bot()):
        week = await command(fake, "digest", {}, subcommand="week")  # the fake refuses embeds over Discord's limits
        [embed] = week.embeds
        assert 3 <= len(embed["fields"]) < 40 and len(embed["description"]) < 500
        assert embed["footer"]["text"] == f"…and {40 - len(embed['fields'])} more papers"
        text = embed["fields"][0]["value"]
        assert "@\u200beveryone" in text and "\\[click\\](http://evil.example)" in text and "\\|\\|spoiler\\|\\|" in text
        assert_pings_nobody(week)


async def test_paper_card_says_who_covered_it_first_and_shows_each_digests_take_side_by_side(fake: FakeDiscord, make_roundup_bot) -> None:
    async with fake.running(make_roundup_bot()):
        card = await command(fake, "paper", {"id": "2404.07965"})
        [embed] = card.embeds
        assert "**First covered:** Gradient Gazette · 2024-04-10 · at most 9 days after arXiv v1 (ID month 2024-04)" in embed["description"]
        assert [(f["name"], f["inline"]) for f in embed["fields"]] == [("Gradient Gazette · 2024-04-10", True), ("Tensor Tea · 2024-04-11", True)]
        assert "reference model" in embed["fields"][0]["value"] and "reference model" in embed["fields"][1]["value"]
        assert_pings_nobody(card)


async def test_admin_roundup_schedule_is_for_admins_and_stored_per_guild(fake: FakeDiscord, make_roundup_bot, state) -> None:
    async with fake.running(make_roundup_bot()):
        refused = await command(fake, "admin", {"day": "Fri", "hour": 9}, subcommand="roundup", user=USER_ID)
        assert refused.ephemeral and "Manage Server" in refused.content and state.guild_values("roundup") == {}
        done = await command(fake, "admin", {"day": "Fri", "hour": 9}, subcommand="roundup", user=ADMIN_ID)
        assert done.ephemeral and "every Fri at 09:00 UTC" in done.content and "/admin channel" in done.content
        assert state.guild_values("roundup") == {GUILD_ID: "4 9"}
        no_hour = await command(fake, "admin", {"day": "Mon"}, subcommand="roundup", user=ADMIN_ID)
        assert "Give the hour too" in no_hour.content and state.guild_values("roundup") == {GUILD_ID: "4 9"}
        state.set_announce_channel(GUILD_ID, TEXT_CHANNEL_ID)
        again = await command(fake, "admin", {"day": "Mon", "hour": 0}, subcommand="roundup", user=ADMIN_ID)
        assert f"every Mon at 00:00 UTC in <#{TEXT_CHANNEL_ID}>" in again.content
        off = await command(fake, "admin", {"day": "off"}, subcommand="roundup", user=ADMIN_ID)
        assert off.content == "The weekly roundup is off." and state.guild_values("roundup") == {}
        assert_pings_nobody(off)


async def scheduled_bot(fake: FakeDiscord, make_roundup_bot, state, now: datetime = FRIDAY_AFTER):
    """A started bot whose roundup loop is stopped: the test ticks it by hand at ``now``."""
    bot = make_roundup_bot()
    runner = fake.running(bot)
    await runner.__aenter__()
    cog = bot.get_cog("RoundupCog")
    cog.tick_loop.cancel()
    await asyncio.sleep(0)
    cog.clock = lambda: now
    state.set_announce_channel(GUILD_ID, TEXT_CHANNEL_ID)
    state.set_guild_value(GUILD_ID, "roundup", "4 9")  # Fridays at 09:00 UTC
    return runner, cog


async def test_the_scheduled_roundup_posts_once_a_week_after_its_time(fake: FakeDiscord, make_roundup_bot, state) -> None:
    runner, cog = await scheduled_bot(fake, make_roundup_bot, state, datetime(2024, 4, 12, 8, 59, tzinfo=UTC))
    try:
        assert await cog.tick() == {} and roundup_posts(fake) == []  # not yet
        cog.clock = lambda: FRIDAY_AFTER
        assert await cog.tick() == {GUILD_ID: "sent"}
        [post] = roundup_posts(fake)
        embed = post.embeds[0]
        assert embed["title"] == "Papers covered, 2024-04-06 to 2024-04-12" and embed["fields"][0]["name"].endswith("2 digests")
        assert "newest week" not in embed.get("description", "")
        assert_pings_nobody(post)
        record = state.announcement(SOURCE, WEEK, TEXT_CHANNEL_ID)
        assert record["state"] == "sent" and record["nonce"] in embed["footer"]["text"] and record["message_id"] == str(post.message["id"])
        cog.clock = lambda: datetime(2024, 4, 14, 23, 0, tzinfo=UTC)  # later the same ISO week
        assert await cog.tick() == {GUILD_ID: "sent"} and len(roundup_posts(fake)) == 1
    finally:
        await runner.__aexit__(None, None, None)


async def test_a_restart_with_the_post_left_sending_finds_the_message_instead_of_posting_again(fake: FakeDiscord, make_roundup_bot, state, monkeypatch) -> None:
    runner, cog = await scheduled_bot(fake, make_roundup_bot, state)
    try:
        def crash(*args, **kwargs):
            raise RuntimeError("killed right after sending")

        monkeypatch.setattr(state, "mark_posted", crash)
        with pytest.raises(RuntimeError, match="killed"):
            await cog.tick()
        monkeypatch.undo()
        assert len(roundup_posts(fake)) == 1 and state.announcement(SOURCE, WEEK, TEXT_CHANNEL_ID)["state"] == "sending"
    finally:
        await runner.__aexit__(None, None, None)
    runner, cog = await scheduled_bot(fake, make_roundup_bot, state)  # the restarted bot
    try:
        assert await cog.tick() == {GUILD_ID: "found"}
        assert len(roundup_posts(fake)) == 1 and state.announcement(SOURCE, WEEK, TEXT_CHANNEL_ID)["state"] == "sent"
    finally:
        await runner.__aexit__(None, None, None)


async def test_a_restart_with_the_post_left_sending_but_never_sent_posts_it_once(fake: FakeDiscord, make_roundup_bot, state) -> None:
    state.mark_posting(SOURCE, WEEK, TEXT_CHANNEL_ID, "c0ffee0000000001")  # the last run died before its send
    runner, cog = await scheduled_bot(fake, make_roundup_bot, state)
    try:
        assert await cog.tick() == {GUILD_ID: "sent"}
        assert await cog.tick() == {GUILD_ID: "sent"}
        [post] = roundup_posts(fake)
        assert "c0ffee0000000001" in post.embeds[0]["footer"]["text"]  # under the nonce it was claimed with
    finally:
        await runner.__aexit__(None, None, None)


@pytest.mark.parametrize("status", [403, 503])
async def test_a_refused_post_is_retried_on_later_ticks_and_sent_once(fake: FakeDiscord, make_roundup_bot, state, status) -> None:
    runner, cog = await scheduled_bot(fake, make_roundup_bot, state)
    try:
        fake.fail_sends(TEXT_CHANNEL_ID, status)
        for _ in range(2):
            outcome = await cog.tick()
            assert outcome[GUILD_ID].startswith(f"refused: HTTP {status}")
        assert roundup_posts(fake) == [] and state.announcement(SOURCE, WEEK, TEXT_CHANNEL_ID)["state"] == "sending"
        fake.fail_sends(TEXT_CHANNEL_ID, None)
        assert await cog.tick() == {GUILD_ID: "sent"}
        assert await cog.tick() == {GUILD_ID: "sent"}
        assert len(roundup_posts(fake)) == 1
    finally:
        await runner.__aexit__(None, None, None)


async def test_a_week_without_issues_posts_nothing_and_is_not_retried(fake: FakeDiscord, make_roundup_bot, state, roundup_kb, monkeypatch) -> None:
    runner, cog = await scheduled_bot(fake, make_roundup_bot, state, datetime(2025, 1, 10, 12, 0, tzinfo=UTC))
    try:
        assert await cog.tick() == {GUILD_ID: "empty"}
        asked = []
        monkeypatch.setattr(roundup_kb, "roundup", lambda **kw: asked.append(kw))
        assert await cog.tick() == {GUILD_ID: "empty"} and asked == []  # recorded: no second look this week
        assert fake.sent_messages(TEXT_CHANNEL_ID) == []
    finally:
        await runner.__aexit__(None, None, None)


async def test_no_announcement_channel_no_post(fake: FakeDiscord, make_roundup_bot, state) -> None:
    runner, cog = await scheduled_bot(fake, make_roundup_bot, state)
    try:
        state.set_announce_channel(GUILD_ID, None)
        assert await cog.tick() == {GUILD_ID: "no announcement channel"} and fake.sent_messages(TEXT_CHANNEL_ID) == []
    finally:
        await runner.__aexit__(None, None, None)
