"""What announcements say: the embed of a new issue, the "…and N more" summary line, source health
notices, and the one-line reason for a refused send. Feed text is escaped here."""

from __future__ import annotations

import discord

from bot.embeds import (
    COLOUR_FOUND,
    clip,
    fit,
    safe_text,
    safe_title,
    safe_url,
    strip_bidi,
)
from knowledge import Announcement, HealthNotice, Summary


def announcement_embed(a: Announcement, nonce: str) -> discord.Embed:
    """The announcement: digest, issue title and link, date, first paragraph, papers, a hint to ask.

    The feed's text is escaped (no Markdown, mentions or bidi controls) and the link kept
    only when it is http(s), so a feed cannot make Discord refuse the message.
    """
    embed = discord.Embed(title=clip(safe_title(a.title) or "New issue", 256), url=safe_url(a.url), colour=COLOUR_FOUND)
    embed.set_author(name=clip(f"New in {strip_bidi(a.digest)}" + (" (paid post: public part indexed)" if a.paid else ""), 256))
    parts = []
    if a.summary:
        parts.append(safe_text(clip(" ".join(a.summary.split()), 600)))
    if a.papers:
        parts.append("**Papers covered**\n" + "\n".join(f"• {safe_text(clip(p, 150))}" for p in a.papers[:5]))
    topic = a.papers[0] if a.papers else a.title
    parts.append(f"Ask me: *what did {safe_text(a.digest)} say about {safe_text(clip(topic, 80))}?*")
    embed.description = clip("\n\n".join(parts), 4096)
    embed.set_footer(text=clip(f"{strip_bidi(a.date) or 'undated'} · ref {nonce}", 2048))
    return fit(embed)


def summary_line(summary: Summary) -> str:
    """The "…and N more new issues of **Digest** while I was away: …" line, feed text escaped."""
    n = len(summary.guids)
    titles = "; ".join(safe_text(" ".join(t.split())) for t in summary.titles)
    line = f"…and {n} more new issue{'s' if n != 1 else ''} of **{safe_text(summary.source)}** while I was away"
    return clip(f"{line}: {titles}" if titles else line, 2000)


def notice_line(notice: HealthNotice) -> str:
    """A source paused after repeated failures, or back to normal (feed text escaped)."""
    name = safe_text(notice.source)
    if notice.kind == "paused":
        reason = safe_text(" ".join(notice.error.split()))
        return clip(f"⏸ **{name}** is paused after {notice.failures} failed polls: {reason}. I will keep retrying less often.", 2000)
    return clip(f"▶ **{name}** is reachable again and back to normal polling.", 2000)


def refusal(exc: BaseException, channel_id: int) -> str:
    """A one-line reason for a send Discord (or the network) refused."""
    if isinstance(exc, discord.HTTPException):
        text = " ".join((exc.text or "").split())
        return clip(f"HTTP {exc.status} in channel {channel_id}" + (f": {text}" if text else ""), 200)
    return clip(f"{type(exc).__name__} in channel {channel_id}: {exc}", 200)
