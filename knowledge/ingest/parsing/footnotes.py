"""Find the footnote block that closes a plain-text post.

Plain-text copies of newsletter posts keep the footnotes' text after the last
section, where it would otherwise be filed under the last paper. The block is
found by shape, in this order:

1. a "Footnotes" / "Notes" / "Endnotes" heading line after the last section;
2. lines that start with footnote markers (``[1]``, ``1.``, ``¹``, ``*``)
   numbered from the first one, where the post's text refers to them;
3. unmarked footnotes (the markers were lost in the copy): when the text has
   footnote references (``... of all time.1 Next ...``, ``word¹``, ``word[1]``),
   the trailing paragraph that shares the most words with the sentence of the
   first reference starts the block.
"""

from __future__ import annotations

import re

FOOTNOTES_HEADING = "Footnotes"

_NOTES_HEADING = re.compile(r"^(?:foot|end)?notes?:?$", re.IGNORECASE)
_SUPERSCRIPTS = "¹²³⁴⁵⁶⁷⁸⁹⁰"
_SUPER_VALUE = {c: str(i) for i, c in enumerate("⁰¹²³⁴⁵⁶⁷⁸⁹")}
_MARKER = re.compile(rf"^(?:\[(?P<bracket>\d{{1,2}})\]|(?P<num>\d{{1,2}})[.)]\s|(?P<sup>[{_SUPERSCRIPTS}]+)|(?P<star>[*†‡]+)\s?)")
# References inside the text: a number glued to a word's closing punctuation, [n], superscripts, word*.
_REF_GLUED = re.compile(r"(?<=[^\W\d_][.,;:!?”\"’)])(?P<n>\d{1,2})(?=\s|$)")
_REF_BRACKET = re.compile(r"(?<=\S)\[(?P<n>\d{1,2})\]")
_REF_SUPER = re.compile(rf"(?<=\S)(?P<n>[{_SUPERSCRIPTS}]+)")
_REF_STAR = re.compile(r"(?<=[^\W\d_])[*†‡](?=[\s.,;:]|$)")
_WORD = re.compile(r"[^\W\d_]{4,}")
_STOPWORDS = frozenset(
    ["that", "this", "with", "have", "from", "they", "their", "there", "were", "been", "what", "when", "which", "will", "would", "could", "should", "about", "into", "than", "then", "them", "these", "those", "some", "also", "just", "only", "very", "much", "more", "most"]
)
# Unmarked footnotes are looked for among this many trailing lines (plus one per reference).
_UNMARKED_WINDOW = 3
# ... and need this many shared content words with the sentence that refers to them.
_MIN_SHARED_WORDS = 2


def footnote_start(body: list[str], heads: list[str | None]) -> tuple[int, int]:
    """Where the trailing footnote block starts.

    Args:
        body: The post's non-empty lines, stripped (without the title line).
        heads: Per line, the heading it starts or None (from the section splitter).

    Returns:
        ``(start, skip)``: the index of the block's first line (``len(body)`` when there is
        no block) and how many lines at ``start`` to drop (1 for a "Footnotes" heading).
    """
    last_head = max((i for i, h in enumerate(heads) if h is not None and not _is_note_line(body[i])), default=-1)
    if last_head >= 0 and _NOTES_HEADING.match(body[last_head]) and last_head + 1 < len(body):
        return last_head, 1
    first = last_head + 2  # the last section keeps at least one paragraph
    for i in range(first, len(body)):
        if _NOTES_HEADING.match(body[i]) and i + 1 < len(body):
            return i, 1
    marked = _marked_start(body, first, references("\n".join(body)))
    if marked is not None:
        return marked, 0
    unmarked = _unmarked_start(body, first)
    return (unmarked, 0) if unmarked is not None else (len(body), 0)


def references(text: str) -> dict[str, int]:
    """Footnote reference marks in running text, mapped to the offset of their first use.

    Keys are the numbers as text ("1") or "*" for star-like marks.
    """
    found: dict[str, int] = {}
    for pattern in (_REF_GLUED, _REF_BRACKET):
        for m in pattern.finditer(text):
            found.setdefault(m["n"], m.start())
    for m in _REF_SUPER.finditer(text):
        found.setdefault("".join(_SUPER_VALUE[c] for c in m["n"]), m.start())
    if m := _REF_STAR.search(text):
        found.setdefault("*", m.start())
    return found


def _is_note_line(line: str) -> bool:
    """A line that can only be a footnote (``[1] ...``, ``¹ ...``), never a section heading."""
    mark = _marker(line)
    return mark is not None and mark[0] in ("bracket", "sup")


def _marker(line: str) -> tuple[str, str] | None:
    """``(kind, key)`` of a footnote marker starting the line, else None."""
    m = _MARKER.match(line)
    if not m:
        return None
    if m["bracket"]:
        return "bracket", m["bracket"]
    if m["num"]:
        return "num", m["num"]
    if m["sup"]:
        return "sup", "".join(_SUPER_VALUE[c] for c in m["sup"])
    return "star", "*"


def _marked_start(body: list[str], first: int, refs: dict[str, int]) -> int | None:
    """The first line of a trailing run of numbered (or starred) footnote lines."""
    for i in range(max(first, 0), len(body)):
        mark = _marker(body[i])
        if mark is None or mark[1] not in ("1", "*"):
            continue
        if _run_is_footnotes(body[i:], mark[0], refs):
            return i
    return None


def _run_is_footnotes(lines: list[str], kind: str, refs: dict[str, int]) -> bool:
    """Whether the lines from here on are footnotes of one marker kind, in order.

    Continuation lines (no marker) may follow a footnote. Plain ``1.`` and ``*`` markers
    also look like list items, so each of them needs a reference in the text.
    """
    keys = []
    for line in lines:
        mark = _marker(line)
        if mark is None:
            continue
        if mark[0] != kind:
            return False
        keys.append(mark[1])
    if kind == "star":
        return "*" in refs
    if keys != [str(n) for n in range(1, len(keys) + 1)]:
        return False
    return kind in ("bracket", "sup") or all(k in refs for k in keys)


def _unmarked_start(body: list[str], first: int) -> int | None:
    """The trailing paragraph that best matches the sentence of the first reference.

    References are looked for before the trailing window only, so a paragraph never
    matches its own reference.
    """
    window_start = max(first, len(body) - _UNMARKED_WINDOW)
    text = "\n".join(body[:window_start])
    refs = {k: v for k, v in references(text).items() if k != "*"}
    if not refs or window_start >= len(body):
        return None
    window_start = max(first, len(body) - _UNMARKED_WINDOW - len(refs))
    key = min(refs, key=refs.__getitem__)
    context = _content_words(_sentence_before(text, refs[key]))
    best, best_score = None, _MIN_SHARED_WORDS - 1
    for i in range(window_start, len(body)):
        score = len(context & _content_words(body[i]))
        if score > best_score:
            best, best_score = i, score
    return best


def _sentence_before(text: str, offset: int) -> str:
    """The sentence that ends at ``offset`` (the reference mark)."""
    head = text[:offset].rstrip(".,;:!?”\"’)")
    starts = [head.rfind(sep) for sep in (". ", "! ", "? ", "\n")]
    return head[max(starts) + 1 :]


def _content_words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)} - _STOPWORDS
