"""How soon the digests covered a paper: the first dated mention and the days since its arXiv v1.

The v1 date is the arXiv API's published date when known, else the month an arXiv ID
encodes: new-style ``2305.14314`` was submitted in 2023-05, old-style ``cs/0112017`` in
2001-12. Counted from the month's first day, the days are an upper bound. Dates in the
archive may be days (``2023-05-28``) or months (``2023-10``); no I/O here.
"""

from __future__ import annotations

import re
from datetime import date

from knowledge.models import Citation, Coverage, Paper

_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_NEW_ID = re.compile(r"^(\d{2})(\d{2})\.\d{4,5}$")
_OLD_ID = re.compile(r"^[a-z\-]+(?:\.[A-Z]{2})?/(\d{2})(\d{2})\d{3}$")


def as_day(text: str) -> date | None:
    """``YYYY-MM-DD`` as a date; None for anything else (a month, empty, invalid)."""
    m = _DAY.match((text or "").strip())
    if not m:
        return None
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def as_month(text: str) -> tuple[int, int] | None:
    """``YYYY-MM`` (or the month of ``YYYY-MM-DD``) as ``(year, month)``; None otherwise."""
    text = (text or "").strip()
    if as_day(text) is not None:
        text = text[:7]
    m = _MONTH.match(text)
    if not m or not 1 <= int(m[2]) <= 12:
        return None
    return int(m[1]), int(m[2])


def id_month(arxiv_id: str) -> tuple[int, int] | None:
    """The year and month an arXiv ID was issued in: ``2305.14314`` -> (2023, 5), ``cs/0112017`` -> (2001, 12).

    New-style IDs began in April 2007 (``0704.0001``), so their two-digit year is 20yy; old-style
    IDs ran from 1991 to March 2007, so 91-99 are 19yy and 00-07 are 20yy.
    """
    m = _NEW_ID.match(arxiv_id or "")
    if m:
        year = 2000 + int(m[1])
    else:
        m = _OLD_ID.match(arxiv_id or "")
        if not m:
            return None
        yy = int(m[1])
        year = 1900 + yy if yy >= 91 else 2000 + yy
    month = int(m[2])
    return (year, month) if 1 <= month <= 12 else None


def v1_date(arxiv_id: str, paper: Paper | None) -> tuple[str, str, date | None]:
    """``(v1 date as shown, basis, the day counted from)``: the API's date, else the ID's month, else unknown."""
    published = as_day(paper.published) if paper else None
    if published is not None:
        return published.isoformat(), "api", published
    month = id_month(arxiv_id)
    if month is not None:
        return f"{month[0]:04d}-{month[1]:02d}", "id-month", date(month[0], month[1], 1)
    return "", "", None


def first_coverage(arxiv_id: str, paper: Paper | None, mentions: list[Citation]) -> Coverage | None:
    """The earliest dated mention and how many days after arXiv v1 it came (None without a dated mention)."""
    dated = [m for m in mentions if as_day(m.date) or as_month(m.date)]
    if not dated:
        return None
    # a month-dated issue ("2023-10") sorts before the days of its month: it may have come first
    first = min(dated, key=lambda m: (m.date, m.rank))
    shown, basis, counted_from = v1_date(arxiv_id, paper)
    day = as_day(first.date)
    days = (day - counted_from).days if day is not None and counted_from is not None else None
    link = first.url or (first.source if first.source.startswith("http") else "")
    return Coverage(digest=first.digest, title=first.title, date=first.date, url=link, v1_date=shown, v1_basis=basis,
                    days_after_v1=days)
