"""A polling bot's world for end-to-end tests: settings for one digest feed, and pollers to reopen."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from knowledge.config import Settings
    from knowledge.facade import KnowledgeBase
    from knowledge.watch.poller import Poller


@contextmanager
def polling_world(kb: KnowledgeBase, feed_url: str, folder: Path, **env: str) -> Iterator[tuple[Settings, KnowledgeBase, Callable[[], Poller]]]:
    """Settings that poll one digest ("Glass Weekly" at ``feed_url``) into ``kb``'s data directory.

    Args:
        kb: The knowledge base the poller indexes into.
        feed_url: The digest's feed (a local fake server's URL).
        folder: Where the sources file is written.
        env: Further settings (``ANNOUNCE_CHANNEL_ID``, ...).

    Yields:
        ``(settings, kb, open_poller)``; each ``open_poller()`` opens the bot's state and a
        poller anew, as a restarted process would (all are closed when the block ends).
    """
    from bot.state import BotState
    from knowledge.config import Settings
    from knowledge.watch.poller import Poller

    sources = folder / "sources.toml"
    sources.write_text(f'[[digest]]\nname = "Glass Weekly"\nfeed = "{feed_url}"\n')
    settings = Settings.from_env({
        "DIGESTBOT_DATA_DIR": str(kb.settings.data_dir), "DIGESTBOT_SOURCES": str(sources), "DIGESTBOT_ALLOW_PRIVATE_URLS": "1",
        "POLL_MINUTES": "60", "HTTP_TIMEOUT_SECONDS": "2", "ARXIV_API_URL": "http://127.0.0.1:9/api", **env,
    }, dotenv=False)
    opened: list[BotState] = []

    def open_poller() -> Poller:
        state = BotState(settings.state_db)
        opened.append(state)
        return Poller(kb, state, settings, substack_pace=0)

    try:
        yield settings, kb, open_poller
    finally:
        for state in opened:
            state.close()
