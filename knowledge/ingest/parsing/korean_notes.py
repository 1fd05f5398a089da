"""Korean daily paper notes.

A page starts with a date line (``2024년 2월 29일``); then each item is a title
line, an optional ``(authors)`` line, optional links, the English abstract, the
Korean commentary, and a closing ``#tag #tag`` line.
"""

from __future__ import annotations

import re

from knowledge.ingest.parsing.plaintext import RawSection

KOREAN_DATE_LINE = re.compile(r"^\s*\d{4}\s*년\s*\d{1,2}\s*월\s*\d{1,2}\s*일\s*$")
_TAG_LINE = re.compile(r"^\s*(#[^\s#]+\s*)+$")


def looks_like_korean_notes(lines: list[str]) -> bool:
    """Whether the text starts with a Korean date line."""
    first = next((ln for ln in lines if ln.strip()), "")
    return bool(KOREAN_DATE_LINE.match(first))


def split_items(lines: list[str]) -> list[RawSection]:
    """One section per paper item; the item's ``#tags`` line closes it and is kept as text."""
    body = [ln.strip() for ln in lines if ln.strip()]
    if body and KOREAN_DATE_LINE.match(body[0]):
        body = body[1:]
    sections: list[RawSection] = []
    current: list[str] = []
    for line in body:
        current.append(line)
        if _TAG_LINE.match(line):
            sections.append(_item(current))
            current = []
    if current:
        sections.append(_item(current))
    return [s for s in sections if s.paragraphs]


def _item(lines: list[str]) -> RawSection:
    heading, rest = lines[0], lines[1:]
    if _TAG_LINE.match(heading):
        return RawSection("", [heading])
    return RawSection(heading, rest or [heading])
