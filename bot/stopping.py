"""SIGTERM stops a long-running command the way Ctrl-C does.

``docker stop``, systemd and ``kill`` send SIGTERM, whose default ends Python at once: no
``finally``, no clean Discord logout, the health report left saying "connected" and the
knowledge process left to notice on its own. With this handler SIGTERM goes the way of
SIGINT: while an asyncio loop runs (``digestbot run``), through the loop's own Ctrl-C
handling (the main task is cancelled and discord.py closes cleanly); elsewhere as a
``KeyboardInterrupt``.
"""

from __future__ import annotations

import logging
import signal
from types import FrameType

log = logging.getLogger(__name__)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    log.warning("SIGTERM: stopping as on Ctrl-C")
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler) and handler is not _on_sigterm:
        handler(signal.SIGINT, frame)  # asyncio's handler while a loop runs, else default_int_handler (raises)
        return
    raise KeyboardInterrupt


def stop_on_sigterm() -> None:
    """Install the handler (main thread only; a no-op where SIGTERM is ignored on purpose)."""
    if signal.getsignal(signal.SIGTERM) == signal.SIG_IGN:
        return
    signal.signal(signal.SIGTERM, _on_sigterm)
