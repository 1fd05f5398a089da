"""Tokenization for the lexical index and the query: English words (lower-cased, stemmed with
Snowball), Latin names and numbers kept whole (``gpt-4``, ``2305.14314``), Korean words with
their particles stripped; stopwords of both languages dropped on request.

Bump :data:`TOKENIZER_VERSION` when :func:`tokenize` changes: stored token lists are then rebuilt.
"""

from __future__ import annotations

import functools
import re
import threading

import snowballstemmer

# Bump when tokenize() or what it reads (records.lexical_text) changes: stored token lists are then rebuilt.
TOKENIZER_VERSION = "4"


_LATIN = re.compile(r"[a-z0-9]+(?:[.\-+_/][a-z0-9]+)*")


_HANGUL_RUN = re.compile(r"[\uac00-\ud7a3]+")


_SPLIT = re.compile(r"[.\-+_/]")


# Korean particles and endings stripped from the end of a word to find its stem.
_PARTICLES = sorted(
    ["은", "는", "이", "가", "을", "를", "에", "의", "와", "과", "로", "으로", "에서", "에게", "도", "만", "까지", "부터",
     "이나", "나", "라고", "이라고", "처럼", "보다", "에는", "에서는", "와의", "과의", "으로는", "로는", "이란", "란", "이며"],
    key=len,
    reverse=True,
)


STOPWORDS = frozenset(
    ["a", "an", "the", "and", "or", "but", "if", "then", "of", "to", "in", "on", "at", "by", "for", "with", "from", "as", "is", "are", "was", "were", "be", "been", "being", "this", "that", "these", "those", "it", "its", "it's", "what", "which", "who", "whom", "whose", "how", "why", "when", "where", "does", "do", "did", "done", "doing", "say", "said", "says", "about", "into", "than", "there", "their", "they", "them", "we", "our", "you", "your", "he", "she", "his", "her", "i", "me", "my", "can", "could", "would", "should", "will", "shall", "may", "might", "have", "has", "had", "not", "no", "yes", "so", "such", "very", "just", "also", "any", "some", "more", "most", "other", "own", "same", "too", "only", "over", "under", "again", "further", "once", "here", "all", "both", "each", "few", "between", "through", "during", "before", "after", "above", "below", "up", "down", "out", "off", "s", "t", "digest", "digests", "newsletter", "newsletters", "tell", "me", "please", "paper", "papers", "issue", "issues", "mention", "mentioned", "mentions", "explain", "explained", "describe", "described", "talk", "talked", "write", "wrote", "written", "think", "thought", "know"]
)


KOREAN_STOPWORDS = frozenset(
    ["대해", "대한", "대해서", "뭐라고", "무엇", "무엇인가", "무엇을", "했나", "했나요", "했어", "했어요", "했는지", "알려줘", "알려주세요", "어떻게", "어떤", "관련", "관해", "관한", "말했나요", "말했어", "이야기", "내용", "설명", "했다고", "있나요", "뭐야", "뭔가요"]
)


def _korean_tokens(run: str) -> list[str]:
    if len(run) < 2 or run in KOREAN_STOPWORDS:
        return []
    stem = run
    for particle in _PARTICLES:
        if len(run) > len(particle) + 1 and run.endswith(particle):
            stem = run[: -len(particle)]
            break
    if stem in KOREAN_STOPWORDS:
        return []
    tokens = list(dict.fromkeys([run, stem]))
    if len(stem) >= 3:
        tokens.extend(stem[i : i + 2] for i in range(len(stem) - 1))
    return tokens


def korean_words(text: str) -> list[str]:
    """The Hangul words of a text with their particles stripped (no bigrams), in order."""
    words = []
    for match in _HANGUL_RUN.finditer(text):
        tokens = _korean_tokens(match.group(0))
        if tokens:
            words.append(tokens[1] if len(tokens) > 1 else tokens[0])
    return list(dict.fromkeys(words))


_STEMMER = snowballstemmer.stemmer("english")


_STEM_LOCK = threading.Lock()


@functools.lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The English (Snowball) stem of a lowercase word: "evaluated" and "evaluation" -> "evalu".

    Words with digits or other marks ("rho-1", "gpt-4", "2305.14314") are kept whole.
    """
    if not word.isalpha() or len(word) < 4 or not word.isascii():
        return word
    with _STEM_LOCK:  # a Snowball stemmer keeps state while it works
        return _STEMMER.stemWord(word)


def tokenize(text: str, *, drop_stopwords: bool = True) -> list[str]:
    """Tokens for BM25: lowercase, stemmed words and compounds, plus Hangul stems and bigrams.

    ``"Rho-1"`` gives ``rho-1``, ``rho`` and ``1``; ``"2305.14314"`` keeps the whole ID;
    ``"evaluated"`` and ``"evaluation"`` both give ``evalu``; ``"소프트맥스 병목"`` gives
    ``소프트맥스``, its bigrams and ``병목``, so a Korean question finds a word inside a longer
    compound, and ``"QLoRA에"`` still gives ``qlora``.
    """
    lowered = text.lower()
    tokens: list[str] = []
    for match in _LATIN.finditer(lowered):
        word = match.group(0)
        if drop_stopwords and word in STOPWORDS:
            continue
        tokens.append(stem(word))
        if _SPLIT.search(word):
            tokens.extend(stem(p) for p in _SPLIT.split(word) if p and not (drop_stopwords and p in STOPWORDS))
    for match in _HANGUL_RUN.finditer(text):
        tokens.extend(_korean_tokens(match.group(0)))
    return tokens
