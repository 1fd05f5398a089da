"""Weekly roundups: :class:`RoundupLookup`, the papers a week's digest issues covered, grouped by paper.

Every digest issue dated in the window is read section by section. A section counts as
covering a paper when it names an arXiv ID or its heading names a paper (not the issue's
title, an introduction, footnotes or a generic heading such as "Limitations"). Sections are
grouped by the paper's arXiv ID, else its normalised title; an ID and a title meet when an
indexed abstract (``arxiv:<id>``) carries that title, or another section has both. Each
issue's take is one or two clean sentences quoted verbatim from its section: nothing is
generated.
"""

from __future__ import annotations

import calendar
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from knowledge.models import Citation, IssueSummary, Roundup, RoundupPaper
from knowledge.search.answers import text_quality
from knowledge.text import has_hangul, looks_like_author_list, normalise_title, split_sentences

if TYPE_CHECKING:
    from knowledge.search.records import DocRecord, StoredChunk
    from knowledge.search.store import ChromaStore

log = logging.getLogger(__name__)

WINDOW_DAYS = 7
MAX_TAKE_CHARS = 320

#: Headings that are parts of an issue, not papers (normalised).
GENERIC_HEADINGS = frozenset({
    "intro", "introduction", "footnotes", "footnote", "notes", "references", "links", "further reading",
    "conclusion", "conclusions", "final words", "final thoughts", "closing thoughts", "summary", "tl dr", "tldr",
    "housekeeping", "sponsor", "sponsors", "sponsored", "other papers", "other news", "news", "updates", "misc",
    "miscellaneous", "untitled", "limitations", "inference", "results", "discussion", "performance", "background",
    "overview", "takeaways", "why it matters", "what s next", "announcements", "acknowledgements", "thanks",
})
_NAME_LIKE = re.compile(r"\S*[A-Z0-9]")  # "QLoRA", "Rho-1", "Llama 3", "GPT-4"; not "Limitations"
_NOISE = re.compile(r"^(#\S+\s*)+$|^\(.*\)$|^https?://\S+$")
_URL = re.compile(r"https?://\S+")
_ENDS_SENTENCE = re.compile(r"[.!?。！？][\"'”’)\]]*$")


class InvalidDate(ValueError):
    """A date that is not ``YYYY-MM-DD``, or a window that ends before it starts."""


def parse_day(text: str) -> date:
    """An ISO day (``2024-04-12``).

    Raises:
        InvalidDate: ``text`` is not a valid ``YYYY-MM-DD`` date.
    """
    cleaned = (text or "").strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", cleaned):
        raise InvalidDate(f"not a date (YYYY-MM-DD): {text!r}")
    try:
        return date.fromisoformat(cleaned)
    except ValueError as exc:
        raise InvalidDate(f"not a date (YYYY-MM-DD): {text!r} ({exc})") from None


def window(since: str | None, until: str | None, today: date) -> tuple[date, date, bool]:
    """The window ``(first day, last day, whether it was asked for)``.

    No bounds: the 7 days up to ``today``. Only ``since``: up to today. Only ``until``: the
    7 days up to it.

    Raises:
        InvalidDate: A bound is not a date, or ``since`` is after ``until``.
    """
    first = parse_day(since) if since else None
    last = parse_day(until) if until else None
    explicit = first is not None or last is not None
    if last is None:
        last = today if first is None or first <= today else first + timedelta(days=WINDOW_DAYS - 1)
    if first is None:
        first = last - timedelta(days=WINDOW_DAYS - 1)
    if first > last:
        raise InvalidDate(f"the window starts ({first}) after it ends ({last})")
    return first, last, explicit


def issue_span(text: str) -> tuple[date, date] | None:
    """The days an issue's date stands for: one day, or a whole month for ``2023-10``; None when undated."""
    text = (text or "").strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            return None
        return day, day
    m = re.fullmatch(r"(\d{4})-(\d{2})", text)
    if m and 1 <= int(m[2]) <= 12:
        year, month = int(m[1]), int(m[2])
        return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
    return None


def names_paper(heading: str, issue_title: str = "") -> bool:
    """Whether a section heading names a paper (not the issue's title, an intro, footnotes, "Limitations")."""
    heading = (heading or "").strip()
    norm = normalise_title(heading)
    if not norm or norm in GENERIC_HEADINGS or norm == normalise_title(issue_title):
        return False
    words = heading.split()
    return len(words) >= 3 or any(_NAME_LIKE.match(w[1:] or "") or any(ch.isdigit() for ch in w) for w in words)


