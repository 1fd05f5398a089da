"""Finding a message this bot already sent, by the nonce in its embed's footer.

Announcements, weekly roundups and watch DMs are sent exactly once: the nonce is recorded
before the send, and after a restart (or a send whose answer was lost on the network) the
channel's recent history is searched for it before anything is sent again.
"""

from __future__ import annotations

import logging

import aiohttp
import discord

log = logging.getLogger(__name__)

#: How many recent messages of a channel are searched for a nonce.
HISTORY_LOOKBACK = 50
#: What a failed send or history read can raise besides discord.py's HTTP errors (the network itself).
NETWORK_ERRORS: tuple[type[BaseException], ...] = (aiohttp.ClientError, TimeoutError, OSError)


async def find_sent(me: discord.abc.User | None, channel: discord.abc.Messageable, nonce: str) -> discord.Message | None:
    """The message ``me`` sent in ``channel`` whose embed footer holds ``nonce``, if still in its recent history.

    Returns None when it is not there, or when the history cannot be read (logged).
    """
    try:
        async for message in channel.history(limit=HISTORY_LOOKBACK):
            mine = me is not None and message.author.id == me.id
            if mine and any(e.footer and e.footer.text and nonce in e.footer.text for e in message.embeds):
                return message
    except (discord.HTTPException, *NETWORK_ERRORS):
        log.warning("could not read the history of channel %s", getattr(channel, "id", "?"))
    return None
