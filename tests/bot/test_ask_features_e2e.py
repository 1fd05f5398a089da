"""End to end against the fake Discord: rate limits with a burst, ask channels and their
threads, the 🤔 working indicator, the 👎 modal, /admin gaps and answers in threads (#15).

The knowledge base is the session's ``fixture_kb``; the state database is fresh per test.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import discord
import pytest

from tests.bot.conftest import reply_to
from tests.fakes.discord import (
    ADMIN_ID,
    BOT_ID,
    GUILD_ID,
    TEXT_CHANNEL_ID,
    USER_ID,
    FakeDiscord,
    SentMessage,
)
from tests.helpers.waiting import until

Q = "what did the digest say about PebbleTune?"
REFUSAL = "Sorry, only members with **Manage Server** can use this command."


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def make_bot(make_bot) -> Callable[..., discord.Client]:
    """The shared bot with the rate limits off unless a test sets them."""
    return lambda **env: make_bot(**({"ASK_COOLDOWN_SECONDS": "0"} | env))


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


def in_channel(channel_id: int | str) -> Callable[[SentMessage], bool]:
    return lambda m: m.kind == "channel" and m.channel_id == int(channel_id)


async def set_admin(fake: FakeDiscord, subcommand: str, options: dict, user: int = ADMIN_ID) -> SentMessage:
    inter = await fake.inject_slash_command("admin", options, subcommand=subcommand, user=user)
    return await fake.wait_for_message(lambda m: m.interaction_id == int(inter["id"]))


async def test_ask_channel_answers_questions_in_threads_and_ignores_chatter(fake: FakeDiscord, make_bot, state, caplog_errors) -> None:
    async with fake.running(make_bot()):
        refused = await set_admin(fake, "ask-channel", {"channel": TEXT_CHANNEL_ID, "state": "on"}, user=USER_ID)
        assert refused.ephemeral and refused.content == REFUSAL
        assert state.ask_channels(GUILD_ID) == set()
        done = await set_admin(fake, "ask-channel", {"channel": TEXT_CHANNEL_ID, "state": "on"})
        assert done.ephemeral and f"<#{TEXT_CHANNEL_ID}>" in done.content
        assert state.ask_channels(GUILD_ID) == {TEXT_CHANNEL_ID}

        # A question without a mention: answered in a thread the bot opens on it.
        asked = await fake.inject_message(TEXT_CHANNEL_ID, Q)
        answer = await fake.wait_for_message(in_channel(asked["id"]))  # the thread's id is the message's
        [thread] = fake.threads(TEXT_CHANNEL_ID)
        assert thread["id"] == asked["id"] and thread["owner_id"] == str(BOT_ID) and thread["name"] == Q
        assert answer.embeds[0]["title"] == Q and "PebbleTune" in answer.embeds[0]["description"]
        assert_pings_nobody(answer)
        # 🤔 while working, removed once the answer is posted.
        await fake.wait_for_request(lambda r: r.route == "remove_reaction")
        assert [(a, e) for a, mid, e in fake.reaction_log if mid == int(asked["id"])] == [("add", "🤔"), ("remove", "🤔")]
        assert fake.bot_reactions(asked["id"]) == []

        # A follow-up in the thread, no mention: answered there with the question as context.
        follow = await fake.inject_message(int(thread["id"]), "and what about its evaluation?")
        second = await fake.wait_for_message(reply_to(follow["id"]))
        assert second.channel_id == int(thread["id"]) and "PebbleTune" in second.embeds[0]["description"]
        assert_pings_nobody(second)
        thanks = await fake.inject_message(int(thread["id"]), "thanks!")  # not a question: left alone

        # Chatter in the ask channel is ignored; a question sent after it is answered, the chatter never.
        before = len(fake.sent_messages())
        chatter = await fake.inject_message(TEXT_CHANNEL_ID, "PebbleTune is neat")
        korean = await fake.inject_message(TEXT_CHANNEL_ID, "어떻게 Lantern-7B는 긴 문서를 읽나")
        await fake.wait_for_message(in_channel(korean["id"]))
        assert len(fake.sent_messages()) == before + 1
        assert not fake.threads() or all(t["id"] != chatter["id"] for t in fake.threads())
        assert fake.bot_reactions(chatter["id"]) == [] and not [e for e in fake.reaction_log if e[1] == int(chatter["id"])]
        assert not any(reply_to(thanks["id"])(m) for m in fake.sent_messages())

        # Off again: a plain question is left alone.
        await set_admin(fake, "ask-channel", {"channel": TEXT_CHANNEL_ID, "state": "off"})
        ignored = await fake.inject_message(TEXT_CHANNEL_ID, Q)
        marker = await fake.inject_message(TEXT_CHANNEL_ID, f"<@{BOT_ID}> {Q}")
        await fake.wait_for_message(reply_to(marker["id"]))
        assert int(ignored["id"]) not in fake.channels
        # each question is recorded after its answer is sent: wait for the last one's record
        await until(lambda: len(state.questions()) >= 4, "the fourth question recorded")
    assert state.ask_channels() == set()
    assert [q["confidence"] for q in state.questions()][:1] == ["answer"]
    assert len(state.questions()) == 4
    assert unexpected_errors(caplog_errors) == []


async def test_reactions_on_a_mention_and_threads_for_mentions(fake: FakeDiscord, make_bot, state, caplog_errors) -> None:
    async with fake.running(make_bot()):
        asked = await fake.inject_message(TEXT_CHANNEL_ID, f"<@{BOT_ID}> {Q}")
        await fake.wait_for_message(reply_to(asked["id"]))
        await fake.wait_for_request(lambda r: r.route == "remove_reaction")
        assert [(a, e) for a, _, e in fake.reaction_log] == [("add", "🤔"), ("remove", "🤔")]
        assert fake.threads() == []

        refused = await set_admin(fake, "threads", {"state": "on"}, user=USER_ID)
        assert refused.content == REFUSAL and not state.guild_flag(GUILD_ID, "threads")
        done = await set_admin(fake, "threads", {"state": "on"})
        assert done.ephemeral and state.guild_flag(GUILD_ID, "threads")
        asked = await fake.inject_message(TEXT_CHANNEL_ID, f"<@{BOT_ID}> {Q}")
        answer = await fake.wait_for_message(in_channel(asked["id"]))
        assert answer.embeds[0]["title"] == Q
        assert_pings_nobody(answer)
        follow = await fake.inject_message(int(asked["id"]), "and what about its evaluation?")
        second = await fake.wait_for_message(reply_to(follow["id"]))
        assert second.channel_id == int(asked["id"])
    assert unexpected_errors(caplog_errors) == []


async def test_thumbs_down_opens_a_modal_and_the_reason_is_stored_then_gaps(fake: FakeDiscord, make_bot, state, caplog_errors) -> None:
    unknown = "what did the digest say about the Zorblax-9000 quantum llama?"
    async with fake.running(make_bot()):
        inter = await fake.inject_slash_command("ask", {"question": unknown})
        answer = await fake.wait_for_message(lambda m: m.kind == "followup" and m.interaction_id == int(inter["id"]))
        click = await fake.inject_button_click(answer.message, "digestbot:down")
        modal = await fake.wait_for_interaction_response(click["id"])
        assert modal.type == 9 and modal.data["custom_id"] == "digestbot:feedback"
        inputs = [c["components"][0]["custom_id"] for c in modal.data["components"]]
        assert inputs == ["reason", "details"]
        submit = await fake.inject_modal_submit("digestbot:feedback", {"reason": "Not in the archive", "details": "a 2025 paper"})
        thanks = await fake.wait_for_message(lambda m: m.interaction_id == int(submit["id"]))
        assert thanks.ephemeral and "not in the archive" in thanks.content
        assert_pings_nobody(thanks)

        refused = await set_admin(fake, "gaps", {}, user=USER_ID)
        assert refused.ephemeral and refused.content == REFUSAL
        report = await set_admin(fake, "gaps", {})
        assert report.ephemeral
        assert "Zorblax-9000" in report.content and "1× 👎" in report.content and "not in the archive" in report.content
    [vote] = state.feedback()
    assert vote["verdict"] == "down" and vote["question"] == unknown
    [why] = state.feedback_reasons()
    assert (why["reason"], why["question"], why["user_id"]) == ("not in the archive", unknown, str(USER_ID))
    assert "a 2025 paper" in why["details"] and why["confidence"] in ("none", "related")
    [asked] = state.questions()
    assert asked["confidence"] in ("none", "related")
    assert unexpected_errors(caplog_errors) == []
