"""Settings read from the environment (and a ``.env`` file via python-dotenv).

An empty value counts as unset. Names follow ``design.md``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import load_dotenv

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent


def default_sources_file() -> Path:
    """``sources.toml`` of the source checkout; where the package is installed without one
    (a wheel in site-packages), ``sources.toml`` in the working directory."""
    beside_code = REPO_ROOT / "sources.toml"
    return beside_code if beside_code.exists() else Path.cwd() / "sources.toml"

DEFAULT_ARXIV_API_URL = "https://export.arxiv.org/api/query"


def _get(env: dict[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _embedding_backend(env: dict[str, str]) -> str:
    raw = (_get(env, "EMBEDDING_BACKEND") or "onnx").lower()
    if raw not in ("onnx-int8", "onnx", "torch"):
        raise ValueError(f"EMBEDDING_BACKEND must be onnx-int8, onnx or torch, got {raw!r}")
    return raw


def _int(env: dict[str, str], name: str, default: int | None) -> int | None:
    raw = _get(env, name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from exc


def _float(env: dict[str, str], name: str, default: float) -> float:
    raw = _get(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {raw!r}")
    return value


def _non_negative(env: dict[str, str], name: str, default: float) -> float:
    """A number that may be 0 (0 turns the feature off)."""
    raw = _get(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc
    if value < 0:
        raise ValueError(f"{name} must be 0 or more, got {raw!r}")
    return value


def _bool(env: dict[str, str], name: str, default: bool) -> bool:
    raw = _get(env, name)
    if raw is None:
        return default
    return raw.lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting digestbot reads. See ``.env.example`` for the documented list."""

    data_dir: Path = Path("data")
    discord_token: str | None = field(default=None, repr=False)
    discord_guild_id: int | None = None
    announce_channel_id: int | None = None
    chroma_host: str | None = None
    chroma_port: int = 8000
    embedding_model: str | None = None
    embedding_backend: str = "onnx"  # EMBEDDING_BACKEND: onnx | onnx-int8 | torch (knowledge.embeddings)
    arxiv_api_url: str = DEFAULT_ARXIV_API_URL
    sources_file: Path = field(default_factory=default_sources_file)
    poll_minutes: float = 30.0
    discord_api_base: str | None = None
    discord_gateway_url: str | None = None
    announce_max_missed: int = 3
    allow_private_urls: bool = False
    shard_count: int | None = None
    auto_shard: bool = False
    ask_cooldown_seconds: float = 5.0  # steady rate per user; 0 turns question rate limits off
    ask_burst: int = 3  # questions a user may ask at once before the steady rate applies
    ask_channel_burst: int = 10  # the same for a whole channel
    ask_channel_cooldown_seconds: float | None = None  # None: ask_cooldown_seconds / 5
    ask_min_words: int = 12  # in an ask channel, a message this long counts as a question
    http_timeout_seconds: float = 20.0
    max_feed_bytes: int = 5_000_000
    max_feed_entries: int = 200
    substack_max_posts: int = 500
    arxiv_cache_days: float = 7.0
    torch_threads: int | None = None
    knowledge_process: bool = True
    watch_max_per_user: int = 25  # WATCH_MAX_PER_USER: active watches one user may have
    watch_dms_per_hour: int = 10  # WATCH_DMS_PER_HOUR: watch DMs one user gets per hour (the rest wait)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, *, dotenv: bool = True) -> Settings:
        """Build settings from ``env`` (default: ``os.environ`` after loading ``.env``).

        Args:
            env: Mapping to read instead of the process environment.
            dotenv: Whether to load a ``.env`` file from the working directory first.

        Raises:
            ValueError: A setting has a value of the wrong type.
        """
        if env is None:
            if dotenv:
                load_dotenv(override=False)
            env = dict(os.environ)
        sources = _get(env, "DIGESTBOT_SOURCES")
        return cls(
            data_dir=Path(_get(env, "DIGESTBOT_DATA_DIR") or "data"),
            discord_token=_get(env, "DISCORD_TOKEN"),
            discord_guild_id=_int(env, "DISCORD_GUILD_ID", None),
            announce_channel_id=_int(env, "ANNOUNCE_CHANNEL_ID", None),
            chroma_host=_get(env, "CHROMA_HOST"),
            chroma_port=_int(env, "CHROMA_PORT", 8000) or 8000,
            embedding_model=_get(env, "EMBEDDING_MODEL"),
            embedding_backend=_embedding_backend(env),
            arxiv_api_url=_get(env, "ARXIV_API_URL") or DEFAULT_ARXIV_API_URL,
            sources_file=Path(sources) if sources else default_sources_file(),
            poll_minutes=_float(env, "POLL_MINUTES", 30.0),
            discord_api_base=_get(env, "DISCORD_API_BASE"),
            discord_gateway_url=_get(env, "DISCORD_GATEWAY_URL"),
            announce_max_missed=_int(env, "ANNOUNCE_MAX_MISSED", 3) or 0,
            allow_private_urls=_bool(env, "DIGESTBOT_ALLOW_PRIVATE_URLS", False),
            shard_count=_int(env, "DISCORD_SHARD_COUNT", None),
            auto_shard=_bool(env, "DISCORD_AUTO_SHARD", False),
            ask_cooldown_seconds=_non_negative(env, "ASK_COOLDOWN_SECONDS", 5.0),
            ask_burst=max(1, _int(env, "ASK_BURST", 3) or 1),
            ask_channel_burst=max(1, _int(env, "ASK_CHANNEL_BURST", 10) or 1),
            ask_channel_cooldown_seconds=_non_negative(env, "ASK_CHANNEL_COOLDOWN_SECONDS", -1.0) if _get(env, "ASK_CHANNEL_COOLDOWN_SECONDS") else None,
            ask_min_words=max(1, _int(env, "ASK_MIN_WORDS", 12) or 1),
            http_timeout_seconds=_float(env, "HTTP_TIMEOUT_SECONDS", 20.0),
            max_feed_bytes=_int(env, "MAX_FEED_BYTES", 5_000_000) or 5_000_000,
            max_feed_entries=max(1, _int(env, "MAX_FEED_ENTRIES", 200) or 200),
            substack_max_posts=max(1, _int(env, "SUBSTACK_MAX_POSTS", 500) or 500),
            arxiv_cache_days=_float(env, "ARXIV_CACHE_DAYS", 7.0),
            torch_threads=_int(env, "TORCH_THREADS", None),
            knowledge_process=_bool(env, "KNOWLEDGE_PROCESS", True),
            watch_max_per_user=max(1, _int(env, "WATCH_MAX_PER_USER", 25) or 1),
            watch_dms_per_hour=max(1, _int(env, "WATCH_DMS_PER_HOUR", 10) or 1),
        )

    @property
    def state_db(self) -> Path:
        """The SQLite state database under the data directory."""
        return self.data_dir / "state.sqlite3"
