"""A deterministic synthetic digest archive, for latency and memory at 10k-100k chunks.

Documents look like digest issues: a title and date, one section per covered paper with a
paper-title heading ("Zorquilformer-7B: Sparse Attention for Long Context Retrieval"),
English paragraphs built from a fixed vocabulary, arXiv IDs, and in a share of the
issues Korean commentary. Every section names a rare made-up model, so lexical search has
something to find, and questions are drawn from the same topics and names.

Embedding 100k chunks with the real model would take hours on a 2-core CPU, so the index
is written through the real pipeline (:meth:`KnowledgeBase.ingest_documents`: chunking
with the model's tokenizer, :meth:`ChromaStore.write_document`,
:meth:`LexicalIndex.put_document`) with a :class:`HashEmbedder` in place of the model: a
deterministic 384-dimensional unit vector per text, the normalised sum of fixed random
vectors of its tokens, so texts that share words get similar vectors. The result is a real
digestbot index recorded under the real model's name, so a :class:`KnowledgeBase` with the
real model opens it and answers questions (the question is embedded by the real model; its
nearest synthetic vectors are not semantically meaningful, but the work done is the same).

Indexes are cached under ``bench/.cache/synthetic/`` keyed by size, seed and generator
version. Build one ahead with ``python -m bench.synthetic --chunks 100000``.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import shutil
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import CACHE, load_embedder, open_kb, setup_logging
from bench.vocabulary import (
    ADJECTIVES,
    CONNECTIVES,
    DIGESTS,
    GENERAL,
    KOREAN_ENDINGS,
    KOREAN_NOUNS,
    KOREAN_PARTICLES,
    NAME_MIDDLE,
    NAME_PREFIX,
    NAME_SPACE,
    NAME_SUFFIX,
    NAME_VERSION,
    TOPICS,
    UNKNOWN_PREFIX,
    VERBS,
)

log = logging.getLogger(__name__)

GENERATOR_VERSION = 1
DIMENSION = 384
SECTIONS_PER_ISSUE = (18, 32)
_MAX_CHUNKS_PER_ISSUE = 150  # generous: a section is one to three chunks

# -- vocabulary -------------------------------------------------------------------------


def model_name(k: int, seed: int) -> str:
    """The ``k``-th made-up model name (unique for ``k`` below 120,000)."""
    j = (k * 7919 + seed * 104729) % NAME_SPACE  # 7919 is coprime to 120,000: a bijection
    j, v = divmod(j, len(NAME_VERSION))
    j, s = divmod(j, len(NAME_SUFFIX))
    j, m = divmod(j, len(NAME_MIDDLE))
    p = j % len(NAME_PREFIX)
    return f"{NAME_PREFIX[p]}{NAME_MIDDLE[m]}{NAME_SUFFIX[s]}{NAME_VERSION[v]}"


@dataclass(slots=True)
class SectionSpec:
    """What a generated section is about (kept to draw questions from)."""

    name: str
    topic: str
    heading: str


def _sentence(rng: random.Random, topic_words: list[str], name: str | None) -> str:
    words: list[str] = []
    for _ in range(rng.randint(7, 16)):
        roll = rng.random()
        if roll < 0.5:
            words.append(rng.choice(topic_words))
        elif roll < 0.75:
            words.append(rng.choice(GENERAL))
        elif roll < 0.87:
            words.append(rng.choice(ADJECTIVES))
        else:
            words.append(
                rng.choice(["the", "a", "of", "with", "for", "and", "to", "on", "in", "by"])
            )
    subject = name or f"the {rng.choice(GENERAL)}"
    lead = rng.choice(CONNECTIVES) + " " if rng.random() < 0.35 else ""
    text = f"{lead}{subject} {rng.choice(VERBS)} {' '.join(words)}"
    if rng.random() < 0.2:
        text += f" by {rng.randint(2, 60)}%"
    text = text[0].upper() + text[1:]
    return text + "."


def _paragraph(rng: random.Random, topic_words: list[str], name: str) -> str:
    n = rng.randint(2, 6)
    mention = rng.randrange(n)
    return " ".join(_sentence(rng, topic_words, name if i == mention else None) for i in range(n))


def _with_particle(word: str, rng: random.Random) -> str:
    after_consonant, after_vowel = rng.choice(KOREAN_PARTICLES)
    last = ord(word[-1]) - 0xAC00
    closed = 0 <= last < 11172 and last % 28 != 0
    return word + (after_consonant if closed else after_vowel)


def _korean_paragraph(rng: random.Random, name: str) -> str:
    sentences = []
    for i in range(rng.randint(1, 3)):
        words = [_with_particle(rng.choice(KOREAN_NOUNS), rng) for _ in range(rng.randint(2, 5))]
        if i == 0:
            words.insert(0, f"{name}{rng.choice(['은', '의'])}")
        sentences.append(" ".join(words) + " " + rng.choice(KOREAN_ENDINGS))
    return " ".join(sentences)


def generate_document(index: int, seed: int = 0) -> tuple[Any, list[SectionSpec]]:
    """The ``index``-th synthetic issue (deterministic in ``(index, seed)`` alone).

    Returns:
        The :class:`~knowledge.models.Document` and what each of its sections is about.
    """
    from knowledge.models import Document, Section
    from knowledge.text import content_hash

    rng = random.Random(f"digestbot-bench:{seed}:{index}")
    digest, language, base = DIGESTS[index % len(DIGESTS)] if rng.random() < 0.85 else DIGESTS[0]
    day = 18000 + index  # days since the epoch: 2019-04-14 onwards, one issue a day
    date = time.strftime("%Y-%m-%d", time.gmtime(day * 86400))
    topic_names = rng.sample(sorted(TOPICS), 4)
    title = f"{date} {digest.split(' (')[0]}: {', '.join(t.title() for t in topic_names[:2])} and more (#{index + 1})"
    sections: list[Section] = []
    specs: list[SectionSpec] = []
    intro = " ".join(_sentence(rng, TOPICS[topic_names[0]], None) for _ in range(rng.randint(2, 4)))
    sections.append(
        Section(
            heading="", text=f"This issue covers {', '.join(topic_names)}. {intro}", arxiv_ids=[]
        )
    )
    count = rng.randint(*SECTIONS_PER_ISSUE)
    for s in range(count):
        topic = rng.choice(topic_names)
        words = TOPICS[topic]
        name = model_name(index * SECTIONS_PER_ISSUE[1] + s, seed)
        if rng.random() < 0.1 and index > 0:  # now and then an earlier model comes back
            name = model_name(rng.randrange(index * SECTIONS_PER_ISSUE[1]), seed)
        heading = f"{name}: {rng.choice(ADJECTIVES).title()} {rng.choice(words).title()} for {topic.title()}"
        yy, mm = int(date[2:4]), int(date[5:7])
        arxiv = f"{yy:02d}{mm:02d}.{(index * 97 + s * 13) % 90000 + 10000:05d}"
        paragraphs = [_paragraph(rng, words, name) for _ in range(rng.choice([1, 1, 2, 2, 3]))]
        if language == "ko":
            paragraphs.append(_korean_paragraph(rng, name))
            paragraphs.append(f"#{topic.replace(' ', '_')} #{name.split('-')[0].lower()}")
        paragraphs.append(f"Paper: https://arxiv.org/abs/{arxiv}")
        sections.append(Section(heading=heading, text="\n\n".join(paragraphs), arxiv_ids=[arxiv]))
        specs.append(SectionSpec(name=name, topic=topic, heading=heading))
    url = f"{base}{index + 1}"
    doc = Document(
        doc_id=f"bench-synthetic:{seed}:{index}",
        digest=digest,
        title=title,
        date=date,
        url=url,
        source=url,
        language=language,
        content_hash=content_hash("bench-synthetic", str(GENERATOR_VERSION), str(seed), str(index)),
        sections=sections,
    )
    return doc, specs


def documents(seed: int = 0, start: int = 0) -> Iterator[tuple[Any, list[SectionSpec]]]:
    """Synthetic issues from ``start`` on, forever."""
    index = start
    while True:
        yield generate_document(index, seed)
        index += 1


# -- questions --------------------------------------------------------------------------


def questions(count: int = 100, seed: int = 0, *, from_docs: int = 60) -> list[str]:
    """Questions like people ask, drawn from the first ``from_docs`` issues' topics and names.

    The first issues are part of every index size, so the same questions serve 10k and 100k.
    About 45% name a model, 25% are topic questions, 15% are Korean, 15% name a model that
    is not in the archive.
    """
    rng = random.Random(f"digestbot-bench-questions:{seed}")
    specs = [spec for i in range(from_docs) for spec in generate_document(i, seed)[1]]
    out: list[str] = []
    for _ in range(count):
        roll = rng.random()
        spec = rng.choice(specs)
        base = spec.name.split("-")[0]
        if roll < 0.45:
            template = rng.choice(
                [
                    "what did the digest say about {name}?",
                    "{name}",
                    "How does {name} work?",
                    "what are the results of {name} on {word}?",
                    "Did anyone cover {name}?",
                ]
            )
            out.append(
                template.format(
                    name=rng.choice([spec.name, base]), word=rng.choice(TOPICS[spec.topic])
                )
            )
        elif roll < 0.70:
            words = rng.sample(TOPICS[spec.topic], 2)
            template = rng.choice(
                [
                    "how do {a} and {b} help with {topic}?",
                    "{topic} with {a}",
                    "what is new in {topic}?",
                    "which papers use {a} to improve {b}?",
                ]
            )
            out.append(template.format(a=words[0], b=words[1], topic=spec.topic))
        elif roll < 0.85:
            template = rng.choice(
                ["{name}에 대해 뭐라고 했어?", "{name}의 성능은 어때?", "{word} 관련 논문 알려줘"]
            )
            out.append(template.format(name=spec.name, word=rng.choice(KOREAN_NOUNS)))
        else:
            unknown = (
                f"{rng.choice(UNKNOWN_PREFIX)}{rng.choice(NAME_MIDDLE)}{rng.choice(NAME_SUFFIX)}"
            )
            out.append(f"what did they say about {unknown}?")
    return out


# -- embeddings -------------------------------------------------------------------------


class HashEmbedder:
    """A stand-in embedder: hashed bag-of-words vectors, recorded under the real model's name.

    Token counting (and therefore chunking) uses the real model's tokenizer, so chunks are
    what the real pipeline makes; only ``encode`` is synthetic.

    Args:
        real: The real embedder (its name, window and tokenizer are used).
        dimension: Vector length (the real model's, 384).
    """

    def __init__(self, real: Any, dimension: int = DIMENSION) -> None:
        self.real = real
        self.name = real.name
        self.dimension = dimension
        self.max_tokens = real.max_tokens
        self.count_tokens = real.count_tokens
        self._ids: dict[str, int] = {}
        self._table = np.zeros((0, dimension), dtype=np.float32)

    def _token_ids(self, tokens: list[str]) -> list[int]:
        ids = self._ids
        for tok in tokens:
            if tok not in ids:
                if len(ids) == len(self._table):  # grow the table by doubling
                    grown = np.zeros(
                        (max(1024, 2 * len(self._table)), self.dimension), dtype=np.float32
                    )
                    grown[: len(self._table)] = self._table
                    self._table = grown
                rng = np.random.default_rng(zlib.crc32(tok.encode("utf-8")))
                self._table[len(ids)] = rng.standard_normal(self.dimension, dtype=np.float32)
                ids[tok] = len(ids)
        return [ids[t] for t in tokens]

    def encode(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        """Unit vectors: the normalised sum of each token's fixed random vector."""
        from knowledge.search.tokenize import tokenize

        del batch_size  # the signature matches the real embedder's
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            ids = self._token_ids(tokenize(text) or ["\x00empty"])
            out[i] = self._table[ids].sum(axis=0)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-9)

    def encode_query(self, text: str) -> np.ndarray:
        """Embedding of one question."""
        return self.encode([text])[0]


