"""Discord embeds for answers, paper cards, issue lists and announcements, within Discord's limits.

Everything shown here that comes from third parties (feeds, posts, the archive, arXiv) goes
through :func:`safe_text`: Markdown and mentions escaped with discord.py's own utilities,
bidirectional-override characters removed. Links go through :func:`safe_url` (http(s) only).
The bot's own formatting (bold matched terms, masked links it builds) is added afterwards.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

import discord

from bot.rendering import answer_text, authors_line, coverage_line, trim, unknown_paper_line
from knowledge import Answer, Citation, IssueSummary, PaperReport

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
#: Digests shown side by side on a paper card (two rows of three inline fields).
PAPER_DIGESTS_MAX = 6

COLOUR_FOUND = discord.Colour.blurple()
COLOUR_WEAK = discord.Colour.light_grey()
NO_MENTIONS = discord.AllowedMentions.none()


#: Bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069): they can make
#: text read differently from what it is ("Trojan Source"), so third-party text never carries them.
BIDI_CONTROLS = frozenset([*map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A))])
_BIDI_TABLE = dict.fromkeys(map(ord, BIDI_CONTROLS))
_UNESCAPED_MARKUP = re.compile(r"(?<!\\)([*_~|`\[\]])")
_URL = re.compile(r"(https?://[^\s<>]+)")
_LINE_START = re.compile(r"^(\s*)(>|#{1,3}\s|-#\s)", re.MULTILINE)


def strip_bidi(text: str) -> str:
    """``text`` without bidirectional control characters."""
    return (text or "").translate(_BIDI_TABLE)


def safe_text(text: str) -> str:
    """Third-party text made inert for Discord: no Markdown, no mentions, no bidi controls.

    Masked links (``[x](http://evil)``), spoilers, bold/italics and code render as the
    characters they are; ``@everyone``/``@here`` and user/role mentions are broken with a
    zero-width space (``allowed_mentions`` none stops the pings too, this stops the look).
    """
    return discord.utils.escape_mentions(_escape_rest(discord.utils.escape_markdown(strip_bidi(text))))


def safe_title(text: str) -> str:
    """Third-party text for an embed title, author or field name (no mentions render there)."""
    return _escape_rest(discord.utils.escape_markdown(strip_bidi(text)))


def _escape_rest(text: str) -> str:
    """Escape what ``escape_markdown`` left: it treats ``[a](b) … )`` as one greedy link match and
    escapes only its first bracket, so spoilers and emphasis inside stayed live. URLs are kept as they are.
    """
    parts = _URL.split(text)
    for i in range(0, len(parts), 2):  # even indexes: text between URLs
        parts[i] = _UNESCAPED_MARKUP.sub(r"\\\1", parts[i])
    return _LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), "".join(parts))


def safe_url(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) URL fit for an embed or a Markdown link, else None.

    Characters that would end a Markdown link or break Discord's URL parsing are percent-encoded.
    """
    url = strip_bidi((url or "").strip())
    if not url or any(ch.isspace() or ord(ch) < 32 for ch in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return quote(url, safe=":/?#@!$&'*+,;=%-._~")


def highlight(text: str, terms: list[str]) -> str:
    """Escape third-party ``text`` with :func:`safe_text` and put the first match of each term in bold."""
    spans = _term_spans(text, terms)
    out, pos = [], 0
    for start, end in spans:
        out.append(safe_text(text[pos:start]))
        out.append(f"**{safe_text(text[start:end])}**")
        pos = end
    out.append(safe_text(text[pos:]))
    return "".join(out)


def _term_spans(text: str, terms: list[str]) -> list[tuple[int, int]]:
    """Non-overlapping spans of the first match of each term (longest terms first), in order."""
    spans: list[tuple[int, int]] = []
    for term in sorted({t for t in terms if t and t.strip()}, key=len, reverse=True):
        # never right after "@", "&" or "#": bold must not split a mention it would otherwise escape
        pattern = rf"(?<![\w@&#]){re.escape(term)}(?!\w)" if term.isascii() else rf"(?<![@&#]){re.escape(term)}"
        for m in re.finditer(pattern, text, flags=re.IGNORECASE):
            if all(m.end() <= a or m.start() >= b for a, b in spans):
                spans.append((m.start(), m.end()))
                break
    return sorted(spans)


def masked_link(label: str, url: str | None) -> str:
    """``[label](url)`` with the label escaped, or the escaped label in italics when the URL is unsafe."""
    link = safe_url(url)
    return f"[{safe_text(label)}]({link})" if link else f"*{safe_text(label)}*"


def clip(text: str, limit: int) -> str:
    """Cut text to ``limit`` characters with an ellipsis."""
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def embed_size(embed: discord.Embed) -> int:
    """Characters that count towards Discord's 6000 total."""
    return len(embed)


def _citation_block(c: Citation, budget: int) -> str:
    link = c.url or (c.source if c.source.startswith("http") else "")
    head = f"**{c.rank}.** {safe_text(c.digest)} · {masked_link(clip(c.title, 90), link)}" + (f" · {safe_text(c.date)}" if c.date else "")
    if c.section and c.section != c.title:
        head += f"\n§ {safe_text(clip(c.section, 120))}"
    excerpt = " ".join(clip(c.excerpt, max(80, budget - len(head) - 10)).split())
    return f"{head}\n> {highlight(excerpt, c.highlights)}"


def lead_line(answer: Answer) -> str:
    """The first line of an answer's text."""
    return answer_text(answer).splitlines()[0]


def answer_embed(answer: Answer, *, asked_by: str | None = None) -> discord.Embed:
    """An answer as one embed: the question as title, a lead line, numbered cited excerpts."""
    embed = discord.Embed(
        title=clip(safe_title(answer.question) or "Question", TITLE_MAX),
        colour=COLOUR_FOUND if answer.found else COLOUR_WEAK,
    )
    parts = [safe_text(clip(lead_line(answer), 400))]
    per = max(300, (DESCRIPTION_MAX - 500) // max(1, len(answer.citations)))
    for c in answer.citations:
        block = _citation_block(c, min(per, 900))
        if sum(len(p) + 2 for p in parts) + len(block) > DESCRIPTION_MAX - 120:
            parts.append(f"…{len(answer.citations) - c.rank + 1} more excerpt(s) not shown.")
            break
        parts.append(block)
    embed.description = clip("\n\n".join(parts), DESCRIPTION_MAX)
    footer = f"{answer.took_ms:.0f} ms" + (f" · asked by {strip_bidi(asked_by)}" if asked_by else "") + (" · weak matches" if not answer.found and answer.citations else "")
    embed.set_footer(text=clip(footer, FOOTER_MAX))
    return fit(embed)


def more_embed(question: str, citations: list[Citation]) -> discord.Embed:
    """Further excerpts for the "more excerpts" button."""
    embed = discord.Embed(title=clip(f"More on: {safe_title(question)}", TITLE_MAX), colour=COLOUR_FOUND)
    blocks = [_citation_block(c, 700) for c in citations]
    embed.description = clip("\n\n".join(blocks), DESCRIPTION_MAX) if blocks else "No more excerpts."
    return fit(embed)


def paper_embed(report: PaperReport) -> discord.Embed:
    """The paper card: title, authors, date, links, abstract, then what the digests said."""
    p = report.paper
    title = safe_title(p.title if p and p.title else f"arXiv:{report.arxiv_id}")
    embed = discord.Embed(title=clip(title, TITLE_MAX), url=safe_url(f"https://arxiv.org/abs/{report.arxiv_id}"), colour=COLOUR_FOUND if report.found else COLOUR_WEAK)
    lines = []
    if p and p.authors:
        lines.append(safe_text(clip(authors_line(p.authors), 300)))
    meta = [safe_text(x) for x in ((p.published if p else ""), f"arXiv:{report.arxiv_id}") if x]
    lines.append(" · ".join(meta) + f" · [abs](https://arxiv.org/abs/{report.arxiv_id}) · [PDF](https://arxiv.org/pdf/{report.arxiv_id})")
    if p and p.abstract:
        lines.append("")
        lines.append(safe_text(trim(p.abstract, 700)))
    if not report.found:
        lines.append(safe_text(clip(unknown_paper_line(report), 400)))
    elif report.lookup_error:
        lines.append(f"\n*{safe_text(clip(report.lookup_error, 300))} — showing what is known locally.*")
    if report.coverage is not None:
        lines.append("\n**First covered:** " + safe_text(clip(coverage_line(report).removeprefix("First covered: "), 300)))
    embed.description = clip("\n".join(lines), DESCRIPTION_MAX)
    if report.mentions:
        # each digest's take side by side: one inline field per digest, its first mention
        by_digest = list(report.by_digest().items())
        for digest, mentions in by_digest[:PAPER_DIGESTS_MAX]:
            m = mentions[0]
            name = clip(safe_title(f"{digest} · {m.date or 'undated'}"), FIELD_NAME_MAX)
            link = m.url or (m.source if m.source.startswith("http") else "")
            excerpt = " ".join(clip(m.excerpt, 400).split())
            value = f"> {highlight(excerpt, m.highlights)}\n" + masked_link(clip(m.title, 80), link)
            if m.section and m.section != m.title:
                value += f" · § {safe_text(clip(m.section, 80))}"
            if len(mentions) > 1:
                value += f"\n+{len(mentions) - 1} more mention{'s' if len(mentions) > 2 else ''} in this digest"
            embed.add_field(name=name, value=clip(value, FIELD_VALUE_MAX), inline=True)
        hidden = len(report.mentions) - len(by_digest[:PAPER_DIGESTS_MAX])
        if hidden:
            embed.set_footer(text=f"{hidden} more mention(s) not shown")
    else:
        embed.add_field(name="What the digests said", value="No digest in the archive mentions this paper yet.", inline=False)
    if p:
        embed.set_footer(text=clip(f"metadata: {p.metadata_source}" + (f" · {embed.footer.text}" if embed.footer and embed.footer.text else ""), FOOTER_MAX))
    return fit(embed)


def issues_embed(title: str, issues: list[IssueSummary]) -> discord.Embed:
    """A list of digest issues with links."""
    embed = discord.Embed(title=clip(safe_title(title), TITLE_MAX), colour=COLOUR_FOUND)
    if not issues:
        embed.description = "No digest issues are indexed yet."
        return embed
    lines = []
    for i in issues:
        name = clip(i.title, 150)
        lines.append(f"• **{safe_text(i.digest)}** · {safe_text(i.date or 'undated')} · " + (masked_link(name, i.url) if safe_url(i.url) else safe_text(name)))
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
