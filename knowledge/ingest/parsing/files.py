"""Open local files safely: regular files only, read in bounded pieces.

A FIFO, a device or a socket handed to ingest would block ``open`` or ``read``
forever (or never end), so they are refused from their ``stat`` before any read.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

_DRAIN_BYTES = 1 << 16
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)


class NotRegularFile(OSError):
    """The path is a FIFO, device, socket or folder rather than a regular file."""


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "a special file"


def regular_size(path: Path) -> int:
    """The size of a regular file, from ``os.stat`` (which never opens the file).

    Raises:
        NotRegularFile: The path (after symlinks) is not a regular file.
        OSError: It cannot be stat'ed.
    """
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise NotRegularFile(f"not a regular file ({_kind(st.st_mode)})")
    return st.st_size


def open_regular(path: Path) -> BinaryIO:
    """Open a regular file for binary reading without ever blocking on a FIFO.

    The file is opened non-blocking and checked again with ``fstat``, so a file swapped
    for a FIFO after :func:`regular_size` is refused too.

    Raises:
        NotRegularFile: It is not a regular file.
        OSError: It cannot be opened.
    """
    fd = os.open(path, _OPEN_FLAGS)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(f"not a regular file ({_kind(mode)})")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_capped(path: Path, max_bytes: int) -> bytes:
    """The whole content of a regular file of at most ``max_bytes`` bytes.

    Raises:
        NotRegularFile: It is not a regular file.
        ValueError: It holds more than ``max_bytes`` bytes (it may have grown since stat).
        OSError: It cannot be read.
    """
    with open_regular(path) as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"file too large (over {max_bytes} bytes)")
    return data


def bounded_lines(fh: BinaryIO, max_bytes: int) -> Iterator[tuple[int, bytes | None]]:
    """Yield ``(line_number, line)`` for each line, reading at most ``max_bytes`` + 1 at a time.

    A line longer than ``max_bytes`` is never held whole: it is read past in bounded
    pieces and yielded as ``None`` so the caller can count and report it.
    """
    lineno = 0
    while piece := fh.readline(max_bytes + 1):
        lineno += 1
        if len(piece) > max_bytes and not piece.endswith(b"\n"):
            while piece and not piece.endswith(b"\n"):
                piece = fh.readline(_DRAIN_BYTES)
            yield lineno, None
        else:
            yield lineno, piece
