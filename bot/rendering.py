"""Plain-text rendering shared by the terminal (CLI, chat) and Discord messages.

Answers come from the knowledge layer as data; the text a user reads is made here.
"""

from __future__ import annotations

import re

from knowledge import Answer, Citation, IssueSummary, PaperReport, Stats, shared_papers

MAX_AUTHORS = 4
ABSTRACT_CHARS = 600


def authors_line(authors: list[str]) -> str:
    """"A, B, C, D et al." for long author lists."""
    if not authors:
        return ""
    shown = ", ".join(authors[:MAX_AUTHORS])
    return shown + (" et al." if len(authors) > MAX_AUTHORS else "")


def trim(text: str, limit: int) -> str:
    """Cut text at a word boundary to at most ``limit`` characters, with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:") + "…"


def mention_lines(mentions: list[Citation], limit: int | None = None) -> list[str]:
    """Numbered "what the digests said" lines."""
    lines = []
    for m in mentions[:limit]:
        lines.append(f"{m.rank}. {m.excerpt}")
        lines.append(f"   — {citation_line(m)}")
    return lines


def unknown_paper_line(report: PaperReport) -> str:
    """What a card says of a paper nobody knows: with the lookup's failure, said once."""
    if report.lookup_error:
        return f"This paper is not in the index, and arXiv could not be asked ({report.lookup_error})."
    return "No paper with this ID is known here or on arXiv."


def paper_card_text(report: PaperReport) -> str:
    """A compact card: title, authors, date, links, trimmed abstract, then the mentions."""
    p = report.paper
    lines: list[str] = []
    if p is not None:
        lines.append(p.title or f"arXiv:{report.arxiv_id}")
        if p.authors:
            lines.append(authors_line(p.authors))
        meta = [x for x in (p.published, f"arXiv:{report.arxiv_id}", f"metadata: {p.metadata_source}") if x]
        lines.append(" · ".join(meta))
        lines.append(f"<{p.abs_url}> · PDF <{p.pdf_url}>")
        if p.abstract:
            lines.append("")
            lines.append(trim(p.abstract, ABSTRACT_CHARS))
    else:
        lines.append(f"arXiv:{report.arxiv_id}")
        lines.append(f"<https://arxiv.org/abs/{report.arxiv_id}>")
        if not report.found:
            lines.append(unknown_paper_line(report))
    if report.lookup_error and report.found:
        lines.append(f"(note: {report.lookup_error}; showing what is known locally)")
    if coverage_line(report):
        lines.append(coverage_line(report))
    lines.append("")
    if report.mentions:
        digests = list(dict.fromkeys(m.digest for m in report.mentions))
        lines.append(f"What the digests said ({len(report.mentions)} mention{'s' if len(report.mentions) > 1 else ''} in {', '.join(digests)}):")
        lines.extend(mention_lines(report.mentions))
    else:
        lines.append("No digest in the archive mentions this paper yet.")
    return "\n".join(lines)


def issues_text(issues: list[IssueSummary]) -> str:
    """Latest issues, one line each."""
    if not issues:
        return "No digest issues are indexed yet."
    return "\n".join(f"• {i.digest} · {i.date or 'undated'} · {i.title}" + (f" · <{i.url}>" if i.url else "") for i in issues)


def stats_text(stats: Stats) -> str:
    """What is indexed, for /sources and the terminal."""
    lines = [f"{stats.documents} documents, {stats.chunks} chunks, {stats.papers} papers"]
    lines.extend(f"• {name}: {n}" for name, n in stats.digests.items())
    lines.append(f"model {stats.model} · {stats.store}")
    if stats.last_update:
        lines.append(f"last update {stats.last_update}")
    return "\n".join(lines)


def bold(text: str, terms: list[str]) -> str:
    """Mark terms in bold (Discord/Markdown), escaping existing asterisks."""
    text = text.replace("*", "\\*").replace("_", "\\_")
    for term in sorted(terms, key=len, reverse=True):
        escaped = term.replace("*", "\\*").replace("_", "\\_")
        text = re.sub(rf"(?<![\w*]){re.escape(escaped)}(?![\w*])" if term.isascii() else re.escape(escaped), lambda m: f"**{m.group(0)}**", text, count=1)
    return text


def citation_line(c: Citation) -> str:
    """"Digest · Issue · date · § Section · <link>" (angle brackets stop link previews)."""
    parts = [c.digest, f"*{c.title}*" if c.title else "", c.date, f"§ {c.section}" if c.section and c.section != c.title else ""]
    line = " · ".join(p for p in parts if p)
    link = c.url or (c.source if c.source.startswith("http") else "")
    return f"{line} · <{link}>" if link else f"{line} · {c.source}"


def answer_text(answer: Answer) -> str:
    """The text a user reads for an answer: the knowledge layer's own message when it set one
    (an empty or over-long question), else a lead line and the numbered, cited excerpts."""
    if answer.answer:
        return answer.answer
    return render(answer.question, answer.citations, answer.confidence)


def render(question: str, citations: list[Citation], confidence: str) -> str:
    """The answer text for a confidence of "answer", "related" or "none"."""
    short_q = question if len(question) <= 80 else question[:77] + "…"
    if not citations or confidence == "none":
        return f"I found nothing in the archive about “{short_q}”. Try other words, or ingest more digests."
    lines: list[str] = []
    digests = list(dict.fromkeys(c.digest for c in citations))
    if confidence == "answer":
        shared = {n: cs for n, cs in shared_papers(citations).items() if citations[0] in cs}  # about the top answer only
        if shared:
            name, cs = next(iter(shared.items()))
            lines.append(f"{len({c.digest for c in cs})} digests discussed **{name}**: " + ", ".join(dict.fromkeys(c.digest for c in cs)) + ".")
        else:
            where = digests[0] if len(digests) == 1 else f"{len(digests)} digests"
            lines.append(f"Here is what {where} said ({len(citations)} excerpt{'s' if len(citations) > 1 else ''}):")
    else:
        lines.append(f"Nothing in the archive clearly answers “{short_q}”. Possibly related (uncertain):")
    for c in citations:
        lines.append(f"**{c.rank}.** {bold(c.excerpt, c.highlights)}")
        lines.append(f"   — {citation_line(c)}")
    return "\n".join(lines)


def coverage_line(report: PaperReport) -> str:
    """"First covered: Digest · date · N days after arXiv v1 (API date)" ("" when no mention is dated)."""
    cov = report.coverage
    if cov is None:
        return ""
    head = f"First covered: {cov.digest} · {cov.date}"
    if cov.days_after_v1 is None:
        return head + (" (the issue is dated to the month)" if cov.date else "")
    days = cov.days_after_v1
    basis = f"API date {cov.v1_date}" if cov.v1_basis == "api" else f"ID month {cov.v1_date}"
    if days == 0:
        when = "the day of its arXiv v1"
    elif days > 0:
        when = f"{'at most ' if cov.v1_basis == 'id-month' else ''}{days} day{'s' if days != 1 else ''} after arXiv v1"
    else:
        when = f"{-days} day{'s' if days != -1 else ''} before arXiv v1"
    return f"{head} · {when} ({basis})"
