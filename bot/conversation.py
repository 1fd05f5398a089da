"""Transport-agnostic conversation handlers shared by Discord and the terminal chat.

Discord cogs and ``digestbot chat`` both parse input, call these, and render the
result their own way; neither talks to the knowledge layer directly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from knowledge import Answer

if TYPE_CHECKING:
    from knowledge import Knowledge

_FOLLOW_UP_START = re.compile(r"^(and|also|but|what about|how about|then|so|그리고|그럼|그러면|또)\b", re.IGNORECASE)
_ANAPHORA = re.compile(r"\b(it|its|it's|they|them|their|this|that|these|those|he|she|the paper|the method|the model)\b|그것|이것|그거|이거|거기", re.IGNORECASE)


_QUESTION_START = re.compile(
    r"^(what|whats|what's|why|how|when|where|who|whom|whose|which|is|are|was|were|do|does|did|can|could|should|would|will|"
    r"has|have|any|anyone|explain|compare|tell me|summari[sz]e)\b"
    r"|^(뭐|무엇|무슨|어떻게|어떤|어느|왜|언제|어디|누가|누구|몇|혹시)",
    re.IGNORECASE,
)
MIN_QUESTION_WORDS = 12


def looks_like_question(text: str, min_words: int = MIN_QUESTION_WORDS) -> bool:
    """Whether a message in an ask channel is a question to answer.

    A question ends with "?" (or "？"), starts with an English or Korean question word
    ("what", "how", "is", "can", …; "뭐", "어떻게", "왜", …), or is at least ``min_words``
    words long. Everything else ("thanks!", "lol") is left alone.
    """
    t = text.strip()
    if not t:
        return False
    return t.endswith(("?", "？")) or bool(_QUESTION_START.match(t)) or len(t.split()) >= min_words


def is_follow_up(question: str) -> bool:
    """Whether a question leans on the previous one ("and its limitations?")."""
    q = question.strip()
    words = q.split()
    if not words:
        return False
    if _FOLLOW_UP_START.match(q):
        return True
    return len(words) <= 8 and bool(_ANAPHORA.search(q))


@dataclass(slots=True)
class Conversation:
    """The state of one conversation (a terminal session, a Discord reply chain)."""

    last_question: str = ""
    last_answer: Answer | None = None
    history: list[str] = field(default_factory=list)

    def context_for(self, question: str) -> str | None:
        """The previous question when this one is a follow-up, else None."""
        return self.last_question if self.last_question and is_follow_up(question) else None

    def remember(self, question: str, answer: Answer, context: str | None) -> None:
        self.last_question = f"{context} {question}" if context else question
        self.last_answer = answer
        self.history.append(question)


def ask(kb: Knowledge, question: str, conversation: Conversation | None = None, *,
        context: str | None = None, shown: list[str] | None = None, k: int = 5) -> Answer:
    """Answer a question, using the conversation (or an explicit context) for follow-ups.

    A follow-up also passes the excerpts shown for the previous question, so it finds new
    sentences instead of repeating them.
    """
    if context is None and conversation is not None:
        context = conversation.context_for(question)
        if context and conversation.last_answer is not None:
            shown = [c.excerpt for c in conversation.last_answer.citations]
    elif context is not None and not is_follow_up(question):
        context, shown = None, None
    answer = kb.ask(question, k=k, context=context, shown=shown if context else None)
    if conversation is not None and not answer.error:
        conversation.remember(question, answer, context)
    return answer


def empty_index_hint(*, in_chat: bool = False) -> str:
    """What a newcomer with an empty index should run (commands that work as typed, from the repo).

    Args:
        in_chat: For the terminal chat, which owns the embedded store: ingest inside it.
    """
    if in_chat:
        return (
            "The index is empty. Fill it with the sample archive, here in the chat:\n"
            "  /ingest ../shared/archive\n"
            "or with your own files, feeds or Substack URLs:\n"
            "  /ingest PATH_OR_URL...\n"
            "(From another shell, `.venv/bin/digestbot ingest ../shared/archive` hands the work to this chat.)"
        )
    return (
        "The index is empty. Fill it with the sample archive:\n"
        "  .venv/bin/digestbot ingest ../shared/archive\n"
        "or with your own files, feeds or Substack URLs:\n"
        "  .venv/bin/digestbot ingest PATH_OR_URL..."
    )
