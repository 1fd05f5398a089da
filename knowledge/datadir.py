"""The data directory's permissions: only its owner may read it.

The directory holds the Chroma store, the lexical index, the state database (feedback,
announcements) and the bot's health report. It is created ``0o700`` and what is inside
is made ``0o600`` (directories ``0o700``); processes that write there run with a ``077``
umask so that files created later (by Chroma, SQLite) are private too.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

#: The umask digestbot's processes run with: nothing for group or others.
PRIVATE_UMASK = 0o077


def private_umask() -> int:
    """Make files this process creates from now on private (``umask 077``); returns the old umask."""
    old = os.umask(PRIVATE_UMASK)
    os.umask(old | PRIVATE_UMASK)
    return old


def secure_data_dir(path: Path) -> Path:
    """Create the data directory ``0o700`` and take group/other access from what is in it.

    Files and folders that belong to another user (a shared mount, say) are left alone.

    Args:
        path: The data directory.

    Returns:
        The same path.
    """
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    uid = os.getuid()
    for item in [path, *path.rglob("*")]:
        with contextlib.suppress(OSError):
            info = item.lstat()
            if info.st_uid != uid or stat.S_ISLNK(info.st_mode) or not info.st_mode & 0o077:
                continue
            os.chmod(item, stat.S_IMODE(info.st_mode) & ~0o077)
    return path
