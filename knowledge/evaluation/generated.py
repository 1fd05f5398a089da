"""Questions generated from the archive itself, for calibration and honest evaluation.

A hand-written dev set is small and easy to tune to. The index gives labels for free:

* **Known-item questions** (positives): from an indexed section, its heading as a topic
  question, a fragment of one of its English sentences, a fragment of a Korean sentence,
  or a few of its distinctive terms; the expected answer is the document they came from
  (or any document about the same arXiv paper).
* **Near-domain negatives**: the same kinds of questions from documents that were held
  out of the index (real AI topics the index does not cover), dropping any whose paper an
  indexed document mentions, by arXiv ID or by title.
* **Paraphrases**: a held-out document about a paper that an indexed document does cover
  gives a question in another author's words (often in Korean), answered by the indexed
  documents about that arXiv ID.
* **Cross-document** questions: a sentence of an indexed section about a paper that another
  indexed document also covers (by arXiv ID, or by a heading that is an indexed abstract's
  title), asked with its own document left out: the answer must come from the other
  author's words, as a person's paraphrase of what they read must.

Every question carries a half ("calibration" or "report", by a hash of its document), so a
model fitted on one half is reported on the other.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from knowledge.models import Document
from knowledge.search.records import StoredChunk
from knowledge.search.tokenize import tokenize
from knowledge.text import has_hangul, normalise_title, split_sentences

if TYPE_CHECKING:
    from knowledge.facade import KnowledgeBase

#: A term in at most this many chunks of the index counts as rare.
RARE_DF = 3
KINDS = ("title", "topic", "sentence", "korean", "keywords", "paraphrase", "cross")
_TEMPLATES_EN = ("What did the digest say about {}?", "{}", "Was there anything on {}?", "Tell me about {}")
_TEMPLATES_KO = ("{}에 대해 뭐라고 했어?", "{} 관련 내용 알려줘")
_AUTHORS_OR_LINK = re.compile(r"^\(.*\)$|^https?://\S+$|^#\S", re.DOTALL)
_GENERIC_HEADING = re.compile(r"^(introduction|summary|footnotes?|notes?|abstract|conclusion|references)$", re.IGNORECASE)


@dataclass(slots=True)
class GeneratedQuestion:
    """One generated question.

    Attributes:
        question: The question text.
        kind: One of :data:`KINDS`.
        negative: True when the document was held out of the index.
        doc_id: The document it came from.
        arxiv_ids: arXiv IDs of the section it came from (a document about one of them also counts).
        half: "calibration" or "report".
        source_text: The sentence a fragment came from ("" for other kinds).
        exclude: Documents left out of the index when it is asked ("cross" questions: their source).
    """

    question: str
    kind: str
    negative: bool
    doc_id: str
    arxiv_ids: list[str] = field(default_factory=list)
    half: str = "report"
    source_text: str = ""
    exclude: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def half_of(doc_id: str) -> str:
    """Which half a document's questions belong to (stable across runs)."""
    return "calibration" if int(hashlib.sha1(doc_id.encode()).hexdigest(), 16) % 2 == 0 else "report"


@dataclass(slots=True)
class _Section:
    doc_id: str
    heading: str
    text: str
    arxiv_ids: list[str]


def _fragment(rng: random.Random, sentence: str) -> str:
    """A half-remembered sentence: a window of it with a third to a half of its words dropped.

    People do not quote the archive: a verbatim fragment would be far easier to find (and
    to tell from a negative) than a real question.
    """
    words = sentence.split()
    window = max(8, int(len(words) * rng.uniform(0.6, 0.9)))
    start = rng.randint(0, max(0, len(words) - window))
    kept = [w for w in words[start : start + window] if rng.random() > rng.uniform(0.3, 0.5)]
    return " ".join(kept or words[:6]).strip(" ,;:.")


def _topic(heading: str) -> str:
    """The name a person would ask about: the short name of a "Name: Subtitle" title.

    Single common words ("robustness") are no topic: the archive mentions most of them, so
    they would be neither fair positives nor honest negatives.
    """
    if ":" not in heading:
        return ""
    short = heading.split(":", 1)[0].strip()
    return short if 1 <= len(short.split()) <= 4 and len(short) >= 3 else ""


def _distinctive(text: str, weight: dict[str, float]) -> list[str]:
    """The text's words, most distinctive first (frequent here, rare in the index), as written."""
    counts: dict[str, int] = {}
    surface: dict[str, str] = {}
    for word in re.findall(r"[^\W_][\w\-.]*[^\W_]", text):
        toks = tokenize(word)
        if len(toks) != 1 or len(toks[0]) < 3 or toks[0].isdigit():
            continue
        tok = toks[0]
        counts[tok] = counts.get(tok, 0) + 1
        surface.setdefault(tok, word)
    return [surface[t] for t in sorted(counts, key=lambda t: -counts[t] * weight[t])]