def heading_title(chunks: list[StoredChunk]) -> str:
    """The paper title the sections linking an arXiv ID are headed with most often ("" when none names a paper)."""
    counts = Counter(c.section.strip() for c in chunks if c.arxiv_ids and names_paper(c.section, str(c.meta.get("title", ""))))
    if not counts:
        return ""
    top = max(counts.values())
    return max((h for h, n in counts.items() if n == top), key=len)


def _title_keys(heading: str) -> set[str]:
    """The title keys of a heading: its normalised form, and the name of a "Name: Subtitle" title."""
    keys = {f"t:{normalise_title(heading)}"}
    short = heading.split(":", 1)[0].strip() if ":" in heading else ""
    words = short.split()
    if 1 <= len(words) <= 3 and any(_NAME_LIKE.match(w[1:] or "") or any(ch.isdigit() for ch in w) for w in words):
        keys.add(f"t:{normalise_title(short)}")
    return keys


@dataclass(slots=True)
class _Section:
    """One section of an issue in the window, with what identifies its paper."""

    record: DocRecord
    index: int
    heading: str
    arxiv_ids: list[str]
    chunks: list[StoredChunk] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    titled: bool = False  # the heading names the paper


def quote_take(texts: list[str], *, language: str = "en") -> str:
    """One or two clean consecutive sentences of a section, quoted verbatim (no text is made up).

    Tag lines, author lists in brackets, bare links and broken text rank low; in a Korean
    issue the Korean commentary is preferred over the quoted English abstract.
    """
    runs: list[list[str]] = [split_sentences(p) for t in texts for p in t.split("\n\n") if p.strip()]
    best: tuple[float, int, int] | None = None
    position = 0
    for r, sentences in enumerate(runs):
        for i, s in enumerate(sentences):
            score = _sentence_value(s, language) - 0.03 * position
            position += 1
            if best is None or score > best[0]:
                best = (score, r, i)
    if best is None:
        return ""
    _, r, i = best
    chosen = runs[r][i]
    following = runs[r][i + 1] if i + 1 < len(runs[r]) else ""
    if following and _sentence_value(following, language) >= 0.8 and len(chosen) + len(following) + 1 <= MAX_TAKE_CHARS:
        chosen = f"{chosen} {following}"
    if len(chosen) > MAX_TAKE_CHARS + 60:  # one very long sentence: its start, marked as cut
        cut = chosen[:MAX_TAKE_CHARS].rsplit(" ", 1)[0]
        chosen = cut.rstrip(" ,;:") + " …"
    return chosen


def _sentence_value(sentence: str, language: str) -> float:
    """How good a sentence is as a quoted take: clean prose of a readable length, in the issue's language."""
    text = sentence.strip()
    if not text or _NOISE.match(text) or looks_like_author_list(text):
        return -1.0
    words = text.split()
    value = text_quality(re.sub(r"(?i)\barxiv\b", "arxiv", text))  # "arXiv" is not two words glued
    if len(words) < 6:
        value -= 0.6
    if len(text) > MAX_TAKE_CHARS:
        value -= 0.4
    if not _ENDS_SENTENCE.search(text):
        value -= 0.5  # a heading-like line, or a sentence cut at a chunk's end
    if _URL.search(text):
        value -= 0.3
    if language == "ko":
        value += 1.0 if has_hangul(text) else 0.0  # the commentary, not the quoted English abstract
    return value


