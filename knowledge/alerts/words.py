"""Is a topic usable for a watch? It needs words retrieval can match, and a sane length.

The same tokenizer as the lexical index (:mod:`knowledge.search.tokenize`), stopwords dropped:
"the of and", "???" or a row of emoji has nothing to match, so such a watch would never fire
(or fire on noise); it is refused with the reason.
"""

from __future__ import annotations

from knowledge.search.tokenize import tokenize
from knowledge.text import clean_line

#: The longest topic text accepted (a topic, not an essay).
MAX_TOPIC_CHARS = 200


class WatchRefused(ValueError):
    """A watch cannot be created; the message says why, in words a user can act on."""


def check_topic(text: str) -> str:
    """The topic cleaned onto one line, or :class:`WatchRefused` with the reason.

    Raises:
        WatchRefused: Empty, longer than :data:`MAX_TOPIC_CHARS`, or without usable words.
    """
    cleaned = clean_line(text or "")
    if not cleaned:
        raise WatchRefused("the topic is empty: name what to watch for, e.g. “sparse mixture of experts”")
    if len(cleaned) > MAX_TOPIC_CHARS:
        raise WatchRefused(f"the topic is {len(cleaned)} characters long; keep it under {MAX_TOPIC_CHARS}")
    if not tokenize(cleaned):
        raise WatchRefused("the topic has no words to match (only common words, punctuation or emoji); "
                           "name the subject itself, e.g. “speculative decoding”")
    return cleaned


def topic_key(text: str) -> str:
    """What makes two topics the same watch: their tokens, in order, case folded."""
    return " ".join(tokenize(text, drop_stopwords=False)) or clean_line(text).casefold()
