"""/watch topic|paper|list|remove: private watches, answered in DMs when a new issue matches.

Every reply is ephemeral and every interaction deferred at once; the work runs through
``bot.run_blocking``. Only the user's own watches are shown or removed (another user's watch
number answers as a missing one does). Admins can turn watches off per server
(``/admin watches off``). Delivery: :mod:`bot.watch_delivery` (a loop here, and a call after
each polling round).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.deployment_lock import DeploymentLock
from bot.embeds import NO_MENTIONS, clip, safe_text
from bot.watch_delivery import WATCHES_FLAG, WatchDelivery
from bot.watch_messages import paper_watch_reply, watches_text
from knowledge import InvalidArxivId, WatchRefused, WatchStore, parse_arxiv_id

if TYPE_CHECKING:
    from bot.client import DigestBot

log = logging.getLogger(__name__)
#: How often pending watch DMs are sent (besides right after each polling round).
DELIVERY_SECONDS = 60.0
WATCHES_OFF = "Watches are turned off in this server by its admins."


class WatchCog(commands.Cog):
    """Per-user topic and paper watches."""

    watch = app_commands.Group(name="watch", description="Get a private DM when a new digest issue covers a topic or a paper")

    def __init__(self, bot: DigestBot) -> None:
        self.bot: DigestBot = bot
        self.store = WatchStore(bot.state, max_per_user=bot.settings.watch_max_per_user)
        self.delivery = WatchDelivery(bot, self.store)
        self._delivery_lock = DeploymentLock(bot.settings.data_dir, "watch-delivery.lock")

    async def cog_load(self) -> None:
        if self._delivery_lock.acquire():  # one process per data directory sends the DMs
            self.deliver.start()
        else:
            log.info("another digestbot process sends the watch DMs for this deployment")

    async def cog_unload(self) -> None:
        self.deliver.cancel()
        self._delivery_lock.release()

    @tasks.loop(seconds=DELIVERY_SECONDS)
    async def deliver(self) -> None:
        try:
            await self.delivery.deliver_due()
        except Exception:
            log.exception("delivering watch DMs failed; the next round tries again")

    @deliver.before_loop
    async def before_deliver(self) -> None:
        await self.bot.wait_until_ready()

    # -- the commands ----------------------------------------------------------
    async def _allowed(self, interaction: discord.Interaction) -> bool:
        """Deferred already; False (and said so) when watches are off in this server."""
        if interaction.guild_id and not await self.bot.run_blocking(self.bot.state.guild_flag, interaction.guild_id, WATCHES_FLAG, True):
            await self._reply(interaction, WATCHES_OFF)
            return False
        return True

    @staticmethod
    async def _reply(interaction: discord.Interaction, text: str) -> None:
        await interaction.followup.send(clip(text, 2000), ephemeral=True, allowed_mentions=NO_MENTIONS)

    @watch.command(name="topic", description="DM me when a new issue has a section that answers this topic")
    @app_commands.describe(text="The topic, e.g. “speculative decoding”")
    async def topic(self, interaction: discord.Interaction, text: app_commands.Range[str, 1, 300]) -> None:
        await interaction.response.defer(thinking=True, ephemeral=True)
        if not await self._allowed(interaction):
            return
        try:
            watch = await self.bot.run_blocking(self.store.add, interaction.user.id, "topic", text, guild_id=interaction.guild_id)
        except WatchRefused as exc:
            await self._reply(interaction, f"Not watched: {safe_text(str(exc))}.")
            return
        await self._reply(interaction, f"Watching {safe_text(watch.label())} (watch #{watch.id}). When a new digest issue has a section "
                                       "that answers it, I will DM you the excerpt. Keep DMs from this server open to get them.")

    @watch.command(name="paper", description="DM me when a digest first covers this arXiv paper")
    @app_commands.describe(id="An arXiv ID or link, e.g. 2305.14314")
    async def paper(self, interaction: discord.Interaction, id: app_commands.Range[str, 1, 300]) -> None:  # noqa: A002 - the option users see
        await interaction.response.defer(thinking=True, ephemeral=True)
        if not await self._allowed(interaction):
            return
        try:
            arxiv_id = parse_arxiv_id(id)
        except InvalidArxivId as exc:
            await self._reply(interaction, f"That is not an arXiv ID: {safe_text(clip(str(exc), 300))}")
            return
        report = await self.bot.run_blocking(self.bot.kb.paper, arxiv_id)  # fetched and indexed when arXiv answers: its title is known
        title = report.paper.title if report.paper else ""
        try:
            watch = await self.bot.run_blocking(self.store.add, interaction.user.id, "paper", arxiv_id, guild_id=interaction.guild_id, title=title)
        except WatchRefused as exc:
            await self._reply(interaction, f"Not watched: {safe_text(str(exc))}.")
            return
        await self._reply(interaction, paper_watch_reply(report, watch))

    @watch.command(name="list", description="Your watches")
    async def list_watches(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True, ephemeral=True)
        watches = await self.bot.run_blocking(self.store.watches, interaction.user.id)
        await self._reply(interaction, watches_text(watches, limit_per_user=self.store.max_per_user))

    @watch.command(name="remove", description="Stop one of your watches")
    @app_commands.describe(id="The watch number (see /watch list)")
    async def remove(self, interaction: discord.Interaction, id: app_commands.Range[int, 1, 2**53]) -> None:  # noqa: A002
        await interaction.response.defer(thinking=True, ephemeral=True)
        removed = await self.bot.run_blocking(self.store.remove, interaction.user.id, id)
        await self._reply(interaction, f"Removed watch #{id}." if removed else f"You have no watch #{id} (see `/watch list`).")


async def setup(bot: DigestBot) -> None:
    await bot.add_cog(WatchCog(bot))
