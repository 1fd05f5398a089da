"""From retrieved chunks to an answer: one citation per section, short excerpts, honest "not found".

The answer text is what a chat user reads: a short lead line, then numbered
excerpts with the matched terms in bold and a citation line each.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass

from knowledge.lexical import tokenize
from knowledge.models import Citation
from knowledge.retrieval import Hit, QueryTerms
from knowledge.text import normalise_title, split_sentences

MAX_EXCERPT_CHARS = 360
MAX_SENTENCES = 3


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Calibrated on the dev archive (see README, "Answers"): when is a hit an answer?

    A hit answers the question when its cosine similarity reaches ``dense``, or when it
    covers at least ``coverage`` of the question's weighted vocabulary with a similarity
    of at least ``dense_floor``.
    """

    dense: float = 0.55
    coverage: float = 0.45
    dense_floor: float = 0.2


def is_answer(hit: Hit, terms: QueryTerms, t: Thresholds) -> bool:
    """Whether one hit is strong enough to count as an answer."""
    if terms.missing_entities and hit.dense < t.dense + 0.1:
        return False
    return hit.dense >= t.dense or (hit.coverage >= t.coverage and hit.dense >= t.dense_floor)


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


def select(hits: list[Hit], terms: QueryTerms, t: Thresholds, k: int) -> tuple[list[Hit], list[Hit], bool]:
    """Choose up to ``k`` citations, diverse across digests.

    Returns:
        ``(chosen, more, found)``: the citations to show, further ones for "more", and
        whether the archive answers the question.
    """
    sections = group_sections(hits)
    strong = [h for h in sections if is_answer(h, terms, t)]
    found = bool(strong)
    pool = strong if found else sections
    if not pool:
        return [], [], False
    top = pool[0].score
    chosen: list[Hit] = [pool[0]]
    seen_digests = {pool[0].meta.get("digest")}
    # one slot for each other digest that covered the topic well, best first
    for h in pool[1:]:
        if len(chosen) >= k:
            break
        digest = h.meta.get("digest")
        if digest not in seen_digests and h.score >= 0.5 * top:
            chosen.append(h)
            seen_digests.add(digest)
    for h in pool:
        if len(chosen) >= k:
            break
        if h not in chosen and h.score >= 0.75 * top:
            chosen.append(h)
    chosen.sort(key=lambda h: h.score, reverse=True)
    more = [h for h in pool if h not in chosen][: 2 * k]
    return chosen, more, found


_NOISE = re.compile(r"^(#\S+\s*)+$|^\([^()]{0,600}\)$|^(by\s)?[^.]{0,300}\(\d{1,2} \w{3}\)[,.]?\s*https?://\S+$|^https?://\S+$")


def _sentence_score(sentence: str, terms: QueryTerms) -> float:
    """Weight of the question's terms in a sentence; tag lines, author lists and bare links score below zero."""
    if _NOISE.match(sentence.strip()):
        return -1.0
    toks = set(tokenize(sentence))
    return sum(terms.weights[tok] for tok in terms.tokens if tok in toks)


def _best_window(text: str, terms: QueryTerms) -> tuple[float, str]:
    """The best run of 1-3 consecutive sentences of one text, and its matched weight."""
    sentences = [s for p in text.split("\n\n") for s in split_sentences(p)] or [text.strip()]
    scores = [_sentence_score(s, terms) for s in sentences]
    best: tuple[float, int, int] = (-1.0, 0, 1)
    for start in range(len(sentences)):
        total, length = 0.0, 0
        for end in range(start, min(len(sentences), start + MAX_SENTENCES)):
            length += len(sentences[end]) + 1
            if end > start and length > MAX_EXCERPT_CHARS:
                break
            total += scores[end]
            # prefer more matched weight, then fewer sentences
            key = (total - 0.01 * (end - start), start, end + 1)
            if key[0] > best[0]:
                best = key
    total, start, end = best
    if total <= 0:
        # nothing to match on (a heading-only or purely semantic match): the opening sentences
        start = next((i for i, sc in enumerate(scores) if sc >= 0), 0)
        end = start + 1
        while end < len(sentences) and end - start < MAX_SENTENCES and len(" ".join(sentences[start : end + 1])) <= 300:
            end += 1
        total = 0.0 if scores[start] >= 0 else -1.0
    excerpt = " ".join(sentences[start:end])
    if len(excerpt) > MAX_EXCERPT_CHARS:
        excerpt = _clip_around_match(excerpt, terms)
    return total, excerpt


