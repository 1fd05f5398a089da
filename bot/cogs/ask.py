"""Asking in chat (mention, reply, DM, ask channels, the bot's threads) and with /ask;
"more excerpts" and 👍/👎 buttons (👎 asks what was wrong).

In an ask channel (``/admin ask-channel``) every message that looks like a question
(:func:`bot.conversation.looks_like_question`) is answered in a thread the bot opens on it;
with ``/admin threads on`` answers to mentions go in a thread too. Every message in a thread
the bot opened is a question (a follow-up), no mention needed. A 🤔 reaction shows a
message-based question is being answered.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import conversation as convo
from bot.client import send_ephemeral, slow_down
from bot.embeds import NO_MENTIONS, answer_embed, clip, more_embed
from bot.feedback import FeedbackModal
from bot.rendering import answer_text
from knowledge import Answer

if TYPE_CHECKING:
    from bot.client import DigestBot

log = logging.getLogger(__name__)
_MENTION = re.compile(r"<@!?\d+>|<@&\d+>")
REMEMBERED = 2000
WORKING = "🤔"


class AnswerView(discord.ui.View):
    """Buttons under an answer: more excerpts, and 👍/👎 feedback stored in the state database."""

    def __init__(self, bot: DigestBot, answer: Answer, *, timeout: float = 3600) -> None:
        super().__init__(timeout=timeout)
        self.bot: DigestBot = bot
        self.answer = answer
        self.voted: set[int] = set()
        if not answer.more:
            self.more.disabled = True

    @discord.ui.button(label="More excerpts", style=discord.ButtonStyle.secondary, custom_id="digestbot:more")
    async def more(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        shown = self.answer.more[:5]
        if not shown:
            await interaction.response.send_message("No more excerpts for this question.", ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        await interaction.response.send_message(embed=more_embed(self.answer.question, shown), ephemeral=True, allowed_mentions=NO_MENTIONS)

    @discord.ui.button(emoji="👍", style=discord.ButtonStyle.secondary, custom_id="digestbot:up")
    async def up(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await self._vote(interaction, "up")

    @discord.ui.button(emoji="👎", style=discord.ButtonStyle.secondary, custom_id="digestbot:down")
    async def down(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        if interaction.user.id in self.voted:
            await interaction.response.send_message("You already rated this answer — thanks!", ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        # The modal is the response (at once, well within 3 s); the verdict is stored after it.
        await interaction.response.send_modal(FeedbackModal(self.bot, self.answer))
        self.voted.add(interaction.user.id)
        await self._store(interaction, "down")

    async def on_error(self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item, /) -> None:
        """A short ephemeral note for the user; the traceback goes to the log."""
        log.error("button %s failed", getattr(item, "custom_id", "?"), exc_info=error)
        await send_ephemeral(interaction, "Sorry, something went wrong while answering. The error has been logged.")

    async def _vote(self, interaction: discord.Interaction, verdict: str) -> None:
        if interaction.user.id in self.voted:
            await interaction.response.send_message("You already rated this answer — thanks!", ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        self.voted.add(interaction.user.id)
        await self._store(interaction, verdict)
        await interaction.response.send_message("Thanks, noted." if verdict == "up" else "Thanks — noted, we'll look into it.", ephemeral=True, allowed_mentions=NO_MENTIONS)

    async def _store(self, interaction: discord.Interaction, verdict: str) -> None:
        await self.bot.run_blocking(
            self.bot.state.add_feedback,
            user_id=interaction.user.id,
            guild_id=interaction.guild_id,
            question=self.answer.question,
            answer=answer_text(self.answer),
            citations=[c.to_json() for c in self.answer.citations],
            verdict=verdict,
        )


class AskCog(commands.Cog):
    """Questions by mention, reply, DM or /ask."""

    def __init__(self, bot: DigestBot) -> None:
        self.bot: DigestBot = bot
        # answer message id -> the question it answered (for reply-chain follow-ups)
        self.questions: OrderedDict[int, str] = OrderedDict()
        # thread id -> last question asked in it
        self.threads: OrderedDict[int, str] = OrderedDict()
        # answer message id / thread id -> the excerpts shown (a follow-up finds new ones)
        self.shown: OrderedDict[int, list[str]] = OrderedDict()
        self._ask_channel_cache: dict[int, set[int]] = {}
        self._threads_cache: dict[int, bool] = {}

    def _remember(self, store: OrderedDict, key: int, question: str | list[str]) -> None:
        store[key] = question
        store.move_to_end(key)
        while len(store) > REMEMBERED:
            store.popitem(last=False)

    async def _answer(self, user: discord.abc.User, question: str, context: str | None, shown: list[str] | None = None) -> Answer:
        return await self.bot.run_blocking(convo.ask, self.bot.kb, question, None, context=context, shown=shown)

    # -- per-guild settings (cached; the admin commands call settings_changed) ----
    async def _ask_channels(self, guild_id: int) -> set[int]:
        if guild_id not in self._ask_channel_cache:
            self._ask_channel_cache[guild_id] = await self.bot.run_blocking(self.bot.state.ask_channels, guild_id)
        return self._ask_channel_cache[guild_id]

    async def _threads_on(self, guild_id: int) -> bool:
        if guild_id not in self._threads_cache:
            self._threads_cache[guild_id] = await self.bot.run_blocking(self.bot.state.guild_flag, guild_id, "threads") is True
        return self._threads_cache[guild_id]

    def settings_changed(self, guild_id: int) -> None:
        """Forget the cached ask channels and thread setting of a guild."""
        self._ask_channel_cache.pop(guild_id, None)
        self._threads_cache.pop(guild_id, None)

    async def _record(self, user_id: int, guild_id: int | None, channel_id: int | None, answer: Answer) -> None:
        """Every answered question and its confidence, for ``/admin gaps``."""
        if answer.error:
            return
        try:
            await self.bot.run_blocking(self.bot.state.record_question, user_id=user_id, guild_id=guild_id, channel_id=channel_id,
                                        question=answer.question, confidence=answer.confidence)
        except Exception:
            log.exception("could not record a question")

    # -- chat ----------------------------------------------------------------
    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or self.bot.user is None:
            return
        is_dm = message.guild is None
        channel = message.channel
        in_thread = isinstance(channel, discord.Thread)
        mentioned = self.bot.user in message.mentions
        replied_to = await self._replied_answer(message)
        # In a thread the bot opened, questions and follow-ups ("and its limits") need no mention.
        text = _MENTION.sub(" ", message.content)
        bot_thread = in_thread and channel.owner_id == self.bot.user.id and (
            convo.looks_like_question(text, self.bot.settings.ask_min_words) or convo.is_follow_up(text))
        ask_here = False
        if not (is_dm or mentioned or replied_to is not None or bot_thread) and message.guild is not None:
            channels = await self._ask_channels(message.guild.id)
            in_ask_channel = channel.id in channels or (in_thread and channel.parent_id in channels)
            ask_here = in_ask_channel and convo.looks_like_question(text, self.bot.settings.ask_min_words)
        if not (is_dm or mentioned or replied_to is not None or bot_thread or ask_here):
            return
        question = " ".join(_MENTION.sub(" ", message.content).split())
        if not question:
            await message.reply("Ask me about a paper or topic, e.g. “what did the digest say about QLoRA?”", mention_author=False, allowed_mentions=NO_MENTIONS)
            return
        wait = self.bot.cooldown.retry_after(message.author.id, channel.id if message.guild else None)
        if wait:
            await message.reply(slow_down(wait), mention_author=False, allowed_mentions=NO_MENTIONS)
            return
        context = replied_to or (self.threads.get(channel.id) if in_thread else None)
        ref_id = message.reference.message_id if message.reference else None
        shown = self.shown.get(ref_id) if replied_to and ref_id else (self.shown.get(channel.id) if in_thread else None)
        open_thread = not in_thread and message.guild is not None and replied_to is None and (
            ask_here or (mentioned and await self._threads_on(message.guild.id)))
        reacted = await self._react(message, add=True)
        try:
            try:
                async with channel.typing():
                    answer = await self._answer(message.author, question, context, shown)
            except Exception:
                log.exception("answering a chat message failed")
                await message.reply("Sorry, something went wrong while answering. The error has been logged.", mention_author=False, allowed_mentions=NO_MENTIONS)
                return
            thread = await self._open_thread(message, question) if open_thread else None
            if thread is not None:
                sent = await thread.send(embed=answer_embed(answer), view=AnswerView(self.bot, answer), allowed_mentions=NO_MENTIONS)
            else:
                sent = await message.reply(embed=answer_embed(answer), view=AnswerView(self.bot, answer), mention_author=False, allowed_mentions=NO_MENTIONS)
        finally:
            if reacted:
                await self._react(message, add=False)
        await self._record(message.author.id, message.guild.id if message.guild else None, channel.id, answer)
        asked = f"{context} {question}" if context and convo.is_follow_up(question) else question
        self._remember(self.questions, sent.id, asked)
        excerpts = [c.excerpt for c in answer.citations]
        self._remember(self.shown, sent.id, excerpts)
        thread_id = thread.id if thread is not None else (channel.id if in_thread else None)
        if thread_id is not None:
            self._remember(self.threads, thread_id, asked)
            self._remember(self.shown, thread_id, excerpts)

    async def _react(self, message: discord.Message, *, add: bool) -> bool:
        """Add or remove the 🤔 working indicator; a missing permission is not an error."""
        try:
            if add:
                await message.add_reaction(WORKING)
            else:
                await message.remove_reaction(WORKING, self.bot.user)
        except discord.HTTPException as exc:
            log.info("could not %s the working reaction: %s", "add" if add else "remove", exc)
            return False
        return True

    async def _open_thread(self, message: discord.Message, question: str) -> discord.Thread | None:
        """A thread on the question for its answer (None when it cannot be opened: reply instead)."""
        try:
            return await message.create_thread(name=clip(question, 100), auto_archive_duration=1440)
        except (discord.HTTPException, ValueError) as exc:
            log.info("could not open a thread on message %s: %s", message.id, exc)
            return None

    async def _replied_answer(self, message: discord.Message) -> str | None:
        """The question behind the bot answer this message replies to, if any."""
        ref = message.reference
        if ref is None or ref.message_id is None:
            return None
        if ref.message_id in self.questions:
            return self.questions[ref.message_id]
        target = ref.resolved if isinstance(ref.resolved, discord.Message) else None
        if target is None:
            try:
                target = await message.channel.fetch_message(ref.message_id)
            except discord.HTTPException:
                return None
        if self.bot.user is None or target.author.id != self.bot.user.id:
            return None
        return target.embeds[0].title if target.embeds and target.embeds[0].title else ""

    # -- slash ---------------------------------------------------------------
    @app_commands.command(name="ask", description="Ask what the digests said about a topic or paper")
    @app_commands.describe(question="For example: what did the digest say about QLoRA?")
    async def ask(self, interaction: discord.Interaction, question: app_commands.Range[str, 1, 1000]) -> None:
        wait = self.bot.cooldown.retry_after(interaction.user.id, interaction.channel_id if interaction.guild_id else None)
        if wait:
            await interaction.response.send_message(slow_down(wait), ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        await interaction.response.defer(thinking=True)
        answer = await self._answer(interaction.user, question, None)
        await interaction.followup.send(embed=answer_embed(answer), view=AnswerView(self.bot, answer), allowed_mentions=NO_MENTIONS)
        await self._record(interaction.user.id, interaction.guild_id, interaction.channel_id, answer)


async def setup(bot: DigestBot) -> None:
    await bot.add_cog(AskCog(bot))
