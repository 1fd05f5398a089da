"""The knowledge process as its parent sees it: a running child (:class:`Child`) with the calls
waiting on it, started without the bot's secrets in its environment."""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from knowledge.interface import Progress

#: Environment variables the knowledge process must not inherit.
SECRET_ENV = ("DISCORD_TOKEN",)


_ENV_LOCK = threading.Lock()


def start_without_token(process: Any) -> None:
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
class Waiting:
    """A call sent to the child, waiting for its result."""

    future: Future
    method: str
    progress: Progress | None = None


@dataclass(slots=True)
class Child:
    """A running knowledge process: its pipe, what it said when ready, and the calls waiting on it."""

    process: Any  # multiprocessing.process.BaseProcess
    conn: Connection
    info: dict
    waiting: dict[int, Waiting] = field(default_factory=dict)
    send_lock: threading.Lock = field(default_factory=threading.Lock)
    gone: bool = False
    #: Set by the reader thread once the child has exited (it alone joins the process).
    ended: threading.Event = field(default_factory=threading.Event)

    def send(self, message: tuple) -> None:
        with self.send_lock:
            self.conn.send(message)
