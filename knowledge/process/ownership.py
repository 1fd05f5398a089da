"""One process owns an embedded store; the others hand it their ingests.

Embedded Chroma (``PersistentClient``) is single-process: a process that has the store
open does not see another process's writes safely (its next query can fail with
``Error creating hnsw segment reader``). So the process that serves from an embedded
store (``digestbot chat``, the bot's knowledge process, ``digestbot run`` with
``KNOWLEDGE_PROCESS=0``) *owns* it:

* it holds an exclusive ``flock`` on ``owner.lock`` in the data directory, which records
  its pid and what it is (the kernel drops the lock when the process dies);
* it listens on a local Unix socket (``owner.sock`` in the data directory, mode 0600, same
  user only) and runs ingests sent there with its own knowledge base, streaming progress
  lines and returning the :class:`~knowledge.models.IngestReport`.

``digestbot ingest`` finds the owner with :func:`current_owner` and calls
:func:`ingest_through_owner`; other writers (``reindex``, ``poll``, a second bot) are
refused with :class:`StoreOwned`, whose message says what to do. The protocol is one
JSON request line, then JSON lines back: ``{"progress": [done, total, label]}`` … and a
last ``{"report": {...}}`` or ``{"error": "...", "type": "StoreBusy"}``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import socket
import struct
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from knowledge.models import IngestReport
from knowledge.search.store import StoreBusy, StoreError

if TYPE_CHECKING:
    from knowledge.config import Settings

log = logging.getLogger(__name__)

LOCK_FILE = "owner.lock"
SOCKET_FILE = "owner.sock"
#: What a user meets when an embedded store is in use by another process.
SINGLE_PROCESS_NOTE = "embedded Chroma serves one process at a time"
_SUN_PATH_MAX = 100  # AF_UNIX paths are limited to 107 bytes on Linux

Progress = Callable[[int, int, str], None]


class StoreOwned(StoreBusy):
    """Another process owns the embedded store (see the module docstring)."""


@dataclass(slots=True)
class OwnerInfo:
    """Who owns an embedded store."""

    pid: int
    role: str
    socket: str
    data_dir: str

    @property
    def label(self) -> str:
        """``digestbot chat (pid 1234)``."""
        return f"{self.role} (pid {self.pid})"


_held: dict[str, OwnerLock] = {}
_held_lock = threading.Lock()


def _key(data_dir: Path) -> str:
    return str(Path(data_dir).resolve())


def _socket_path(data_dir: Path) -> str:
    path = str(Path(data_dir).resolve() / SOCKET_FILE)
    if len(path.encode()) <= _SUN_PATH_MAX:
        return path
    digest = hashlib.sha1(path.encode()).hexdigest()[:16]
    return str(Path(tempfile.gettempdir()) / f"digestbot-{os.getuid()}-{digest}.sock")


def _read_info(fd: int, data_dir: Path) -> OwnerInfo:
    os.lseek(fd, 0, os.SEEK_SET)
    raw = os.read(fd, 65536).decode("utf-8", "replace")
    try:
        data = json.loads(raw)
    except ValueError:
        data = {}
    return OwnerInfo(int(data.get("pid", 0)), str(data.get("role", "another digestbot process")),
                     str(data.get("socket", "")), str(data.get("data_dir", data_dir)))


def current_owner(data_dir: Path) -> OwnerInfo | None:
    """The process that owns the embedded store in ``data_dir``, if another one does.

    Args:
        data_dir: The data directory.

    Returns:
        The owner, or None when nobody (or this very process) owns the store.
    """
    if _key(data_dir) in _held:
        return None
    path = Path(data_dir) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_info(fd, Path(data_dir))
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def owned_message(owner: OwnerInfo, location: str, action: str) -> str:
    """The refusal a second writer sees, saying what to do instead.

    Args:
        owner: Who owns the store.
        location: The store (``embedded chroma at ...``).
        action: What was refused (``reindex``, ``poll``, ``start``).
    """
    inside = "" if action in ("reindex",) or action.endswith(" start") else (
        "ingest through it (`/ingest PATH` inside digestbot chat; `.venv/bin/digestbot ingest PATH` hands the work "
        "to a running chat or bot), "
    )
    return (
        f"{owner.label} owns the {location} ({SINGLE_PROCESS_NOTE}), so this {action} cannot use it; "
        f"{inside}stop it first, or use a Chroma server (CHROMA_HOST)"
    )


def refuse_if_owned(data_dir: Path, action: str) -> None:
    """Raise :class:`StoreOwned` when another process owns the embedded store.

    Raises:
        StoreOwned: Another process owns it.
    """
    owner = current_owner(data_dir)
    if owner is not None:
        raise StoreOwned(owned_message(owner, f"embedded chroma at {Path(data_dir) / 'chroma'}", action))


class OwnerLock:
    """This process's ownership of an embedded store (an exclusive ``flock`` on ``owner.lock``).

    Args:
        data_dir: The data directory.
        role: What this process is (``digestbot chat``), shown to the processes it refuses.

    Raises:
        StoreOwned: Another process owns the store.
    """

    def __init__(self, data_dir: Path, role: str) -> None:
        self.data_dir = Path(data_dir)
        self.role = role
        self.socket = _socket_path(self.data_dir)
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = _read_info(fd, self.data_dir)
            os.close(fd)
            raise StoreOwned(owned_message(owner, f"embedded chroma at {self.data_dir / 'chroma'}", f"{role} start")) from None
        os.ftruncate(fd, 0)
        info = {"pid": os.getpid(), "role": role, "socket": self.socket, "data_dir": str(self.data_dir.resolve()), "since": time.time()}
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self._fd: int | None = fd
        with _held_lock:
            _held[_key(self.data_dir)] = self

    def release(self) -> None:
        """Give the store up (idempotent)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with _held_lock:
            _held.pop(_key(self.data_dir), None)
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


