"""Feed items shared by the announcement tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from tests.fakes.feed_server import FakeEntry

BASE = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def issue(n: int) -> FakeEntry:
    """Issue ``n`` of a made-up weekly digest, with one paper section."""
    html = (
        f"<p>Issue {n} opens with a short note about what happened in machine learning this week, and why it matters.</p>"
        f"<h2>Paper {n}: Glass Routers for Sparse Experts number {n}</h2><p>The authors of paper {n} route tokens through "
        f"glass routers and report a {n}0% speedup (<a href='https://arxiv.org/abs/2403.0{1000 + n}'>arXiv</a>).</p>"
    )
    return FakeEntry(title=f"Weekly issue {n}", link=f"/p/issue-{n}", guid=f"issue-{n}", published=BASE + timedelta(days=7 * n), content=html)


async def until(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Wait for ``condition`` to hold, failing with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.02)
