"""/digest latest, /digest week and /sources: what is indexed, this week's papers, how the watched sources are doing."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.embeds import COLOUR_FOUND, NO_MENTIONS, clip, fit, issues_embed, safe_text
from bot.roundups import roundup_embed
from bot.watch_messages import watch_summary_text

if TYPE_CHECKING:
    from bot.client import DigestBot


class DigestCog(commands.Cog):
    """Listings of issues and sources."""

    digest = app_commands.Group(name="digest", description="Digest issues")

    def __init__(self, bot: DigestBot) -> None:
        self.bot: DigestBot = bot

    @digest.command(name="latest", description="The latest issues, of every digest or of one")
    @app_commands.describe(digest="Only this digest")
    async def latest(self, interaction: discord.Interaction, digest: str | None = None) -> None:
        await interaction.response.defer(thinking=True)
        issues = await self.bot.run_blocking(self.bot.kb.latest_issues, digest, 10)
        title = f"Latest issues of {digest}" if digest else "Latest digest issues"
        await interaction.followup.send(embed=issues_embed(title, issues), allowed_mentions=NO_MENTIONS)

    @latest.autocomplete("digest")
    async def digest_autocomplete(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        names = await self.bot.run_blocking(self.bot.kb.digests)
        return [app_commands.Choice(name=clip(n, 100), value=n) for n in names if current.lower() in n.lower()][:25]

    @digest.command(name="week", description="The papers this week's issues covered, grouped by paper, each digest's take quoted")
    @app_commands.describe(digest="Only this digest")
    async def week(self, interaction: discord.Interaction, digest: str | None = None) -> None:
        await interaction.response.defer(thinking=True)
        roundup = await self.bot.run_blocking(self.bot.kb.roundup, digest=digest)
        await interaction.followup.send(embed=roundup_embed(roundup), allowed_mentions=NO_MENTIONS)

    @week.autocomplete("digest")
    async def week_digest_autocomplete(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await self.digest_autocomplete(interaction, current)

    @app_commands.command(name="sources", description="What is indexed: digests, issues, papers, last update, source health")
    async def sources(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        stats = await self.bot.run_blocking(self.bot.kb.stats)
        embed = discord.Embed(title="What digestbot knows", colour=COLOUR_FOUND)
        embed.description = f"{stats.documents} documents · {stats.chunks} chunks · {stats.papers} papers" + (f"\nLast update: {stats.last_update}" if stats.last_update else "")
        digests = "\n".join(f"• {safe_text(name)}: {n}" for name, n in stats.digests.items()) or "Nothing indexed yet."
        embed.add_field(name="Digests (issues)", value=clip(digests, 1024), inline=False)
        poller = getattr(self.bot, "poller", None)
        if poller is not None:
            # source health, failing entries and announcements Discord refused (errors are third-party text)
            lines = await self.bot.run_blocking(poller.health_lines)
            embed.add_field(name="Watched sources", value=clip("\n".join(map(safe_text, lines)) or "None configured.", 1024), inline=False)
        watch_cog = self.bot.get_cog("WatchCog")
        if watch_cog is not None:  # the watch cog's store: its schema is set up once, not per /sources
            watches = await self.bot.run_blocking(watch_cog.store.summary)
            embed.add_field(name="Watches", value=clip(watch_summary_text(watches), 1024), inline=False)
        embed.set_footer(text=clip(f"model {stats.model} · {stats.store}", 2048))
        await interaction.followup.send(embed=fit(embed), allowed_mentions=NO_MENTIONS)


async def setup(bot: DigestBot) -> None:
    await bot.add_cog(DigestCog(bot))