def _keywords(rng: random.Random, text: str, weight: dict[str, float]) -> str:
    ranked = _distinctive(text, weight)[:12]
    if len(ranked) < 3:
        return ""
    return " ".join(rng.sample(ranked, rng.randint(3, min(5, len(ranked)))))


def questions_for(section: _Section, rng: random.Random, *, negative: bool, weight: dict[str, float]) -> list[GeneratedQuestion]:
    """Every kind of question one section can give (the caller samples among them)."""
    out: list[GeneratedQuestion] = []

    def add(text: str, kind: str, source: str = "") -> None:
        text = " ".join(text.split())
        # a question about a topic names something specific: at least one term that is rare in
        # the index (a negative made only of words the archive uses everywhere is not about an
        # uncovered topic; the same rule applies to positives)
        if len(text) >= 8 and any(weight[t] >= 1.0 / (1 + RARE_DF) for t in tokenize(text)):
            out.append(GeneratedQuestion(text, kind, negative, section.doc_id, list(section.arxiv_ids), half_of(section.doc_id), source))

    heading = section.heading.strip()
    if heading.startswith("arXiv:") or _GENERIC_HEADING.match(heading):
        heading = ""  # an untitled abstract, or a heading that names no topic
    if len(heading.split()) >= 2:
        template = rng.choice(_TEMPLATES_KO if rng.random() < 0.25 else _TEMPLATES_EN)
        add(template.format(heading), "title")
    # nobody asks by author list or by a bare link: those paragraphs are left out
    paragraphs = [p for p in section.text.split("\n\n") if not _AUTHORS_OR_LINK.match(p.strip())]
    sentences = [s for p in paragraphs for s in split_sentences(p)]
    english = [s for s in sentences if not has_hangul(s) and len(s.split()) >= 10 and not s.startswith(("(", "#", "http"))]
    korean = [s for s in sentences if has_hangul(s) and len(s.split()) >= 6]
    if english:
        s = rng.choice(english)
        add(rng.choice(_TEMPLATES_EN).format(_fragment(rng, s)), "sentence", s)
    if korean:
        s = rng.choice(korean)
        add(_fragment(rng, s) + "?", "korean", s)
    keywords = _keywords(rng, "\n\n".join(paragraphs), weight)
    if keywords:
        add(keywords, "keywords")
    topic = _topic(heading)
    if topic:
        add(rng.choice(_TEMPLATES_KO if has_hangul(section.text) and rng.random() < 0.5 else _TEMPLATES_EN).format(topic), "topic")
    return out


def _indexed_sections(kb: KnowledgeBase) -> list[_Section]:
    by_key: dict[tuple[str, int], list[StoredChunk]] = {}
    for chunk in kb.store.get_chunks(where=None):
        if chunk.doc_id in kb._records:  # complete documents only
            by_key.setdefault((chunk.doc_id, chunk.order[0]), []).append(chunk)
    out = []
    for (doc_id, _), parts in sorted(by_key.items()):
        parts.sort(key=lambda c: c.order)
        out.append(_Section(doc_id, parts[0].section, "\n\n".join(c.text for c in parts), parts[0].arxiv_ids))
    return out


def positives(kb: KnowledgeBase, *, max_questions: int, seed: int = 7) -> list[GeneratedQuestion]:
    """Known-item questions from indexed sections: one per sampled section, kinds balanced."""
    rng = random.Random(seed)
    sections = _indexed_sections(kb)
    rng.shuffle(sections)
    weight = _idf(kb)
    out: list[GeneratedQuestion] = []
    counts = dict.fromkeys(KINDS, 0)
    for section in sections:
        if len(out) >= max_questions:
            break
        options = questions_for(section, rng, negative=False, weight=weight)
        if options:
            # the kind generated least so far, among what this section offers
            out.append(min(options, key=lambda q: (counts[q.kind], rng.random())))
            counts[out[-1].kind] += 1
    return out


