"""The command modules called directly with spec'd discord.py mocks (see ``helpers.py``)."""

from __future__ import annotations

import json
import logging

import discord
import pytest
from discord import app_commands

from bot import conversation as convo
from bot.client import UserCooldown
from bot.cogs.admin import AdminCog
from bot.cogs.ask import AnswerView, AskCog
from bot.cogs.digest import DigestCog
from bot.cogs.paper import MAX_CHOICES, PaperCog
from bot.embeds import NO_MENTIONS
from bot.state import BotState
from knowledge.clients.arxiv_ids import InvalidArxivId
from tests.bot.helpers import (
    ADMIN_PERMISSIONS,
    BOT_USER_ID,
    MockBot,
    MockDMChannel,
    MockInteraction,
    MockMember,
    MockMessage,
    MockTextChannel,
    MockThread,
    assert_no_pings,
    embed_violations,
    main_thread_guard,
    make_answer,
    make_report,
    send_calls,
)

Q = "what did the digest say about PebbleTune?"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def bot() -> MockBot:
    return MockBot(cooldown=0.001)


@pytest.fixture
def state(tmp_path):
    db = BotState(tmp_path / "state.sqlite3")
    yield db
    db.close()


def mention(bot: MockBot, text: str, **kwargs) -> MockMessage:
    return MockMessage(content=f"<@{BOT_USER_ID}> {text}", mentions=[bot.user], **kwargs)


# -- UserCooldown ----------------------------------------------------------------


def test_user_cooldown_is_per_user_and_expires() -> None:
    clock = FakeClock()
    cd = UserCooldown(5, clock)
    assert cd.retry_after(1) == 0
    assert cd.retry_after(2) == 0
    clock.now += 2
    assert cd.retry_after(1) == pytest.approx(3)
    clock.now += 3.01
    assert cd.retry_after(1) == 0


# -- /ask ---------------------------------------------------------------------------


async def test_ask_defers_first_and_answers_off_the_event_loop(bot: MockBot) -> None:
    interaction = MockInteraction()
    off_loop = main_thread_guard()
    seen = {}

    def ask(question, **kwargs):
        off_loop()
        seen["deferred_before_work"] = interaction.response.defer.await_count == 1
        seen["kwargs"] = kwargs
        return make_answer(question, citations=2, more=3)

    bot.kb.ask.side_effect = ask
    cog = AskCog(bot)
    await AskCog.ask.callback(cog, interaction, Q)

    interaction.response.defer.assert_awaited_once_with(thinking=True)
    assert seen["deferred_before_work"] and seen["kwargs"]["context"] is None
    bot.run_blocking.assert_awaited()  # the knowledge call went through the thread runner
    interaction.followup.send.assert_awaited_once()
    sent = interaction.followup.send.await_args.kwargs
    assert isinstance(sent["view"], AnswerView) and not sent["view"].more.disabled
    assert embed_violations(sent["embed"]) == [] and sent["embed"].title == Q
    assert_no_pings(send_calls(interaction))


async def test_ask_cooldown_refuses_politely_without_deferring() -> None:
    clock = FakeClock()
    bot = MockBot(cooldown=10, clock=clock)
    bot.kb.ask.return_value = make_answer()
    cog = AskCog(bot)
    first, second = MockInteraction(), MockInteraction()
    second.user = first.user
    await AskCog.ask.callback(cog, first, Q)
    clock.now += 4
    await AskCog.ask.callback(cog, second, Q)

    second.response.defer.assert_not_awaited()
    second.response.send_message.assert_awaited_once()
    text = second.response.send_message.await_args.args[0]
    assert text == "Slow down a little: try again in 6 s."
    assert second.response.send_message.await_args.kwargs["ephemeral"] is True
    assert bot.kb.ask.call_count == 1
    other = MockInteraction()  # someone else is not held up
    await AskCog.ask.callback(cog, other, Q)
    assert bot.kb.ask.call_count == 2
    clock.now += 6.5  # and the first user may ask again later
    third = MockInteraction(user=first.user)
    await AskCog.ask.callback(cog, third, Q)
    assert bot.kb.ask.call_count == 3