def best_excerpt(texts: str | list[str], terms: QueryTerms) -> str:
    """The most relevant 1-3 consecutive sentences (at most ~360 characters).

    Args:
        texts: A chunk's text, or the texts of a section's retrieved chunks, best chunk first
            (on equal weight the earlier text wins).
        terms: The question's weighted terms.
    """
    candidates = [texts] if isinstance(texts, str) else texts
    scored = [_best_window(t, terms) for t in candidates if t.strip()]
    if not scored:
        return ""
    best = max(range(len(scored)), key=lambda i: (scored[i][0], -i))
    return scored[best][1]


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
    """Surface forms in the excerpt of the question's matched terms (for bold marking)."""
    found: list[str] = []
    for tok in sorted(terms.tokens, key=len, reverse=True):
        if len(tok) < 2 or tok.isdigit() and len(tok) < 2:
            continue
        pattern = re.compile(rf"(?<![\w]){re.escape(tok)}(?![\w])" if tok.isascii() else re.escape(tok), re.IGNORECASE)
        for m in pattern.finditer(excerpt):
            if not any(m.group(0).lower() in f.lower() for f in found):
                found.append(m.group(0))
    return found


def to_citation(rank: int, hit: Hit, terms: QueryTerms, *, weak: bool, section_hits: list[Hit] | None = None) -> Citation:
    """A citation for one hit, with the best excerpt among its section's retrieved chunks."""
    meta = hit.meta
    others = [h.text for h in (section_hits or []) if h.chunk_id != hit.chunk_id]
    excerpt = best_excerpt([hit.text, *others], terms)
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
        arxiv_ids=[a for a in str(meta.get("arxiv_ids", "")).split(",") if a],
        doc_id=hit.doc_id,
        chunk_id=hit.chunk_id,
        weak=weak,
        highlights=highlights(excerpt, terms),
    )


def bold(text: str, terms: list[str]) -> str:
    """Mark terms in bold (Discord/Markdown), escaping existing asterisks."""
    text = text.replace("*", "\\*").replace("_", "\\_")
    for term in sorted(terms, key=len, reverse=True):
        escaped = term.replace("*", "\\*").replace("_", "\\_")
        text = re.sub(rf"(?<![\w*]){re.escape(escaped)}(?![\w*])" if term.isascii() else re.escape(escaped), lambda m: f"**{m.group(0)}**", text, count=1)
    return text


def citation_line(c: Citation) -> str:
    """"Digest · Issue · date · § Section · <link>" (angle brackets stop link previews)."""
    parts = [c.digest, f"*{c.title}*" if c.title else "", c.date, f"§ {c.section}" if c.section and c.section != c.title else ""]
    line = " · ".join(p for p in parts if p)
    link = c.url or (c.source if c.source.startswith("http") else "")
    return f"{line} · <{link}>" if link else f"{line} · {c.source}"


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


def render(question: str, citations: list[Citation], found: bool) -> str:
    """The answer text a chat user sees."""
    short_q = question if len(question) <= 80 else question[:77] + "…"
    if not citations:
        return f"I found nothing in the archive about “{short_q}”. Try other words, or ingest more digests."
    lines: list[str] = []
    digests = list(dict.fromkeys(c.digest for c in citations))
    if found:
        shared = shared_papers(citations)
        if shared:
            name, cs = next(iter(shared.items()))
            lines.append(f"{len({c.digest for c in cs})} digests discussed **{name}**: " + ", ".join(dict.fromkeys(c.digest for c in cs)) + ".")
        else:
            where = digests[0] if len(digests) == 1 else f"{len(digests)} digests"
            lines.append(f"Here is what {where} said ({len(citations)} excerpt{'s' if len(citations) > 1 else ''}):")
    else:
        lines.append(f"The archive has nothing on “{short_q}”. Closest matches (weak, probably not what you want):")
    for c in citations:
        lines.append(f"**{c.rank}.** {bold(c.excerpt, c.highlights)}")
        lines.append(f"   — {citation_line(c)}")
    return "\n".join(lines)
