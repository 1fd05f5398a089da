"""From retrieved chunks to an answer: one citation per section, short excerpts, honest "not found".

Everything here is data (:class:`~knowledge.models.Citation` objects, the papers several
digests share); the text a chat user reads is made by ``bot.rendering``.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass

from knowledge.models import Citation
from knowledge.search.records import arxiv_ids_of
from knowledge.search.retrieval import Hit, QueryTerms
from knowledge.search.tokenize import tokenize
from knowledge.text import looks_like_author_list, normalise_title, split_sentences

MAX_EXCERPT_CHARS = 360
MAX_SENTENCES = 3
MIN_EXCERPT_CHARS = 40


def section_members(hits: list[Hit]) -> dict[tuple[str, int], list[Hit]]:
    """Every retrieved hit of each section, best first."""
    out: dict[tuple[str, int], list[Hit]] = {}
    for hit in hits:
        out.setdefault(hit.section_key, []).append(hit)
    return out


def group_sections(hits: list[Hit]) -> list[Hit]:
    """The best hit of each section, in order (a section is never cited twice)."""
    best: OrderedDict[tuple[str, int], Hit] = OrderedDict()
    for hit in hits:
        if hit.section_key not in best:
            best[hit.section_key] = hit
    return list(best.values())


def select(sections: list[Hit], k: int) -> tuple[list[Hit], list[Hit]]:
    """Choose up to ``k`` citations among the best hit of each section, diverse across digests.

    Returns:
        ``(chosen, more)``: the citations to show, and further ones for "more excerpts".
    """
    if not sections:
        return [], []
    top = sections[0].score
    chosen: list[Hit] = [sections[0]]
    seen_digests = {sections[0].meta.get("digest")}
    # one slot for each other digest that covered the topic well, best first
    for h in sections[1:]:
        if len(chosen) >= k:
            break
        digest = h.meta.get("digest")
        if digest not in seen_digests and h.score >= 0.5 * top:
            chosen.append(h)
            seen_digests.add(digest)
    for h in sections:
        if len(chosen) >= k:
            break
        if h not in chosen and h.score >= 0.75 * top:
            chosen.append(h)
    chosen.sort(key=lambda h: h.score, reverse=True)
    more = [h for h in sections if h not in chosen][: 2 * k]
    return chosen, more


_NOISE = re.compile(r"^(#\S+\s*)+$|^\([^()]{0,600}\)$|^(by\s)?[^.]{0,300}\(\d{1,2} \w{3}\)[,.]?\s*https?://\S+$|^https?://\S+$")


def _sentence_score(sentence: str, terms: QueryTerms) -> float:
    """Weight of the question's terms in a sentence; tag lines, author lists and bare links score below zero."""
    if _NOISE.match(sentence.strip()) or looks_like_author_list(sentence):
        return -1.0
    return terms.weight_in(set(tokenize(sentence)))


# Signs of a token lost in extraction: two prepositions in a row ("outperforms it by on MMLU",
# where a number was), words glued across a lost space ("showApplied"), empty brackets.
_LOST = re.compile(r"\b(?:by|of|than|from|with|to)\s+(?:on|of|in|by|for|than|with)\b|\b[a-z]{2,}[A-Z][a-z]{2,}\b|\(\s*\)|\[\s*\]")


def text_quality(sentence: str) -> float:
    """1.0 for clean prose; less for text broken in extraction ("we showapplied to LLaMA").

    Extraction from PDFs drops formulas and numbers and glues the words around them; such a
    sentence has prepositions left side by side, words run together and stray symbols.
    """
    words = sentence.split()
    if not words:
        return 0.0
    glued = len(_LOST.findall(sentence))
    stray = sum(1 for w in words if len(w) == 1 and not w.isalnum() and w not in "-–—&")
    return max(0.0, 1.0 - 0.35 * glued - 0.15 * stray)