async def test_chat_cooldown_refuses_in_a_reply() -> None:
    clock = FakeClock()
    bot = MockBot(cooldown=10, clock=clock)
    bot.kb.ask.return_value = make_answer()
    cog = AskCog(bot)
    first = mention(bot, Q)
    await cog.on_message(first)
    again = mention(bot, Q, author=first.author, channel=first.channel)
    await cog.on_message(again)
    assert bot.kb.ask.call_count == 1
    assert again.reply.await_args.args[0].startswith("Slow down a little")
    assert_no_pings(send_calls(first, again))


async def test_ask_failure_gets_an_ephemeral_apology_and_the_traceback_is_logged(bot: MockBot, caplog) -> None:
    interaction = MockInteraction(command=AskCog.ask)
    interaction.original_response.return_value = MockMessage(flags=discord.MessageFlags(loading=True))
    bot.kb.ask.side_effect = RuntimeError("index exploded")
    cog = AskCog(bot)
    with pytest.raises(RuntimeError) as excinfo:
        await AskCog.ask.callback(cog, interaction, Q)
    # What discord.py's CommandTree does with the exception:
    with caplog.at_level(logging.ERROR, logger="bot.client"):
        await bot.on_app_command_error(interaction, app_commands.CommandInvokeError(AskCog.ask, excinfo.value))

    assert "index exploded" in caplog.text and "Traceback" in caplog.text
    # The answer was deferred publicly; the apology must still be private.
    interaction.delete_original_response.assert_awaited_once()
    interaction.followup.send.assert_awaited_once()
    call = interaction.followup.send.await_args
    assert call.args[0].startswith("Sorry, something went wrong")
    assert call.kwargs["ephemeral"] is True
    assert_no_pings(send_calls(interaction))


# -- chat: mentions, DMs, replies, threads ---------------------------------------------


async def test_mention_is_answered_in_a_reply_off_the_loop(bot: MockBot) -> None:
    off_loop = main_thread_guard()

    def ask(question, **kwargs):
        off_loop()
        return make_answer(question)

    bot.kb.ask.side_effect = ask
    cog = AskCog(bot)
    message = mention(bot, Q)
    await cog.on_message(message)
    bot.kb.ask.assert_called_once_with(Q, k=5, context=None, shown=None)
    message.channel.typing.assert_called_once()
    kwargs = message.reply.await_args.kwargs
    assert kwargs["mention_author"] is False
    assert kwargs["embed"].title == Q and isinstance(kwargs["view"], AnswerView)
    assert_no_pings(send_calls(message))


async def test_messages_the_bot_should_ignore(bot: MockBot) -> None:
    cog = AskCog(bot)
    plain = MockMessage(content="what did the digest say about PebbleTune?")  # no mention, no reply
    from_bot = MockMessage(content=f"<@{BOT_USER_ID}> hi", mentions=[bot.user], author=MockMember(bot=True))
    for message in (plain, from_bot):
        await cog.on_message(message)
        message.reply.assert_not_awaited()
    bot.kb.ask.assert_not_called()


async def test_bare_mention_gets_a_hint(bot: MockBot) -> None:
    cog = AskCog(bot)
    message = mention(bot, "")
    await cog.on_message(message)
    bot.kb.ask.assert_not_called()
    assert "QLoRA" in message.reply.await_args.args[0]
    assert_no_pings(send_calls(message))


async def test_dm_is_answered_without_a_mention(bot: MockBot) -> None:
    bot.kb.ask.return_value = make_answer()
    cog = AskCog(bot)
    message = MockMessage(content=Q, channel=MockDMChannel())
    assert message.guild is None
    await cog.on_message(message)
    bot.kb.ask.assert_called_once_with(Q, k=5, context=None, shown=None)
    message.reply.assert_awaited_once()


async def test_everyone_in_a_question_pings_nobody(bot: MockBot) -> None:
    question = "@everyone @here what did the digest say about PebbleTune?"
    bot.kb.ask.side_effect = lambda q, **kw: make_answer(q)
    cog = AskCog(bot)
    message = mention(bot, question)
    await cog.on_message(message)
    interaction = MockInteraction()
    await AskCog.ask.callback(cog, interaction, question)
    assert_no_pings(send_calls(message, interaction))
    assert "@everyone" in message.reply.await_args.kwargs["embed"].title  # shown, not pinged


