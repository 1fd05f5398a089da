"""Building :class:`knowledge.config.Settings` for a test's own data directory."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from tests.helpers.net import dead_arxiv_url

if TYPE_CHECKING:
    from knowledge.config import Settings

#: Environment that lets fetchers reach the local fake servers quickly.
LOCAL_HTTP_ENV: dict[str, str] = {"DIGESTBOT_ALLOW_PRIVATE_URLS": "1", "HTTP_TIMEOUT_SECONDS": "2"}


class HasSettings(Protocol):
    """Anything with ``settings`` (a knowledge base, a poller)."""

    @property
    def settings(self) -> Settings: ...


def _data_dir(data: str | Path | HasSettings) -> Path:
    return Path(data) if isinstance(data, str | Path) else Path(data.settings.data_dir)


def settings_for(data: str | Path | HasSettings, **env: str) -> Settings:
    """Settings for ``data`` (a data directory, or the data directory of a knowledge base).

    Hermetic: no ``.env`` file is read, and arXiv points at a refused local port unless
    ``ARXIV_API_URL`` is given. ``env`` adds or overrides variables.
    """
    from knowledge.config import Settings

    values = {"DIGESTBOT_DATA_DIR": str(_data_dir(data)), "ARXIV_API_URL": dead_arxiv_url()}
    values.update(env)
    return Settings.from_env(values, dotenv=False)


def local_http_settings(data: str | Path | HasSettings, **env: str) -> Settings:
    """:func:`settings_for` with :data:`LOCAL_HTTP_ENV`: fetches may reach 127.0.0.1, 2 s timeout."""
    return settings_for(data, **(LOCAL_HTTP_ENV | env))
