"""The scheduled weekly roundup: posted in each guild's announcement channel once per ISO week.

A ``tasks.loop`` ticks every few minutes. For a guild with a schedule (``/admin roundup``)
whose time this ISO week has passed, the roundup of the 7 days up to today goes to its
announcement channel, exactly once per (channel, week), across restarts, the same way
new-issue announcements do (:mod:`bot.cogs.announce`): the post is claimed in the bot state's
announcements table with a nonce before it is sent, the nonce goes in the embed's footer,
and a post left "sending" by a crash is looked up in the channel's history before anything is
sent again. A refused send (403, 5xx, the network) leaves it "sending": it is retried on the
next ticks, under the same nonce. A week without issues posts nothing and is recorded, so it
is not retried all week. One process per data directory ticks (``roundup.lock``).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import discord
from discord.ext import commands, tasks

from bot.announcements import refusal
from bot.deployment_lock import DeploymentLock
from bot.embeds import NO_MENTIONS
from bot.roundup_schedule import SETTING, Schedule, week_key
from bot.roundups import roundup_embed
from bot.sent_lookup import NETWORK_ERRORS, find_sent

if TYPE_CHECKING:
    from bot.client import DigestBot
    from knowledge import Roundup

log = logging.getLogger(__name__)

#: The announcements table's ``source`` for weekly roundups (``guid`` is the ISO week).
SOURCE = "weekly-roundup"
TICK_MINUTES = 10


class RoundupCog(commands.Cog):
    """Posts each guild's weekly roundup when its scheduled time has passed."""

    def __init__(self, bot: DigestBot) -> None:
        self.bot: DigestBot = bot
        #: The current time (tests set another clock).
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self._lock = DeploymentLock(bot.settings.data_dir, "roundup.lock")

    async def cog_load(self) -> None:
        if self._lock.acquire():
            self.tick_loop.start()
        else:
            log.info("another digestbot process posts the weekly roundups for this deployment")

    async def cog_unload(self) -> None:
        self.tick_loop.cancel()
        self._lock.release()

    @tasks.loop(minutes=TICK_MINUTES)
    async def tick_loop(self) -> None:
        try:
            await self.tick()
        except Exception:
            log.exception("weekly roundup tick failed; the next one will try again")

    @tick_loop.before_loop
    async def before_tick(self) -> None:
        await self.bot.wait_until_ready()

    async def tick(self) -> dict[int, str]:
        """Post every roundup that is due; ``guild_id -> what happened`` (also used by tests)."""
        now = self.clock()
        stored = await self.bot.run_blocking(self.bot.state.guild_values, SETTING)
        outcomes: dict[int, str] = {}
        for guild_id, value in stored.items():
            schedule = Schedule.parse(value)
            if schedule is None or now < schedule.due_at(now):
                continue
            channel_id = await self.channel_for(guild_id)
            if channel_id is None:
                outcomes[guild_id] = "no announcement channel"
                continue
            outcomes[guild_id] = await self.post_week(channel_id, week_key(now), now)
        return outcomes

    async def channel_for(self, guild_id: int) -> int | None:
        """The guild's announcement channel: the one an admin set, else ANNOUNCE_CHANNEL_ID when it is in this guild."""
        by_guild = await self.bot.run_blocking(self.bot.state.announce_channels)
        if guild_id in by_guild:
            return by_guild[guild_id]
        default = self.bot.settings.announce_channel_id
        channel = self.bot.get_channel(default) if default else None
        return default if channel is not None and getattr(getattr(channel, "guild", None), "id", None) == guild_id else None

    async def post_week(self, channel_id: int, week: str, now: datetime) -> str:
        """This week's roundup in one channel, exactly once.

        Returns:
            "sent", "found" (a crash left it "sending" and it was in the channel), "empty"
            (nothing to post this week), "gone" (the channel no longer exists), the state
            already recorded, or "refused: <reason>" (retried on the next tick).
        """
        state = self.bot.state
        record = await self.bot.run_blocking(state.announcement, SOURCE, week, channel_id)
        if record and record["state"] != "sending":
            return str(record["state"])
        try:
            channel = self.bot.get_channel(channel_id) or await self.bot.fetch_channel(channel_id)
        except discord.NotFound:
            await self.bot.run_blocking(state.mark_unposted, SOURCE, week, channel_id, "gone")
            return "gone"
        except (discord.HTTPException, *NETWORK_ERRORS) as exc:
            return f"refused: {refusal(exc, channel_id)}"
        if record:  # a crash or a refusal left it "sending": it may be in the channel already
            found = await find_sent(self.bot.user, channel, record["nonce"])
            if found is not None:
                await self.bot.run_blocking(state.mark_posted, SOURCE, week, channel_id, found.id)
                return "found"
        today = now.astimezone(UTC).date()
        roundup: Roundup = await self.bot.run_blocking(self.bot.kb.roundup, since=(today - timedelta(days=6)).isoformat(), until=today.isoformat())
        if not roundup.papers:
            await self.bot.run_blocking(state.mark_unposted, SOURCE, week, channel_id, "empty")
            return "empty"
        if record:
            nonce = record["nonce"]
        else:
            nonce = secrets.token_hex(8)
            if not await self.bot.run_blocking(state.claim_posting, SOURCE, week, channel_id, nonce):
                return "claimed"
        try:
            message = await channel.send(embed=roundup_embed(roundup, nonce=nonce), nonce=nonce, allowed_mentions=NO_MENTIONS)  # type: ignore[union-attr]
        except discord.NotFound:
            await self.bot.run_blocking(state.mark_unposted, SOURCE, week, channel_id, "gone")
            return "gone"
        except (discord.HTTPException, *NETWORK_ERRORS) as exc:
            reason = refusal(exc, channel_id)
            log.warning("weekly roundup not posted (retried on the next tick): %s", reason)
            return f"refused: {reason}"
        await self.bot.run_blocking(state.mark_posted, SOURCE, week, channel_id, message.id)
        return "sent"


async def setup(bot: DigestBot) -> None:
    await bot.add_cog(RoundupCog(bot))
