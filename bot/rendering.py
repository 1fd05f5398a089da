"""Plain-text rendering shared by the terminal (CLI, chat) and Discord messages."""

from __future__ import annotations

from knowledge.answers import citation_line
from knowledge.models import Citation, IssueSummary, PaperReport, Stats

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
            lines.append("This paper is not in the index, and arXiv could not be asked." if report.lookup_error else "No paper with this ID is known here or on arXiv.")
    if report.lookup_error:
        lines.append(f"(note: {report.lookup_error}; showing what is known locally)")
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
