"""The ``digestbot`` subcommands (parsed by :mod:`bot.cli`): each takes the parsed arguments and the
settings and returns the exit status. Results go to stdout (``--json``: the contracts in
``docs/design.md``), progress to stderr."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from knowledge import Settings

if TYPE_CHECKING:
    from knowledge import Knowledge

def print_json(obj: object) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def open_kb(settings: Settings) -> Knowledge:  # KnowledgeBase imported lazily: torch is slow to import
    from knowledge import KnowledgeBase

    return KnowledgeBase(settings)


def progress_bar(unit: str = "chunk"):  # noqa: ANN202
    """A progress callback for ingests: chunks embedded, with tqdm's rate and ETA, on stderr."""
    from tqdm import tqdm

    bar = None

    def update(done: int, total: int, label: str) -> None:
        nonlocal bar
        update.seen = (done, total)  # type: ignore[attr-defined]
        if bar is None:
            bar = tqdm(total=total, unit=unit, file=sys.stderr, disable=None, desc="embedding", smoothing=0.1)
        bar.update(done - bar.n)
        bar.set_postfix_str(label[:40], refresh=False)
        if done >= total:
            bar.close()

    update.seen = (0, 0)  # type: ignore[attr-defined]
    return update


def interrupted_note(progress) -> str:  # noqa: ANN001
    """What Ctrl-C during an ingest kept, and how to finish."""
    done, total = progress.seen
    so_far = f"after {done} of {total} chunks; " if total else ""
    return (f"interrupted {so_far}every document written so far is kept (a half-written one is not cited). "
            "Run the same command again to finish: unchanged documents are skipped.")


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from knowledge import current_owner, ingest_through_owner

    owner = None if settings.chroma_host else current_owner(settings.data_dir)
    kb = None
    if owner is not None:
        # embedded Chroma serves one process: the one that has the store open runs the ingest
        print(f"{owner.label} owns the embedded store; it runs this ingest", file=sys.stderr)
        report = ingest_through_owner(owner, list(args.inputs), digest=args.digest, progress=progress_bar())
    else:
        from knowledge import IngestReport, ingest_inputs, precheck_inputs

        inputs, refused = precheck_inputs(list(args.inputs))  # refused before the model loads
        if inputs:
            kb = open_kb(settings)
            progress = progress_bar()
            try:
                report = ingest_inputs(kb, inputs, digest=args.digest, progress=progress, settings=settings)
            except KeyboardInterrupt:
                print(f"\n{interrupted_note(progress)}", file=sys.stderr)
                return 130
        else:
            report = IngestReport()
        report.failed += len(refused)
        report.failures.extend(refused)
    from bot.watch_cli import matches_text, terminal_matches

    matches = terminal_matches(report, settings, kb)  # the new issues against the watches; the terminal's are printed
    if args.json:
        print_json(report.to_json() | ({"watch_matches": [h.to_json() for h in matches]} if matches else {}))
    else:
        from bot.chat import ingest_summary

        print(ingest_summary(report) + (f"\n{matches_text(matches)}" if matches else ""))
    return 0 if not report.failed or (report.added + report.updated + report.unchanged) else 1


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from bot.rendering import answer_text

    kb = open_kb(settings)
    question = " ".join(args.question)
    questions = [line.strip() for line in sys.stdin if line.strip()] if question == "-" else [question]
    for q in questions:
        answer = kb.ask(q, k=args.k)
        if args.json:
            print_json(answer.to_json(answer_text(answer)))
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
            print_json({"error": str(exc)})
        else:
            print(f"error: {exc}", file=sys.stderr)
        return 2
    from bot.rendering import paper_card_text

    kb = open_kb(settings)
    report = kb.paper(args.id)
    if args.json:
        print_json(report.to_json())
    else:
        print(paper_card_text(report))
    return 0


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    kb = open_kb(settings)
    if args.docs:
        docs = kb.documents()
        if args.json:
            for d in docs:
                print_json(d.to_json())
            return 0
        for d in docs:
            print(f"{d.digest} · {d.date or 'undated'} · {d.title} · {d.sections} section{'s' if d.sections != 1 else ''} · {d.source}")
        print(f"{len(docs)} documents")
        return 0
    stats = kb.stats()
    if args.json:
        print_json(stats.to_json())
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
    print(f"store:     {stats.store}{store_note(settings)}")
    if stats.last_update:
        print(f"updated:   {stats.last_update}")
    return 0


def store_note(settings: Settings) -> str:
    """What a user should know about the store: embedded Chroma is single-process."""
    if settings.chroma_host:
        return ""
    from knowledge import SINGLE_PROCESS_NOTE, current_owner

    owner = current_owner(settings.data_dir)
    held = f"; owned by {owner.label}: ingest through it" if owner else ""
    return f" ({SINGLE_PROCESS_NOTE}{held}; several processes: use a Chroma server, CHROMA_HOST)"


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from knowledge import format_table, load_questions, run_eval

    kb = open_kb(settings)
    questions = load_questions(args.questions)
    modes = ["hybrid"] + (["dense"] if args.baselines or args.dense else []) + (["lexical"] if args.baselines or args.lexical else [])
    results = {mode: run_eval(kb, questions, mode=mode, k=args.k) for mode in modes}
    if args.json:
        print_json({mode: r.to_json() for mode, r in results.items()})
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
    n = kb.reindex(progress=progress_bar(unit="doc"))
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


def cmd_roundup(args: argparse.Namespace, settings: Settings) -> int:
    """The papers a window's issues covered; a bad date is refused before the model loads (exit 2)."""
    from knowledge import InvalidDate

    try:
        first = _option_day("--since", args.since)
        last = _option_day("--until", args.until)
        if first and last and first > last:
            raise InvalidDate(f"--since {first} is after --until {last}")
    except InvalidDate as exc:
        if args.json:
            print_json({"error": str(exc)})
        else:
            print(f"error: {exc}", file=sys.stderr)
        return 2
    from bot.roundups import roundup_text

    kb = open_kb(settings)
    roundup = kb.roundup(since=args.since, until=args.until, digest=args.digest)
    if args.json:
        print_json(roundup.to_json())
    else:
        print(roundup_text(roundup))
    return 0


def _option_day(option: str, value: str | None):  # noqa: ANN202 - a date, imported lazily
    from knowledge import InvalidDate, parse_day

    if value is None:
        return None
    try:
        return parse_day(value)
    except InvalidDate as exc:
        raise InvalidDate(f"{option}: {exc}") from None