class OwnerServer:
    """The owner's socket: runs ingests other processes send, with the owner's knowledge base.

    Args:
        kb: The owner's :class:`~knowledge.facade.KnowledgeBase`.
        lock: The ownership (it names the socket path).
        settings: Settings for URL ingests (timeouts, size caps).
    """

    def __init__(self, kb: Any, lock: OwnerLock, settings: Settings | None = None) -> None:
        self.kb = kb
        self.lock = lock
        self.settings = settings
        self.path = lock.socket
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)  # we hold the lock: any socket there is a dead owner's
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(self.path)
        os.chmod(self.path, 0o600)  # the data directory is private too; the peer's uid is checked as well
        self._sock.listen(8)
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name="digestbot-owner", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                break
            threading.Thread(target=self._handle, args=(conn,), name="digestbot-owner-ingest", daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rwb") as stream:
            uid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))[1]
            if uid != os.getuid():
                return  # only the same user may write to this user's store
            alive = True

            def send(obj: dict) -> None:
                nonlocal alive
                if not alive:
                    return
                try:
                    stream.write(json.dumps(obj).encode() + b"\n")
                    stream.flush()
                except OSError:
                    alive = False  # the client went away; the ingest still finishes here

            try:
                request = json.loads(stream.readline() or b"{}")
                if request.get("op") == "ping":
                    send({"pid": os.getpid(), "role": self.lock.role})
                    return
                if request.get("op") != "ingest":
                    send({"error": f"unknown request {request.get('op')!r}", "type": "StoreError"})
                    return
                report = self._ingest(request, lambda d, t, label: send({"progress": [d, t, label]}))
            except StoreBusy as exc:
                send({"error": str(exc), "type": "StoreBusy"})
            except Exception as exc:  # noqa: BLE001 - every failure goes back to the client
                log.exception("an ingest handed over by another process failed")
                send({"error": f"{type(exc).__name__}: {exc}", "type": "StoreError"})
            else:
                send({"report": report.to_json()})

    def _ingest(self, request: dict, progress: Progress) -> IngestReport:
        from knowledge.ingest.inputs import ingest_inputs, is_url

        inputs = [str(p) for p in request.get("inputs", [])]
        cwd = str(request.get("cwd") or os.getcwd())
        # the client's relative paths mean what they meant in its working directory
        typed: dict[str, str] = {}
        if os.path.realpath(cwd) != os.path.realpath(os.getcwd()):
            for n, p in enumerate(inputs):
                if not is_url(p) and not os.path.isabs(p):
                    inputs[n] = os.path.normpath(os.path.join(cwd, p))
                    typed[inputs[n]] = os.path.normpath(p)
        log.info("ingest of %d inputs handed over by pid %s", len(inputs), request.get("pid"))
        report = ingest_inputs(self.kb, inputs, digest=request.get("digest"), progress=progress, settings=self.settings)
        if typed:
            report.failures = [(_as_typed(s, typed), r) for s, r in report.failures]
        return report

    def close(self) -> None:
        """Stop accepting; running ingests finish on their threads."""
        self._closed = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)


