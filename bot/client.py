"""The Discord client: dependencies passed in, cogs loaded and commands synced in ``setup_hook``.

Modelled on discord.py's ``examples/advanced_startup.py``: the knowledge base,
state database and poller are created by the runner and handed to the bot.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import discord
from discord import app_commands
from discord.ext import commands

from bot.embeds import NO_MENTIONS
from bot.ratelimit import AskLimiter, UserCooldown
from bot.state import BotState
from knowledge import Settings

if TYPE_CHECKING:
    from knowledge import Knowledge, Poller

log = logging.getLogger(__name__)
T = TypeVar("T")
__all__ = ["AskLimiter", "DigestBot", "ShardedDigestBot", "UserCooldown", "create_bot", "send_ephemeral", "slow_down"]

COGS = ("bot.cogs.ask", "bot.cogs.paper", "bot.cogs.digest", "bot.cogs.admin", "bot.cogs.announce", "bot.cogs.health", "bot.cogs.watch",
        "bot.cogs.roundup")


def slow_down(wait: float) -> str:
    """The polite refusal of a rate-limited question."""
    return f"Slow down a little: try again in {max(1, math.ceil(wait - 1e-6))} s."


class DigestBotMixin:
    """What both the plain and the auto-sharded bot share."""

    settings: Settings
    kb: Knowledge
    state: BotState
    poller: Poller | None

    def _init_deps(self, settings: Settings, kb: Knowledge, state: BotState, poller: Poller | None, cogs: tuple[str, ...]) -> None:
        self.settings = settings
        self.kb = kb
        self.state = state
        self.poller = poller
        self.cooldown: AskLimiter = AskLimiter(
            settings.ask_cooldown_seconds,
            burst=settings.ask_burst,
            channel_burst=settings.ask_channel_burst,
            channel_per=settings.ask_channel_cooldown_seconds,
        )
        self._cogs = cogs
        self.synced = asyncio.Event()

    async def run_blocking(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run blocking knowledge work in a worker thread so heartbeats never stall."""
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def setup_hook(self) -> None:
        for name in self._cogs:
            await self.load_extension(name)  # type: ignore[attr-defined]
        tree: app_commands.CommandTree = self.tree  # type: ignore[attr-defined]
        tree.on_error = self.on_app_command_error
        if self.settings.discord_guild_id:
            guild = discord.Object(id=self.settings.discord_guild_id)
            tree.copy_global_to(guild=guild)
            await tree.sync(guild=guild)
            log.info("commands synced to guild %s", self.settings.discord_guild_id)
        else:
            await tree.sync()
            log.info("commands synced globally (may take up to an hour to appear)")
        self.synced.set()

    async def on_app_command_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        """A short ephemeral note for the user; the traceback goes to the log."""
        if isinstance(error, app_commands.MissingPermissions | app_commands.NoPrivateMessage):
            text = "Sorry, only members with **Manage Server** can use this command."
        elif isinstance(error, app_commands.CheckFailure):
            if interaction.response.is_done():
                return  # the check already told the user why
            text = "Sorry, this command cannot be used here."
        elif isinstance(error, app_commands.CommandOnCooldown):
            text = slow_down(error.retry_after)
        else:
            original = getattr(error, "original", error)
            log.error("command %s failed", interaction.command.name if interaction.command else "?", exc_info=original)
            text = "Sorry, something went wrong while answering. The error has been logged."
        await send_ephemeral(interaction, text)

    async def on_command_error(self, context: commands.Context, exception: commands.CommandError, /) -> None:
        """Questions arrive as mentions, which the mention prefix also parses: an unknown command is just a question."""
        if isinstance(exception, commands.CommandNotFound):
            return
        await super().on_command_error(context, exception)  # type: ignore[misc]


async def send_ephemeral(interaction: discord.Interaction, text: str) -> None:
    """Reply privately, whether or not the interaction was already acknowledged."""
    try:
        if interaction.response.is_done():
            if interaction.response.type is discord.InteractionResponseType.deferred_channel_message:
                # The first follow-up replaces a public "thinking…" placeholder and stays
                # public whatever its flags say: remove the placeholder so the note is private.
                try:
                    original = await interaction.original_response()
                    if original.flags.loading:
                        await interaction.delete_original_response()
                except discord.HTTPException:
                    log.warning("could not remove the placeholder of interaction %s", interaction.id)
            await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
        else:
            await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
    except discord.HTTPException:
        log.exception("could not tell the user about an error")


class DigestBot(DigestBotMixin, commands.Bot):
    """digestbot on a single connection."""

    def __init__(self, settings: Settings, kb: Knowledge, state: BotState, poller: Poller | None = None, *, cogs: tuple[str, ...] = COGS, **options: Any) -> None:
        super().__init__(command_prefix=commands.when_mentioned, intents=bot_intents(), allowed_mentions=NO_MENTIONS, help_command=None, **options)
        self._init_deps(settings, kb, state, poller, cogs)


class ShardedDigestBot(DigestBot, commands.AutoShardedBot):
    """digestbot with discord.py's auto-sharding; background polling still runs once per process.

    A :class:`DigestBot` (what the cogs are typed against) whose client is discord.py's
    ``AutoShardedClient``.
    """

    def __init__(self, settings: Settings, kb: Knowledge, state: BotState, poller: Poller | None = None, *, cogs: tuple[str, ...] = COGS, **options: Any) -> None:
        if settings.shard_count:
            options.setdefault("shard_count", settings.shard_count)
        super().__init__(settings, kb, state, poller, cogs=cogs, **options)


def bot_intents() -> discord.Intents:
    """Guild and DM messages with content (the bot answers mentions and replies)."""
    intents = discord.Intents.default()
    intents.message_content = True
    return intents


def create_bot(settings: Settings, kb: Knowledge, state: BotState, poller: Poller | None = None, **options: Any) -> DigestBot | ShardedDigestBot:
    """The bot class the settings ask for (sharded when DISCORD_AUTO_SHARD or DISCORD_SHARD_COUNT is set)."""
    cls = ShardedDigestBot if (settings.auto_shard or settings.shard_count) else DigestBot
    return cls(settings, kb, state, poller, **options)