@dataclass(slots=True)
class _Window:
    score: float
    text: str
    sentences: tuple[str, ...]


def _windows(text: str, terms: QueryTerms, *, similarity: float, shown: set[str]) -> list[_Window]:
    """Every run of 1-3 consecutive sentences of one chunk that fits an excerpt, scored.

    The score adds the chunk's similarity to the question (what the model thinks), the share
    of the question's weighted terms the run contains (what the words say), a small bonus for
    shorter runs, and penalties for broken text and for sentences the user was already shown.
    """
    sentences = [s for p in text.split("\n\n") for s in split_sentences(p)] or [text.strip()]
    # each sentence is scored once, however many windows it is part of
    term_scores = [_sentence_score(s, terms) for s in sentences]
    qualities = [text_quality(s) for s in sentences]
    shown_flags = [_normal(s) in shown for s in sentences] if shown else [False] * len(sentences)
    out: list[_Window] = []
    for start in range(len(sentences)):
        if term_scores[start] < 0:
            continue
        length, matched, quality, seen = 0, 0.0, 0.0, 0
        for end in range(start, min(len(sentences), start + MAX_SENTENCES)):
            length += len(sentences[end]) + 1
            if end > start and length > MAX_EXCERPT_CHARS:
                break
            if term_scores[end] < 0:
                break
            matched += term_scores[end]
            quality += qualities[end]
            seen += shown_flags[end]
            n = end - start + 1
            too_short = 0.3 if length < MIN_EXCERPT_CHARS else 0.0  # "1." or a lone name says nothing
            score = similarity + 0.6 * matched / terms.total + 0.15 * quality / n - 0.02 * n - 1.5 * seen / n - too_short
            out.append(_Window(score, " ".join(sentences[start : end + 1]), tuple(sentences[start : end + 1])))
    return out


def _normal(sentence: str) -> str:
    return " ".join(tokenize(sentence, drop_stopwords=False))


def shown_sentences(excerpts: list[str]) -> set[str]:
    """The sentences of excerpts a user has seen (follow-ups prefer others)."""
    return {_normal(s) for e in excerpts for s in split_sentences(e.replace("… ", "").replace(" …", ""))}


def best_excerpt(texts: str | list[str], terms: QueryTerms, *, similarities: list[float] | None = None,
                 shown: set[str] | None = None) -> str:
    """The most relevant 1-3 consecutive sentences (at most ~360 characters) of a section.

    Args:
        texts: The texts of a section's retrieved chunks (or one chunk's text).
        terms: The question's weighted terms.
        similarities: Each text's cosine similarity to the question (default: all equal).
        shown: Normalised sentences already shown in this conversation (see :func:`shown_sentences`).
    """
    candidates = [texts] if isinstance(texts, str) else texts
    sims = similarities or [0.0] * len(candidates)
    windows = [w for t, sim in zip(candidates, sims, strict=True) if t.strip() for w in _windows(t, terms, similarity=sim, shown=shown or set())]
    if not windows:
        first = next((t for t in candidates if t.strip()), "")
        return first if len(first) <= MAX_EXCERPT_CHARS else _clip_around_match(first, terms)
    best = max(windows, key=lambda w: w.score)  # on equal scores the earlier window wins
    excerpt = best.text
    return excerpt if len(excerpt) <= MAX_EXCERPT_CHARS else _clip_around_match(excerpt, terms)