def _as_typed(source: str, typed: dict[str, str]) -> str:
    for absolute, as_typed in typed.items():
        if source == absolute or source.startswith(absolute + os.sep):
            return os.path.normpath(as_typed + source[len(absolute):])
    return source


class Ownership:
    """Owning an embedded store and serving its socket; :meth:`close` gives both up.

    Args:
        data_dir: The data directory.
        role: What this process is (``digestbot chat``).

    Raises:
        StoreOwned: Another process owns the store.
    """

    def __init__(self, data_dir: Path, role: str) -> None:
        self.lock = OwnerLock(data_dir, role)
        self.server: OwnerServer | None = None

    def serve(self, kb: Any, settings: Settings | None = None) -> None:
        """Start accepting ingests from other processes for ``kb``."""
        try:
            self.server = OwnerServer(kb, self.lock, settings)
        except OSError as exc:  # no socket: other writers are refused instead of served
            log.warning("cannot listen on %s (%s); other processes' ingests will be refused", self.lock.socket, exc)

    def close(self) -> None:
        """Stop serving and release the store."""
        if self.server is not None:
            self.server.close()
            self.server = None
        self.lock.release()


def claim_store(settings: Settings, role: str) -> Ownership | None:
    """Own the embedded store of ``settings`` (None for a Chroma server: nothing to own).

    Raises:
        StoreOwned: Another process owns it.
    """
    if settings.chroma_host:
        return None
    return Ownership(settings.data_dir, role)


def ingest_through_owner(
    owner: OwnerInfo, inputs: list[str], *, digest: str | None = None, progress: Progress | None = None, location: str = ""
) -> IngestReport:
    """Have the process that owns the store run an ingest, and wait for its report.

    Args:
        owner: The owner (from :func:`current_owner`).
        inputs: Paths (as typed: the owner resolves them against this working directory) and URLs.
        digest: Digest name for everything.
        progress: Called as the owner reports progress.
        location: The store, for messages.

    Raises:
        StoreOwned: The owner does not accept ingests (no socket); the message says what to do.
        StoreBusy: The owner could not write (another writer holds the store).
        StoreError: The owner failed the ingest, or stopped during it.
    """
    location = location or f"embedded chroma at {Path(owner.data_dir) / 'chroma'}"
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(owner.socket)
    except OSError as exc:
        sock.close()
        raise StoreOwned(owned_message(owner, location, "ingest") + f" (its socket {owner.socket} does not answer: {exc})") from exc
    request = {"op": "ingest", "inputs": list(inputs), "digest": digest, "cwd": os.getcwd(), "pid": os.getpid()}
    with sock, sock.makefile("rwb") as stream:
        stream.write(json.dumps(request).encode() + b"\n")
        stream.flush()
        for line in stream:
            message = json.loads(line)
            if "progress" in message:
                if progress is not None:
                    progress(*message["progress"])
                continue
            if "report" in message:
                return _report_from_json(message["report"])
            error = str(message.get("error", "unknown error"))
            raise (StoreBusy if message.get("type") == "StoreBusy" else StoreError)(error)
    raise StoreError(f"{owner.label} stopped before finishing the ingest; run it again")


def _report_from_json(data: dict) -> IngestReport:
    return IngestReport(
        added=int(data.get("added", 0)),
        updated=int(data.get("updated", 0)),
        unchanged=int(data.get("unchanged", 0)),
        failed=int(data.get("failed", 0)),
        chunks_embedded=int(data.get("chunks_embedded", 0)),
        seconds=float(data.get("seconds", 0.0)),
        failures=[(str(f["source"]), str(f["reason"])) for f in data.get("failures", [])],
        doc_ids=[str(d) for d in data.get("doc_ids", [])],
        duplicates=list(data.get("duplicates", [])),
        documents=list(data.get("documents", [])),
    )
