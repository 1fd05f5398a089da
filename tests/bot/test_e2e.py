"""End to end: the real bot (real discord.py client) against the local fake Discord API.

The knowledge base is the session's ``fixture_kb`` (real model, real Chroma, the
project's fixture archive); the state database is a fresh SQLite file per test.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time

import discord
import discord.gateway
import discord.http
import pytest

from bot.client import create_bot
from bot.runner import RedactToken, configure_discord_endpoints, install_token_redaction
from knowledge.models import Answer
from tests.bot.conftest import reply_to
from tests.bot.helpers import make_answer, make_citation
from tests.fakes.discord import (
    ADMIN_ID,
    BOT_ID,
    GUILD_ID,
    OTHER_CHANNEL_ID,
    TEXT_CHANNEL_ID,
    USER_ID,
    FakeDiscord,
    SentMessage,
)

Q = "what did the digest say about PebbleTune?"
APOLOGY = "Sorry, something went wrong while answering. The error has been logged."
REFUSAL = "Sorry, only members with **Manage Server** can use this command."


def citations_text(m: SentMessage) -> str:
    [embed] = m.embeds
    return embed.get("description", "")


def assert_pings_nobody(m: SentMessage) -> None:
    assert m.allowed_mentions is not None and m.allowed_mentions.get("parse") == [], m.allowed_mentions
    assert not m.allowed_mentions.get("replied_user")
    assert m.message["mention_everyone"] is False and m.message["mentions"] == [] and m.message["mention_roles"] == []


def unexpected_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR]


async def test_commands_sync_to_the_development_guild(fake: FakeDiscord, make_bot) -> None:
    bot = make_bot()
    async with fake.running(bot):
        await asyncio.wait_for(bot.synced.wait(), 5)
    put = [r for r in fake.requests if r.method == "PUT" and r.path.endswith("/commands")]
    assert [r.path for r in put] == [f"/applications/{BOT_ID}/guilds/{GUILD_ID}/commands"]
    names = {c["name"] for c in fake.guild_commands[GUILD_ID].values()}
    assert names == {"ask", "paper", "digest", "sources", "admin", "source", "watch"}
    assert fake.global_commands == {}


async def test_commands_sync_globally_without_a_guild(fake: FakeDiscord, make_bot) -> None:
    bot = make_bot(DISCORD_GUILD_ID="")
    async with fake.running(bot):
        await asyncio.wait_for(bot.synced.wait(), 5)
    assert {c["name"] for c in fake.global_commands.values()} >= {"ask", "paper", "admin"}
    assert not fake.guild_commands.get(GUILD_ID)


async def test_mention_reply_follow_up_and_dm(fake: FakeDiscord, make_bot, fixture_kb, monkeypatch, caplog_errors) -> None:
    contexts: list[str | None] = []
    real_ask = fixture_kb.ask

    def spy(question: str, **kwargs) -> Answer:
        contexts.append(kwargs.get("context"))
        return real_ask(question, **kwargs)

    monkeypatch.setattr(fixture_kb, "ask", spy)
    async with fake.running(make_bot()):
        # A mention in a guild channel.
        asked = await fake.inject_message(TEXT_CHANNEL_ID, f"<@{BOT_ID}> {Q}")
        answer = await fake.wait_for_message(reply_to(asked["id"]))
        [embed] = answer.embeds
        assert embed["title"] == Q
        assert "Weekly Paper Roundup" in embed["description"] and "PebbleTune" in embed["description"]
        assert "2024-03-17" in embed["description"]
        assert_pings_nobody(answer)
        assert answer.content == ""  # citations only in the embed: no link previews
        assert [c["custom_id"] for c in answer.components[0]["components"]] == ["digestbot:more", "digestbot:up", "digestbot:down"]

        # A reply to that answer, without mentioning the bot: a follow-up.
        follow = await fake.inject_message(TEXT_CHANNEL_ID, "and what about its evaluation?", message_reference=answer.message_id)
        second = await fake.wait_for_message(reply_to(follow["id"]))
        assert contexts[-1] == Q
        assert "PebbleTune" in citations_text(second) and "Weekly Paper Roundup" in citations_text(second)
        assert_pings_nobody(second)

        # A DM, no mention needed.
        dm = fake.dm_channel_id(USER_ID)
        in_dm = await fake.inject_message(dm, "what did the digests say about Lantern-7B?")
        dm_answer = await fake.wait_for_message(reply_to(in_dm["id"]))
        assert dm_answer.channel_id == dm
        assert "Lantern-7B" in citations_text(dm_answer)
        assert contexts[-1] is None

        # Plain chatter is left alone: a question sent after it is answered, the chatter never.
        before = len(fake.sent_messages())
        chatter = await fake.inject_message(TEXT_CHANNEL_ID, "PebbleTune is neat")
        marker = await fake.inject_message(dm, "what did the digests say about Lantern-7B?")
        await fake.wait_for_message(reply_to(marker["id"]))
        assert len(fake.sent_messages()) == before + 1
        assert not any(reply_to(chatter["id"])(m) for m in fake.sent_messages())
    assert unexpected_errors(caplog_errors) == []


async def test_slash_ask_defers_then_follows_up_and_buttons_work(fake: FakeDiscord, make_bot, state, caplog_errors) -> None:
    async with fake.running(make_bot()):
        inter = await fake.inject_slash_command("ask", {"question": "mixture of experts router collapse"})
        answer = await fake.wait_for_message(lambda m: m.kind == "followup" and m.interaction_id == int(inter["id"]))
        kinds = [(r.kind, r.type) for r in fake.interaction_responses(inter["id"])]
        assert kinds[:2] == [("callback", 5), ("followup", None)]
        assert not answer.ephemeral
        assert "Sparse Router Collapse" in citations_text(answer)
        assert_pings_nobody(answer)

        # "More excerpts": an ephemeral embed with the held-back citations.
        click = await fake.inject_button_click(answer.message, "digestbot:more")
        more = await fake.wait_for_message(lambda m: m.interaction_id == int(click["id"]))
        assert more.ephemeral and more.embeds[0]["title"].startswith("More on:")
        assert "**" in more.embeds[0]["description"]

        # 👍: a feedback row with who, question, answer, citations, verdict.
        vote = await fake.inject_button_click(answer.message, "digestbot:up", user=ADMIN_ID)
        thanks = await fake.wait_for_message(lambda m: m.interaction_id == int(vote["id"]))
        assert thanks.ephemeral and thanks.content.startswith("Thanks")

        # Replying to a /ask answer is a follow-up too (the question comes from the embed).
        follow = await fake.inject_message(TEXT_CHANNEL_ID, "and which experts stay busy?", message_reference=answer.message_id)
        second = await fake.wait_for_message(reply_to(follow["id"]))
        assert "Sparse Router Collapse" in citations_text(second) or "Router collapse" in citations_text(second)
    [row] = state.feedback()
    assert (row["user_id"], row["guild_id"], row["verdict"]) == (str(ADMIN_ID), str(GUILD_ID), "up")
    assert row["question"] == "mixture of experts router collapse"
    assert "Sparse Router Collapse" in row["answer"]
    assert json.loads(row["citations"])[0]["section"].startswith("Sparse Router Collapse")
    assert unexpected_errors(caplog_errors) == []


async def test_paper_card_and_autocomplete(fake: FakeDiscord, make_bot, caplog_errors) -> None:
    async with fake.running(make_bot()):
        inter = await fake.inject_slash_command("paper", {"id": "2403.05678"})
        card = await fake.wait_for_message(lambda m: m.kind == "followup" and m.interaction_id == int(inter["id"]))
        assert fake.interaction_responses(inter["id"])[0].type == 5  # deferred first
        [embed] = card.embeds
        assert embed["title"] == "Lantern-7B: A Small Model That Reads Long Documents"
        assert embed["url"] == "https://arxiv.org/abs/2403.05678"
        assert "rolling attention window" in embed["description"]
        digests = {f["name"].split(" · ")[0] for f in embed["fields"]}
        assert digests == {"Model Notes", "Korean Daily"}
        assert_pings_nobody(card)

        auto = await fake.inject_autocomplete("paper", {"id": "Lant"}, focused="id")
        choices = await fake.wait_for_autocomplete(auto)
        assert 1 <= len(choices) <= 25
        assert "2403.05678" in [c["value"] for c in choices]
        everything = await fake.wait_for_autocomplete(await fake.inject_autocomplete("paper", {"id": ""}, focused="id"))
        assert 1 <= len(everything) <= 25

        bad = await fake.inject_slash_command("paper", {"id": "not-a-paper"})
        refusal = await fake.wait_for_message(lambda m: m.interaction_id == int(bad["id"]))
        assert refusal.ephemeral and refusal.content.startswith("That is not an arXiv ID")
        assert [r.type for r in fake.interaction_responses(bad["id"])] == [4]  # no defer
    assert unexpected_errors(caplog_errors) == []


async def test_digest_latest_and_sources(fake: FakeDiscord, make_bot) -> None:
    async with fake.running(make_bot()):
        inter = await fake.inject_slash_command("digest", {"digest": "Weekly Paper Roundup"}, subcommand="latest")
        latest = await fake.wait_for_message(lambda m: m.interaction_id == int(inter["id"]))
        assert "2024-3-17 arXiv roundup" in latest.embeds[0]["description"]
        inter = await fake.inject_slash_command("sources")
        sources = await fake.wait_for_message(lambda m: m.interaction_id == int(inter["id"]))
        assert "Weekly Paper Roundup: 1" in sources.embeds[0]["fields"][0]["value"]
        watches = {f["name"]: f["value"] for f in sources.embeds[0]["fields"]}["Watches"]
        assert "No active watches" in watches

        inter = await fake.inject_slash_command("watch", {"text": "glass routers for sparse experts"}, subcommand="topic")
        await fake.wait_for_message(lambda m: m.interaction_id == int(inter["id"]) and m.kind == "followup")
        inter = await fake.inject_slash_command("sources")
        sources = await fake.wait_for_message(lambda m: m.interaction_id == int(inter["id"]))
        watches = {f["name"]: f["value"] for f in sources.embeds[0]["fields"]}["Watches"]
        assert watches.startswith("1 active (1 person)")  # counts only: nobody's topic is shown
        assert "glass" not in watches


async def test_admin_channel_refused_for_members_and_set_by_admins(fake: FakeDiscord, make_bot, state, caplog_errors) -> None:
    async with fake.running(make_bot()):
        inter = await fake.inject_slash_command("admin", {"channel": OTHER_CHANNEL_ID}, subcommand="channel", user=USER_ID)
        refusal = await fake.wait_for_message(lambda m: m.interaction_id == int(inter["id"]))
        assert refusal.ephemeral and refusal.content == REFUSAL
        assert_pings_nobody(refusal)
        assert state.announce_channels() == {}

        inter = await fake.inject_slash_command("admin", {"channel": OTHER_CHANNEL_ID}, subcommand="channel", user=ADMIN_ID)
        done = await fake.wait_for_message(lambda m: m.interaction_id == int(inter["id"]))
        assert done.ephemeral and f"<#{OTHER_CHANNEL_ID}>" in done.content
    assert state.announce_channels() == {GUILD_ID: OTHER_CHANNEL_ID}
    assert unexpected_errors(caplog_errors) == []


async def test_everyone_in_a_question_pings_nobody(fake: FakeDiscord, make_bot) -> None:
    question = "@everyone @here what did the digest say about PebbleTune?"
    async with fake.running(make_bot()):
        asked = await fake.inject_message(TEXT_CHANNEL_ID, f"<@{BOT_ID}> {question}")
        answer = await fake.wait_for_message(reply_to(asked["id"]))
        assert "@everyone" in answer.embeds[0]["title"]
        assert_pings_nobody(answer)
        inter = await fake.inject_slash_command("ask", {"question": question})
        followup = await fake.wait_for_message(lambda m: m.kind == "followup" and m.interaction_id == int(inter["id"]))
        assert_pings_nobody(followup)


async def test_archive_text_with_mentions_and_huge_answers_never_fail(fake: FakeDiscord, make_bot, fixture_kb, monkeypatch) -> None:
    bait = "@everyone <@" + str(USER_ID) + "> " + "very long excerpt " * 400

    def huge(question: str, **kwargs) -> Answer:
        answer = make_answer("q" * 300 + question, citations=0)
        answer.citations = [make_citation(i, excerpt=bait, title="T" * 500, section="S" * 500) for i in range(1, 11)]
        answer.more = [make_citation(i, excerpt=bait) for i in range(11, 20)]
        answer.answer = "L" * 3000
        return answer

    monkeypatch.setattr(fixture_kb, "ask", huge)
    async with fake.running(make_bot()):
        asked = await fake.inject_message(TEXT_CHANNEL_ID, f"<@{BOT_ID}> anything")
        answer = await fake.wait_for_message(reply_to(asked["id"]))  # the fake rejects over-limit embeds
        assert_pings_nobody(answer)
        click = await fake.inject_button_click(answer.message, "digestbot:more")
        more = await fake.wait_for_message(lambda m: m.interaction_id == int(click["id"]))
        assert more.ephemeral and more.embeds


async def test_failing_command_apologises_privately_and_the_bot_keeps_answering(fake: FakeDiscord, make_bot, fixture_kb, monkeypatch, caplog) -> None:
    def broken(text: str, **kwargs):
        raise RuntimeError("paper store on fire")

    monkeypatch.setattr(fixture_kb, "paper", broken)
    caplog.set_level(logging.INFO)
    async with fake.running(make_bot()):
        inter = await fake.inject_slash_command("paper", {"id": "2403.05678"})
        apology = await fake.wait_for_message(lambda m: m.interaction_id == int(inter["id"]) and m.content == APOLOGY)
        assert apology.ephemeral
        assert_pings_nobody(apology)
        # Nothing public is left behind ("digestbot is thinking…" or the apology).
        public = [m for m in fake.messages.values() if m.get("interaction_metadata", {}).get("id") == inter["id"] and not int(m.get("flags") or 0) & 64]
        assert public == []

        # The bot is still alive and answering.
        inter = await fake.inject_slash_command("ask", {"question": Q})
        answer = await fake.wait_for_message(lambda m: m.kind == "followup" and m.interaction_id == int(inter["id"]))
        assert "PebbleTune" in citations_text(answer)
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("paper store on fire" in str(r.exc_info[1]) for r in failures if r.exc_info)
    assert "Traceback" in caplog.text


async def test_chat_failure_apologises_and_the_bot_keeps_answering(fake: FakeDiscord, make_bot, fixture_kb, monkeypatch, caplog) -> None:
    real_ask = fixture_kb.ask
    calls = {"n": 0}

    def flaky(question: str, **kwargs) -> Answer:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("transient")
        return real_ask(question, **kwargs)

    monkeypatch.setattr(fixture_kb, "ask", flaky)
    caplog.set_level(logging.INFO)
    async with fake.running(make_bot()):
        asked = await fake.inject_message(TEXT_CHANNEL_ID, f"<@{BOT_ID}> {Q}")
        apology = await fake.wait_for_message(reply_to(asked["id"]))
        assert apology.content == APOLOGY
        asked = await fake.inject_message(TEXT_CHANNEL_ID, f"<@{BOT_ID}> {Q}")
        answer = await fake.wait_for_message(reply_to(asked["id"]))
        assert "PebbleTune" in citations_text(answer)
    assert "transient" in caplog.text


async def test_heartbeats_keep_flowing_while_a_slow_question_runs(fake: FakeDiscord, make_bot, fixture_kb, monkeypatch) -> None:
    real_ask = fixture_kb.ask
    window: dict[str, object] = {}
    started = threading.Event()

    def acks() -> int:
        return sum(1 for f in list(fake.gateway_log) if f.direction == "send" and f.op == 11)

    def slow(question: str, **kwargs) -> Answer:
        window["on_loop_thread"] = threading.current_thread() is threading.main_thread()
        window["deferred_first"] = any(r.path.endswith("/callback") for r in list(fake.requests))
        window["acks_before"] = acks()
        started.set()
        time.sleep(1.0)
        window["acks_after"] = acks()
        return real_ask(question, **kwargs)

    monkeypatch.setattr(fixture_kb, "ask", slow)
    async with fake.running(make_bot()):
        inter = await fake.inject_slash_command("ask", {"question": Q})
        answer = await fake.wait_for_message(lambda m: m.kind == "followup" and m.interaction_id == int(inter["id"]), timeout=10)
    assert started.is_set() and window["on_loop_thread"] is False
    assert window["deferred_first"] is True  # deferred before the slow work started
    # 50 ms heartbeat interval: ~20 beats in the second the question took. The bounds are
    # deliberately loose (a loaded CI machine must not fail this): the point is that the loop
    # kept running while the question ran in its thread; a blocked loop would give 0.
    assert int(window["acks_after"]) - int(window["acks_before"]) >= 2
    assert "PebbleTune" in citations_text(answer)


async def test_token_never_reaches_the_logs(monkeypatch, settings_factory, fixture_kb, state, caplog) -> None:
    token = "MTIzNDU2Nzg5MDEyMzQ1Njc4.secret-fake-token.abcdefghijklmnopqrstuvwxyz"
    caplog.set_level(logging.DEBUG)
    install_token_redaction(token)
    try:
        async with FakeDiscord(token=token, patch_discord_py=False, heartbeat_interval_ms=50) as fake:
            # What `digestbot run` does: point discord.py at DISCORD_API_BASE / DISCORD_GATEWAY_URL.
            monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
            monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
            settings = settings_factory(DISCORD_TOKEN=token, DISCORD_GUILD_ID=str(GUILD_ID), DISCORD_API_BASE=fake.api_base, DISCORD_GATEWAY_URL=fake.gateway_url)
            configure_discord_endpoints(settings)
            assert token not in repr(settings)
            bot = create_bot(settings, fixture_kb, state, None, guild_ready_timeout=0.05)
            async with fake.running(bot, token=settings.discord_token):
                asked = await fake.inject_message(TEXT_CHANNEL_ID, f"<@{BOT_ID}> {Q}")
                await fake.wait_for_message(reply_to(asked["id"]))
                # Even if some code logs the token, in a message or in a traceback:
                logging.getLogger("bot.test").warning("connecting with token %s", token)
                try:
                    raise RuntimeError(f"login failed for {token}")
                except RuntimeError:
                    logging.getLogger("bot.test").exception("something failed")
            assert all(r.authorized for r in fake.requests if r.path.startswith("/users/@me"))
    finally:
        for handler in logging.getLogger().handlers:
            for f in [f for f in handler.filters if isinstance(f, RedactToken)]:
                handler.removeFilter(f)
    assert "[token]" in caplog.text
    assert token not in caplog.text
    assert all(token not in r.getMessage() for r in caplog.records)


async def test_auto_sharded_bot_answers_too(fake: FakeDiscord, make_bot) -> None:
    from bot.client import ShardedDigestBot

    bot = make_bot(DISCORD_AUTO_SHARD="1")
    assert isinstance(bot, ShardedDigestBot)
    async with fake.running(bot):
        asked = await fake.inject_message(TEXT_CHANNEL_ID, f"<@{BOT_ID}> {Q}")
        answer = await fake.wait_for_message(reply_to(asked["id"]))
        assert "PebbleTune" in citations_text(answer)
