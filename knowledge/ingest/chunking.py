"""Split sections into chunks that fit the embedding model's window.

Tokens are counted with the model's own tokenizer. Paragraphs are packed
together while they fit; a paragraph that does not fit is split by sentences,
and a sentence that does not fit by words. Nothing is truncated: every word of
a section ends up in exactly one chunk.
"""

from __future__ import annotations

from collections.abc import Callable

from knowledge.models import Chunk, Document
from knowledge.search.records import join_arxiv_ids
from knowledge.text import split_sentences

# Tokens left for the text after the heading prefix and the model's special tokens.
HEADING_TOKEN_CAP = 40
SPECIAL_TOKENS = 2
# a chunk this small is topped up from the next paragraph rather than closed
SMALL_CHUNK_TOKENS = 32
#: Preferred chunk size: two to four sentences. Smaller chunks than the model's 256-token
#: window give sharper cosine similarities to a question and excerpts that are the point
#: (bench/quality.py: recall@5 0.87 -> 0.92 and "found" recall 0.49-0.63 -> 0.57-0.70 at the
#: same precision on the sample archive's generated questions).
TARGET_CHUNK_TOKENS = 96

TokenCounter = Callable[[list[str]], list[int]]


def embedding_text(heading: str, text: str) -> str:
    """What is embedded for a chunk: its section heading, then its text."""
    return f"{heading}\n{text}" if heading else text


def _split_words(text: str, budget: int, count: TokenCounter) -> list[str]:
    words = text.split()
    pieces: list[str] = []
    start = 0
    while start < len(words):
        lo, hi = start + 1, len(words)
        # largest end such that words[start:end] fits; binary search over the count
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if count([" ".join(words[start:mid])])[0] <= budget:
                lo = mid
            else:
                hi = mid - 1
        pieces.append(" ".join(words[start:lo]))
        start = lo
    return pieces


def _units(paragraph: str, budget: int, count: TokenCounter) -> list[tuple[str, int]]:
    """Break a paragraph into pieces of at most ``budget`` tokens."""
    sentences = split_sentences(paragraph) or [paragraph]
    counts = count(sentences)
    units: list[tuple[str, int]] = []
    for sentence, n in zip(sentences, counts, strict=True):
        if n <= budget:
            units.append((sentence, n))
        else:
            pieces = _split_words(sentence, budget, count)
            units.extend(zip(pieces, count(pieces), strict=True))
    return units


def pack(paragraphs: list[str], budget: int, count: TokenCounter) -> list[str]:
    """Pack paragraphs into texts of at most ``budget`` tokens each.

    Whole paragraphs are kept together when they fit; a paragraph that does not fit
    is broken into sentences that continue the current chunk, so a short line (an
    author list, say) is never left alone in a chunk of its own.
    """
    counts = count(paragraphs)
    units: list[tuple[str, int, bool]] = []  # (text, tokens, starts a paragraph)
    for paragraph, n in zip(paragraphs, counts, strict=True):
        if n <= budget:
            units.append((paragraph, n, True))
        else:
            units.extend((text, m, i == 0) for i, (text, m) in enumerate(_units(paragraph, budget, count)))
    chunks: list[str] = []
    current = ""
    used = 0
    for text, n, new_paragraph in units:
        if current and used + n + 1 > budget and used < SMALL_CHUNK_TOKENS and budget - used > 8:
            # a short line (tags, an author list) is not left alone: fill the chunk from the next unit
            head, *rest = _split_words(text, budget - used - 1, count)
            current += ("\n\n" if new_paragraph else " ") + head
            chunks.append(current)
            current, used = "", 0
            if not rest:
                continue
            text, new_paragraph = " ".join(rest), False
            n = count([text])[0]
        if current and used + n + 1 > budget:
            chunks.append(current)
            current, used = "", 0
        if current:
            current += ("\n\n" if new_paragraph else " ") + text
        else:
            current = text
        used += n + 1
    if current:
        chunks.append(current)
    return chunks


def chunk_document(doc: Document, count: TokenCounter, max_tokens: int, *, target_tokens: int | None = None) -> list[Chunk]:
    """Chunk every section of a document.

    Args:
        doc: The parsed document.
        count: Token counter using the embedding model's tokenizer.
        max_tokens: The model's window, special tokens included.
        target_tokens: Preferred chunk size (defaults to the whole window).

    Returns:
        The chunks, each with the metadata a citation needs.
    """
    chunks: list[Chunk] = []
    window = max_tokens - SPECIAL_TOKENS
    for s_index, section in enumerate(doc.sections):
        heading_tokens = min(count([section.heading])[0], HEADING_TOKEN_CAP) + 1 if section.heading else 0
        budget = max(16, min(window - heading_tokens, target_tokens or window))
        paragraphs = [p.strip() for p in section.text.split("\n\n") if p.strip()]
        for part, text in enumerate(pack(paragraphs, budget, count)):
            chunks.append(
                Chunk(
                    chunk_id=f"{doc.doc_id}#{s_index}:{part}",
                    doc_id=doc.doc_id,
                    text=text,
                    metadata={
                        "doc_id": doc.doc_id,
                        "digest": doc.digest,
                        "title": doc.title,
                        "date": doc.date,
                        "url": doc.url,
                        "source": doc.source,
                        "language": doc.language,
                        "kind": doc.kind,
                        "section": section.heading,
                        "section_index": s_index,
                        "part": part,
                        "arxiv_ids": join_arxiv_ids(section.arxiv_ids),
                        "paid": bool(doc.extra.get("paid", False)),
                        "authors": str(doc.extra.get("authors", "")),
                    },
                )
            )
    return chunks


def truncate_heading(heading: str, count: TokenCounter) -> str:
    """The heading cut to :data:`HEADING_TOKEN_CAP` tokens for the embedding prefix (metadata keeps it whole)."""
    if not heading or count([heading])[0] <= HEADING_TOKEN_CAP:
        return heading
    words = heading.split()
    while words and count([" ".join(words)])[0] > HEADING_TOKEN_CAP:
        words.pop()
    return " ".join(words)
