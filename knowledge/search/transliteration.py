"""Korean spellings of Latin names, matched to the archive's own vocabulary.

A Korean question often writes a model or company name in Hangul: 라마 (Llama), 미스트랄
(Mistral), 스테이블 (Stable), 솔라 (SOLAR), 다이제스트 (digest). The archive spells them in
Latin letters, so neither BM25 nor the English embedding model sees the match. There is no
table here: the Hangul word is romanised syllable by syllable with ``anyascii`` (Revised
Romanisation), both spellings are reduced to a coarse *sound key* (consonant classes that
Korean does not tell apart merged, vowels folded, the epenthetic "eu" Korean inserts
between English consonants removed), and the word is matched to the Latin tokens of the
index that share its key, ranked by a finer string similarity (``rapidfuzz``).

Example: 미스트랄 -> "MiSeuTeuLal" -> syllables Mi·S·T·Lal -> key ``MaSTLaL``, the key of the
index token "mistral".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from anyascii import anyascii
from rapidfuzz import fuzz

#: Shortest key (in classes) worth matching: "LaMa" (라마) has 4.
MIN_KEY = 3
#: Finer similarity (0-100) that ranks the tokens sharing a key; below it a token is not taken.
MIN_SIMILARITY = 40.0
_SYLLABLE = re.compile(r"[A-Z][a-z]*")
_HANGUL_WORD = re.compile(r"^[\uac00-\ud7a3]+$")
_LATIN_WORD = re.compile(r"^[a-z]{3,}$")
# Consonant classes Korean spelling does not distinguish (voicing, l/r, f/p, v/b ...).
_CLASSES = (
    ("ph", "p"), ("th", "t"), ("ch", "j"), ("sh", "s"), ("ck", "k"), ("qu", "k"), ("x", "ks"),
)
_CLASS_OF = {
    **dict.fromkeys("bpfv", "P"), **dict.fromkeys("dt", "T"), **dict.fromkeys("gkcq", "K"),
    **dict.fromkeys("jz", "J"), "s": "S", "l": "L", "r": "L", "m": "M", "n": "N", "h": "H",
}
_VOWELS = frozenset("aeiouyw")


def _fold(text: str) -> str:
    """Consonant classes and one 'a' per run of vowels, repeated classes collapsed."""
    for old, new in _CLASSES:
        text = text.replace(old, new)
    out: list[str] = []
    for ch in text:
        mark = "a" if ch in _VOWELS else _CLASS_OF.get(ch, "")
        if mark and (not out or out[-1] != mark):
            out.append(mark)
    key = "".join(out)
    return key[:-1] if len(key) > 1 and key.endswith("a") else key  # a final vowel is often silent


def latin_key(token: str) -> str:
    """The sound key of a Latin token ("mistral" -> "MaSTLaL")."""
    word = token.lower()
    word = re.sub(r"g(?=[eiy])", "j", word)  # soft g: "stage" is 스테이지
    word = re.sub(r"(?<=[aeiou])r$", "", word)  # a final r is not pronounced: "solar" is 솔라
    word = re.sub(r"(?<=[aeiou])r(?=[^aeiou])", "", word)  # nor before a consonant: "transformer" keeps it, "Bard" drops it
    return _fold(word)


def romanise(hangul: str) -> str:
    """Romanised Hangul with Korean's epenthetic "eu" removed ("스테이블" -> "steibl")."""
    syllables = _SYLLABLE.findall(anyascii(hangul))
    parts = []
    for s in syllables:
        low = s.lower()
        if len(syllables) > 1 and "eu" in low and low not in ("eu", "eul", "eun", "eum"):
            low = low.replace("eu", "")
        parts.append(low)
    return "".join(parts)


def hangul_key(hangul: str) -> str:
    """The sound key of a Hangul word ("미스트랄" -> "MaSTLaL")."""
    return _fold(romanise(hangul))


@dataclass(frozen=True, slots=True)
class Spelling:
    """A Latin token of the index that a Hangul word may stand for."""

    token: str
    similarity: float  # 0-1


class Transliterator:
    """Maps Hangul words to Latin tokens of one vocabulary.

    Args:
        vocabulary: Tokens of the index (only alphabetic Latin ones of 3+ letters are used).
    """

    def __init__(self, vocabulary: Iterable[str]) -> None:
        self._by_key: dict[str, list[str]] = {}
        for token in vocabulary:
            if _LATIN_WORD.match(token):
                key = latin_key(token)
                if sum(1 for c in key if c != "a") >= 2 and len(key) >= MIN_KEY:
                    self._by_key.setdefault(key, []).append(token)

    def spellings(self, hangul: str, limit: int = 2) -> list[Spelling]:
        """Latin tokens of the vocabulary that ``hangul`` may be a Korean spelling of, best first."""
        if not _HANGUL_WORD.match(hangul) or len(hangul) < 2:
            return []
        key = hangul_key(hangul)
        candidates = self._by_key.get(key, [])
        if not candidates:
            return []
        roman = re.sub(r"(.)\1+", r"\1", romanise(hangul).replace("r", "l"))
        scored = []
        for token in candidates:
            plain = re.sub(r"(.)\1+", r"\1", token.replace("r", "l"))
            score = fuzz.ratio(roman, plain)
            if score >= MIN_SIMILARITY:
                scored.append(Spelling(token, score / 100.0))
        scored.sort(key=lambda s: (-s.similarity, s.token))
        return scored[:limit]
