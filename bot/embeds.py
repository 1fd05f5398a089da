"""Discord embeds for answers, paper cards, issue lists and announcements, within Discord's limits."""

from __future__ import annotations

import discord

from bot.rendering import authors_line, trim
from knowledge.answers import bold
from knowledge.models import Answer, Citation, IssueSummary, PaperReport

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits)
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FIELDS_MAX = 25
FOOTER_MAX = 2048
AUTHOR_MAX = 256
EMBED_TOTAL_MAX = 6000
CONTENT_MAX = 2000

COLOUR_FOUND = discord.Colour.blurple()
COLOUR_WEAK = discord.Colour.light_grey()
NO_MENTIONS = discord.AllowedMentions.none()


def clip(text: str, limit: int) -> str:
    """Cut text to ``limit`` characters with an ellipsis."""
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def embed_size(embed: discord.Embed) -> int:
    """Characters that count towards Discord's 6000 total."""
    return len(embed)


def _citation_block(c: Citation, budget: int) -> str:
    link = c.url or (c.source if c.source.startswith("http") else "")
    title = clip(c.title, 90)
    head = f"**{c.rank}.** {c.digest}" + (f" · [{title}]({link})" if link else f" · *{title}*") + (f" · {c.date}" if c.date else "")
    if c.section and c.section != c.title:
        head += f"\n§ {clip(c.section, 120)}"
    quote = "> " + bold(clip(c.excerpt, max(80, budget - len(head) - 10)), c.highlights).replace("\n", " ")
    return f"{head}\n{quote}"


def lead_line(answer: Answer) -> str:
    """The first line of an answer's text."""
    return answer.answer.splitlines()[0] if answer.answer else ""


def answer_embed(answer: Answer, *, asked_by: str | None = None) -> discord.Embed:
    """An answer as one embed: the question as title, a lead line, numbered cited excerpts."""
    embed = discord.Embed(
        title=clip(answer.question or "Question", TITLE_MAX),
        colour=COLOUR_FOUND if answer.found else COLOUR_WEAK,
    )
    parts = [clip(lead_line(answer), 400)]
    per = max(300, (DESCRIPTION_MAX - 500) // max(1, len(answer.citations)))
    for c in answer.citations:
        block = _citation_block(c, min(per, 900))
        if sum(len(p) + 2 for p in parts) + len(block) > DESCRIPTION_MAX - 120:
            parts.append(f"…{len(answer.citations) - c.rank + 1} more excerpt(s) not shown.")
            break
        parts.append(block)
    embed.description = clip("\n\n".join(parts), DESCRIPTION_MAX)
    footer = f"{answer.took_ms:.0f} ms" + (f" · asked by {asked_by}" if asked_by else "") + (" · weak matches" if not answer.found and answer.citations else "")
    embed.set_footer(text=clip(footer, FOOTER_MAX))
    return fit(embed)


def more_embed(question: str, citations: list[Citation]) -> discord.Embed:
    """Further excerpts for the "more excerpts" button."""
    embed = discord.Embed(title=clip(f"More on: {question}", TITLE_MAX), colour=COLOUR_FOUND)
    blocks = [_citation_block(c, 700) for c in citations]
    embed.description = clip("\n\n".join(blocks), DESCRIPTION_MAX) if blocks else "No more excerpts."
    return fit(embed)


def paper_embed(report: PaperReport) -> discord.Embed:
    """The paper card: title, authors, date, links, abstract, then what the digests said."""
    p = report.paper
    title = (p.title if p and p.title else f"arXiv:{report.arxiv_id}")
    embed = discord.Embed(title=clip(title, TITLE_MAX), url=f"https://arxiv.org/abs/{report.arxiv_id}", colour=COLOUR_FOUND if report.found else COLOUR_WEAK)
    lines = []
    if p and p.authors:
        lines.append(clip(authors_line(p.authors), 300))
    meta = [x for x in ((p.published if p else ""), f"arXiv:{report.arxiv_id}") if x]
    lines.append(" · ".join(meta) + f" · [abs](https://arxiv.org/abs/{report.arxiv_id}) · [PDF](https://arxiv.org/pdf/{report.arxiv_id})")
    if p and p.abstract:
        lines.append("")
        lines.append(trim(p.abstract, 700))
    if not report.found:
        lines.append("This paper is not in the index, and arXiv could not be asked." if report.lookup_error else "No paper with this ID is known here or on arXiv.")
    if report.lookup_error:
        lines.append(f"\n*{clip(report.lookup_error, 300)} — showing what is known locally.*")
    embed.description = clip("\n".join(lines), DESCRIPTION_MAX)
    if report.mentions:
        for m in report.mentions[:6]:
            name = clip(f"{m.digest} · {m.date or 'undated'}", FIELD_NAME_MAX)
            link = m.url or (m.source if m.source.startswith("http") else "")
            value = f"> {clip(m.excerpt, 600)}\n" + (f"[{clip(m.title, 80)}]({link})" if link else f"*{clip(m.title, 80)}*")
            if m.section and m.section != m.title:
                value += f" · § {clip(m.section, 80)}"
            embed.add_field(name=name, value=clip(value, FIELD_VALUE_MAX), inline=False)
        if len(report.mentions) > 6:
            embed.set_footer(text=f"{len(report.mentions) - 6} more mention(s) not shown")
    else:
        embed.add_field(name="What the digests said", value="No digest in the archive mentions this paper yet.", inline=False)
    if p:
        embed.set_footer(text=clip(f"metadata: {p.metadata_source}" + (f" · {embed.footer.text}" if embed.footer and embed.footer.text else ""), FOOTER_MAX))
    return fit(embed)


def issues_embed(title: str, issues: list[IssueSummary]) -> discord.Embed:
    """A list of digest issues with links."""
    embed = discord.Embed(title=clip(title, TITLE_MAX), colour=COLOUR_FOUND)
    if not issues:
        embed.description = "No digest issues are indexed yet."
        return embed
    lines = []
    for i in issues:
        name = clip(i.title, 150)
        lines.append(f"• **{i.digest}** · {i.date or 'undated'} · " + (f"[{name}]({i.url})" if i.url else name))
    embed.description = clip("\n".join(lines), DESCRIPTION_MAX)
    return fit(embed)


def fit(embed: discord.Embed) -> discord.Embed:
    """Enforce the 6000-character total and the 25-field cap (dropping the last fields first)."""
    while len(embed.fields) > FIELDS_MAX:
        embed.remove_field(-1)
    while len(embed) > EMBED_TOTAL_MAX and embed.fields:
        embed.remove_field(-1)
    if len(embed) > EMBED_TOTAL_MAX and embed.description:
        excess = len(embed) - EMBED_TOTAL_MAX
        embed.description = clip(embed.description, max(1, len(embed.description) - excess - 1))
    return embed
