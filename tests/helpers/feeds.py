"""The made-up weekly digest the feed, poller and announcement tests serve."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.fakes.feeds import FakeEntry

#: Publication date of issue 0; issue ``n`` is published ``7 * n`` days later.
BASE = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def issue(n: int, *, title: str | None = None, body: str | None = None, guid: str | None = None) -> FakeEntry:
    """Issue ``n`` of a made-up weekly digest, with one paper section.

    Args:
        n: Issue number (also sets the link ``/p/issue-n``, the date and the arXiv id).
        title: Title instead of ``Weekly issue n``.
        body: HTML content instead of the standard note + paper section.
        guid: GUID instead of ``issue-n``.
    """
    html = body or (
        f"<p>Issue {n} opens with a short note about what happened in machine learning this week, and why it matters.</p>"
        f"<h2>Paper {n}: Glass Routers for Sparse Experts number {n}</h2><p>The authors of paper {n} route tokens through "
        f"glass routers and report a {n}0% speedup (<a href='https://arxiv.org/abs/2403.0{1000 + n}'>arXiv</a>).</p>"
    )
    return FakeEntry(
        title=title or f"Weekly issue {n}",
        link=f"/p/issue-{n}",
        guid=guid or f"issue-{n}",
        published=BASE + timedelta(days=7 * n),
        content=html,
    )


def sources_toml(digests: Iterable[tuple[str, str, str | None]]) -> str:
    """``sources.toml`` text for ``(name, feed_url, substack_url_or_None)`` triples."""
    return "".join(
        f'[[digest]]\nname = "{name}"\nfeed = "{feed}"\n' + (f'substack = "{substack}"\n' if substack else "")
        for name, feed, substack in digests
    )


def write_sources(path: Path, digests: Iterable[tuple[str, str, str | None]]) -> Path:
    """Write :func:`sources_toml` to ``path`` and return ``path``."""
    path.write_text(sources_toml(digests))
    return path
