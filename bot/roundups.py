"""What a weekly roundup says: the terminal text and the Discord embed (within Discord's limits).

The roundup arrives as data (:class:`knowledge.Roundup`); every sentence in it is quoted from
an issue, and everything from the archive is escaped here before Discord sees it.
"""

from __future__ import annotations

import discord

from bot.embeds import (
    COLOUR_FOUND,
    COLOUR_WEAK,
    DESCRIPTION_MAX,
    EMBED_TOTAL_MAX,
    FIELD_NAME_MAX,
    FIELD_VALUE_MAX,
    FIELDS_MAX,
    FOOTER_MAX,
    TITLE_MAX,
    clip,
    fit,
    masked_link,
    safe_text,
    safe_title,
)
from bot.rendering import citation_line
from knowledge import Citation, Roundup, RoundupPaper

#: Room kept in an embed for the "…and N more papers" line and the footer.
RESERVE = 300


def roundup_heading(r: Roundup) -> str:
    """"Papers this week: 2024-04-05 to 2024-04-11" (of one digest, when asked for)."""
    who = f" in {r.digest}" if r.digest else ""
    return f"Papers covered{who}, {r.since} to {r.until}"


def issues_line(r: Roundup) -> str:
    """"3 issues from 3 digests, 4 papers"."""
    digests = len({i.digest for i in r.issues})
    return (f"{len(r.issues)} issue{'s' if len(r.issues) != 1 else ''} from {digests} digest{'s' if digests != 1 else ''}, "
            f"{len(r.papers)} paper{'s' if len(r.papers) != 1 else ''}")


def paper_label(p: RoundupPaper) -> str:
    """"Title · arXiv:ID · 2 digests"."""
    parts = [p.title]
    if p.arxiv_id and p.title != f"arXiv:{p.arxiv_id}":
        parts.append(f"arXiv:{p.arxiv_id}")
    if len(p.digests) > 1:
        parts.append(f"{len(p.digests)} digests")
    return " · ".join(parts)


def take_line(t: Citation, paper_title: str) -> str:
    """A take's citation: digest, issue, date, the section when it is not named for the paper, link."""
    line = citation_line(t)
    if t.section and t.section == paper_title and t.section != t.title:
        line = line.replace(f" · § {t.section}", "", 1)
    return line


def roundup_text(r: Roundup) -> str:
    """The roundup for the terminal: each paper, then each digest's quoted take with its citation."""
    lines = [roundup_heading(r)]
    if r.note:
        lines.append(f"({r.note})")
    if not r.papers:
        if r.issues:
            lines.append(f"{issues_line(r)}: none of their sections names a paper.")
        return "\n".join(lines)
    lines.append(issues_line(r))
    for n, p in enumerate(r.papers, 1):
        lines.append("")
        lines.append(f"{n}. {paper_label(p)}")
        for t in p.takes:
            lines.append(f"   > {t.excerpt}")
            lines.append(f"     — {take_line(t, p.title)}")
    return "\n".join(lines)


def _take_block(t: Citation, paper_title: str, budget: int) -> str:
    link = t.url or (t.source if t.source.startswith("http") else "")
    cite = f"— **{safe_text(t.digest)}** · {masked_link(clip(t.title, 70), link)}" + (f" · {safe_text(t.date)}" if t.date else "")
    if t.section and t.section != paper_title:
        cite += f" · § {safe_text(clip(t.section, 60))}"
    excerpt = safe_text(clip(" ".join(t.excerpt.split()), max(60, budget - len(cite) - 4)))
    return f"> {excerpt}\n{cite}"


def paper_field(p: RoundupPaper) -> tuple[str, str]:
    """One paper as an embed field: its name, and each take quoted with a citation line."""
    name = clip(safe_title(paper_label(p)), FIELD_NAME_MAX)
    per = (FIELD_VALUE_MAX - 40) // max(1, min(len(p.takes), 4))
    blocks: list[str] = []
    for i, t in enumerate(p.takes):
        block = _take_block(t, p.title, min(per, 420))
        if sum(len(b) + 1 for b in blocks) + len(block) > FIELD_VALUE_MAX - 40:
            blocks.append(f"…and {len(p.takes) - i} more take(s)")
            break
        blocks.append(block)
    return name, clip("\n".join(blocks), FIELD_VALUE_MAX)


def roundup_embed(r: Roundup, *, nonce: str | None = None) -> discord.Embed:
    """The roundup as one embed: a field per paper (more digests first), "…and N more papers" when full.

    Args:
        r: The roundup.
        nonce: A scheduled post's nonce, shown in the footer (a restart finds the message by it).
    """
    embed = discord.Embed(title=clip(safe_title(roundup_heading(r)), TITLE_MAX), colour=COLOUR_FOUND if r.papers else COLOUR_WEAK)
    lines = []
    if r.note:
        lines.append(f"*{safe_text(clip(r.note, 400))}*")
    if r.papers:
        lines.append(safe_text(issues_line(r)) + ". Every line quoted is the digest's own words.")
    elif r.issues:
        lines.append(safe_text(issues_line(r)) + ": none of their sections names a paper.")
    embed.description = clip("\n".join(lines), DESCRIPTION_MAX) or None
    shown = 0
    for p in r.papers:
        name, value = paper_field(p)
        if len(embed.fields) >= FIELDS_MAX - 1 or len(embed) + len(name) + len(value) > EMBED_TOTAL_MAX - RESERVE:
            break
        embed.add_field(name=name, value=value, inline=False)
        shown += 1
    footer = []
    if shown < len(r.papers):
        footer.append(f"…and {len(r.papers) - shown} more paper{'s' if len(r.papers) - shown != 1 else ''}")
    if nonce:
        footer.append(f"weekly roundup · {nonce}")
    if footer:
        embed.set_footer(text=clip(" · ".join(footer), FOOTER_MAX))
    return fit(embed)
