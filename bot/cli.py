"""The ``digestbot`` command line: ingest, ask, paper, poll, stats, eval, chat, run, health.

Progress goes to stderr, results to stdout. ``--json`` prints the contracts in
``design.md``. Exit status 2 means the input itself was wrong (for example an
arXiv ID that is not one).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from bot.health import MAX_AGE_SECONDS
from knowledge import Settings

log = logging.getLogger(__name__)


def _print_json(obj: object) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


# Commands that answer questions use one torch thread unless TORCH_THREADS says otherwise
# (lowest latency for one question on a small CPU); ingest and reindex use every core.
SERVING_COMMANDS = {"ask", "paper", "chat", "run", "eval", "stats", "poll"}


def _open_kb(settings: Settings):  # noqa: ANN202 - KnowledgeBase, imported lazily (torch is slow to import)
    from knowledge import KnowledgeBase

    return KnowledgeBase(settings)


def _progress_bar(total_hint: str = "documents"):  # noqa: ANN202
    from tqdm import tqdm

    bar = None

    def update(done: int, total: int, label: str) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit="doc", file=sys.stderr, disable=None, desc="indexing")
        bar.n = done
        bar.set_postfix_str(label[:40], refresh=False)
        bar.refresh()
        if done >= total:
            bar.close()

    return update


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from knowledge import current_owner, ingest_through_owner

    owner = None if settings.chroma_host else current_owner(settings.data_dir)
    if owner is not None:
        # embedded Chroma serves one process: the one that has the store open runs the ingest
        print(f"{owner.label} owns the embedded store; it runs this ingest", file=sys.stderr)
        report = ingest_through_owner(owner, list(args.inputs), digest=args.digest, progress=_progress_bar())
    else:
        from knowledge import ingest_inputs

        kb = _open_kb(settings)
        report = ingest_inputs(kb, args.inputs, digest=args.digest, progress=_progress_bar(), settings=settings)
    if args.json:
        _print_json(report.to_json())
    else:
        from bot.chat import ingest_summary

        print(ingest_summary(report))
    return 0 if not report.failed or (report.added + report.updated + report.unchanged) else 1


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from bot.rendering import answer_text

    kb = _open_kb(settings)
    question = " ".join(args.question)
    questions = [line.strip() for line in sys.stdin if line.strip()] if question == "-" else [question]
    for q in questions:
        answer = kb.ask(q, k=args.k)
        if args.json:
            _print_json(answer.to_json(answer_text(answer)))
        else:
            print(answer_text(answer))
            if len(questions) > 1:
                print()
    return 0


def cmd_paper(args: argparse.Namespace, settings: Settings) -> int:
    from knowledge import InvalidArxivId, parse_arxiv_id

    try:
        parse_arxiv_id(args.id)
    except InvalidArxivId as exc:
        if args.json:
            _print_json({"error": str(exc)})
        else:
            print(f"error: {exc}", file=sys.stderr)
        return 2
    from bot.rendering import paper_card_text

    kb = _open_kb(settings)
    report = kb.paper(args.id)
    if args.json:
        _print_json(report.to_json())
    else:
        print(paper_card_text(report))
    return 0


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    kb = _open_kb(settings)
    if args.docs:
        docs = kb.documents()
        if args.json:
            for d in docs:
                _print_json(d.to_json())
            return 0
        for d in docs:
            print(f"{d.digest} · {d.date or 'undated'} · {d.title} · {d.sections} section{'s' if d.sections != 1 else ''} · {d.source}")
        print(f"{len(docs)} documents")
        return 0
    stats = kb.stats()
    if args.json:
        _print_json(stats.to_json())
        return 0
    print(f"documents: {stats.documents}")
    print(f"chunks:    {stats.chunks}")
    if stats.orphan_chunks:
        print(f"orphans:   {stats.orphan_chunks} chunks of an interrupted ingest (not searched; "
              "ingesting the same inputs again replaces them)")
    print("digests:")
    for name, n in stats.digests.items():
        print(f"  {name}: {n}")
    print(f"papers:    {stats.papers}")
    print(f"model:     {stats.model}")
    print(f"store:     {stats.store}{_store_note(settings)}")
    if stats.last_update:
        print(f"updated:   {stats.last_update}")
    return 0


def _store_note(settings: Settings) -> str:
    """What a user should know about the store: embedded Chroma is single-process."""
    if settings.chroma_host:
        return ""
    from knowledge import SINGLE_PROCESS_NOTE, current_owner

    owner = current_owner(settings.data_dir)
    held = f"; owned by {owner.label}: ingest through it" if owner else ""
    return f" ({SINGLE_PROCESS_NOTE}{held}; several processes: use a Chroma server, CHROMA_HOST)"


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from knowledge import format_table, load_questions, run_eval

    kb = _open_kb(settings)
    questions = load_questions(args.questions)
    modes = ["hybrid"] + (["dense"] if args.baselines or args.dense else []) + (["lexical"] if args.baselines or args.lexical else [])
    results = {mode: run_eval(kb, questions, mode=mode, k=args.k) for mode in modes}
    if args.json:
        _print_json({mode: r.to_json() for mode, r in results.items()})
    else:
        print(format_table(results, per_question=not args.quiet))
    if args.min_hit3 is not None or args.min_mrr is not None:
        main_result = results["hybrid"]
        if args.min_hit3 is not None and main_result.hit3 < args.min_hit3:
            print(f"FAIL: hit@3 {main_result.hit3:.2f} < floor {args.min_hit3:.2f}", file=sys.stderr)
            return 1
        if args.min_mrr is not None and main_result.mrr < args.min_mrr:
            print(f"FAIL: MRR {main_result.mrr:.2f} < floor {args.min_mrr:.2f}", file=sys.stderr)
            return 1
        if main_result.negatives_total and main_result.negatives_ok < main_result.negatives_total:
            print("FAIL: a negative question was answered as found", file=sys.stderr)
            return 1
    return 0


def cmd_reindex(args: argparse.Namespace, settings: Settings) -> int:
    from knowledge import KnowledgeBase, refuse_if_owned

    if not settings.chroma_host:
        refuse_if_owned(settings.data_dir, "reindex")
    kb = KnowledgeBase(settings, rebuild=True)
    n = kb.reindex(progress=_progress_bar())
    print(f"re-embedded {n} chunks with {kb.embedder.name}")
    return 0


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    from bot.chat import run_chat

    return run_chat(settings)


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.runner import run_bot

    return run_bot(settings)


def cmd_poll(args: argparse.Namespace, settings: Settings) -> int:
    from bot.runner import poll_once

    if not settings.chroma_host and not args.dry_run:
        from knowledge import refuse_if_owned

        refuse_if_owned(settings.data_dir, "poll")  # the owner (the bot) polls the feeds itself
    return poll_once(settings, dry_run=args.dry_run)


def cmd_health(args: argparse.Namespace, settings: Settings) -> int:
    from bot.health import check

    healthy, line = check(settings.data_dir, max_age=args.max_age)
    print(line, file=sys.stdout if healthy else sys.stderr)
    return 0 if healthy else 1


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
    try:
        return int(args.func(args, settings) or 0)
    except (StoreError, KnowledgeUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
