"""``digestbot chat``: the bot's conversation in a terminal, through the same handlers."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from bot import conversation as convo
from bot.rendering import issues_text, paper_card_text, stats_text
from knowledge.arxiv_ids import InvalidArxivId
from knowledge.config import Settings

log = logging.getLogger(__name__)

HELP = """Ask anything, e.g. "what did the digest say about QLoRA?". Follow-ups ("and its limits?") use the previous question.
Commands: /paper ID  ·  /latest [digest]  ·  /sources  ·  /more  ·  /help  ·  /quit"""


def run_chat(settings: Settings, *, stdin: TextIO | None = None, stdout: TextIO | None = None, kb=None) -> int:  # noqa: ANN001
    """Run the terminal conversation until EOF or /quit.

    Args:
        settings: Configuration.
        stdin: Where questions come from (default: the terminal).
        stdout: Where answers go.
        kb: A KnowledgeBase to use (default: one opened from the settings).
    """
    stdin = stdin or sys.stdin
    out = stdout or sys.stdout
    if kb is None:
        from knowledge.facade import KnowledgeBase

        kb = KnowledgeBase(settings)
    stats = kb.stats()
    print(f"digestbot — {stats.documents} documents, {stats.chunks} chunks indexed ({stats.store}).", file=out)
    if stats.documents == 0:
        print(convo.empty_index_hint(), file=out)
    print(HELP, file=out)
    state = convo.Conversation()
    interactive = stdin.isatty()
    while True:
        if interactive:
            out.write("\n> ")
            out.flush()
        line = stdin.readline()
        if not line:
            break
        text = line.strip()
        if not text:
            continue
        if text in ("/quit", "/exit"):
            break
        print(handle_line(kb, state, text), file=out)
        out.flush()
    return 0


def handle_line(kb, state: convo.Conversation, text: str) -> str:  # noqa: ANN001
    """One line of chat: a command or a question; returns the text to show."""
    cmd, _, arg = text.partition(" ")
    if cmd == "/help":
        return HELP
    if cmd == "/paper":
        try:
            return paper_card_text(kb.paper(arg))
        except InvalidArxivId as exc:
            return f"That is not an arXiv ID: {exc}"
    if cmd == "/latest":
        return issues_text(kb.latest_issues(arg or None, limit=10))
    if cmd == "/sources":
        return stats_text(kb.stats())
    if cmd == "/more":
        answer = state.last_answer
        if answer is None or not answer.more:
            return "No more excerpts for the last question."
        from bot.rendering import mention_lines

        shown, answer.more = answer.more[:5], answer.more[5:]
        return "\n".join(mention_lines(shown))
    answer = convo.ask(kb, text, state)
    return answer.answer
