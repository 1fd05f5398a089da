"""Plain-text digest posts: a title line, headed sections, paragraphs.

Headings are found by shape: a short line without closing punctuation that is
followed by a longer paragraph, a title-cased line that sits between two
complete sentences (a paper title after a short paragraph), or an "Ahead of
AI"-style paper line ("Title by Author, Author (3 Oct), https://arxiv.org/abs/...").
A trailing footnote block after the last section becomes a "Footnotes" section
(see :mod:`knowledge.ingest.parsing.footnotes`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge.ingest.parsing.footnotes import FOOTNOTES_HEADING, footnote_start
from knowledge.ingest.parsing.metadata import SOURCE_LINE

# Site chrome seen on re-hosted copies of newsletter posts, matched on whole lines.
_CHROME_LINES = re.compile(
    r"^(page nav|hide|breaking news:?|latest|ads place|latest articles|share|subscribe|"
    r"subscribe now|leave a comment|comments|like|restack|paper reference|"
    r"ليست هناك تعليقات|no comments:?|newer post|older post|home)$",
    re.IGNORECASE,
)
_PROMO = re.compile(
    r"(is a reader-supported publication|consider becoming a free or paid subscriber|"
    r"subscribe to get|thanks for reading|share this post|forward this email)",
    re.IGNORECASE,
)
_BULLET = re.compile(r"^\s*(?:[•\-*–·▪●]|\d{1,2}[.)])\s+")
_PAPER_LINE = re.compile(
    r"^(?P<title>.{8,300}?)\s+by\s+(?P<authors>[A-Z][^()]{1,200}?)\s*"
    r"\((?P<when>\d{1,2}\s+\w{3,9})\)[,.]?\s*(?P<url>https?://\S+)?\s*$"
)
_CAPTION = re.compile(r"^(annotated (figure|table)|figure|fig\.|table|source:|image:)", re.IGNORECASE)
_URL_IN = re.compile(r"https?://")
_TERMINAL = re.compile(r"[.,;:!]$|[.!]\W$")
# A line that ends a sentence: closing punctuation, perhaps inside a quote or bracket
# (not a colon: "... stood out to me:" leads into what follows).
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]?$")
_SENTENCE_START = re.compile(r"^[\"'“‘(]?[^\W\d_]")
# Title-cased lines between two sentences are headings from this share of capitalised words.
_TITLE_RATIO_BETWEEN_SENTENCES = 0.7


@dataclass(slots=True)
class RawSection:
    """A heading and the paragraphs under it, before IDs are extracted."""

    heading: str
    paragraphs: list[str]


def strip_chrome(lines: list[str]) -> tuple[list[str], str]:
    """Drop site chrome and promotional lines; return the kept lines and a `source <url>` if any.

    Everything after a ``source <url>`` line is treated as page footer.
    """
    kept: list[str] = []
    source_url = ""
    for line in lines:
        m = SOURCE_LINE.match(line)
        if m:
            source_url = m.group(1)
            break
        if _CHROME_LINES.match(line.strip()) or _PROMO.search(line):
            continue
        kept.append(line)
    return kept, source_url


def _title_case_ratio(line: str) -> float:
    words = [w for w in re.findall(r"[^\W_][\w'’-]*", line) if len(w) >= 4]
    if not words:
        return 1.0
    upper = sum(1 for w in words if w[0].isupper() or w[0].isdigit())
    return upper / len(words)


def paper_line_title(line: str) -> str | None:
    """The paper title of an "Title by Authors (3 Oct), URL" line, or None."""
    m = _PAPER_LINE.match(line.strip())
    return m.group("title").strip() if m else None


def is_heading(line: str, next_line: str | None, prev_line: str | None = None) -> bool:
    """Whether ``line`` looks like a section heading, given the lines around it.

    Args:
        line: The candidate line.
        next_line: The non-empty line after it (None at the end of the text).
        prev_line: The non-empty line before it (None at the start), which lets a
            title-cased line that follows a short paragraph count as a heading.
    """
    text = line.strip()
    if not text or len(text) > 160 or _BULLET.match(line) or _CAPTION.match(text):
        return False
    if not any(c.isalnum() for c in text):
        return False
    if _URL_IN.search(text) or _TERMINAL.search(text):
        return False
    words = text.split()
    if len(words) > 20:
        return False
    if next_line is None:
        return False
    nxt = next_line.strip()
    if nxt.lower().startswith("by ") or paper_line_title(nxt):
        return True
    if len(nxt) <= len(text) and not _BULLET.match(next_line):
        return _between_sentences(text, nxt, prev_line)
    return len(words) <= 6 or _title_case_ratio(text) >= 0.5


def _between_sentences(text: str, nxt: str, prev_line: str | None) -> bool:
    """A title-cased line after a finished sentence and before a new one (a paper title)."""
    if len(text.split()) < 3 or _title_case_ratio(text) < _TITLE_RATIO_BETWEEN_SENTENCES:
        return False
    if prev_line is not None and not _SENTENCE_END.search(prev_line.strip()):
        return False
    if not (_SENTENCE_START.match(nxt) and _SENTENCE_END.search(nxt)):
        return False
    return _title_case_ratio(nxt) < _TITLE_RATIO_BETWEEN_SENTENCES


def split_sections(lines: list[str]) -> list[RawSection]:
    """Group non-empty lines into sections under detected headings.

    A trailing footnote block after the last section goes to its own "Footnotes" section.
    """
    body = [ln.strip() for ln in lines if ln.strip()]
    heads = _heading_flags(body)
    start, skip = footnote_start(body, heads)
    sections: list[RawSection] = [RawSection("", [])]
    for line, head in zip(body[:start], heads[:start], strict=True):
        if head is None:
            sections[-1].paragraphs.append(_BULLET.sub("• ", line, count=1))
        else:
            sections.append(RawSection(head, [line] if head != line else []))
    notes = body[start + skip :]
    if notes:
        sections.append(RawSection(FOOTNOTES_HEADING, notes))
    return [s for s in sections if s.paragraphs]


def _heading_flags(body: list[str]) -> list[str | None]:
    """Per line: the section heading it starts (itself, or a paper line's title), else None."""
    flags: list[str | None] = []
    for i, line in enumerate(body):
        nxt = body[i + 1] if i + 1 < len(body) else None
        prev = body[i - 1] if i else None
        title = paper_line_title(line)
        if title:
            flags.append(title)
        elif is_heading(line, nxt, prev):
            flags.append(line)
        else:
            flags.append(None)
    return flags


def drop_teaser(lines: list[str]) -> list[str]:
    """Drop a truncated teaser line ("... intere...") that repeats the start of the next paragraph."""
    out: list[str] = []
    body = [ln for ln in lines if ln.strip()]
    for i, line in enumerate(body):
        text = line.strip()
        if text.endswith(("...", "…")) and i + 1 < len(body):
            stem = text.rstrip(".…").strip()
            if stem and body[i + 1].strip().startswith(stem[: max(20, len(stem) - 5)]):
                continue
        out.append(line)
    return out