# -- building ---------------------------------------------------------------------------


def index_dir(chunks: int, seed: int = 0) -> Path:
    """Where the index of this size and seed is cached."""
    return CACHE / "synthetic" / f"chunks{chunks}-seed{seed}-v{GENERATOR_VERSION}"


def read_meta(path: Path) -> dict[str, Any] | None:
    """The build record of a cached index, or None when it is missing or incomplete."""
    meta = path / "bench-meta.json"
    if not meta.exists():
        return None
    return json.loads(meta.read_text())


def ensure_index(
    chunks: int, seed: int = 0, *, embedder: Any = None, rebuild: bool = False
) -> tuple[Path, dict[str, Any]]:
    """The cached synthetic index with exactly ``chunks`` chunks, built when missing.

    Args:
        chunks: Chunk count wanted.
        seed: Generator seed.
        embedder: The real embedder (loaded when not given; only its tokenizer and name are used).
        rebuild: Build again even when cached.

    Returns:
        The data directory and its build record.
    """
    path = index_dir(chunks, seed)
    meta = None if rebuild else read_meta(path)
    if meta is not None:
        return path, meta
    if path.exists():
        shutil.rmtree(path)
    real = embedder or load_embedder()
    return path, build_index(path, chunks, seed, real)


def build_index(
    path: Path, chunks: int, seed: int, real: Any, *, batch_docs: int = 40
) -> dict[str, Any]:
    """Write synthetic issues through ``KnowledgeBase.ingest_documents`` until ``chunks`` chunks exist."""
    from knowledge.ingest.chunking import chunk_document

    started = time.perf_counter()
    fake = HashEmbedder(real)
    kb = open_kb(path, fake)
    written = 0
    docs_written = 0
    stream = documents(seed)
    pending: list[Any] = []
    pending_chunks = 0
    log.info("building a synthetic index of %d chunks in %s", chunks, path)
    try:
        # far from the target: whole batches, counted by what the pipeline reports
        while chunks - written > batch_docs * _MAX_CHUNKS_PER_ISSUE:
            batch = [next(stream)[0] for _ in range(batch_docs)]
            written += kb.ingest_documents(batch).chunks_embedded
            docs_written += len(batch)
            rate = written / (time.perf_counter() - started)
            log.info(
                "  %d / %d chunks (%d issues, %.0f chunks/s)", written, chunks, docs_written, rate
            )
        # near it: count each issue's chunks first, and cut the last one to land exactly
        while written + pending_chunks < chunks:
            doc, _ = next(stream)
            room = chunks - written - pending_chunks
            n = len(chunk_document(doc, fake.count_tokens, fake.max_tokens))
            while n > room and doc.sections:
                doc.sections.pop()
                n = len(chunk_document(doc, fake.count_tokens, fake.max_tokens))
            if n:
                pending.append(doc)
                pending_chunks += n
        if pending:
            written += kb.ingest_documents(pending).chunks_embedded
            docs_written += len(pending)
        stored = kb.store.count_chunks()
        lexical = kb.lexical.size
    finally:
        kb.close()
    meta = {
        "chunks": stored,
        "lexical_chunks": lexical,
        "documents": docs_written,
        "seed": seed,
        "generator_version": GENERATOR_VERSION,
        "build_seconds": round(time.perf_counter() - started, 1),
    }
    (path / "bench-meta.json").write_text(json.dumps(meta, indent=2))
    log.info("built %s: %s", path, meta)
    return meta


def main(argv: list[str] | None = None) -> int:
    """Build (or show) cached synthetic indexes."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.synthetic", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--chunks", type=int, nargs="+", default=[10_000, 100_000], help="index sizes to build"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rebuild", action="store_true", help="build again even when cached")
    parser.add_argument(
        "--show-questions", type=int, default=0, metavar="N", help="print N generated questions"
    )
    parser.add_argument(
        "--show-document",
        type=int,
        default=None,
        metavar="I",
        help="print the I-th generated issue",
    )
    args = parser.parse_args(argv)
    setup_logging()
    if args.show_document is not None:
        doc, _ = generate_document(args.show_document, args.seed)
        print(f"# {doc.title}  [{doc.digest}, {doc.date}, {doc.language}]")
        for s in doc.sections:
            print(f"\n## {s.heading}  {s.arxiv_ids}\n{s.text}")
        return 0
    if args.show_questions:
        print("\n".join(questions(args.show_questions, args.seed)))
        return 0
    embedder = load_embedder()
    for n in args.chunks:
        path, meta = ensure_index(n, args.seed, embedder=embedder, rebuild=args.rebuild)
        print(f"{path}: {meta}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
