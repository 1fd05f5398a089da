"""New-issue announcements: a ``tasks.loop`` polls the digests and announces each new issue once.

Exactly once, across crashes: before sending, the announcement is recorded as
"sending" with a nonce that also goes into the message (Discord de-duplicates
sends with the same nonce, and the embed footer carries it). After a restart, an
announcement left "sending" is looked up in the channel's recent history: found,
it is marked sent; not found, it is sent again.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import secrets
from typing import IO

import discord
from discord.ext import commands, tasks

from bot.embeds import COLOUR_FOUND, NO_MENTIONS, clip, fit
from knowledge.poller import Announcement, PollReport

log = logging.getLogger(__name__)
HISTORY_LOOKBACK = 50


def announcement_embed(a: Announcement, nonce: str) -> discord.Embed:
    """The announcement: digest, issue title and link, date, first paragraph, papers, a hint to ask."""
    embed = discord.Embed(title=clip(a.title or "New issue", 256), url=a.url or None, colour=COLOUR_FOUND)
    embed.set_author(name=clip(f"New in {a.digest}" + (" (paid post: public part indexed)" if a.paid else ""), 256))
    parts = []
    if a.summary:
        parts.append(clip(a.summary, 600))
    if a.papers:
        parts.append("**Papers covered**\n" + "\n".join(f"• {clip(p, 150)}" for p in a.papers[:5]))
    topic = a.papers[0] if a.papers else a.title
    parts.append(f"Ask me: *what did {a.digest} say about {clip(topic, 80)}?*")
    embed.description = clip("\n\n".join(parts), 4096)
    embed.set_footer(text=f"{a.date or 'undated'} · ref {nonce}")
    return fit(embed)


class AnnounceCog(commands.Cog):
    """Polls every POLL_MINUTES and announces new issues in each guild's channel."""

    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot
        self.poll.change_interval(minutes=bot.settings.poll_minutes)  # type: ignore[attr-defined]
        self._lock_file: IO[str] | None = None

    async def cog_load(self) -> None:
        if getattr(self.bot, "poller", None) is None:
            return
        if not self._take_poll_lock():
            log.info("another digestbot process polls the digests for this deployment; this one only answers")
            return
        self.poll.start()

    async def cog_unload(self) -> None:
        self.poll.cancel()
        if self._lock_file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None

    def _take_poll_lock(self) -> bool:
        """Polling happens once per deployment: whoever holds ``poller.lock`` in the data dir polls."""
        data_dir = self.bot.settings.data_dir  # type: ignore[attr-defined]
        data_dir.mkdir(parents=True, exist_ok=True)
        fh = (data_dir / "poller.lock").open("a+")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            return False
        self._lock_file = fh
        return True

    @tasks.loop(minutes=30)
    async def poll(self) -> None:
        try:
            await self.run_round()
        except Exception:
            log.exception("polling round failed; the next one will try again")

    @poll.before_loop
    async def before_poll(self) -> None:
        await self.bot.wait_until_ready()

    async def run_round(self) -> PollReport:
        """One poll, then announcements and health notices (also used by tests)."""
        poller = self.bot.poller  # type: ignore[attr-defined]
        report: PollReport = await self.bot.run_blocking(poller.poll_once)  # type: ignore[attr-defined]
        channels = await self.target_channels()
        for notice in report.notices:
            for channel in channels:
                await self._send(channel, content=notice.message)
        for a in report.announcements:
            if channels:
                for channel in channels:
                    await self.announce(channel, a)
            await self.bot.run_blocking(poller.mark_announced, a.source, a.guid, "" if channels else "no announcement channel")  # type: ignore[attr-defined]
        for line in report.summaries:
            for channel in channels:
                await self._send(channel, content=clip(line, 2000))
        return report

    async def target_channels(self) -> list[discord.abc.Messageable]:
        """Each guild's admin-set channel; ANNOUNCE_CHANNEL_ID for a guild that set none."""
        by_guild = await self.bot.run_blocking(self.bot.state.announce_channels)  # type: ignore[attr-defined]
        ids = list(by_guild.values())
        default = self.bot.settings.announce_channel_id  # type: ignore[attr-defined]
        if default:
            channel = self.bot.get_channel(default)
            guild_id = getattr(getattr(channel, "guild", None), "id", None)
            if guild_id not in by_guild:
                ids.append(default)
        out = []
        for cid in dict.fromkeys(ids):
            channel = self.bot.get_channel(cid)
            if channel is None:
                try:
                    channel = await self.bot.fetch_channel(cid)
                except discord.HTTPException:
                    log.warning("announcement channel %s is not reachable", cid)
                    continue
            out.append(channel)
        return out

    async def announce(self, channel: discord.abc.Messageable, a: Announcement) -> None:
        """Send one announcement to one channel, exactly once."""
        state = self.bot.state  # type: ignore[attr-defined]
        channel_id = channel.id  # type: ignore[attr-defined]
        record = await self.bot.run_blocking(state.announcement, a.source, a.guid, channel_id)  # type: ignore[attr-defined]
        if record and record["state"] == "sent":
            return
        if record and record["state"] == "sending":
            found = await self._find_sent(channel, record["nonce"])
            if found is not None:
                await self.bot.run_blocking(state.mark_announced, a.source, a.guid, channel_id, found.id)  # type: ignore[attr-defined]
                return
            nonce = record["nonce"]
        else:
            nonce = secrets.token_hex(8)
            await self.bot.run_blocking(state.mark_announcing, a.source, a.guid, channel_id, nonce)  # type: ignore[attr-defined]
        message = await self._send(channel, embed=announcement_embed(a, nonce), nonce=nonce)
        if message is not None:
            await self.bot.run_blocking(state.mark_announced, a.source, a.guid, channel_id, message.id)  # type: ignore[attr-defined]

    async def _find_sent(self, channel: discord.abc.Messageable, nonce: str) -> discord.Message | None:
        try:
            async for message in channel.history(limit=HISTORY_LOOKBACK):
                mine = self.bot.user is not None and message.author.id == self.bot.user.id
                if mine and any(e.footer and e.footer.text and nonce in e.footer.text for e in message.embeds):
                    return message
        except discord.HTTPException:
            log.warning("could not read history of channel %s", getattr(channel, "id", "?"))
        return None

    async def _send(self, channel: discord.abc.Messageable, **kwargs) -> discord.Message | None:  # noqa: ANN003
        try:
            return await channel.send(allowed_mentions=NO_MENTIONS, **kwargs)
        except discord.HTTPException:
            log.exception("could not post to channel %s", getattr(channel, "id", "?"))
            return None


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(AnnounceCog(bot))