async def test_chat_failure_apologises_and_logs(bot: MockBot, caplog) -> None:
    bot.kb.ask.side_effect = RuntimeError("boom")
    cog = AskCog(bot)
    message = mention(bot, Q)
    with caplog.at_level(logging.ERROR):
        await cog.on_message(message)
    assert message.reply.await_args.args[0].startswith("Sorry, something went wrong")
    assert "boom" in caplog.text
    assert_no_pings(send_calls(message))


async def test_follow_up_in_a_reply_chain_uses_the_previous_question(bot: MockBot) -> None:
    bot.kb.ask.side_effect = lambda q, **kw: make_answer(q)
    cog = AskCog(bot)
    first = mention(bot, Q)
    await cog.on_message(first)
    [bot_answer] = first.bot_replies()
    follow = first.reply_to(bot_answer, "and its limitations?")
    await cog.on_message(follow)
    assert bot.kb.ask.call_args.kwargs["context"] == Q

    # A second follow-up replying to the second answer carries the whole chain.
    [second_answer] = follow.bot_replies()
    again = first.reply_to(second_answer, "and what about its evaluation?")
    await cog.on_message(again)
    assert bot.kb.ask.call_args.kwargs["context"] == f"{Q} and its limitations?"

    # A reply that is a new question is not glued to the old one.
    fresh = first.reply_to(bot_answer, "what did the digests say about Lantern-7B long documents in March?")
    await cog.on_message(fresh)
    assert bot.kb.ask.call_args.kwargs["context"] is None


async def test_reply_to_an_answer_the_bot_no_longer_remembers_uses_its_embed_title(bot: MockBot) -> None:
    bot.kb.ask.side_effect = lambda q, **kw: make_answer(q)
    cog = AskCog(bot)
    old_answer = MockMessage(author=MockMember(id=BOT_USER_ID, bot=True), embeds=[discord.Embed(title=Q)])
    follow = MockMessage().reply_to(old_answer, "and its limitations?")
    await cog.on_message(follow)
    assert bot.kb.ask.call_args.kwargs["context"] == Q


async def test_reply_to_someone_else_is_not_a_question(bot: MockBot) -> None:
    cog = AskCog(bot)
    other = MockMessage(content="hello")
    reply = MockMessage().reply_to(other, "and its limitations?")
    await cog.on_message(reply)
    bot.kb.ask.assert_not_called()


async def test_follow_up_in_a_thread_uses_the_threads_last_question(bot: MockBot) -> None:
    bot.kb.ask.side_effect = lambda q, **kw: make_answer(q)
    cog = AskCog(bot)
    thread = MockThread()
    await cog.on_message(mention(bot, Q, channel=thread))
    await cog.on_message(mention(bot, "and its limitations?", channel=thread))
    assert bot.kb.ask.call_args.kwargs["context"] == Q


@pytest.mark.parametrize(("question", "follows"), [
    ("and its limitations?", True),
    ("what about the evaluation?", True),
    ("how does it compare?", True),
    ("그리고 한계는?", True),
    ("what did the digest say about QLoRA?", False),
    ("what did the digests say about Lantern-7B long documents in March?", False),
])
def test_follow_up_detection(question: str, follows: bool) -> None:
    assert convo.is_follow_up(question) is follows


# -- buttons --------------------------------------------------------------------------


async def test_thumbs_up_and_down_store_feedback(state: BotState) -> None:
    bot = MockBot(state=state)
    answer = make_answer(citations=2)
    view = AnswerView(bot, answer)
    interaction = MockInteraction(type=discord.InteractionType.component)
    await view.up.callback(interaction)
    other = MockInteraction(type=discord.InteractionType.component)
    await view.down.callback(other)

    rows = state.feedback()
    assert [(r["user_id"], r["guild_id"], r["verdict"]) for r in rows] == [
        (str(interaction.user.id), str(interaction.guild_id), "up"),
        (str(other.user.id), str(other.guild_id), "down"),
    ]
    assert rows[0]["question"] == answer.question and rows[0]["answer"] == answer.answer
    cited = json.loads(rows[0]["citations"])
    assert [c["rank"] for c in cited] == [1, 2] and cited[0]["digest"] == "Weekly Paper Roundup"
    assert interaction.response.send_message.await_args.kwargs["ephemeral"] is True
    assert_no_pings(send_calls(interaction))
    other.response.send_modal.assert_awaited_once()  # 👎 asks what was wrong
    bot.run_blocking.assert_awaited()  # the SQLite write ran in a thread


