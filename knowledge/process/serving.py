"""Serving the knowledge base: opened in this process as the owner of its store
(:func:`open_in_process`), and the knowledge process's main loop (:func:`serve`), which
answers :class:`~knowledge.process.service.KnowledgeProcess` calls over a pipe.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING

from knowledge.config import Settings

if TYPE_CHECKING:
    from knowledge.facade import KnowledgeBase

#: Calls the child serves at the same time (an ingest and questions beside it).
WORKER_THREADS = 4


#: The facade methods the child serves.
CALLS = frozenset(
    {
        "ask",
        "paper",
        "suggest_papers",
        "latest_issues",
        "issue_overview",
        "digests",
        "documents",
        "stats",
        "ingest",
        "ingest_documents",
        "delete_document",
        "reindex",
        "refresh",
        "match_topic",
        "roundup",
    }
)


class RemoteError(RuntimeError):
    """An exception raised in the knowledge process that could not be sent back as itself."""


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling, else a :class:`RemoteError` naming it (with the traceback)."""
    remote_tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    try:
        copy = pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001 - any pickling problem: send a plain description
        copy = RemoteError(f"{type(exc).__name__}: {exc}")
    if not isinstance(copy, BaseException):
        copy = RemoteError(f"{type(exc).__name__}: {exc}")
    copy.__cause__ = None
    copy.__context__ = None
    copy.add_note(f"raised in the knowledge process:\n{remote_tb.rstrip()}")
    return copy


def serve(conn: Connection, settings: Settings, log_level: int = logging.WARNING) -> None:
    """The child's main function: open the knowledge base, then answer calls until told to stop.

    Args:
        conn: This end of the pipe to the bot's process.
        settings: The bot's settings (the child opens the same store).
        log_level: The parent's log level (the child logs to stderr like the parent).
    """
    logging.basicConfig(level=log_level, format="%(asctime)s %(levelname)s %(name)s [knowledge]: %(message)s")
    for noisy in ("httpx", "chromadb", "sentence_transformers", "transformers"):
        logging.getLogger(noisy).setLevel(max(log_level, logging.WARNING))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # Ctrl-C reaches the whole process group: the bot's process decides when this one stops
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from knowledge.datadir import private_umask
    from knowledge.embeddings import set_threads

    private_umask()
    # one torch thread answers a question fastest here and leaves a core to the bot's process
    set_threads(settings.torch_threads or 1)
    kb = None
    try:
        kb = open_in_process(settings, f"digestbot run (knowledge process of pid {os.getppid()})")
        kb.embedder.encode(["warm up"])  # load the model now: "ready" means ready to answer
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises it
        if kb is not None:
            kb.close()  # gives up the store's ownership too
        conn.send(("failed", _portable(exc)))
        conn.close()
        return
    send_lock = threading.Lock()

    def send(message: tuple) -> None:
        with send_lock:
            conn.send(message)

    def run(req_id: int, method: str, args: tuple, kwargs: dict) -> None:
        if kwargs.pop("_progress", False):
            kwargs["progress"] = lambda done, total, label: send(("progress", req_id, done, total, label))
        try:
            if method not in CALLS:
                raise AttributeError(f"the knowledge process does not serve {method!r}")
            value = getattr(kb, method)(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the caller
            send(("error", req_id, _portable(exc)))
            return
        try:
            send(("result", req_id, value))
        except Exception as exc:  # noqa: BLE001 - a result that does not pickle
            send(("error", req_id, _portable(exc)))

    send(("ready", {"pid": os.getpid(), "model": kb.embedder.name, "store": kb.store.location}))
    pool = ThreadPoolExecutor(max_workers=WORKER_THREADS, thread_name_prefix="knowledge")
    try:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break  # the bot's process is gone
            if message[0] == "close":
                break
            if message[0] == "call":
                pool.submit(run, *message[1:])
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        kb.close()
        conn.close()


def open_in_process(settings: Settings, role: str) -> KnowledgeBase:
    """A :class:`~knowledge.facade.KnowledgeBase` in this process that owns its embedded store
    (other processes hand it their ingests) until it is closed.

    Args:
        settings: Configuration.
        role: What this process is, for the refusal other writers see ("digestbot chat").

    Raises:
        StoreOwned: Another process owns the embedded store.
    """
    from knowledge.facade import KnowledgeBase
    from knowledge.process.ownership import claim_store

    ownership = claim_store(settings, role)
    try:
        kb = KnowledgeBase(settings)
    except BaseException:
        if ownership is not None:
            ownership.close()
        raise
    if ownership is not None:
        ownership.serve(kb, settings)
        kb.on_close.append(ownership.close)
    return kb
