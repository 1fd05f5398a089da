"""Network helpers for tests that start local servers."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (nothing listens there once this returns)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dead_arxiv_url() -> str:
    """An arXiv API URL on a free local port: every request to it is refused at once."""
    return f"http://127.0.0.1:{free_port()}/api/query"
