"""``digestbot watch add|list|remove``: the terminal user's watches, and its matches after an ingest.

The terminal is one user (:data:`knowledge.TERMINAL_USER`): its watches live in the same state
database as the Discord users', are matched the same way, and their matches are printed after
``digestbot ingest`` and the terminal chat's ``/ingest`` (then marked sent), never DMed.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import TYPE_CHECKING

from knowledge import Settings

if TYPE_CHECKING:
    from knowledge import IngestReport, Knowledge, WatchHit, WatchStore

log = logging.getLogger(__name__)


def add_watch_parser(sub: argparse._SubParsersAction) -> None:
    """``digestbot watch`` and its subcommands."""
    p = sub.add_parser("watch", help="your watches: topics and papers every newly indexed issue is matched against")
    wsub = p.add_subparsers(dest="watch_command", required=True)
    a = wsub.add_parser("add", help='watch a topic (digestbot watch add "speculative decoding") or a paper (--paper ID)')
    a.add_argument("topic", nargs="*", help="the topic")
    a.add_argument("--paper", metavar="ARXIV_ID_OR_URL", help="watch this paper instead of a topic")
    a.add_argument("--json", action="store_true")
    ls = wsub.add_parser("list", help="your watches")
    ls.add_argument("--json", action="store_true", help="JSON Lines, one watch a line")
    r = wsub.add_parser("remove", help="stop a watch")
    r.add_argument("id", type=int)
    r.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_watch)


def _print_json(obj: object) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


def cmd_watch(args: argparse.Namespace, settings: Settings) -> int:
    from knowledge import TERMINAL_USER, StateDB, WatchStore

    state = StateDB(settings.state_db)
    try:
        store = WatchStore(state, max_per_user=settings.watch_max_per_user)
        if args.watch_command == "list":
            watches = store.watches(TERMINAL_USER)
            for w in watches:
                if args.json:
                    _print_json(w.to_json())
                else:
                    print(f"#{w.id}  {w.kind}  {w.label()}")
            if not watches and not args.json:
                print('no watches: add one with digestbot watch add "TOPIC" or digestbot watch add --paper ID')
            return 0
        if args.watch_command == "remove":
            removed = store.remove(TERMINAL_USER, args.id)
            if args.json:
                _print_json({"id": args.id, "removed": removed})
            else:
                print(f"removed watch #{args.id}" if removed else f"error: you have no watch #{args.id}", file=sys.stdout if removed else sys.stderr)
            return 0 if removed else 1
        return _add(args, settings, store)
    finally:
        state.close()


def _add(args: argparse.Namespace, settings: Settings, store) -> int:  # noqa: ANN001 - WatchStore
    from knowledge import TERMINAL_USER, InvalidArxivId, WatchRefused, parse_arxiv_id

    topic = " ".join(args.topic)
    if bool(topic) == bool(args.paper):
        return _refuse(args, 'give a topic or --paper ID (not both): digestbot watch add "speculative decoding"')
    report = None
    try:
        if args.paper:
            arxiv_id = parse_arxiv_id(args.paper)  # refused before the model loads
            from bot.commands import open_kb

            report = open_kb(settings).paper(arxiv_id)  # fetched and indexed when arXiv answers: the title is known
            watch = store.add(TERMINAL_USER, "paper", arxiv_id, title=report.paper.title if report.paper else "")
        else:
            watch = store.add(TERMINAL_USER, "topic", topic)
    except (WatchRefused, InvalidArxivId) as exc:
        return _refuse(args, f"not watched: {exc}" if isinstance(exc, WatchRefused) else f"not an arXiv ID: {exc}")
    if args.json:
        out = {"watch": watch.to_json()}
        if report is not None:
            out["covered_by"] = [m.to_json() for m in report.mentions]
        _print_json(out)
        return 0
    if report is not None:
        from bot.watch_messages import coverage_line

        print(coverage_line(report.mentions))
    print(f"watching {watch.label()} (watch #{watch.id}): its matches are printed after digestbot ingest and the chat's /ingest")
    return 0


def _refuse(args: argparse.Namespace, reason: str) -> int:
    if args.json:
        _print_json({"error": reason})
    else:
        print(f"error: {reason}", file=sys.stderr)
    return 2


def terminal_matches(report: IngestReport, settings: Settings, kb: Knowledge | None = None) -> list[WatchHit]:
    """Queue what an ingest indexed for the watches, match it, and return the terminal user's new matches.

    Every user's matches are recorded (Discord users get theirs as DMs from the bot); the
    terminal's are returned and marked sent, to be printed. Without ``kb`` (the ingest ran in
    the process that owns the store) one is opened only when someone has a watch. A failure is
    logged and leaves the documents queued (the bot's next polling round, or the next ingest,
    matches them): it never fails the ingest.
    """
    try:
        return _terminal_matches(report, settings, kb)
    except Exception as exc:  # noqa: BLE001 - the ingest itself succeeded
        log.warning("could not match the new documents against the watches (they stay queued): %s", exc)
        return []


def _terminal_matches(report: IngestReport, settings: Settings, kb: Knowledge | None) -> list[WatchHit]:
    from knowledge import StateDB, WatchMatcher, WatchStore

    doc_ids = [d["doc_id"] for d in report.documents if d.get("kind", "digest") == "digest"]
    state = StateDB(settings.state_db)
    try:
        store = WatchStore(state, max_per_user=settings.watch_max_per_user)
        store.queue(doc_ids)
        if not store.queued():
            return []
        if kb is None and not store.has_active_watches():
            store.unqueue(store.queued())
            return []
        if kb is None:
            from bot.commands import open_kb

            kb = open_kb(settings)
        WatchMatcher(kb, store).scan()
        return take_terminal_matches(store)
    finally:
        state.close()


def take_terminal_matches(store: WatchStore) -> list[WatchHit]:
    """The terminal user's matches not shown yet, marked sent (the caller prints them)."""
    from knowledge import TERMINAL_USER

    hits = store.due_hits(user_id=TERMINAL_USER)
    for hit in hits:
        store.mark_sent(hit)
    return hits


def matches_text(hits: list[WatchHit]) -> str:
    """The terminal's matches, for after an ingest's summary (empty when none)."""
    if not hits:
        return ""
    from bot.watch_messages import terminal_match_lines

    lines = [f"watch matches: {len(hits)} new"]
    for hit in hits:
        lines += terminal_match_lines(hit)
    return "\n".join(lines)
