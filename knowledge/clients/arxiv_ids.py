"""arXiv identifiers: parse any pasted form, and find the IDs a text mentions. No I/O."""

from __future__ import annotations

import re
import unicodedata

# Archives that used old-style identifiers (archive[.SUBJ]/YYMMNNN), before April 2007.
OLD_ARCHIVES = frozenset(
    ["acc-phys", "adap-org", "alg-geom", "ao-sci", "astro-ph", "atom-ph", "bayes-an", "chao-dyn", "chem-ph", "cmp-lg", "comp-gas", "cond-mat", "cs", "dg-ga", "funct-an", "gr-qc", "hep-ex", "hep-lat", "hep-ph", "hep-th", "math", "math-ph", "mtrl-th", "nlin", "nucl-ex", "nucl-th", "patt-sol", "physics", "plasm-ph", "q-alg", "q-bio", "q-fin", "quant-ph", "solv-int", "stat", "supr-con"]
)
_NEW = r"(?P<new>(?P<yy>\d{2})(?P<mm>\d{2})\.(?P<num>\d{4,5}))(?:v\d+)?"
_OLD = r"(?P<old>(?P<arch>[a-z]+(?:-[a-z]+)?)(?:\.(?P<subj>[A-Z]{2}))?/(?P<oyy>\d{2})(?P<omm>\d{2})(?P<onum>\d{3}))(?:v\d+)?"
_URL = re.compile(r"^(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html|format)/(?P<rest>.+?)(?:\.pdf)?/?$", re.IGNORECASE)
_PREFIX = re.compile(r"^arxiv\s*:\s*", re.IGNORECASE)
_NEW_FULL = re.compile(rf"^{_NEW}$")
_OLD_FULL = re.compile(rf"^{_OLD}$")
_STRIP = " \t\r\n\"'`<>()[]{}.,;:!?"
MAX_INPUT = 500

_FIND_URL = re.compile(r"arxiv\.org/(?:abs|pdf|html)/+(?P<rest>(?:[a-z\-]+(?:\.[A-Z]{2})?/\d{7}|\d{4}\.\d{4,5})(?:v\d+)?)", re.IGNORECASE)
_FIND_PREFIXED = re.compile(r"arxiv\s*:\s*(?P<rest>(?:[a-z\-]+(?:\.[A-Z]{2})?/\d{7}|\d{4}\.\d{4,5})(?:v\d+)?)", re.IGNORECASE)
_FIND_BARE = re.compile(r"(?<![\w./-])(?P<rest>\d{4}\.\d{4,5})(?:v\d+)?(?![\w/-]|\.\d)")


# Arabic decimal separator, which an Arabic-Indic ID may use for its dot.
_ARABIC_DECIMAL_SEPARATOR = "\u066b"
_FULLWIDTH_FIRST, _FULLWIDTH_LAST, _FULLWIDTH_OFFSET = 0xFF01, 0xFF5E, 0xFEE0


def ascii_digits(text: str) -> str:
    """Map Unicode decimal digits (``２``, ``٤``, ``४``) and full-width ASCII forms to ASCII.

    This is the part of NFKC that matters for IDs, done character by character so the
    text keeps its length and superscripts (footnote marks such as ``¹``) are not
    turned into digits that would run into a neighbouring ID.
    """
    if text.isascii():
        return text
    return "".join(_ascii_char(c) for c in text)


def _ascii_char(c: str) -> str:
    if c.isascii():
        return c
    if unicodedata.category(c) == "Nd":
        return str(unicodedata.decimal(c))
    if _FULLWIDTH_FIRST <= ord(c) <= _FULLWIDTH_LAST:
        return chr(ord(c) - _FULLWIDTH_OFFSET)
    if c == _ARABIC_DECIMAL_SEPARATOR:
        return "."
    return c


class InvalidArxivId(ValueError):
    """The text is not an arXiv identifier."""


def _valid_new(m: re.Match[str]) -> str | None:
    yy, mm, num = int(m["yy"]), int(m["mm"]), m["num"]
    if not 1 <= mm <= 12:
        return None
    # four-digit numbers until 2014-12, five digits from 2015-01
    if (len(num) == 5) != (yy >= 15):
        return None
    if yy < 7 or (yy == 7 and mm < 4):
        return None  # new-style IDs start in April 2007
    return m["new"]


def _valid_old(m: re.Match[str]) -> str | None:
    if m["arch"] not in OLD_ARCHIVES:
        return None
    if not 1 <= int(m["omm"]) <= 12:
        return None
    return m["old"]


def normalise(candidate: str) -> str | None:
    """The normalised ID (no version) if ``candidate`` is exactly an arXiv ID, else None."""
    if m := _NEW_FULL.match(candidate):
        return _valid_new(m)
    if m := _OLD_FULL.match(candidate):
        return _valid_old(m)
    return None


def parse_arxiv_id(text: str) -> str:
    """Normalise any common form of an arXiv ID.

    Accepts ``2305.14314``, ``2305.14314v2``, ``arXiv:2305.14314``,
    ``https://arxiv.org/abs/2305.14314``, ``https://arxiv.org/pdf/2305.14314v1.pdf``,
    old-style ``hep-th/9901001`` and ``math.GT/0309136``, with surrounding spaces,
    quotes, brackets or punctuation. Non-ASCII digits (``２４０３.０５６７８``,
    Arabic-Indic digits) are read as their ASCII digits.

    Returns:
        The ID without version (``2305.14314``, ``math.GT/0309136``).

    Raises:
        InvalidArxivId: With a one-line reason when the text is not an arXiv ID.
    """
    raw = text if isinstance(text, str) else ""
    if not raw.strip():
        raise InvalidArxivId("empty input: give an arXiv ID such as 2305.14314")
    if len(raw) > MAX_INPUT:
        raise InvalidArxivId(f"input too long ({len(raw)} characters) to be an arXiv ID")
    candidate = ascii_digits(raw).strip(_STRIP)
    candidate = _PREFIX.sub("", candidate).strip(_STRIP)
    if m := _URL.match(candidate):
        candidate = m["rest"].strip("/")
    found = normalise(candidate)
    if found is None:
        shown = " ".join(raw.split())[:80]
        raise InvalidArxivId(f"{shown!r} is not an arXiv ID (expected e.g. 2305.14314, arXiv:2305.14314v2, an arxiv.org link, or hep-th/9901001)")
    return found


def find_arxiv_ids(text: str) -> list[str]:
    """Every arXiv ID mentioned in free text (links, ``arXiv:`` prefixes, bare new-style IDs).

    Non-ASCII digits and full-width forms are read as ASCII first (:func:`ascii_digits`).

    Returns:
        Normalised IDs without versions, de-duplicated, in order of first appearance.
    """
    text = ascii_digits(text)
    hits: list[tuple[int, str]] = []
    for pattern in (_FIND_URL, _FIND_PREFIXED, _FIND_BARE):
        for m in pattern.finditer(text):
            rest = re.sub(r"v\d+$", "", m["rest"])
            norm = normalise(rest)
            if norm:
                hits.append((m.start(), norm))
    hits.sort()
    return list(dict.fromkeys(h for _, h in hits))
