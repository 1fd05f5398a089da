"""Small text helpers: cleaning, sentences, language, slugs, hashing."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\ufeff\ufffe\uffff]")
_SURROGATES = re.compile(r"[\ud800-\udfff]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u3000]+")
_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_LETTER = re.compile(r"[^\W\d_]")
# A sentence ends at . ! ? (or their full-width forms) followed by space, or at a Korean
# declarative ending such as "다." / "요." which the same rule covers.
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9가-힣])")
_ABBREVIATIONS = ("e.g.", "i.e.", "et al.", "vs.", "Fig.", "Eq.", "cf.", "approx.", "etc.")


def clean_text(text: str) -> str:
    """Normalise text so every later step (tokenizers included) can read it.

    Applies NFC normalisation, removes control and zero-width characters and lone
    surrogates, and collapses runs of horizontal whitespace. Newlines are kept.

    Args:
        text: Any string, possibly with odd encodings or control characters.

    Returns:
        The cleaned string.
    """
    text = _SURROGATES.sub("", text)
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub(" ", text)
    text = _SPACES.sub(" ", text)
    return "\n".join(line.strip() for line in text.split("\n"))


def clean_line(text: str) -> str:
    """Clean text and fold it onto a single line."""
    return " ".join(clean_text(text).split())


def split_sentences(text: str) -> list[str]:
    """Split a paragraph into sentences (English and Korean punctuation)."""
    text = " ".join(text.split())
    if not text:
        return []
    protected = text
    for i, abbr in enumerate(_ABBREVIATIONS):
        protected = protected.replace(abbr, f"\x00{i}\x00")
    parts = _SENTENCE_END.split(protected)
    out = []
    for part in parts:
        for i, abbr in enumerate(_ABBREVIATIONS):
            part = part.replace(f"\x00{i}\x00", abbr)
        part = part.strip()
        if part:
            out.append(part)
    return out


def looks_like_author_list(sentence: str) -> bool:
    """Whether a sentence is a byline ("Title (Ann Lee, Bo Kim, Cy Park, ...)"), not prose.

    Five or more comma-separated items with most words capitalised: a paper's author list,
    with or without its title before it. A long one is cut across sentences or chunks, so its
    brackets need not match.
    """
    words = sentence.split()
    return sentence.count(",") >= 4 and sum(w[:1].isupper() for w in words) > 0.6 * len(words)


def detect_language(text: str) -> str:
    """Guess the main language: "ko" when Hangul is a noticeable share of letters, else "en"."""
    sample = text[:20000]
    letters = len(_LETTER.findall(sample))
    if not letters:
        return "en"
    hangul = len(_HANGUL.findall(sample))
    return "ko" if hangul / letters > 0.05 else "en"


def has_hangul(text: str) -> bool:
    """Whether the text contains any Hangul."""
    return bool(_HANGUL.search(text))


def slugify(text: str) -> str:
    """A lowercase ASCII-ish slug ("Ahead of AI" -> "ahead-of-ai"); keeps non-Latin letters."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"[^\w]+", "-", text, flags=re.UNICODE).strip("-_")
    return text or "untitled"


def readable_name(folder: str) -> str:
    """Turn a folder name into a human digest name ("davis-summarizes-papers" -> "Davis Summarizes Papers")."""
    words = re.split(r"[-_\s]+", folder.strip())
    return " ".join(w if w.isupper() else w[:1].upper() + w[1:] for w in words if w) or folder


def content_hash(*parts: str) -> str:
    """A stable short hash of the given strings."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return h.hexdigest()[:32]


def normalise_title(title: str) -> str:
    """Normalise a paper title for matching: case, punctuation and spacing folded."""
    title = unicodedata.normalize("NFKC", title).lower()
    title = re.sub(r"[^\w]+", " ", title, flags=re.UNICODE)
    return " ".join(title.split())
