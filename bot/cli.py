"""The ``digestbot`` command line: ingest, ask, paper, poll, stats, eval, chat, run, health, gaps, watch.

Progress goes to stderr, results to stdout. ``--json`` prints the contracts in
``design.md``. Exit status 2 means the input itself was wrong (for example an
arXiv ID that is not one).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.commands import (
    cmd_ask,
    cmd_chat,
    cmd_eval,
    cmd_health,
    cmd_ingest,
    cmd_paper,
    cmd_poll,
    cmd_reindex,
    cmd_roundup,
    cmd_run,
    cmd_stats,
)
from bot.gaps import cmd_gaps
from bot.health import MAX_AGE_SECONDS
from bot.watch_cli import add_watch_parser
from knowledge import Settings

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)


# Commands that answer questions use one torch thread unless TORCH_THREADS says otherwise
# (lowest latency for one question on a small CPU); ingest and reindex use every core.
SERVING_COMMANDS = {"ask", "paper", "chat", "run", "eval", "stats", "poll", "roundup"}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(prog="digestbot", description="Ask an archive of AI-research digests, with citations.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="index files, folders, feed URLs and Substack publications")
    p.add_argument("--digest", help="digest name for everything ingested (default: domain or folder name)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("inputs", nargs="+", metavar="PATH_OR_URL")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("ask", help="ask what the digests said")
    p.add_argument("--json", action="store_true", help="print the answer as JSON (JSON Lines for several)")
    p.add_argument("-k", type=int, default=5, help="at most this many citations (1-10)")
    p.add_argument("question", nargs="+", help='the question, or "-" to read one question a line from stdin')
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("paper", help="a paper and what every digest said about it")
    p.add_argument("--json", action="store_true")
    p.add_argument("id", metavar="ARXIV_ID_OR_URL")
    p.set_defaults(func=cmd_paper)

    p = sub.add_parser("poll", help="check the watched digests for new issues")
    p.add_argument("--once", action="store_true", help="one round, then exit (the default from the command line)")
    p.add_argument("--dry-run", action="store_true", help="fetch and report, index and announce nothing")
    p.set_defaults(func=cmd_poll)

    p = sub.add_parser("stats", help="what is indexed")
    p.add_argument("--json", action="store_true")
    p.add_argument("--docs", action="store_true", help="list every indexed document: digest, date, title, sections, source")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("eval", help="measure answer quality on a question set (ingests nothing)")
    p.add_argument("questions", help="JSON Lines file of questions (see README)")
    p.add_argument("-k", type=int, default=5)
    p.add_argument("--baselines", action="store_true", help="also run the dense-only and lexical-only baselines")
    p.add_argument("--dense", action="store_true", help="also run the dense-only baseline")
    p.add_argument("--lexical", action="store_true", help="also run the lexical-only baseline")
    p.add_argument("--json", action="store_true")
    p.add_argument("--quiet", action="store_true", help="overall table only")
    p.add_argument("--min-hit3", type=float, help="exit 1 when hybrid hit@3 is below this")
    p.add_argument("--min-mrr", type=float, help="exit 1 when hybrid MRR is below this")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("reindex", help="re-embed the whole index with the current EMBEDDING_MODEL")
    p.set_defaults(func=cmd_reindex)

    p = sub.add_parser("chat", help="talk to the bot in the terminal")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("run", help="run the Discord bot (needs DISCORD_TOKEN); without a token, chat in the terminal")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("health", help="exit 0 when the running bot reported itself healthy recently (Docker healthcheck)")
    p.add_argument("--max-age", type=float, default=MAX_AGE_SECONDS, help=f"seconds a report stays valid (default {MAX_AGE_SECONDS:.0f})")
    p.set_defaults(func=cmd_health)

    p = sub.add_parser("gaps", help="questions the archive could not answer and the most downvoted answers")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--csv", action="store_true", help="export as CSV (kind, question, count, none, related, reason)")
    out.add_argument("--json", action="store_true", help="JSON Lines, one row a question")
    p.add_argument("--guild", type=int, help="only this guild's questions")
    p.add_argument("--limit", type=int, default=50, help="at most this many questions of each kind (default 50)")
    p.set_defaults(func=cmd_gaps)

    add_watch_parser(sub)
    p = sub.add_parser("roundup", help="the papers a week's issues covered, grouped by paper, each digest's take quoted")
    p.add_argument("--since", metavar="DATE", help="first day, YYYY-MM-DD (default: 6 days before --until)")
    p.add_argument("--until", metavar="DATE", help="last day, YYYY-MM-DD (default: today, UTC)")
    p.add_argument("--digest", metavar="NAME", help="only this digest's issues")
    p.add_argument("--json", action="store_true", help="print the roundup as JSON (docs/design.md)")
    p.set_defaults(func=cmd_roundup)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``digestbot`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("httpx", "chromadb", "sentence_transformers", "transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from knowledge import KnowledgeUnavailable, StoreError, private_umask, set_threads

    private_umask()  # the data directory's files (store, state, health report) are the user's only
    if not (args.command == "run" and settings.knowledge_process):  # else the knowledge process sets its own
        set_threads(settings.torch_threads or (1 if args.command in SERVING_COMMANDS else None))
    if args.command in ("run", "chat"):
        from bot.stopping import stop_on_sigterm

        stop_on_sigterm()  # docker stop / systemd / kill: a clean stop, as on Ctrl-C
    try:
        return int(args.func(args, settings) or 0)
    except (StoreError, KnowledgeUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
