"""Watch matches as DMs: :class:`WatchDelivery`, exactly once and never retried forever.

* Before a send the hit is marked ``sending`` with a nonce that goes into the message (the
  send's nonce and the embed footer). A hit left ``sending`` by a restart, or by a send that
  failed on the network, is looked up in the DM channel's recent history first: found, it is
  marked sent; not found, it is sent again under the same nonce.
* 403 (the user does not accept DMs from the bot, "Cannot send messages to this user") and an
  unknown user are recorded as ``refused``: final, never retried. 5xx and network errors back
  off exponentially and end as ``failed`` after a few tries (:data:`knowledge.alerts.store.MAX_ATTEMPTS`).
* At most ``WATCH_DMS_PER_HOUR`` DMs per user per hour: the rest stay pending for later rounds.
* A watch made in a server whose admins turned watches off (``/admin watches off``) is not
  sent: its hits are recorded as ``skipped``.
* The terminal's watches are printed by the terminal, never sent here.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import TYPE_CHECKING

import discord

from bot.announcements import refusal
from bot.embeds import NO_MENTIONS
from bot.sent_lookup import NETWORK_ERRORS, find_sent
from bot.watch_messages import watch_content, watch_embed
from knowledge import WatchHit, WatchStore

if TYPE_CHECKING:
    from bot.client import DigestBot

log = logging.getLogger(__name__)
#: The per-guild flag admins set with ``/admin watches on|off`` (on unless turned off).
WATCHES_FLAG = "watches"


class WatchDelivery:
    """Sends due watch hits as DMs.

    Args:
        bot: The bot (its state database, settings and ``run_blocking``).
        store: The watch tables.
    """

    def __init__(self, bot: DigestBot, store: WatchStore) -> None:
        self.bot = bot
        self.store = store
        self.per_hour = bot.settings.watch_dms_per_hour
        self._lock = asyncio.Lock()

    async def deliver_due(self) -> int:
        """Send every due hit the hourly caps allow; returns how many were delivered."""
        async with self._lock:  # the loop and the call after a polling round never overlap
            hits: list[WatchHit] = await self.bot.run_blocking(self.store.due_hits)
            budget: dict[str, int] = {}
            delivered = 0
            for hit in hits:
                user = hit.watch.user_id
                if not user.isdigit():
                    continue  # not a Discord user
                if hit.watch.guild_id and not await self.bot.run_blocking(self.bot.state.guild_flag, int(hit.watch.guild_id), WATCHES_FLAG, True):
                    await self.bot.run_blocking(self.store.mark_skipped, hit, "watches are turned off in the server where the watch was made")
                    continue
                if user not in budget:
                    budget[user] = self.per_hour - await self.bot.run_blocking(self.store.sent_since, user, 3600.0)
                if budget[user] <= 0:
                    continue  # the hourly cap: stays pending for a later round
                if await self._deliver(hit):
                    budget[user] -= 1
                    delivered += 1
            return delivered

    async def _deliver(self, hit: WatchHit) -> bool:
        """One hit to its user's DMs; True when the user has it (now or before)."""
        errors = NETWORK_ERRORS
        try:
            channel = await self._dm_channel(int(hit.watch.user_id))
        except (discord.Forbidden, discord.NotFound) as exc:
            await self._refused(hit, exc)
            return False
        except (discord.HTTPException, *errors) as exc:
            await self._failed(hit, exc)
            return False
        if hit.nonce:
            found = await find_sent(self.bot.user, channel, hit.nonce)
            if found is not None:
                await self.bot.run_blocking(self.store.mark_sent, hit, found.id)
                return True
            nonce = hit.nonce
        else:
            nonce = secrets.token_hex(8)
            await self.bot.run_blocking(self.store.mark_sending, hit, nonce)
        try:
            message = await channel.send(content=watch_content(hit), embed=watch_embed(hit, nonce), nonce=nonce, allowed_mentions=NO_MENTIONS)
        except (discord.Forbidden, discord.NotFound) as exc:
            await self._refused(hit, exc)
            return False
        except (discord.HTTPException, *errors) as exc:
            await self._failed(hit, exc)
            return False
        await self.bot.run_blocking(self.store.mark_sent, hit, message.id)
        return True

    async def _dm_channel(self, user_id: int) -> discord.DMChannel:
        user = self.bot.get_user(user_id) or await self.bot.fetch_user(user_id)
        return user.dm_channel or await user.create_dm()

    async def _refused(self, hit: WatchHit, exc: BaseException) -> None:
        reason = refusal(exc, 0).replace(" in channel 0", "")
        log.info("watch DM to user %s refused (%s): recorded, not retried", hit.watch.user_id, reason)
        await self.bot.run_blocking(self.store.mark_refused, hit, reason)

    async def _failed(self, hit: WatchHit, exc: BaseException) -> None:
        reason = refusal(exc, 0).replace(" in channel 0", "")
        state = await self.bot.run_blocking(self.store.mark_failed_attempt, hit, reason)
        log.warning("watch DM to user %s failed (%s, attempt %d): %s", hit.watch.user_id, reason, hit.attempts,
                    "given up" if state == "failed" else "retrying later")



async def deliver_after_round(bot: DigestBot) -> None:
    """Send the watch DMs a polling round matched (called by the announcement loop; never raises)."""
    cog = bot.get_cog("WatchCog")  # type: ignore[attr-defined]
    if cog is None:
        return
    try:
        await cog.delivery.deliver_due()  # type: ignore[attr-defined]
    except Exception:
        log.exception("delivering watch DMs failed; the next round tries again")
