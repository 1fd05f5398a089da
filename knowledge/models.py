"""Typed records shared by every part of the knowledge layer.

These are plain dataclasses: parsing produces :class:`Document` and
:class:`Section`, chunking produces :class:`Chunk`, retrieval produces
:class:`Citation` inside an :class:`Answer`, and paper lookups produce a
:class:`Paper` inside a :class:`PaperReport`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(slots=True)
class Section:
    """One part of a document: a heading (often a paper title) and its text.

    Attributes:
        heading: The section heading ("QLoRA: Efficient Finetuning of Quantized LLMs"),
            empty for an untitled introduction.
        text: The section's body text, paragraphs separated by blank lines.
        arxiv_ids: Normalised arXiv IDs (no version) the section mentions.
    """

    heading: str
    text: str
    arxiv_ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Document:
    """One digest issue, or one arXiv abstract.

    Attributes:
        doc_id: Stable identifier, derived from the canonical URL, else the source path.
        digest: Human name of the digest ("Ahead of AI"); "arXiv" for abstracts.
        title: Issue title.
        date: ISO date (YYYY-MM-DD) or empty when unknown.
        url: Canonical URL, may be empty.
        source: The path or URL the document was ingested from.
        language: ISO 639-1 code of the main language ("en", "ko").
        content_hash: Hash of everything that determines the stored chunks.
        sections: The document's sections, in order.
        kind: "digest" for an issue, "abstract" for an arXiv abstract.
        extra: Small free-form metadata (e.g. ``{"paid": True}``).
    """

    doc_id: str
    digest: str
    title: str
    date: str
    url: str
    source: str
    language: str
    content_hash: str
    sections: list[Section]
    kind: str = "digest"
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Chunk:
    """A piece of one section that fits the embedding model's window.

    Attributes:
        chunk_id: ``{doc_id}:{section_index}:{part}``; stable for unchanged documents.
        doc_id: The owning document.
        text: The text that is embedded and shown.
        metadata: Flat, Chroma-compatible metadata needed for a citation.
    """

    chunk_id: str
    doc_id: str
    text: str
    metadata: dict[str, str | int | float | bool]


@dataclass(slots=True)
class Citation:
    """One cited excerpt in an answer (the JSON contract's citation object)."""

    rank: int
    digest: str
    title: str
    date: str
    section: str
    url: str
    source: str
    excerpt: str
    score: float
    arxiv_ids: list[str]
    doc_id: str = ""
    chunk_id: str = ""
    weak: bool = False
    highlights: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The citation as the CLI's JSON contract spells it."""
        data = asdict(self)
        data["score"] = round(float(self.score), 4)
        return data


@dataclass(slots=True)
class Answer:
    """The answer to one question.

    Attributes:
        question: The question as asked (cleaned).
        found: Whether the archive answers it (true only for the "answer" confidence).
        citations: Cited excerpts, best first (weak ones when ``found`` is False).
        answer: A message to show instead of excerpts, set only when the question could not
            be asked (empty, too long, no words). Otherwise empty: the bot renders the
            citations (``bot.rendering.answer_text``).
        took_ms: Time spent answering, in milliseconds.
        more: Further citations held back for a "more excerpts" button.
        error: A user-facing reason when the question could not be asked at all.
        confidence: "answer" (the excerpts answer it), "related" (possibly related matches,
            shown as uncertain) or "none" (nothing shown); see :mod:`knowledge.search.confidence`.
        evidence: The numbers the confidence was decided from (for evaluation and calibration).
    """

    question: str
    found: bool
    citations: list[Citation]
    answer: str = ""
    took_ms: float = 0.0
    more: list[Citation] = field(default_factory=list)
    error: str = ""
    confidence: str = "none"
    evidence: dict[str, float] = field(default_factory=dict)

    def to_json(self, text: str | None = None) -> dict[str, Any]:
        """The answer as the CLI's JSON contract spells it.

        Args:
            text: The rendered answer text for the ``answer`` field (the CLI renders it);
                defaults to :attr:`answer`.
        """
        data: dict[str, Any] = {
            "question": self.question,
            "found": self.found,
            "confidence": self.confidence,
            "answer": self.answer if text is None else text,
            "citations": [c.to_json() for c in self.citations],
            "took_ms": round(self.took_ms, 1),
        }
        if self.error:
            data["error"] = self.error
        return data


@dataclass(slots=True)
class Paper:
    """An arXiv paper's metadata.

    Attributes:
        arxiv_id: Normalised ID without version.
        title: Paper title ("" when unknown).
        authors: Author names in order.
        abstract: Abstract text.
        published: ISO date of the first version, "" when unknown.
        updated: ISO date of the latest version, "" when unknown.
        metadata_source: "index" or "arxiv-api".
    """

    arxiv_id: str
    title: str = ""
    authors: list[str] = field(default_factory=list)
    abstract: str = ""
    published: str = ""
    updated: str = ""
    metadata_source: str = "index"

    @property
    def abs_url(self) -> str:
        return f"https://arxiv.org/abs/{self.arxiv_id}"

    @property
    def pdf_url(self) -> str:
        return f"https://arxiv.org/pdf/{self.arxiv_id}"


@dataclass(slots=True)
class PaperReport:
    """A paper and what the digests said about it (the ``paper --json`` contract)."""

    arxiv_id: str
    found: bool
    paper: Paper | None
    mentions: list[Citation]
    lookup_error: str = ""
    #: The first digest that covered it and how long after its arXiv v1 (None without a dated mention).
    coverage: Coverage | None = None

    def by_digest(self) -> dict[str, list[Citation]]:
        """Each digest's mentions (its take first: the earliest), digests in order of first coverage."""
        out: dict[str, list[Citation]] = {}
        for m in sorted(self.mentions, key=lambda m: (m.date or "9999", m.rank)):
            out.setdefault(m.digest, []).append(m)
        return out

    def to_json(self) -> dict[str, Any]:
        """The report as the CLI's JSON contract spells it."""
        p = self.paper or Paper(arxiv_id=self.arxiv_id, metadata_source="")
        data: dict[str, Any] = {
            "arxiv_id": self.arxiv_id,
            "found": self.found,
            "title": p.title,
            "authors": list(p.authors),
            "abstract": p.abstract,
            "published": p.published,
            "abs_url": p.abs_url,
            "pdf_url": p.pdf_url,
            "metadata_source": p.metadata_source if self.paper else "",
            "mentions": [m.to_json() for m in self.mentions],
        }
        if self.lookup_error:
            data["lookup_error"] = self.lookup_error
        data["coverage"] = self.coverage.to_json() if self.coverage else None
        return data


@dataclass(slots=True)
class IngestReport:
    """Summary of one ingest run."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    chunks_embedded: int = 0
    seconds: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)
    doc_ids: list[str] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    documents: list[dict[str, Any]] = field(default_factory=list)

    @property
    def guessed_digests(self) -> dict[str, int]:
        """Digest names guessed from a folder (no --digest, no known domain) -> documents."""
        out: dict[str, int] = {}
        for d in self.documents:
            if d.get("digest_guessed"):
                out[d["digest"]] = out.get(d["digest"], 0) + 1
        return out

    def to_json(self) -> dict[str, Any]:
        """The summary as JSON."""
        data = asdict(self)
        data["seconds"] = round(self.seconds, 2)
        data["failures"] = [{"source": s, "reason": r} for s, r in self.failures]
        return data


@dataclass(slots=True)
class IssueSummary:
    """One indexed digest issue, for "latest issues" listings."""

    digest: str
    title: str
    date: str
    url: str
    source: str
    doc_id: str
    sections: int = 0
    kind: str = "digest"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class Stats:
    """What is indexed."""

    documents: int
    chunks: int
    digests: dict[str, int]
    papers: int
    model: str
    store: str
    last_update: str = ""
    #: Chunks without a complete document (an interrupted ingest; the next ingest replaces them).
    orphan_chunks: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class IssueOverview:
    """What an announcement shows about one indexed issue."""

    doc_id: str
    digest: str
    title: str
    date: str
    url: str
    summary: str
    papers: list[str]
    paid: bool = False


@dataclass(slots=True)
class Coverage:
    """Which digest covered a paper first, and how long after its arXiv v1.

    Attributes:
        digest: The digest of the earliest dated mention.
        title: That issue's title.
        date: That issue's date (ISO; may be a month, "2023-10").
        url: That issue's link ("" when unknown).
        v1_date: The arXiv v1 date the days are counted from: the API's date ("2023-05-23")
            or the ID's month ("2023-05").
        v1_basis: "api" (the published date from arXiv) or "id-month" (the ID's yymm,
            counted from the month's first day, so the days are an upper bound).
        days_after_v1: Days from v1 to the first coverage (negative: covered before it);
            None when the issue is dated only to the month.
    """

    digest: str
    title: str
    date: str
    url: str = ""
    v1_date: str = ""
    v1_basis: str = ""
    days_after_v1: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class RoundupPaper:
    """One paper in a roundup and each digest issue's take on it.

    Attributes:
        key: What identifies the paper: ``arxiv:<id>``, else ``title:<normalised title>``.
        title: The paper's title (from an indexed abstract or a section heading), or ``arXiv:<id>``.
        arxiv_id: Its arXiv ID ("" when no section named one).
        takes: One citation per issue, oldest first; each excerpt is 1-2 sentences quoted
            verbatim from the issue's section.
    """

    key: str
    title: str
    arxiv_id: str
    takes: list[Citation]

    @property
    def digests(self) -> list[str]:
        """The digests that covered it, in the order of their takes."""
        return list(dict.fromkeys(t.digest for t in self.takes))

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "title": self.title, "arxiv_id": self.arxiv_id, "digests": self.digests,
                "takes": [t.to_json() for t in self.takes]}


@dataclass(slots=True)
class Roundup:
    """The papers a week's digest issues covered, grouped by paper.

    Attributes:
        since: First day of the window (ISO).
        until: Last day of the window (ISO, inclusive).
        papers: Papers covered by more digests first, then the most recently covered.
        issues: The digest issues dated in the window.
        digest: The digest asked for ("" for all).
        fallback: True when the asked-for window (the last 7 days) had no issue and this
            is the newest 7-day window that has some instead.
        note: A sentence for the reader when the window was changed or nothing was found.
    """

    since: str
    until: str
    papers: list[RoundupPaper]
    issues: list[IssueSummary]
    digest: str = ""
    fallback: bool = False
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"since": self.since, "until": self.until, "digest": self.digest, "fallback": self.fallback, "note": self.note,
                "issues": [i.to_json() for i in self.issues], "papers": [p.to_json() for p in self.papers]}
