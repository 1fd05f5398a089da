"""``digestbot chat``: the bot's conversation in a terminal, through the same handlers.

Opened on an embedded store, the chat owns it (see :mod:`knowledge.process.ownership`): embedded
Chroma serves one process, so documents are added from inside the chat (``/ingest PATH``),
and a ``digestbot ingest`` from another shell hands its work to the chat over a local socket.
"""

from __future__ import annotations

import logging
import re
import shlex
import sys
from typing import TYPE_CHECKING, TextIO

from bot import conversation as convo
from bot.rendering import answer_text, issues_text, paper_card_text, stats_text
from knowledge import IngestReport, InvalidArxivId, Settings

if TYPE_CHECKING:
    from knowledge import Knowledge

log = logging.getLogger(__name__)

HELP = """Ask anything, e.g. "what did the digest say about QLoRA?". Follow-ups ("and its limits?") use the previous question.
Commands: /paper ID  ·  /latest [digest]  ·  /sources  ·  /ingest PATH_OR_URL...  ·  /more  ·  /help  ·  /quit"""


def ingest_summary(report: IngestReport) -> str:
    """The summary of an ingest, as ``digestbot ingest`` prints it."""
    lines = [
        f"documents: {report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.failed} failed; chunks embedded: {report.chunks_embedded}; {report.seconds:.1f} s"
    ]
    lines += [f"  skipped {source}: {reason}" for source, reason in report.failures]
    for dup in report.duplicates:
        kind = "same text" if dup.get("exact") else "nearly the same text"
        lines.append(f"  not stored twice: {dup['source']} ({kind} as {dup['duplicate_of']})")
    for name, n in report.guessed_digests.items():
        lines.append(f"  note: digest name “{name}” was guessed from the folder for {n} document(s); "
                     "pass --digest NAME to set it")
    if report.duplicates:
        lines.append(f"duplicates: {len(report.duplicates)} (stored once)")
    return "\n".join(lines)


def _owner_note() -> str:
    return (
        "This chat owns the embedded store (embedded Chroma serves one process at a time): add documents here with "
        "/ingest PATH_OR_URL...; `.venv/bin/digestbot ingest PATH_OR_URL...` in another shell hands its work to this chat."
    )


def run_chat(settings: Settings, *, stdin: TextIO | None = None, stdout: TextIO | None = None, kb=None) -> int:  # noqa: ANN001
    """Run the terminal conversation until EOF or /quit.

    Args:
        settings: Configuration.
        stdin: Where questions come from (default: the terminal).
        stdout: Where answers go.
        kb: A KnowledgeBase to use (default: one opened from the settings; on an embedded
            store this process then owns the store until the chat ends).

    Raises:
        StoreOwned: Another process (a bot, another chat) owns the embedded store.
    """
    stdin = stdin or sys.stdin
    out = stdout or sys.stdout
    own = kb is None
    if own:
        kb = _open_owned(settings)
    try:
        return _converse(kb, stdin, out, owner=own and not settings.chroma_host)
    finally:
        if own:
            kb.close()


def _open_owned(settings: Settings) -> Knowledge:
    from knowledge import open_in_process

    return open_in_process(settings, "digestbot chat")


def _converse(kb, stdin: TextIO, out: TextIO, *, owner: bool) -> int:  # noqa: ANN001
    stats = kb.stats()
    print(f"digestbot — {stats.documents} documents, {stats.chunks} chunks indexed ({stats.store}).", file=out)
    if owner:
        print(_owner_note(), file=out)
    if stats.documents == 0:
        print(convo.empty_index_hint(in_chat=True), file=out)
    print(HELP, file=out)
    state = convo.Conversation()
    interactive = stdin.isatty()
    console = terminal_console(out) if interactive else None
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
        if console is None:
            print(handle_line(kb, state, text), file=out)
        else:
            # the spinner owns the line while the answer is prepared: text typed ahead
            # never lands on the answer's line (it is read as the next question)
            with console.status("thinking…"):
                shown = handle_line(kb, state, text)
            console.print(terminal_text(shown))
        out.flush()
    return 0


def terminal_console(out: TextIO):  # noqa: ANN201 - rich.console.Console
    """A rich console for a terminal (plain output elsewhere: pipes, files)."""
    from rich.console import Console

    return Console(file=out, highlight=False, soft_wrap=True)


_MARKUP = re.compile(r"\*\*(?P<bold>.+?)\*\*|(?<![\w*])\*(?P<em>[^*\n]+?)\*(?![\w*])|<(?P<link>https?://[^>\s]+)>")


def terminal_text(text: str):  # noqa: ANN201 - rich.text.Text
    """The bot's Discord-flavoured answer for a terminal: bold, italics and clickable links, no raw ``**``."""
    from rich.text import Text

    out = Text()
    for line in text.split("\n"):
        pos = 0
        for m in _MARKUP.finditer(line):
            out.append(line[pos : m.start()].replace("\\*", "*").replace("\\_", "_"))
            if m["bold"] is not None:
                out.append(m["bold"].replace("\\*", "*"), style="bold")
            elif m["em"] is not None:
                out.append(m["em"], style="italic")
            else:
                out.append(m["link"], style=f"link {m['link']} underline")
            pos = m.end()
        out.append(line[pos:].replace("\\*", "*").replace("\\_", "_"))
        out.append("\n")
    out.rstrip()
    return out


def _ingest(kb, arg: str) -> str:  # noqa: ANN001
    from bot.commands import progress_bar
    from knowledge import StoreError, ingest_inputs

    try:
        inputs = shlex.split(arg)
    except ValueError as exc:
        return f"Could not read those paths: {exc}"
    if not inputs:
        return "Usage: /ingest PATH_OR_URL...  (files, folders, feed or Substack URLs)"
    progress = progress_bar()
    try:
        report = ingest_inputs(kb, inputs, progress=progress, settings=kb.settings)
    except StoreError as exc:
        return f"Could not ingest: {exc}"
    except KeyboardInterrupt:
        from bot.commands import interrupted_note

        return interrupted_note(progress).replace("Run the same command", "Run the same /ingest")
    from bot.watch_cli import matches_text, terminal_matches

    matches = terminal_matches(report, kb.settings, kb)  # the terminal's watches: shown here, after the summary
    return ingest_summary(report) + (f"\n{matches_text(matches)}" if matches else "")


def handle_line(kb, state: convo.Conversation, text: str) -> str:  # noqa: ANN001
    """One line of chat: a command or a question; returns the text to show."""
    cmd, _, arg = text.partition(" ")
    if cmd == "/help":
        return HELP
    if cmd == "/ingest":
        return _ingest(kb, arg)
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
    return answer_text(answer)
