"""Writes the bot's health report every HEALTH_SECONDS (read by ``digestbot health``).

The report also says what the feed poller is doing (from the AnnounceCog), so a bot that
is connected while its first catch-up is still running, or whose announcements Discord
refuses, says so instead of a bare "healthy".
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
from typing import TYPE_CHECKING

from discord.ext import commands, tasks

from bot.health import HEALTH_SECONDS, HealthReport, write_report

if TYPE_CHECKING:
    from bot.client import DigestBot

log = logging.getLogger(__name__)

#: Seconds the knowledge base gets to answer the health probe.
PROBE_TIMEOUT_S = 10.0


class HealthCog(commands.Cog):
    """Gateway connected and knowledge base answering: written to ``health.json``."""

    def __init__(self, bot: DigestBot) -> None:
        self.bot: DigestBot = bot

    async def cog_load(self) -> None:
        self.report.start()

    async def cog_unload(self) -> None:
        self.report.cancel()
        await self._write(HealthReport(time.time(), False, "stopped", None, "stopped", os.getpid(), poller="stopped"))

    @tasks.loop(seconds=HEALTH_SECONDS)
    async def report(self) -> None:
        await self.write_now()

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        await self.write_now()  # healthy as soon as connected, not one interval later

    async def write_now(self) -> None:
        """Probe and write the report (a failure is logged; the next round tries again)."""
        try:
            await self._write(await self.snapshot())
        except Exception:
            log.exception("could not write the health report")

    async def snapshot(self) -> HealthReport:
        """Probe the gateway and the knowledge base now."""
        latency = self.bot.latency
        connected = self.bot.is_ready() and not self.bot.is_closed()
        gateway = "connected" if connected else ("stopped" if self.bot.is_closed() else "connecting")
        try:
            # stats() counts the chunks in Chroma: a real round trip to the store (embedded or server)
            await asyncio.wait_for(self.bot.run_blocking(self.bot.kb.stats), PROBE_TIMEOUT_S)
            knowledge = "ok"
        except TimeoutError:
            knowledge = f"no answer within {PROBE_TIMEOUT_S:.0f} s"
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            knowledge = f"error: {exc}"
        latency_ms = None if latency is None or math.isinf(latency) or math.isnan(latency) else latency * 1000
        report = HealthReport(time.time(), connected and knowledge == "ok", gateway, latency_ms, knowledge, os.getpid())
        await self._add_poller(report)
        await self._add_watches(report)
        return report

    async def _add_watches(self, report: HealthReport) -> None:
        """How many watches there are and how many DMs wait (counts only; a failure leaves zeros)."""
        watch_cog = self.bot.get_cog("WatchCog")
        if watch_cog is None:
            return
        try:
            summary = await asyncio.wait_for(self.bot.run_blocking(watch_cog.store.summary), PROBE_TIMEOUT_S)
        except Exception:  # noqa: BLE001 - the health report goes on without the counts
            log.warning("could not count the watches for the health report", exc_info=True)
            return
        report.watches_active, report.watch_dms_waiting = summary.active, summary.waiting

    async def _add_poller(self, report: HealthReport) -> None:
        """The poller's line and counts (a failure to get them is reported, not raised)."""
        cog = self.bot.get_cog("AnnounceCog")
        if cog is None:
            report.poller = "off"
            return
        try:
            line, counts = await asyncio.wait_for(cog.status(), PROBE_TIMEOUT_S)
        except TimeoutError:
            report.poller = f"no status within {PROBE_TIMEOUT_S:.0f} s"
            return
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            report.poller = f"status error: {exc}"
            return
        report.poller = line
        report.catching_up = line.startswith("catching up")
        if counts is not None:
            report.sources_failing = len(counts.failing)
            report.announcements_pending = counts.pending
            report.announcements_refused = counts.refused

    async def _write(self, report: HealthReport) -> None:
        await self.bot.run_blocking(write_report, self.bot.settings.data_dir, report)


async def setup(bot: DigestBot) -> None:
    await bot.add_cog(HealthCog(bot))
