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
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from knowledge.interface import Progress
from knowledge.models import IngestReport
from knowledge.process.owner_server import OwnerServer
from knowledge.search.store import StoreBusy, StoreError

if TYPE_CHECKING:
    from knowledge.config import Settings

log = logging.getLogger(__name__)

LOCK_FILE = "owner.lock"
SOCKET_FILE = "owner.sock"
#: What a user meets when an embedded store is in use by another process.
SINGLE_PROCESS_NOTE = "embedded Chroma serves one process at a time"
_SUN_PATH_MAX = 100  # AF_UNIX paths are limited to 107 bytes on Linux


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
