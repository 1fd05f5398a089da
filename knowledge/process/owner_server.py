"""The owner's side of an embedded store: :class:`OwnerServer` accepts ingests other processes
hand it over a local socket (same user only) and runs them on its knowledge base."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import struct
import threading
from typing import TYPE_CHECKING, Any

from knowledge.interface import Progress
from knowledge.models import IngestReport
from knowledge.search.store import StoreBusy

if TYPE_CHECKING:
    from knowledge.config import Settings
    from knowledge.process.ownership import OwnerLock

log = logging.getLogger(__name__)


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
