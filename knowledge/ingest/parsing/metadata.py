"""Metadata found in digest text: dates, canonical URLs and digest names."""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for m in names
}

_KOREAN_DATE = re.compile(r"(\d{4})\s*년\s*(\d{1,2})\s*월\s*(\d{1,2})\s*일")
_ISO_DATE = re.compile(r"(?<!\d)(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)")
_ISO_MONTH = re.compile(r"(?<!\d)(\d{4})-(\d{1,2})(?!\d)(?!-\d)")
_YYMMDD = re.compile(r"^(\d{2})(\d{2})(\d{2})(?=\s|_|-|$)")
_NAMED_DATE = re.compile(
    r"\b(\d{1,2})?\s*(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+(\d{1,2})?,?\s*(\d{4})\b",
    re.IGNORECASE,
)
_MONTH_YEAR = re.compile(
    r"\b(january|february|march|april|may|june|july|august|september|october|november|december)\s+(\d{4})\b",
    re.IGNORECASE,
)
SOURCE_LINE = re.compile(r"^\s*source:?\s+(https?://\S+)\s*$", re.IGNORECASE)
_URL = re.compile(r"https?://[^\s<>\"')\]]+")

# Publications we know by domain; anything else gets its digest name from the folder.
KNOWN_DIGESTS: dict[str, str] = {
    "magazine.sebastianraschka.com": "Ahead of AI",
    "sebastianraschka.substack.com": "Ahead of AI",
    "dblalock.substack.com": "Davis Summarizes Papers",
    "davisblalock.substack.com": "Davis Summarizes Papers",
}


def _valid(y: int, m: int, d: int) -> str | None:
    try:
        return date(y, m, d).isoformat()
    except ValueError:
        return None


def find_date(text: str) -> str:
    """Find the first date in ``text`` and return it as ISO (YYYY-MM-DD), or "".

    Understands ``2023-5-28``, ``2023/05/28``, the Korean ``2024년 2월 29일``,
    ``May 28, 2023`` and ``28 May 2023``.
    """
    candidates: list[tuple[int, str]] = []
    if (m := _KOREAN_DATE.search(text)) and (iso := _valid(int(m[1]), int(m[2]), int(m[3]))):
        candidates.append((m.start(), iso))
    if (m := _ISO_DATE.search(text)) and (iso := _valid(int(m[1]), int(m[2]), int(m[3]))):
        candidates.append((m.start(), iso))
    if m := _NAMED_DATE.search(text):
        day = m[1] or m[3]
        if day and (iso := _valid(int(m[4]), _MONTHS[m[2].lower()], int(day))):
            candidates.append((m.start(), iso))
    return min(candidates)[1] if candidates else ""


def find_month(text: str) -> str:
    """Find a month-precision date ("2023-10", "October 2023") and return ``YYYY-MM``, or ""."""
    if (m := _ISO_MONTH.search(text)) and 1 <= int(m[2]) <= 12:
        return f"{int(m[1]):04d}-{int(m[2]):02d}"
    if m := _MONTH_YEAR.search(text):
        return f"{int(m[2]):04d}-{_MONTHS[m[1].lower()]:02d}"
    return ""


def date_from_filename(stem: str) -> str:
    """Date from a file name: ``2023-05-28-...``, ``2023-10-...`` or the vault's ``230926 Title``."""
    if iso := find_date(stem):
        return iso
    if (m := _YYMMDD.match(stem)) and (iso := _valid(2000 + int(m[1]), int(m[2]), int(m[3]))):
        return iso
    return find_month(stem)


def find_urls(text: str) -> list[str]:
    """Every http(s) URL in the text, in order, trailing punctuation removed."""
    return [u.rstrip(".,;:") for u in _URL.findall(text)]


# Query parameters that only track where a click came from; every other parameter is kept
# ("?p=2" and "?p=3" are different posts). Deliberately short: generic names such as
# "source" or "r" can carry meaning on some sites, so they stay.
TRACKING_PARAMS = frozenset(
    ["fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid", "_hsenc", "_hsmi", "mkt_tok", "ref", "ref_src", "ref_url"]
)
TRACKING_PREFIXES = ("utm_",)


def is_tracking_param(name: str) -> bool:
    """Whether a query parameter is a well-known click-tracking one (``utm_*``, ``fbclid``, ...)."""
    key = name.lower()
    return key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES)


def canonical_url(url: str) -> str:
    """Normalise a URL for identity.

    https, lowercase host without ``www.``, no fragment or trailing slash; the query is
    kept with its parameters sorted, minus click-tracking ones (:func:`is_tracking_param`).
    """
    parts = urlsplit(url.strip())
    host = parts.netloc.lower()
    if host.startswith("www."):
        host = host[4:]
    path = parts.path.rstrip("/") or ""
    params = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not is_tracking_param(k)]
    return urlunsplit(("https", host, path, urlencode(sorted(params)), ""))


def digest_for_url(url: str) -> str | None:
    """The digest name of a known publication domain, or None."""
    host = urlsplit(url).netloc.lower().removeprefix("www.")
    return KNOWN_DIGESTS.get(host)