async def test_feedback_failure_gets_an_ephemeral_apology(state: BotState, caplog) -> None:
    bot = MockBot(state=state)
    state.close()  # writes now fail
    view = AnswerView(bot, make_answer())
    interaction = MockInteraction(type=discord.InteractionType.component)
    with caplog.at_level(logging.ERROR):
        await view._scheduled_task(view.up, interaction)  # how discord.py dispatches a click
    assert interaction.response.send_message.await_args.kwargs["ephemeral"] is True
    assert interaction.response.send_message.await_args.args[0].startswith("Sorry")
    assert "Traceback" in caplog.text


async def test_more_excerpts_button(bot: MockBot) -> None:
    view = AnswerView(bot, make_answer(citations=1, more=7))
    interaction = MockInteraction(type=discord.InteractionType.component)
    await view.more.callback(interaction)
    kwargs = interaction.response.send_message.await_args.kwargs
    assert kwargs["ephemeral"] is True
    assert kwargs["embed"].description.count("Further excerpt") == 5
    assert embed_violations(kwargs["embed"]) == []
    assert_no_pings(send_calls(interaction))
    assert AnswerView(bot, make_answer(more=0)).more.disabled


# -- /paper -----------------------------------------------------------------------------


async def test_paper_with_an_invalid_id_answers_ephemerally_without_deferring(bot: MockBot) -> None:
    cog = PaperCog(bot)
    interaction = MockInteraction()
    await PaperCog.paper.callback(cog, interaction, "not-a-paper")
    interaction.response.defer.assert_not_awaited()
    bot.kb.paper.assert_not_called()
    bot.run_blocking.assert_not_awaited()
    call = interaction.response.send_message.await_args
    assert call.kwargs["ephemeral"] is True and call.args[0].startswith("That is not an arXiv ID")
    assert_no_pings(send_calls(interaction))


async def test_paper_card_is_deferred_and_rendered(bot: MockBot) -> None:
    off_loop = main_thread_guard()

    def paper(text):
        off_loop()
        return make_report(mentions=40, abstract="a " * 5000)

    bot.kb.paper.side_effect = paper
    cog = PaperCog(bot)
    interaction = MockInteraction()
    await PaperCog.paper.callback(cog, interaction, "https://arxiv.org/abs/2403.05678v2")
    interaction.response.defer.assert_awaited_once_with(thinking=True)
    embed = interaction.followup.send.await_args.kwargs["embed"]
    assert embed.title.startswith("Lantern-7B") and embed.fields
    assert embed_violations(embed) == []
    assert_no_pings(send_calls(interaction))


async def test_paper_autocomplete_caps_at_25_choices(bot: MockBot) -> None:
    bot.kb.suggest_papers.return_value = [(f"2403.{i:05d}", "A very long title " * 20) for i in range(40)]
    cog = PaperCog(bot)
    choices = await cog.paper_autocomplete(MockInteraction(type=discord.InteractionType.autocomplete), "2403")
    bot.kb.suggest_papers.assert_called_once_with("2403", MAX_CHOICES)
    assert len(choices) == 25
    assert all(1 <= len(c.name) <= 100 and c.value.startswith("2403.") for c in choices)


def test_invalid_id_is_what_parse_rejects() -> None:
    from knowledge.clients.arxiv_ids import parse_arxiv_id

    with pytest.raises(InvalidArxivId):
        parse_arxiv_id("not-a-paper")


# -- /digest, /sources -------------------------------------------------------------------


async def test_digest_latest_and_sources_defer_then_answer(bot: MockBot) -> None:
    from knowledge.models import IssueSummary, Stats

    bot.kb.latest_issues.return_value = [IssueSummary("Weekly Paper Roundup", "2024-3-17 arXiv roundup", "2024-03-17", "", "s", "d")]
    bot.kb.stats.return_value = Stats(documents=9, chunks=30, digests={"Weekly Paper Roundup": 1}, papers=4, model="m", store="embedded")
    cog = DigestCog(bot)
    latest = MockInteraction()
    await DigestCog.latest.callback(cog, latest, "Weekly Paper Roundup")
    bot.kb.latest_issues.assert_called_once_with("Weekly Paper Roundup", 10)
    sources = MockInteraction()
    await DigestCog.sources.callback(cog, sources)
    for i in (latest, sources):
        i.response.defer.assert_awaited_once()
        assert embed_violations(i.followup.send.await_args.kwargs["embed"]) == []
        assert_no_pings(send_calls(i))


