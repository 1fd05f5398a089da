"""The knowledge layer's front door: everything the bot and the command line may use.

``from knowledge import Knowledge, KnowledgeBase, Settings, ...`` — nothing outside this
package imports ``knowledge.<module>`` directly. Names are loaded on first use, so
``import knowledge`` stays cheap (torch and chromadb load only when a knowledge base is
opened; ``digestbot health`` and argument parsing never import them).

Sub-packages:

- ``knowledge.ingest``: parsing, chunking, de-duplication, the inputs an ingest reads.
- ``knowledge.search``: Chroma store, lexical/BM25 index, retrieval, answers as data, confidence.
- ``knowledge.clients``: the guarded HTTP client, feeds, Substack, arXiv.
- ``knowledge.watch``: the feed poller and its state database.
- ``knowledge.process``: the knowledge base in a child process; store ownership.
- ``knowledge.evaluation``: answer-quality evaluation.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # the interface and its two implementations
    "Knowledge": "knowledge.interface",
    "Progress": "knowledge.interface",
    "KnowledgeBase": "knowledge.facade",
    "MAX_QUESTION_CHARS": "knowledge.facade",
    "KnowledgeProcess": "knowledge.process.service",
    "KnowledgeUnavailable": "knowledge.process.service",
    "open_knowledge": "knowledge.process.service",
    "open_in_process": "knowledge.process.service",
    # settings and the data directory
    "Settings": "knowledge.config",
    "private_umask": "knowledge.datadir",
    "set_threads": "knowledge.embeddings",
    # typed results
    "Answer": "knowledge.models",
    "Citation": "knowledge.models",
    "IngestReport": "knowledge.models",
    "IssueOverview": "knowledge.models",
    "IssueSummary": "knowledge.models",
    "Paper": "knowledge.models",
    "PaperReport": "knowledge.models",
    "Stats": "knowledge.models",
    "shared_papers": "knowledge.search.answers",
    "Coverage": "knowledge.models",
    "Roundup": "knowledge.models",
    "RoundupPaper": "knowledge.models",
    "InvalidDate": "knowledge.search.roundups",
    "parse_day": "knowledge.search.roundups",
    # errors
    "StoreError": "knowledge.search.store",
    "StoreBusy": "knowledge.search.store",
    "ModelMismatch": "knowledge.search.store",
    "StoreOwned": "knowledge.process.ownership",
    "InvalidArxivId": "knowledge.clients.arxiv_ids",
    "parse_arxiv_id": "knowledge.clients.arxiv_ids",
    # ingest and store ownership
    "ingest_inputs": "knowledge.ingest.inputs",
    "precheck_inputs": "knowledge.ingest.precheck",
    "SINGLE_PROCESS_NOTE": "knowledge.process.ownership",
    "claim_store": "knowledge.process.ownership",
    "current_owner": "knowledge.process.ownership",
    "ingest_through_owner": "knowledge.process.ownership",
    "refuse_if_owned": "knowledge.process.ownership",
    # watching feeds
    "Poller": "knowledge.watch.poller",
    "Announcement": "knowledge.watch.reports",
    "HealthNotice": "knowledge.watch.reports",
    "PollerStatus": "knowledge.watch.reports",
    "PollReport": "knowledge.watch.reports",
    "Summary": "knowledge.watch.reports",
    "StateDB": "knowledge.watch.state",
    # per-user watches
    "TERMINAL_USER": "knowledge.alerts.store",
    "Watch": "knowledge.alerts.store",
    "WatchHit": "knowledge.alerts.store",
    "WatchStore": "knowledge.alerts.store",
    "WatchSummary": "knowledge.alerts.store",
    "WatchRefused": "knowledge.alerts.words",
    "WatchMatcher": "knowledge.alerts.matching",
    "ScanReport": "knowledge.alerts.matching",
    # evaluation
    "format_table": "knowledge.evaluation.questions",
    "load_questions": "knowledge.evaluation.questions",
    "run_eval": "knowledge.evaluation.questions",
}

__all__ = [
    "Announcement",
    "Answer",
    "Citation",
    "HealthNotice",
    "IngestReport",
    "InvalidArxivId",
    "IssueOverview",
    "IssueSummary",
    "Knowledge",
    "KnowledgeBase",
    "KnowledgeProcess",
    "KnowledgeUnavailable",
    "MAX_QUESTION_CHARS",
    "ModelMismatch",
    "Paper",
    "PaperReport",
    "PollReport",
    "Poller",
    "PollerStatus",
    "Progress",
    "SINGLE_PROCESS_NOTE",
    "Settings",
    "StateDB",
    "Stats",
    "StoreBusy",
    "StoreError",
    "StoreOwned",
    "Summary",
    "claim_store",
    "current_owner",
    "format_table",
    "ingest_inputs",
    "precheck_inputs",
    "ingest_through_owner",
    "load_questions",
    "open_in_process",
    "open_knowledge",
    "parse_arxiv_id",
    "private_umask",
    "refuse_if_owned",
    "run_eval",
    "set_threads",
    "shared_papers",
    "ScanReport",
    "TERMINAL_USER",
    "Watch",
    "WatchHit",
    "WatchMatcher",
    "WatchRefused",
    "WatchStore",
    "WatchSummary",
    "Coverage",
    "InvalidDate",
    "Roundup",
    "RoundupPaper",
    "parse_day",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'knowledge' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:  # what type checkers and editors see
    from knowledge.alerts.matching import ScanReport, WatchMatcher
    from knowledge.alerts.store import TERMINAL_USER, Watch, WatchHit, WatchStore
    from knowledge.alerts.words import WatchRefused
    from knowledge.clients.arxiv_ids import InvalidArxivId, parse_arxiv_id
    from knowledge.config import Settings
    from knowledge.datadir import private_umask
    from knowledge.embeddings import set_threads
    from knowledge.evaluation.questions import format_table, load_questions, run_eval
    from knowledge.facade import MAX_QUESTION_CHARS, KnowledgeBase
    from knowledge.ingest.inputs import ingest_inputs
    from knowledge.ingest.precheck import precheck_inputs
    from knowledge.interface import Knowledge, Progress
    from knowledge.models import (
        Answer,
        Citation,
        Coverage,
        IngestReport,
        IssueOverview,
        IssueSummary,
        Paper,
        PaperReport,
        Roundup,
        RoundupPaper,
        Stats,
    )
    from knowledge.process.ownership import (
        SINGLE_PROCESS_NOTE,
        StoreOwned,
        claim_store,
        current_owner,
        ingest_through_owner,
        refuse_if_owned,
    )
    from knowledge.process.service import KnowledgeProcess, KnowledgeUnavailable, open_knowledge
    from knowledge.process.serving import open_in_process
    from knowledge.search.answers import shared_papers
    from knowledge.search.roundups import InvalidDate, parse_day
    from knowledge.search.store import ModelMismatch, StoreBusy, StoreError
    from knowledge.watch.reports import (
        Announcement,
        HealthNotice,
        PollerStatus,
        PollReport,
        Summary,
    )
    from knowledge.watch.state import StateDB