def cross_document_questions(kb: KnowledgeBase, *, max_questions: int, seed: int = 13) -> list[GeneratedQuestion]:
    """Questions from one indexed document's words about a paper, answered by another document.

    A section is about a paper when it links the paper's arXiv ID, or when its heading is the
    title of an indexed abstract. For each paper that sections of two or more documents are
    about, one section gives a fragment of one of its sentences; the question is asked with
    that section's document left out (``exclude``) and is answered by any other document
    about the paper.
    """
    rng = random.Random(seed)
    titles = {normalise_title(r.paper_title): r.doc_id.removeprefix("arxiv:") for r in kb._records.values()
              if r.kind == "abstract" and r.paper_title}
    by_paper: dict[str, list[_Section]] = {}
    for section in _indexed_sections(kb):
        papers = set(section.arxiv_ids[:1])
        titled = titles.get(normalise_title(section.heading)) if section.heading else None
        if titled:
            papers.add(titled)
        for paper in papers:
            by_paper.setdefault(paper, []).append(section)
    weight = _idf(kb)
    out: list[GeneratedQuestion] = []
    papers = sorted(p for p, secs in by_paper.items() if len({s.doc_id for s in secs}) >= 2)
    rng.shuffle(papers)
    for paper in papers:
        if len(out) >= max_questions:
            break
        sections = by_paper[paper]
        source = rng.choice(sections)
        options = [q for q in questions_for(_Section(source.doc_id, "", source.text, [paper]), rng, negative=False, weight=weight)
                   if q.kind in ("sentence", "korean")]
        if not options:
            continue
        q = rng.choice(options)
        q.kind, q.doc_id, q.exclude, q.source_text = "cross", "", [source.doc_id], ""
        q.half = half_of(source.doc_id)
        out.append(q)
    return out


def held_out_questions(
    kb: KnowledgeBase, held_out: Iterable[Document], *, max_negatives: int, max_paraphrases: int, seed: int = 11
) -> list[GeneratedQuestion]:
    """Questions from documents held out of the index.

    A held-out document whose paper no indexed document mentions (by arXiv ID or title)
    gives a near-domain *negative*. One whose paper an indexed document does mention gives
    a *paraphrase* positive: the same paper in another author's words (often another
    language), answered by any indexed document about that arXiv ID.
    """
    rng = random.Random(seed)
    mentioned = set(kb.lexical.all_mentioned_ids()) | {r.doc_id.removeprefix("arxiv:") for r in kb._records.values()}
    headings = sorted({normalise_title(s.heading) for s in _indexed_sections(kb) if s.heading})
    weight = _idf(kb)
    docs = list(held_out)
    rng.shuffle(docs)
    out: list[GeneratedQuestion] = []
    counts = dict.fromkeys(KINDS, 0)
    n_neg = n_para = 0
    for doc in docs:
        covered = sorted({a for s in doc.sections for a in s.arxiv_ids if a in mentioned})
        if covered:
            if n_para >= max_paraphrases:
                continue
            options = [q for s in doc.sections for q in questions_for(_Section(doc.doc_id, "", s.text, covered), rng, negative=False, weight=weight)
                       if q.kind in ("sentence", "korean")]
            if options:
                q = rng.choice(options)
                q.kind = "paraphrase"
                q.source_text = ""
                out.append(q)
                n_para += 1
            continue
        if n_neg >= max_negatives:
            continue
        if _names_an_indexed_topic(doc, headings):
            continue
        options = []
        for s in doc.sections:
            options += questions_for(_Section(doc.doc_id, s.heading, s.text, s.arxiv_ids), rng, negative=True, weight=weight)
        if options:
            out.append(min(options, key=lambda q: (counts[q.kind], rng.random())))
            counts[out[-1].kind] += 1
            n_neg += 1
    return out


def _names_an_indexed_topic(doc: Document, headings: list[str]) -> bool:
    """Whether an indexed heading is about the same paper or model as a held-out document.

    Its title nearly equals an indexed heading (a note on the same paper), or its short name
    ("Qwen2.5-VL" of "Qwen2.5-VL Technical Report", the part before a colon) starts one.
    """
    from rapidfuzz import fuzz, process

    for title in {doc.title, *(s.heading for s in doc.sections)}:
        norm = normalise_title(title)
        if not norm:
            continue
        match = process.extractOne(norm, headings, scorer=fuzz.token_set_ratio, score_cutoff=85)
        if match is not None:
            return True
        short = normalise_title(re.split(r"[:(]", title, maxsplit=1)[0]).split()[:2]
        name = " ".join(short)
        if len(name) >= 4 and any(h.startswith(name) or f" {name} " in f" {h} " for h in headings):
            return True
    return False


def _idf(kb: KnowledgeBase) -> dict[str, float]:
    class _Weights(dict):
        def __missing__(self, token: str) -> float:
            df = kb.lexical.document_frequency(token)
            value = 1.0 / (1.0 + df)
            self[token] = value
            return value

    return _Weights()
