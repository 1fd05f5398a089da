"""Asking in chat (mention, reply, DM) and with /ask; "more excerpts" and 👍/👎 buttons."""

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
from bot.embeds import NO_MENTIONS, answer_embed, more_embed
from bot.rendering import answer_text
from knowledge import Answer

if TYPE_CHECKING:
    from bot.client import DigestBot

log = logging.getLogger(__name__)
_MENTION = re.compile(r"<@!?\d+>|<@&\d+>")
REMEMBERED = 2000


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
        await self._vote(interaction, "down")

    async def on_error(self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item, /) -> None:
        """A short ephemeral note for the user; the traceback goes to the log."""
        log.error("button %s failed", getattr(item, "custom_id", "?"), exc_info=error)
        await send_ephemeral(interaction, "Sorry, something went wrong while answering. The error has been logged.")

    async def _vote(self, interaction: discord.Interaction, verdict: str) -> None:
        if interaction.user.id in self.voted:
            await interaction.response.send_message("You already rated this answer — thanks!", ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        self.voted.add(interaction.user.id)
        await self.bot.run_blocking(
            self.bot.state.add_feedback,
            user_id=interaction.user.id,
            guild_id=interaction.guild_id,
            question=self.answer.question,
            answer=answer_text(self.answer),
            citations=[c.to_json() for c in self.answer.citations],
            verdict=verdict,
        )
        await interaction.response.send_message("Thanks, noted." if verdict == "up" else "Thanks — noted, we'll look into it.", ephemeral=True, allowed_mentions=NO_MENTIONS)


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

    def _remember(self, store: OrderedDict, key: int, question: str | list[str]) -> None:
        store[key] = question
        store.move_to_end(key)
        while len(store) > REMEMBERED:
            store.popitem(last=False)

    async def _answer(self, user: discord.abc.User, question: str, context: str | None, shown: list[str] | None = None) -> Answer:
        return await self.bot.run_blocking(convo.ask, self.bot.kb, question, None, context=context, shown=shown)

    # -- chat ----------------------------------------------------------------
    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or self.bot.user is None:
            return
        is_dm = message.guild is None
        mentioned = self.bot.user in message.mentions
        replied_to = await self._replied_answer(message)
        if not (is_dm or mentioned or replied_to is not None):
            return
        question = " ".join(_MENTION.sub(" ", message.content).split())
        if not question:
            await message.reply("Ask me about a paper or topic, e.g. “what did the digest say about QLoRA?”", mention_author=False, allowed_mentions=NO_MENTIONS)
            return
        wait = self.bot.cooldown.retry_after(message.author.id, message.channel.id if message.guild else None)
        if wait:
            await message.reply(slow_down(wait), mention_author=False, allowed_mentions=NO_MENTIONS)
            return
        in_thread = isinstance(message.channel, discord.Thread)
        context = replied_to or (self.threads.get(message.channel.id) if in_thread else None)
        ref_id = message.reference.message_id if message.reference else None
        shown = self.shown.get(ref_id) if replied_to and ref_id else (self.shown.get(message.channel.id) if in_thread else None)
        try:
            async with message.channel.typing():
                answer = await self._answer(message.author, question, context, shown)
        except Exception:
            log.exception("answering a chat message failed")
            await message.reply("Sorry, something went wrong while answering. The error has been logged.", mention_author=False, allowed_mentions=NO_MENTIONS)
            return
        sent = await message.reply(embed=answer_embed(answer), view=AnswerView(self.bot, answer), mention_author=False, allowed_mentions=NO_MENTIONS)
        asked = f"{context} {question}" if context and convo.is_follow_up(question) else question
        self._remember(self.questions, sent.id, asked)
        excerpts = [c.excerpt for c in answer.citations]
        self._remember(self.shown, sent.id, excerpts)
        if in_thread:
            self._remember(self.threads, message.channel.id, asked)
            self._remember(self.shown, message.channel.id, excerpts)

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


async def setup(bot: DigestBot) -> None:
    await bot.add_cog(AskCog(bot))