class RoundupLookup:
    """Weekly roundups; mixed into :class:`~knowledge.facade.KnowledgeBase`."""

    store: ChromaStore
    _records: dict[str, DocRecord]

    if TYPE_CHECKING:  # defined by KnowledgeBase
        def _maybe_refresh(self) -> None: ...

    def roundup(self, *, since: str | None = None, until: str | None = None, digest: str | None = None) -> Roundup:
        """The papers the digest issues of a window covered, grouped by paper, each digest's take quoted.

        Args:
            since: First day (``YYYY-MM-DD``); default: 6 days before ``until``.
            until: Last day, inclusive; default: today (UTC), or today when only ``since`` is given.
            digest: Only this digest's issues (case-insensitive).

        Without bounds, a window without issues is replaced by the newest 7-day window that has
        some (``fallback``), since an archive may be old.

        Raises:
            InvalidDate: A bound is not a date, or the window ends before it starts.
        """
        return self.roundup_on(datetime.now(UTC).date(), since=since, until=until, digest=digest)

    def roundup_on(self, today: date, *, since: str | None = None, until: str | None = None, digest: str | None = None) -> Roundup:
        """:meth:`roundup` as if today were ``today``."""
        first, last, explicit = window(since, until, today)
        self._maybe_refresh()
        wanted = (digest or "").strip().lower()
        issues = [r for r in self._records.values() if r.kind == "digest" and (not wanted or r.digest.lower() == wanted)]
        shown_digest = next((r.digest for r in issues), (digest or "").strip())
        if wanted and not issues:
            known = ", ".join(sorted({r.digest for r in self._records.values() if r.kind == "digest"})) or "none"
            return Roundup(first.isoformat(), last.isoformat(), [], [], digest=shown_digest,
                           note=f"No digest named “{digest}” is indexed (indexed: {known}).")
        chosen = _in_window(issues, first, last)
        fallback, note = False, ""
        if not chosen and not explicit:
            days = [span[1] for r in issues if (span := issue_span(r.date)) and span[0] == span[1]]
            if days:
                newest = max(days)
                note = (f"No issue in the {WINDOW_DAYS} days up to {last.isoformat()}; this is the newest week with issues, "
                        f"{(newest - timedelta(days=WINDOW_DAYS - 1)).isoformat()} to {newest.isoformat()}.")
                first, last, fallback = newest - timedelta(days=WINDOW_DAYS - 1), newest, True
                chosen = _in_window(issues, first, last)
        if not chosen and not note:
            note = f"No digest issue is dated between {first.isoformat()} and {last.isoformat()}."
        chosen.sort(key=lambda r: (r.date, r.digest, r.title))
        papers = self._group_papers(chosen)
        summaries = [IssueSummary(r.digest, r.title, r.date, r.url, r.source, r.doc_id, sections=r.sections, kind=r.kind) for r in chosen]
        return Roundup(first.isoformat(), last.isoformat(), papers, summaries, digest=shown_digest if wanted else "",
                       fallback=fallback, note=note)

    # -- grouping ------------------------------------------------------------
    def _sections(self, records: list[DocRecord]) -> list[_Section]:
        if not records:
            return []
        by_id = {r.doc_id: r for r in records}
        ids = list(by_id)
        where = {"doc_id": ids[0]} if len(ids) == 1 else {"doc_id": {"$in": ids}}
        found: dict[tuple[str, int], _Section] = {}
        for row in sorted(self.store.get_chunks(where=where), key=lambda c: (c.doc_id, c.order)):
            key = (row.doc_id, row.order[0])
            if key not in found:
                found[key] = _Section(by_id[row.doc_id], row.order[0], row.section, row.arxiv_ids)
            found[key].chunks.append(row)
        return list(found.values())

    def _abstract_titles(self) -> dict[str, str]:
        """arXiv ID -> title, from indexed abstracts."""
        return {r.doc_id.removeprefix("arxiv:"): r.paper_title for r in self._records.values() if r.kind == "abstract" and r.paper_title}

    def _group_papers(self, records: list[DocRecord]) -> list[RoundupPaper]:
        titles = self._abstract_titles()
        ids_by_title = {normalise_title(t): i for i, t in titles.items()}
        sections: list[_Section] = []
        for s in self._sections(records):
            s.titled = names_paper(s.heading, s.record.title) or bool(s.arxiv_ids and names_paper(s.heading))
            if s.arxiv_ids and s.heading.strip() and normalise_title(s.heading) not in GENERIC_HEADINGS:
                s.keys.add(f"id:{s.arxiv_ids[0]}")
                if s.arxiv_ids[0] in titles:
                    s.keys |= _title_keys(titles[s.arxiv_ids[0]])
            if s.titled:
                s.keys |= _title_keys(s.heading)
                known = ids_by_title.get(normalise_title(s.heading))
                if known:  # an indexed abstract has this title: the section is about that ID
                    s.keys.add(f"id:{known}")
            if s.keys:
                sections.append(s)
        _link_subsections(sections)
        groups = _union(sections)
        papers = [self._paper(members, titles) for members in groups]
        papers.sort(key=lambda p: (-len(p.digests), _newest(p), p.title.lower()))
        return papers

    def _paper(self, members: list[_Section], titles: dict[str, str]) -> RoundupPaper:
        ids = Counter(k.removeprefix("id:") for s in members for k in s.keys if k.startswith("id:"))
        arxiv_id = ids.most_common(1)[0][0] if ids else ""
        headings = Counter(s.heading.strip() for s in members if s.titled)
        first_at = {}
        for s in sorted(members, key=lambda s: (s.record.date, s.record.doc_id, s.index)):
            first_at.setdefault(s.heading.strip(), len(first_at))
        if arxiv_id and arxiv_id in titles:
            title = titles[arxiv_id]
        elif headings:
            # the heading most issues use; then a full "Name: Subtitle" title; then the first one (a subsection comes later)
            title = max(headings, key=lambda h: (headings[h], ":" in h, -first_at[h]))
        else:
            title = f"arXiv:{arxiv_id}"
        per_issue: dict[str, _Section] = {}
        for s in sorted(members, key=lambda s: (not s.titled, s.index)):
            per_issue.setdefault(s.record.doc_id, s)  # one take per issue: its section named for the paper first
        takes = [_take(s) for s in sorted(per_issue.values(), key=lambda s: (s.record.date, s.record.digest, s.index))]
        for rank, take in enumerate(takes, 1):
            take.rank = rank
        key = f"arxiv:{arxiv_id}" if arxiv_id else f"title:{normalise_title(title)}"
        return RoundupPaper(key=key, title=title, arxiv_id=arxiv_id, takes=[t for t in takes if t.excerpt])


