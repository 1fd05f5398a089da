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
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING, Any

from knowledge.config import Settings
from knowledge.process.calls import ForwardedCalls
from knowledge.process.child import Child, Waiting, start_without_token
from knowledge.process.serving import open_in_process, serve

if TYPE_CHECKING:
    from knowledge.interface import Knowledge, Progress

log = logging.getLogger(__name__)

#: Seconds to wait for the child to load the model and open the store.
START_TIMEOUT_S = 180.0
#: Seconds a question, a lookup or a listing may take before the caller is told.
CALL_TIMEOUT_S = 120.0
#: After a failed start, calls fail at once for this long instead of trying again.
RESTART_COOLDOWN_S = 30.0


class KnowledgeUnavailable(RuntimeError):
    """The knowledge process could not start, stopped, or did not answer in time."""


# -- the child --------------------------------------------------------------------------


# -- the parent -------------------------------------------------------------------------


class KnowledgeProcess(ForwardedCalls):
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
        self._child: Child | None = None
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

    def _start(self) -> Child:
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
        start_without_token(process)
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
        child = Child(process, here, payload)
        threading.Thread(target=self._read, args=(child,), name="knowledge-reader", daemon=True).start()
        return child

    def _running_child(self) -> Child:
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

    def _read(self, child: Child) -> None:
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
        child.waiting[req_id] = Waiting(future, method, progress)
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


def open_knowledge(settings: Settings, *, wait: bool = True) -> Knowledge:
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
    return open_in_process(settings, "digestbot run")


