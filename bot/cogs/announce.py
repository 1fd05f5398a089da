"""New-issue announcements: a ``tasks.loop`` polls the digests and announces each new issue once.

Exactly once, across crashes: before sending, the announcement is recorded as
"sending" with a nonce that also goes into the message (Discord de-duplicates
sends with the same nonce, and the embed footer carries it). After a restart, an
announcement left "sending" is looked up in the channel's recent history: found,
it is marked sent; not found, it is sent again.

Never lost: an issue is marked announced only once every target channel has it. A
channel that is gone for good (404: deleted, or the bot left its server) counts as done
for it; with no channel configured at all, issues are marked announced with a note
(otherwise a backlog would pile up for a channel that may never be set). Anything else
Discord answers (403 after a permission change, a 5xx outlasting discord.py's retries, a
400) or a network error leaves the issue pending: it is retried on later rounds with
exponential backoff (:meth:`knowledge.watch.poller.Poller.mark_announce_failed`), shows in
/sources and the health report, and goes out once, under the same nonce, when the channel
works again.

The first round runs as soon as the bot is connected: it is the catch-up with the feeds,
in a worker thread, so questions are answered meanwhile.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import discord
from discord.ext import commands, tasks

from bot.announcements import announcement_embed, notice_line, refusal, summary_line
from bot.deployment_lock import DeploymentLock
from bot.embeds import (
    NO_MENTIONS,
)
from bot.sent_lookup import NETWORK_ERRORS, find_sent
from bot.watch_delivery import deliver_after_round
from knowledge import Announcement, PollerStatus, PollReport, Summary

if TYPE_CHECKING:
    from bot.client import DigestBot

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Targets:
    """Where announcements go this round.

    Attributes:
        channels: The reachable channels.
        unreachable: Configured channels that could not be resolved this time, with the reason.
        configured: Whether any channel is configured at all.
    """

    channels: list[discord.abc.Messageable] = field(default_factory=list)
    unreachable: dict[int, str] = field(default_factory=dict)
    configured: bool = False


class AnnounceCog(commands.Cog):
    """Polls every POLL_MINUTES and announces new issues in each guild's channel."""

    def __init__(self, bot: DigestBot) -> None:
        self.bot: DigestBot = bot
        self.poll.change_interval(minutes=bot.settings.poll_minutes)
        #: Polling happens once per deployment: whoever holds ``poller.lock`` in the data dir polls.
        self._poll_lock = DeploymentLock(bot.settings.data_dir, "poller.lock")
        #: Finished rounds of the loop (0: the first catch-up with the feeds is still running or to come).
        self.rounds = 0

    async def cog_load(self) -> None:
        if getattr(self.bot, "poller", None) is None:
            return
        if not self._poll_lock.acquire():
            log.info("another digestbot process polls the digests for this deployment; this one only answers")
            return
        self.poll.start()

    @property
    def polling(self) -> bool:
        """Whether this process polls (it holds the deployment's poll lock)."""
        return self._poll_lock.held

    async def cog_unload(self) -> None:
        self.poll.cancel()
        if self.polling:
            self.bot.poller.stop()  # a round in its worker thread returns soon
        self._poll_lock.release()

    @tasks.loop(minutes=30)
    async def poll(self) -> None:
        try:
            # the first round is the catch-up after a start: it ignores backoff timers, like `poll --once`
            await self.run_round(force=self.poll.current_loop == 0)
        except Exception:
            log.exception("polling round failed; the next one will try again")
        finally:
            self.rounds += 1

    @poll.before_loop
    async def before_poll(self) -> None:
        await self.bot.wait_until_ready()

    async def status(self) -> tuple[str, PollerStatus | None]:
        """The poller's state for the health report: a short line and the counts behind it."""
        poller = getattr(self.bot, "poller", None)
        if poller is None:
            return "off", None
        if not self.polling:
            return "polling in another process", None
        counts: PollerStatus = await self.bot.run_blocking(poller.status)
        line = counts.line()
        if self.rounds == 0:
            return f"catching up ({line})", counts
        return ("ok: " if not (counts.failing or counts.refused) else "degraded: ") + line, counts

    async def run_round(self, *, force: bool = False) -> PollReport:
        """One poll, then announcements, summary lines and health notices (also used by tests).

        Args:
            force: Ignore backoff timers (sources, entries, refused announcements).
        """
        poller = self.bot.poller
        report: PollReport = await self.bot.run_blocking(poller.poll_once, force=force)
        targets = await self.resolve_targets()
        for notice in report.notices:
            for channel in targets.channels:
                await self._send(channel, content=notice_line(notice))
        for a in report.announcements:
            await self._announce_everywhere(a, targets)
        for summary in report.summaries:
            await self._summarise_everywhere(summary, targets)
        await deliver_after_round(self.bot)  # the watch DMs this round matched
        return report

    async def _announce_everywhere(self, a: Announcement, targets: Targets) -> None:
        """Announce to every target; mark announced only when none refused it."""
        poller = self.bot.poller
        if not targets.configured:
            await self.bot.run_blocking(poller.mark_announced, a.source, a.guid, "no announcement channel")
            return
        errors = list(targets.unreachable.values())
        for channel in targets.channels:
            error = await self.announce(channel, a)
            if error:
                errors.append(error)
        if errors:
            await self.bot.run_blocking(poller.mark_announce_failed, a.source, a.guid, "; ".join(errors))
        else:
            await self.bot.run_blocking(poller.mark_announced, a.source, a.guid, "")

    async def _summarise_everywhere(self, summary: Summary, targets: Targets) -> None:
        """Post one summary line per channel, once; its entries are done when every channel has it."""
        poller = self.bot.poller
        state = self.bot.state
        key = "summary:" + hashlib.sha256("\x1f".join(summary.guids).encode("utf-8", "surrogatepass")).hexdigest()[:16]
        failed = bool(targets.unreachable)
        for channel in targets.channels:
            channel_id = channel.id
            record = await self.bot.run_blocking(state.announcement, summary.source, key, channel_id)
            if record and record["state"] == "sent":
                continue
            nonce = record["nonce"] if record else secrets.token_hex(8)
            if not record:
                await self.bot.run_blocking(state.mark_posting, summary.source, key, channel_id, nonce)
            message, error = await self._try_send(channel, content=summary_line(summary), nonce=nonce)
            if message is not None:
                await self.bot.run_blocking(state.mark_posted, summary.source, key, channel_id, message.id)
            elif error:
                failed = True
        if not failed:
            await self.bot.run_blocking(poller.mark_summarised, summary)

    async def target_channels(self) -> list[discord.abc.Messageable]:
        """Each guild's admin-set channel; ANNOUNCE_CHANNEL_ID for a guild that set none."""
        return (await self.resolve_targets()).channels

    async def resolve_targets(self) -> Targets:
        """The target channels, and those configured but not reachable right now (with why)."""
        by_guild = await self.bot.run_blocking(self.bot.state.announce_channels)
        ids = list(by_guild.values())
        default = self.bot.settings.announce_channel_id
        if default:
            channel = self.bot.get_channel(default)
            guild_id = getattr(getattr(channel, "guild", None), "id", None)
            if guild_id not in by_guild:
                ids.append(default)
        targets = Targets(configured=bool(ids))
        for cid in dict.fromkeys(ids):
            channel = self.bot.get_channel(cid)
            if channel is None:
                try:
                    channel = await self.bot.fetch_channel(cid)
                except discord.NotFound:
                    log.warning("announcement channel %s does not exist (deleted?): skipped", cid)
                    continue
                except (discord.HTTPException, *NETWORK_ERRORS) as exc:
                    log.warning("announcement channel %s is not reachable: %s", cid, refusal(exc, cid))
                    targets.unreachable[cid] = refusal(exc, cid)
                    continue
            targets.channels.append(channel)  # type: ignore[arg-type]
        return targets

    async def announce(self, channel: discord.abc.Messageable, a: Announcement) -> str | None:
        """Send one announcement to one channel, exactly once.

        Returns:
            None when the channel has it (now or before) or is gone for good; else why Discord refused it.
        """
        state = self.bot.state
        channel_id = channel.id
        record = await self.bot.run_blocking(state.announcement, a.source, a.guid, channel_id)
        if record and record["state"] == "sent":
            return None
        if record and record["state"] == "sending":
            found = await find_sent(self.bot.user, channel, record["nonce"])
            if found is not None:
                await self.bot.run_blocking(state.mark_posted, a.source, a.guid, channel_id, found.id)
                return None
            nonce = record["nonce"]
        else:
            nonce = secrets.token_hex(8)
            await self.bot.run_blocking(state.mark_posting, a.source, a.guid, channel_id, nonce)
        message, error = await self._try_send(channel, embed=announcement_embed(a, nonce), nonce=nonce)
        if message is not None:
            await self.bot.run_blocking(state.mark_posted, a.source, a.guid, channel_id, message.id)
        return error

    async def _try_send(self, channel: discord.abc.Messageable, **kwargs) -> tuple[discord.Message | None, str | None]:  # noqa: ANN003
        """Send; ``(message, None)``, ``(None, None)`` when the channel is gone for good, else ``(None, reason)``."""
        channel_id = getattr(channel, "id", 0)
        try:
            return await channel.send(allowed_mentions=NO_MENTIONS, **kwargs), None
        except discord.NotFound as exc:
            log.warning("announcement channel %s is gone: %s", channel_id, refusal(exc, channel_id))
            return None, None
        except (discord.HTTPException, *NETWORK_ERRORS) as exc:
            reason = refusal(exc, channel_id)
            log.warning("could not post to channel %s: %s", channel_id, reason)
            return None, reason

    async def _send(self, channel: discord.abc.Messageable, **kwargs) -> discord.Message | None:  # noqa: ANN003
        return (await self._try_send(channel, **kwargs))[0]


async def setup(bot: DigestBot) -> None:
    await bot.add_cog(AnnounceCog(bot))
