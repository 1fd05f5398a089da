"""Admin commands (Manage Server): announcement channel, ask channels, answers in threads, the
gaps report, reindex, watched sources, the weekly roundup's schedule."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.embeds import NO_MENTIONS, clip, safe_text

if TYPE_CHECKING:
    from bot.client import DigestBot

log = logging.getLogger(__name__)


def is_admin(interaction: discord.Interaction) -> bool:
    """Manage Server in this guild (checked at run time, whatever the default permissions say)."""
    perms = interaction.permissions
    return interaction.guild is not None and (perms.manage_guild or perms.administrator)


class AdminCog(commands.Cog):
    """Server settings for admins; everyone else gets a polite refusal."""

    admin = app_commands.Group(name="admin", description="digestbot settings (Manage Server)", default_permissions=discord.Permissions(manage_guild=True), guild_only=True)
    source = app_commands.Group(name="source", description="Watched digests (Manage Server)", default_permissions=discord.Permissions(manage_guild=True), guild_only=True)

    def __init__(self, bot: DigestBot) -> None:
        self.bot: DigestBot = bot

    async def interaction_check(self, interaction: discord.Interaction) -> bool:  # type: ignore[override]
        if not is_admin(interaction):
            raise app_commands.MissingPermissions(["manage_guild"])
        command = interaction.command
        if command is not None and command.parent is not None and command.parent.name == "source" and getattr(self.bot, "poller", None) is None:
            await interaction.response.send_message("Source management is not available: this process does not watch digests.", ephemeral=True, allowed_mentions=NO_MENTIONS)
            return False
        return True

    @admin.command(name="channel", description="Post new-issue announcements in this channel")
    async def channel(self, interaction: discord.Interaction, channel: discord.TextChannel) -> None:
        # one small SQLite write in a worker thread: answered directly, well within the 3 s deadline
        await self.bot.run_blocking(self.bot.state.set_announce_channel, interaction.guild_id, channel.id)
        await interaction.response.send_message(f"New digest issues will be announced in {channel.mention}.", ephemeral=True, allowed_mentions=NO_MENTIONS)

    def _settings_changed(self, guild_id: int) -> None:
        ask = self.bot.get_cog("AskCog")
        if ask is not None:
            ask.settings_changed(guild_id)  # type: ignore[attr-defined]

    @admin.command(name="ask-channel", description="Answer every question in this channel without a mention, each in a thread")
    @app_commands.describe(channel="The channel", state="on: answer questions there; off: only mentions")
    async def ask_channel(self, interaction: discord.Interaction, channel: discord.TextChannel, state: Literal["on", "off"]) -> None:
        await self.bot.run_blocking(self.bot.state.set_ask_channel, interaction.guild_id, channel.id, state == "on")
        self._settings_changed(interaction.guild_id)
        text = (f"Questions in {channel.mention} will be answered without a mention, each in a thread." if state == "on"
                else f"{channel.mention} is no longer an ask channel: mention me there to ask.")
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @admin.command(name="threads", description="Answer mentions in a thread opened on the question")
    async def threads(self, interaction: discord.Interaction, state: Literal["on", "off"]) -> None:
        await self.bot.run_blocking(self.bot.state.set_guild_flag, interaction.guild_id, "threads", state == "on")
        self._settings_changed(interaction.guild_id)
        text = "Answers to mentions will go in a thread on the question." if state == "on" else "Answers to mentions will be replies again."
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @admin.command(name="watches", description="Let members watch topics and papers (private DMs) in this server")
    async def watches(self, interaction: discord.Interaction, state: Literal["on", "off"]) -> None:
        await self.bot.run_blocking(self.bot.state.set_guild_flag, interaction.guild_id, "watches", state == "on")
        text = ("Members can watch topics and papers again (`/watch`); matches arrive as private DMs." if state == "on"
                else "Watches are off in this server: `/watch` says so, and no watch made here sends DMs.")
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @admin.command(name="roundup", description="Post the weekly roundup in the announcement channel every week (UTC), or turn it off")
    @app_commands.describe(day="Day of the week, or off", hour="Hour of the day, 0-23 UTC")
    async def roundup(self, interaction: discord.Interaction, day: Literal["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "off"],
                      hour: app_commands.Range[int, 0, 23] | None = None) -> None:
        from bot.roundup_schedule import DAYS, SETTING, Schedule

        if day == "off":
            await self.bot.run_blocking(self.bot.state.set_guild_value, interaction.guild_id, SETTING, None)
            await interaction.response.send_message("The weekly roundup is off.", ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        if hour is None:
            await interaction.response.send_message(f"Give the hour too (0-23, UTC), e.g. `/admin roundup {day} 9`.", ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        schedule = Schedule(DAYS.index(day), hour)
        await self.bot.run_blocking(self.bot.state.set_guild_value, interaction.guild_id, SETTING, schedule.encode())
        cog = self.bot.get_cog("RoundupCog")
        channel_id = await cog.channel_for(interaction.guild_id) if cog is not None else None  # type: ignore[attr-defined]
        where = f" in <#{channel_id}>" if channel_id else "; no announcement channel is set yet: choose one with /admin channel"
        now = cog.clock() if cog is not None else None  # type: ignore[attr-defined]
        when = " (this week's time has passed: unless it was posted already, it goes out within 10 minutes)" if now and schedule.due_at(now) <= now else ""
        await interaction.response.send_message(f"The weekly roundup will be posted {schedule.label()}{where}{when}.", ephemeral=True, allowed_mentions=NO_MENTIONS)

    @admin.command(name="gaps", description="Questions the archive could not answer and the most downvoted answers")
    async def gaps(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True, ephemeral=True)
        report = await self.bot.run_blocking(self.bot.state.gaps, interaction.guild_id, limit=10)
        await interaction.followup.send(clip(gaps_text(report), 2000), ephemeral=True, allowed_mentions=NO_MENTIONS)

    @admin.command(name="reindex", description="Re-embed the whole index with the current model and rebuild the lexical index")
    async def reindex(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True, ephemeral=True)
        count = await self.bot.run_blocking(self.bot.kb.reindex)
        await interaction.followup.send(f"Reindexed {count} chunks.", ephemeral=True, allowed_mentions=NO_MENTIONS)

    @source.command(name="add", description="Watch a digest's RSS/Atom feed")
    @app_commands.describe(name="Digest name shown in citations", feed="Feed URL", substack="Substack publication URL (optional, enables backfill)")
    async def add(self, interaction: discord.Interaction, name: app_commands.Range[str, 1, 100], feed: str, substack: str | None = None) -> None:
        await interaction.response.defer(thinking=True, ephemeral=True)
        poller = self.bot.poller
        try:
            await self.bot.run_blocking(poller.add_source, name, feed, substack or "", str(interaction.user.id))
        except ValueError as exc:
            await interaction.followup.send(f"Not added: {safe_text(clip(str(exc), 500))}", ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        await interaction.followup.send(f"Now watching **{safe_text(clip(name, 100))}**. Existing issues are recorded without announcements.", ephemeral=True, allowed_mentions=NO_MENTIONS)

    @source.command(name="remove", description="Stop watching a digest added here")
    async def remove(self, interaction: discord.Interaction, name: str) -> None:
        await interaction.response.defer(thinking=True, ephemeral=True)
        removed = await self.bot.run_blocking(self.bot.poller.remove_source, name)
        shown = safe_text(clip(name, 100))
        text = f"Stopped watching **{shown}**." if removed else f"No source named **{shown}** was added from Discord."
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @source.command(name="list", description="Watched digests and their health")
    async def list_sources(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True, ephemeral=True)
        lines = await self.bot.run_blocking(self.bot.poller.health_lines)
        await interaction.followup.send(clip("\n".join(map(safe_text, lines)) or "No sources configured.", 2000), ephemeral=True, allowed_mentions=NO_MENTIONS)


def gaps_text(report: dict[str, list[dict[str, Any]]]) -> str:
    """The gaps report as Discord text (questions escaped, each clipped)."""
    lines = ["**Asked but not answered** (confidence none / related)"]
    for i, row in enumerate(report["unanswered"], 1):
        lines.append(f"{i}. “{safe_text(clip(row['question'], 150))}” — {row['count']}× ({row['none']} none, {row['related']} related)")
    if not report["unanswered"]:
        lines.append("Nothing yet.")
    lines.append("**Most downvoted**")
    for i, row in enumerate(report["downvoted"], 1):
        why = f" — mostly “{row['reason']}”" if row.get("reason") else ""
        lines.append(f"{i}. “{safe_text(clip(row['question'], 150))}” — {row['count']}× 👎{why}")
    if not report["downvoted"]:
        lines.append("Nothing yet.")
    return "\n".join(lines)


async def setup(bot: DigestBot) -> None:
    await bot.add_cog(AdminCog(bot))
