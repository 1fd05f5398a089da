"""/paper: a paper card and what every digest said about it, with ID/title autocomplete."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.embeds import NO_MENTIONS, clip, paper_embed
from knowledge import InvalidArxivId, parse_arxiv_id

if TYPE_CHECKING:
    from bot.client import DigestBot

log = logging.getLogger(__name__)
MAX_CHOICES = 25


class PaperCog(commands.Cog):
    """The /paper command."""

    def __init__(self, bot: DigestBot) -> None:
        self.bot: DigestBot = bot

    @app_commands.command(name="paper", description="Show an arXiv paper and what the digests said about it")
    @app_commands.describe(id="An arXiv ID or link, e.g. 2305.14314 or https://arxiv.org/abs/2305.14314")
    async def paper(self, interaction: discord.Interaction, id: app_commands.Range[str, 1, 300]) -> None:  # noqa: A002 - the option users see
        try:
            parse_arxiv_id(id)
        except InvalidArxivId as exc:
            await interaction.response.send_message(f"That is not an arXiv ID: {clip(str(exc), 300)}", ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        await interaction.response.defer(thinking=True)
        report = await self.bot.run_blocking(self.bot.kb.paper, id)
        await interaction.followup.send(embed=paper_embed(report), allowed_mentions=NO_MENTIONS)

    @paper.autocomplete("id")
    async def paper_autocomplete(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        found = await self.bot.run_blocking(self.bot.kb.suggest_papers, current, MAX_CHOICES)
        return [app_commands.Choice(name=clip(f"{aid} · {title}" if title else aid, 100), value=aid) for aid, title in found[:MAX_CHOICES]]


async def setup(bot: DigestBot) -> None:
    await bot.add_cog(PaperCog(bot))