# -- admin ------------------------------------------------------------------------------


async def test_admin_command_from_a_non_admin_is_refused_politely(bot: MockBot) -> None:
    cog = AdminCog(bot)
    interaction = MockInteraction(command=AdminCog.channel)
    with pytest.raises(app_commands.MissingPermissions) as excinfo:
        await cog.interaction_check(interaction)
    await bot.on_app_command_error(interaction, excinfo.value)
    call = interaction.response.send_message.await_args
    assert call.args[0] == "Sorry, only members with **Manage Server** can use this command."
    assert call.kwargs["ephemeral"] is True and call.kwargs["allowed_mentions"] is NO_MENTIONS
    bot.state.set_announce_channel.assert_not_called()
    bot.kb.reindex.assert_not_called()


async def test_admin_checks_need_a_guild_and_manage_server(bot: MockBot) -> None:
    cog = AdminCog(bot)
    assert await cog.interaction_check(MockInteraction(permissions=ADMIN_PERMISSIONS))
    assert await cog.interaction_check(MockInteraction(permissions=discord.Permissions(administrator=True)))
    with pytest.raises(app_commands.MissingPermissions):
        await cog.interaction_check(MockInteraction(channel=MockDMChannel(), permissions=ADMIN_PERMISSIONS))


async def test_admin_sets_the_announcement_channel(state: BotState) -> None:
    bot = MockBot(state=state)
    cog = AdminCog(bot)
    interaction = MockInteraction(permissions=ADMIN_PERMISSIONS)
    target = MockTextChannel()
    assert await cog.interaction_check(interaction)
    await AdminCog.channel.callback(cog, interaction, target)
    assert state.announce_channels() == {interaction.guild_id: target.id}
    assert interaction.response.send_message.await_args.kwargs["ephemeral"] is True
    assert_no_pings(send_calls(interaction))


async def test_admin_reindex_defers_and_runs_off_the_loop(bot: MockBot) -> None:
    off_loop = main_thread_guard()

    def reindex():
        off_loop()
        return 42

    bot.kb.reindex.side_effect = reindex
    cog = AdminCog(bot)
    interaction = MockInteraction(permissions=ADMIN_PERMISSIONS)
    await AdminCog.reindex.callback(cog, interaction)
    interaction.response.defer.assert_awaited_once_with(thinking=True, ephemeral=True)
    assert interaction.followup.send.await_args.args[0] == "Reindexed 42 chunks."


async def test_apology_after_a_delivered_answer_does_not_delete_it(bot: MockBot) -> None:
    from bot.client import send_ephemeral

    interaction = MockInteraction()
    await interaction.response.defer(thinking=True)
    interaction.original_response.return_value = MockMessage(flags=discord.MessageFlags())  # already answered
    await send_ephemeral(interaction, "Sorry")
    interaction.delete_original_response.assert_not_awaited()
    assert interaction.followup.send.await_args.kwargs["ephemeral"] is True


async def test_apology_before_any_response_is_an_ephemeral_response(bot: MockBot) -> None:
    interaction = MockInteraction()
    await bot.on_app_command_error(interaction, app_commands.CommandInvokeError(AskCog.ask, RuntimeError("x")))
    call = interaction.response.send_message.await_args
    assert call.kwargs["ephemeral"] is True and call.args[0].startswith("Sorry, something went wrong")


def test_token_redaction_covers_messages_arguments_and_tracebacks() -> None:
    from bot.runner import RedactToken

    token = "abc.def.ghi"
    redact = RedactToken(token)
    try:
        raise RuntimeError(f"bad {token}")
    except RuntimeError as exc:
        error = exc
    records = [
        logging.LogRecord("x", logging.INFO, __file__, 1, "token %s", (token,), None),
        logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), (RuntimeError, error, error.__traceback__)),
        logging.LogRecord("x", logging.INFO, __file__, 1, "stack", (), None, sinfo=f"Stack {token}"),
    ]
    formatter = logging.Formatter()
    for record in records:
        assert redact.filter(record) is True
        assert token not in formatter.format(record)
    assert "[token]" in formatter.format(records[1]) and "RuntimeError" in formatter.format(records[1])