def _clip_around_match(text: str, terms: QueryTerms) -> str:
    lowered = text.lower()
    positions = [lowered.find(t) for t in terms.tokens if lowered.find(t) >= 0]
    centre = min(positions) if positions else 0
    start = max(0, centre - MAX_EXCERPT_CHARS // 3)
    end = min(len(text), start + MAX_EXCERPT_CHARS)
    start = max(0, end - MAX_EXCERPT_CHARS)
    if start > 0:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < start + 30 else start
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start + MAX_EXCERPT_CHARS // 2 else end
    return ("… " if start > 0 else "") + text[start:end].strip() + (" …" if end < len(text) else "")


def highlights(excerpt: str, terms: QueryTerms) -> list[str]:
    """Surface forms in the excerpt of the question's matched terms (for bold marking).

    Terms are stems ("evalu"), so a word counts when its own stem is one of them.
    """
    wanted = {t for t in terms.tokens if len(t) >= 2}
    wanted |= {alt for alts in terms.alternatives.values() for alt, _ in alts}
    found: list[str] = []
    for m in re.finditer(r"[\w][\w.+\-/]*[\w]|[\w]", excerpt):
        word = m.group(0)
        toks = tokenize(word, drop_stopwords=False)
        if toks and toks[0] in wanted and not any(word.lower() == f.lower() for f in found):
            found.append(word)
    return sorted(found, key=len, reverse=True)


def to_citation(rank: int, hit: Hit, terms: QueryTerms, *, weak: bool, section_hits: list[Hit] | None = None,
                shown: set[str] | None = None) -> Citation:
    """A citation for one hit, with the best excerpt among its section's retrieved chunks.

    Args:
        rank: The citation's rank (1 = best).
        hit: The section's best hit.
        terms: The question's weighted terms.
        weak: Whether the answer is uncertain.
        section_hits: Every retrieved chunk of the same section.
        shown: Sentences already shown in this conversation.
    """
    meta = hit.meta
    members = [hit, *(h for h in (section_hits or []) if h.chunk_id != hit.chunk_id)]
    excerpt = best_excerpt([h.text for h in members], terms, similarities=[h.dense for h in members], shown=shown)
    return Citation(
        rank=rank,
        digest=str(meta.get("digest", "")),
        title=str(meta.get("title", "")),
        date=str(meta.get("date", "")),
        section=str(meta.get("section", "")),
        url=str(meta.get("url", "")),
        source=str(meta.get("source", "")),
        excerpt=excerpt,
        score=round(hit.score, 4),
        arxiv_ids=arxiv_ids_of(meta),
        doc_id=hit.doc_id,
        chunk_id=hit.chunk_id,
        weak=weak,
        highlights=highlights(excerpt, terms),
    )


_NAME_LIKE = re.compile(r"^\S*[A-Z0-9]")  # "QLoRA", "Rho-1", "Mistral 7B"; not "Limitations"


def _paper_keys(c: Citation) -> set[str]:
    """What identifies the paper a citation's section is about: its first arXiv ID, its title,
    and the short name of a "Name: Subtitle" title (so "QLoRA" meets "QLoRA: Efficient ...")."""
    keys = {f"id:{c.arxiv_ids[0]}"} if c.arxiv_ids else set()
    if c.section:
        if len(c.section.split()) >= 3:  # a paper title, not a generic heading like "Limitations"
            keys.add(f"t:{normalise_title(c.section)}")
        short = c.section.split(":", 1)[0].strip()
        words = short.split()
        if 1 <= len(words) <= 3 and any(_NAME_LIKE.match(w[1:] or "") or any(ch.isdigit() for ch in w) for w in words):
            keys.add(f"s:{normalise_title(short)}")
    return keys


def shared_papers(citations: list[Citation]) -> dict[str, list[Citation]]:
    """Papers that several digests discussed among the citations, keyed by a display name."""
    parent = list(range(len(citations)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_with: dict[str, int] = {}
    for i, c in enumerate(citations):
        for key in _paper_keys(c):
            if key in first_with:
                parent[root(i)] = root(first_with[key])
            else:
                first_with[key] = i
    groups: dict[int, list[Citation]] = {}
    for i, c in enumerate(citations):
        groups.setdefault(root(i), []).append(c)
    out: dict[str, list[Citation]] = {}
    for members in groups.values():
        if len({c.digest for c in members}) >= 2:
            name = min((c.section for c in members if c.section), key=len, default=members[0].title)
            out[name] = members
    return out
