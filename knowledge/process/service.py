"""The knowledge base in a process of its own: :class:`KnowledgeProcess`.

Chroma's bindings, the model's tokenizer and the numpy/scipy steps of a BM25 rebuild hold
the GIL while they run. Inside the bot's process, an ingest (a new issue, a first-run
Substack backfill, ``/admin reindex``) therefore stalls the Discord event loop for hundreds
of milliseconds, however it is sliced. :class:`KnowledgeProcess` runs a
:class:`~knowledge.facade.KnowledgeBase` in a child process and forwards the facade's calls
over a pipe, so the bot's process only ever waits on a socket: its event loop and gateway
heartbeats never share a GIL with Chroma or the model.

It offers the facade's public methods with the same arguments, results and exceptions
(``StoreBusy``, ``ModelMismatch`` … are raised in the caller as themselves). The child
serves several calls at once (questions keep being answered during an ingest) and is the
only process that opens the embedded store: it owns it (:mod:`knowledge.process.ownership`), so a
``digestbot ingest`` from a shell hands its work to the child over a local socket, and
other writers are refused with a message that says what to do. The child does not get
``DISCORD_TOKEN``: neither in its settings nor in its environment. If the child dies, the calls waiting on it fail
with :class:`KnowledgeUnavailable` and the next call starts a new one; if the bot's process
dies, the child sees its pipe close and exits.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import logging
import multiprocessing
import os
import pickle
import signal
import threading
import time
import traceback
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from knowledge.config import Settings
from knowledge.models import (
    Answer,
    Document,
    IngestReport,
    IssueOverview,
    IssueSummary,
    PaperReport,
    Stats,
)

if TYPE_CHECKING:
    from knowledge.facade import Progress

log = logging.getLogger(__name__)

#: Calls the child serves at the same time (an ingest and questions beside it).
WORKER_THREADS = 4
#: Seconds to wait for the child to load the model and open the store.
START_TIMEOUT_S = 180.0
#: Seconds a question, a lookup or a listing may take before the caller is told.
CALL_TIMEOUT_S = 120.0
#: After a failed start, calls fail at once for this long instead of trying again.
RESTART_COOLDOWN_S = 30.0
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
    }
)


class KnowledgeUnavailable(RuntimeError):
    """The knowledge process could not start, stopped, or did not answer in time."""


class RemoteError(RuntimeError):
    """An exception raised in the knowledge process that could not be sent back as itself."""


# -- the child --------------------------------------------------------------------------


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
    from knowledge.facade import KnowledgeBase
    from knowledge.process.ownership import claim_store

    private_umask()
    # one torch thread answers a question fastest here and leaves a core to the bot's process
    set_threads(settings.torch_threads or 1)
    ownership = None
    try:
        ownership = claim_store(settings, f"digestbot run (knowledge process of pid {os.getppid()})")
        kb = KnowledgeBase(settings)
        kb.embedder.encode(["warm up"])  # load the model now: "ready" means ready to answer
        if ownership is not None:
            ownership.serve(kb, settings)
            kb.on_close.append(ownership.close)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises it
        if ownership is not None:
            ownership.close()
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


# -- the parent -------------------------------------------------------------------------

#: Environment variables the knowledge process must not inherit.
SECRET_ENV = ("DISCORD_TOKEN",)
_ENV_LOCK = threading.Lock()


def _start_without_token(process: Any) -> None:
    """Start a spawned process without the secrets in its environment.

    ``spawn`` execs a new interpreter with this process's environment (``.env`` was loaded
    into it), and multiprocessing takes no ``env`` argument: the secrets are taken out of
    ``os.environ`` while the child is exec'd, and put back at once.
    """
    with _ENV_LOCK:
        saved = {name: os.environ.pop(name) for name in SECRET_ENV if name in os.environ}
        try:
            process.start()
        finally:
            os.environ.update(saved)



@dataclass(slots=True)
class _Waiting:
    future: Future
    method: str
    progress: Progress | None = None


@dataclass(slots=True)
class _Child:
    process: Any  # multiprocessing.process.BaseProcess
    conn: Connection
    info: dict
    waiting: dict[int, _Waiting] = field(default_factory=dict)
    send_lock: threading.Lock = field(default_factory=threading.Lock)
    gone: bool = False
    #: Set by the reader thread once the child has exited (it alone joins the process).
    ended: threading.Event = field(default_factory=threading.Event)

    def send(self, message: tuple) -> None:
        with self.send_lock:
            self.conn.send(message)


class KnowledgeProcess:
    """A :class:`~knowledge.facade.KnowledgeBase` running in a child process.

    Every method blocks like the facade's (the bot calls them in worker threads) and
    returns or raises what the facade does. Starting loads the model in the child, so it
    takes a few seconds; it raises what opening the knowledge base raised (for example
    ``ModelMismatch``).

    Args:
        settings: Configuration; the child builds its knowledge base from it.
        start_timeout: Seconds to wait for the child to be ready.
        call_timeout: Seconds a question, lookup or listing may take (ingests have no limit).
        wait: Wait here until the child is ready (default). With False the child starts in
            the background (the caller goes on with its own start-up); the first call, or
            :meth:`wait_ready`, waits for it and raises what starting raised.

    Raises:
        KnowledgeUnavailable: The child could not be started or did not get ready in time.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        start_timeout: float = START_TIMEOUT_S,
        call_timeout: float = CALL_TIMEOUT_S,
        wait: bool = True,
    ) -> None:
        self.settings = settings
        self.start_timeout = start_timeout
        self.call_timeout = call_timeout
        self.starts = 0
        self._context = multiprocessing.get_context("spawn")
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._child: _Child | None = None
        self._starting: Future | None = None
        self._closed = False
        self._failed_at = 0.0
        self._failure: BaseException | None = None
        if wait:
            with self._lock:
                self._child = self._start()
        else:
            self._starting = Future()
            threading.Thread(target=self._start_in_background, name="knowledge-start", daemon=True).start()

    def _start_in_background(self) -> None:
        future = self._starting
        assert future is not None
        try:
            future.set_result(self._start())
        except BaseException as exc:  # noqa: BLE001 - raised by wait_ready() or the first call
            future.set_exception(exc)

    def wait_ready(self) -> None:
        """Wait until the child is ready to answer (after ``wait=False``); raise what starting raised.

        Raises:
            KnowledgeUnavailable: The child did not start, or did not get ready in time.
        """
        self._running_child()

    # -- process management -------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        """Process ID of the running child (None while none runs)."""
        child = self._child
        return child.process.pid if child and not child.gone else None

    @property
    def info(self) -> dict:
        """What the child said when it got ready: pid, model, store."""
        child = self._child
        return dict(child.info) if child else {}

    def _start(self) -> _Child:
        here, there = self._context.Pipe(duplex=True)
        # the child never talks to Discord: it does not get the token
        settings = dataclasses.replace(self.settings, discord_token=None)
        process = self._context.Process(
            target=serve,
            args=(there, settings, logging.getLogger().getEffectiveLevel()),
            name="digestbot-knowledge",
            daemon=True,
        )
        self.starts += 1
        started = time.monotonic()
        _start_without_token(process)
        there.close()
        try:
            if not here.poll(self.start_timeout):
                raise KnowledgeUnavailable(f"the knowledge process was not ready after {self.start_timeout:.0f} s")
            try:
                kind, payload = here.recv()
            except (EOFError, OSError):
                process.join(5)
                raise KnowledgeUnavailable(f"the knowledge process exited while starting (exit code {process.exitcode})") from None
            if kind == "failed":
                raise payload
        except BaseException:
            here.close()
            if process.is_alive():
                process.terminate()
            process.join(5)
            raise
        log.info("knowledge process %s ready in %.1f s (%s, %s)", payload.get("pid"), time.monotonic() - started,
                 payload.get("model"), payload.get("store"))
        child = _Child(process, here, payload)
        threading.Thread(target=self._read, args=(child,), name="knowledge-reader", daemon=True).start()
        return child

    def _running_child(self) -> _Child:
        with self._lock:
            if self._closed:
                raise KnowledgeUnavailable("the knowledge base is closed")
            if self._starting is not None:
                starting, self._starting = self._starting, None
                try:
                    self._child = starting.result()
                except BaseException as exc:
                    self._failed_at, self._failure = time.monotonic(), exc
                    raise
            child = self._child
            if child is not None and not child.gone:
                return child
            if self._failure is not None and time.monotonic() - self._failed_at < RESTART_COOLDOWN_S:
                raise KnowledgeUnavailable(f"the knowledge process is not running ({self._failure})")
            log.warning("starting the knowledge process again")
            try:
                self._child = self._start()
            except BaseException as exc:
                self._failed_at, self._failure = time.monotonic(), exc
                raise
            self._failure = None
            return self._child

    def _read(self, child: _Child) -> None:
        """Deliver the child's answers to the callers waiting for them (a thread per child)."""
        while True:
            try:
                message = child.conn.recv()
            except (EOFError, OSError):
                break
            except Exception:  # noqa: BLE001 - a message that does not unpickle: the caller times out
                log.exception("unreadable message from the knowledge process")
                continue
            kind, req_id = message[0], message[1]
            if kind == "progress":
                waiting = child.waiting.get(req_id)
                if waiting and waiting.progress:
                    try:
                        waiting.progress(*message[2:])
                    except Exception:  # noqa: BLE001 - a progress display never stops the work
                        log.exception("progress callback failed")
                continue
            waiting = child.waiting.pop(req_id, None)
            if waiting is None:
                continue  # the caller gave up waiting
            if kind == "result":
                waiting.future.set_result(message[2])
            else:
                waiting.future.set_exception(message[2])
        child.gone = True
        child.process.join(5)
        code = child.process.exitcode
        if not self._closed:
            log.error("the knowledge process stopped (exit code %s); the next call starts a new one", code)
        for waiting in list(child.waiting.values()):
            waiting.future.set_exception(
                KnowledgeUnavailable(f"the knowledge process stopped (exit code {code}) before answering {waiting.method}")
            )
        child.waiting.clear()
        child.conn.close()
        child.ended.set()

    def _call(self, method: str, *args: Any, timeout: float | None = None, progress: Progress | None = None, **kwargs: Any) -> Any:
        child = self._running_child()
        req_id = next(self._ids)
        future: Future = Future()
        child.waiting[req_id] = _Waiting(future, method, progress)
        if progress is not None:
            kwargs["_progress"] = True
        try:
            child.send(("call", req_id, method, args, kwargs))
        except (OSError, ValueError) as exc:
            child.waiting.pop(req_id, None)
            raise KnowledgeUnavailable(f"the knowledge process is not reachable ({exc})") from exc
        if child.gone and not future.done():  # it died between the check and the send
            child.waiting.pop(req_id, None)
            raise KnowledgeUnavailable(f"the knowledge process stopped before answering {method}")
        try:
            return future.result(timeout)
        except FutureTimeout:
            child.waiting.pop(req_id, None)
            raise KnowledgeUnavailable(f"the knowledge process did not answer {method} within {timeout:.0f} s") from None

    def close(self, timeout: float = 30.0) -> None:
        """Stop the child: running calls finish (up to ``timeout``), then it is terminated."""
        with self._lock:
            self._closed = True
            starting, self._starting = self._starting, None
            if starting is not None:
                with contextlib.suppress(BaseException):
                    self._child = starting.result(self.start_timeout)
            child, self._child = self._child, None
        if child is None:
            return
        if not child.gone:
            with contextlib.suppress(OSError, ValueError):
                child.send(("close",))
        child.ended.wait(timeout)  # the reader thread sees the pipe close and joins the child
        if child.process.is_alive():
            log.warning("the knowledge process did not stop within %.0f s; terminating it", timeout)
            child.process.terminate()
            child.ended.wait(5)
            child.process.join(5)  # the reader thread has finished: no concurrent join

    def __enter__(self) -> KnowledgeProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the facade's methods -------------------------------------------------------------
    def ask(self, question: str, *, k: int = 5, context: str | None = None, mode: str = "hybrid",
            shown: list[str] | None = None) -> Answer:
        """Answer a question with cited excerpts (see :meth:`KnowledgeBase.ask`)."""
        return self._call("ask", question, k=k, context=context, mode=mode, shown=shown, timeout=self.call_timeout)

    def paper(self, text: str, *, online: bool = True) -> PaperReport:
        """A paper and its mentions (see :meth:`KnowledgeBase.paper`)."""
        return self._call("paper", text, online=online, timeout=self.call_timeout)

    def suggest_papers(self, prefix: str, limit: int = 25) -> list[tuple[str, str]]:
        """Indexed papers matching a prefix: ``(arxiv_id, title)``."""
        return self._call("suggest_papers", prefix, limit, timeout=self.call_timeout)

    def latest_issues(self, digest: str | None = None, limit: int = 5) -> list[IssueSummary]:
        """Newest digest issues (see :meth:`KnowledgeBase.latest_issues`)."""
        return self._call("latest_issues", digest, limit, timeout=self.call_timeout)

    def issue_overview(self, doc_id: str, *, max_papers: int = 5) -> IssueOverview | None:
        """Title, first paragraph and papers of an indexed issue (for announcements)."""
        return self._call("issue_overview", doc_id, max_papers=max_papers, timeout=self.call_timeout)

    def digests(self) -> dict[str, int]:
        """Digest name -> number of issues indexed."""
        return self._call("digests", timeout=self.call_timeout)

    def documents(self, digest: str | None = None) -> list[IssueSummary]:
        """Every indexed document with its section count (see :meth:`KnowledgeBase.documents`)."""
        return self._call("documents", digest, timeout=self.call_timeout)

    def stats(self) -> Stats:
        """What is indexed, with which model, where."""
        return self._call("stats", timeout=self.call_timeout)

    def refresh(self) -> int:
        """Reload the store's records and bring the lexical index in step."""
        return self._call("refresh")

    def ingest(self, inputs: Iterable[str | Path], *, digest: str | None = None, progress: Progress | None = None) -> IngestReport:
        """Index files and folders (see :meth:`KnowledgeBase.ingest`); ``progress`` is called here."""
        return self._call("ingest", [str(p) for p in inputs], digest=digest, progress=progress)

    def ingest_documents(self, docs: list[Document], *, report: IngestReport | None = None, progress: Progress | None = None) -> IngestReport:
        """Index parsed documents (see :meth:`KnowledgeBase.ingest_documents`).

        As with the facade, a ``report`` passed in is updated in place and returned.
        """
        result: IngestReport = self._call("ingest_documents", list(docs), report=report, progress=progress)
        if report is None:
            return result
        for f in dataclasses.fields(IngestReport):
            setattr(report, f.name, getattr(result, f.name))
        return report

    def delete_document(self, doc_id: str) -> None:
        """Remove one document from the store and the lexical index."""
        self._call("delete_document", doc_id)

    def reindex(self, progress: Progress | None = None) -> int:
        """Re-embed every stored chunk with the current model; returns how many."""
        return self._call("reindex", progress=progress)


def open_knowledge(settings: Settings, *, wait: bool = True) -> Any:
    """The knowledge base the bot serves from: in a child process unless ``KNOWLEDGE_PROCESS=0``.

    Args:
        settings: Configuration.
        wait: For the child process: wait until it is ready (see :class:`KnowledgeProcess`).

    Returns:
        A :class:`KnowledgeProcess`, or a :class:`~knowledge.facade.KnowledgeBase` in this
        process when ``settings.knowledge_process`` is false. Either way the process that
        opens an embedded store owns it (see :mod:`knowledge.process.ownership`) until closed.

    Raises:
        StoreOwned: Another process (a ``digestbot chat``, another bot) owns the embedded store.
    """
    if settings.knowledge_process:
        return KnowledgeProcess(settings, wait=wait)
    from knowledge.facade import KnowledgeBase
    from knowledge.process.ownership import claim_store

    ownership = claim_store(settings, "digestbot run")
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
