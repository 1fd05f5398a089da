"""``digestbot gaps``: what the archive misses, from the state database.

The most common questions answered "none" or "related" and the most downvoted ones (with the
reason most often given in the 👎 modal), with counts: as text, ``--json`` or ``--csv``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import Any, TextIO

from knowledge import Settings

CSV_FIELDS = ("kind", "question", "count", "none", "related", "reason")


def gaps_rows(report: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One flat row per question: kind ``unanswered`` or ``downvoted``."""
    rows = [{"kind": "unanswered", "question": r["question"], "count": r["count"], "none": r["none"], "related": r["related"], "reason": ""}
            for r in report["unanswered"]]
    rows += [{"kind": "downvoted", "question": r["question"], "count": r["count"], "none": "", "related": "", "reason": r.get("reason") or ""}
             for r in report["downvoted"]]
    return rows


def write_gaps(report: dict[str, list[dict[str, Any]]], out: TextIO, *, fmt: str = "text") -> None:
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(gaps_rows(report))
        return
    if fmt == "json":
        for row in gaps_rows(report):
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        return
    out.write("Asked but not answered (confidence none / related):\n")
    for r in report["unanswered"] or [None]:
        out.write(f"  {r['count']:>4}×  {r['question']}  ({r['none']} none, {r['related']} related)\n" if r else "  nothing yet\n")
    out.write("Most downvoted:\n")
    for r in report["downvoted"] or [None]:
        out.write(f"  {r['count']:>4}×  {r['question']}{'  (mostly: ' + r['reason'] + ')' if r and r.get('reason') else ''}\n" if r else "  nothing yet\n")


def cmd_gaps(args: argparse.Namespace, settings: Settings) -> int:
    from bot.state import BotState

    if not settings.state_db.exists():
        print(f"no state database at {settings.state_db}: nothing asked yet", file=sys.stderr)
        return 1
    state = BotState(settings.state_db)
    try:
        report = state.gaps(args.guild, limit=args.limit)
    finally:
        state.close()
    write_gaps(report, sys.stdout, fmt="csv" if args.csv else "json" if args.json else "text")
    return 0
