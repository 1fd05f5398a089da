"""What watches say: the DM a match becomes, the list of a user's watches, the answer to
``/watch paper`` (which digests covered it already), and the terminal's lines.

Archive text is escaped here (:func:`bot.embeds.safe_text`); no message pings anyone.
"""

from __future__ import annotations

import discord

from bot.embeds import (
    COLOUR_FOUND,
    clip,
    fit,
    highlight,
    masked_link,
    safe_text,
    safe_title,
    safe_url,
    strip_bidi,
)
from knowledge import Citation, PaperReport, Watch, WatchHit, WatchSummary


def watch_embed(hit: WatchHit, nonce: str) -> discord.Embed:
    """A match as a DM: digest, issue (linked), date, section, the 1-3 sentence excerpt, which watch.

    The nonce is in the footer, so a restart finds the message in the DM history instead of
    sending it twice.
    """
    c = hit.citation
    link = c.get("url") or (c.get("source", "") if str(c.get("source", "")).startswith("http") else "")
    embed = discord.Embed(title=clip(safe_title(str(c.get("title") or "New issue")), 256), url=safe_url(link), colour=COLOUR_FOUND)
    embed.set_author(name=clip(f"New in {strip_bidi(str(c.get('digest') or 'a digest'))}", 256))
    parts = []
    section = str(c.get("section") or "")
    if section and section != c.get("title"):
        parts.append(f"§ {safe_text(clip(section, 200))}")
    excerpt = " ".join(clip(str(c.get("excerpt") or ""), 900).split())
    if excerpt:
        parts.append(f"> {highlight(excerpt, list(c.get('highlights') or []))}")
    if safe_url(link):
        parts.append(masked_link("Read the issue", link))
    embed.description = clip("\n".join(parts), 4096) or "A new issue matches your watch."
    embed.set_footer(text=clip(f"{strip_bidi(str(c.get('date') or 'undated'))} · your watch #{hit.watch.id}: {strip_bidi(hit.watch.label())} · "
                               f"/watch remove {hit.watch.id} to stop · ref {nonce}", 2048))
    return fit(embed)


def watch_content(hit: WatchHit) -> str:
    """The line above the embed."""
    what = "covers the paper you watch" if hit.watch.kind == "paper" else "matches your watch"
    return clip(f"A new digest issue {what}: {safe_text(hit.watch.label())}", 2000)


def watches_text(watches: list[Watch], *, limit_per_user: int) -> str:
    """A user's watches, one a line (for ``/watch list``)."""
    if not watches:
        return "You have no watches. Add one with `/watch topic` or `/watch paper`."
    lines = [f"**Your watches** ({len(watches)} of {limit_per_user}):"]
    lines += [f"#{w.id} · {w.kind} · {safe_text(clip(w.label(), 200))}" for w in watches]
    lines.append("Remove one with `/watch remove id`.")
    return clip("\n".join(lines), 2000)


def coverage_line(mentions: list[Citation]) -> str:
    """Which digests covered a paper already (newest first, with dates), or that none has."""
    if not mentions:
        return "No digest has covered this yet."
    seen: list[str] = []
    for m in mentions:
        item = f"{m.digest} · {m.title}" + (f" ({m.date})" if m.date else "")
        if item not in seen:
            seen.append(item)
    shown = "; ".join(seen[:5]) + (f"; and {len(seen) - 5} more" if len(seen) > 5 else "")
    return f"Already covered by: {shown}."


def paper_watch_reply(report: PaperReport, watch: Watch) -> str:
    """What ``/watch paper`` answers: the coverage so far, then what the watch will do."""
    title = report.paper.title if report.paper and report.paper.title else ""
    name = f"arXiv:{report.arxiv_id}" + (f" ({title})" if title else "")
    coverage = coverage_line(report.mentions)
    then = "I will DM you when another issue covers it" if report.mentions else "I will DM you when a digest first covers it"
    if not title:
        then += " (by its ID; by its title too once it is known)"
        if report.lookup_error:
            then += f"; {report.lookup_error}"
    return clip(f"{safe_text(coverage)}\nWatching **{safe_text(name)}** (watch #{watch.id}): {safe_text(then)}.", 2000)


def terminal_match_lines(hit: WatchHit) -> list[str]:
    """A match as the terminal prints it."""
    c = hit.citation
    head = f"watch #{hit.watch.id} {hit.watch.label()}: {c.get('digest', '')} · {c.get('title', '')} · {c.get('date') or 'undated'}"
    lines = [head]
    if c.get("section") and c.get("section") != c.get("title"):
        lines.append(f"  § {c['section']}")
    lines.append(f"  “{' '.join(str(c.get('excerpt', '')).split())}”")
    if c.get("url"):
        lines.append(f"  {c['url']}")
    return lines


def watch_summary_text(summary: WatchSummary) -> str:
    """The ``/sources`` line about watches: counts only, nobody's topics."""
    if not summary.active:
        return "No active watches (`/watch topic` or `/watch paper` sends a DM when a new issue covers it)."
    people = "person" if summary.users == 1 else "people"
    parts = [f"{summary.active} active ({summary.users} {people})", f"{summary.waiting} DM{'s' if summary.waiting != 1 else ''} waiting"]
    if summary.refused:
        parts.append(f"{summary.refused} not sent (DMs closed)")
    if summary.failed:
        parts.append(f"{summary.failed} given up after failures")
    return " · ".join(parts)
