"""A per-deployment role lock: which of several processes on one data directory does a job.

Polling the digests, sending watch DMs and posting the weekly roundups each happen once per
deployment, whatever number of ``digestbot run`` processes share its data directory. The
process that holds the job's lock file (an exclusive ``flock``, released by the kernel when
the process dies) does it; the others only answer.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)


class DeploymentLock:
    """An exclusive, non-blocking ``flock`` on one file of the data directory.

    Args:
        data_dir: The deployment's data directory (created if missing).
        name: The lock file's name, e.g. ``"poller.lock"``.
    """

    def __init__(self, data_dir: Path, name: str) -> None:
        self.path = Path(data_dir) / name
        self._file: IO[str] | None = None

    @property
    def held(self) -> bool:
        """Whether this process holds the lock."""
        return self._file is not None

    def acquire(self) -> bool:
        """Take the lock if no other process holds it; True when this process holds it now."""
        if self._file is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = self.path.open("a+")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            log.debug("%s is held by another process", self.path)
            return False
        self._file = fh
        return True

    def release(self) -> None:
        """Give the lock back (a no-op when it is not held)."""
        if self._file is None:
            return
        with contextlib.suppress(OSError):
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
        self._file.close()
        self._file = None