#: First words too common to say two headings are about the same paper.
_COMMON_FIRST_WORDS = frozenset({"the", "towards", "toward", "learning", "large", "language", "scaling", "training", "improving",
                                 "how", "why", "what", "when", "beyond", "from", "with", "using", "into", "more", "less", "better"})


def _paper_name(heading: str) -> str:
    """The word a paper's subsections repeat: "Zephyr" of "Zephyr: Direct Distillation…", "Mistral" of "Mistral 7B"."""
    words = normalise_title(heading.split(":", 1)[0]).split()
    first = words[0] if words else ""
    return first if len(first) >= 4 and first not in _COMMON_FIRST_WORDS and heading.strip()[:1].isupper() else ""


def _link_subsections(sections: list[_Section]) -> None:
    """A paper's subsections in one issue: "Mistral 7B" (no ID) then "Mistral performs beyond its size"
    (linking 2310.06825) are one paper, so the titled section gets the ID its subsection links."""
    pending: _Section | None = None
    doc = ""
    for s in sections:  # in issue order
        if s.record.doc_id != doc:
            doc, pending = s.record.doc_id, None
        name = _paper_name(pending.heading) if pending is not None else ""
        if pending is not None and s.arxiv_ids and name and name in normalise_title(s.heading).split():
            pending.keys.add(f"id:{s.arxiv_ids[0]}")
            pending = None
        elif s.titled and not s.arxiv_ids:
            pending = s
        elif s.titled:
            pending = None  # another paper, with its own ID


def _in_window(records: list[DocRecord], first: date, last: date) -> list[DocRecord]:
    """Issues whose date (a day, or a whole month) lies inside the window."""
    return [r for r in records if (span := issue_span(r.date)) and first <= span[0] and span[1] <= last]


def _union(sections: list[_Section]) -> list[list[_Section]]:
    """Sections that share a key (an ID or a title), transitively, in order of first appearance."""
    parent = list(range(len(sections)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, s in enumerate(sections):
        for key in sorted(s.keys):
            if key in owner:
                parent[root(i)] = root(owner[key])
            else:
                owner[key] = i
    groups: dict[int, list[_Section]] = {}
    for i, s in enumerate(sections):
        groups.setdefault(root(i), []).append(s)
    return list(groups.values())


def _newest(paper: RoundupPaper) -> int:
    """Sort key: the most recent take first."""
    days = [span[1] for t in paper.takes if (span := issue_span(t.date))]
    return -max(days).toordinal() if days else 0


def _take(s: _Section) -> Citation:
    chunks = sorted(s.chunks, key=lambda c: c.order)
    meta = chunks[0].meta
    excerpt = quote_take([c.text for c in chunks], language=s.record.language or str(meta.get("language", "en")))
    return Citation(
        rank=0,
        digest=s.record.digest,
        title=s.record.title,
        date=s.record.date,
        section=s.heading,
        url=s.record.url,
        source=s.record.source,
        excerpt=excerpt,
        score=0.0,
        arxiv_ids=list(s.arxiv_ids),
        doc_id=s.record.doc_id,
        chunk_id=chunks[0].chunk_id,
    )
