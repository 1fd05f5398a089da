"""A polite client for the arXiv API (Atom), with a process-wide pacer and a SQLite cache.

arXiv's terms ask for at most one request every three seconds; :class:`Pacer`
enforces that across every client in the process. Throttling ("Rate exceeded."),
5xx answers, timeouts and connection errors are retried with exponential backoff;
the API's error entry (HTTP 200, ``<title>Error</title>``) means "not found".
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import feedparser
import httpx

from knowledge.clients.arxiv_ids import InvalidArxivId, parse_arxiv_id
from knowledge.models import Paper

log = logging.getLogger(__name__)

USER_AGENT = "digestbot/0.1 (paper lookups for a Discord bot)"
_VERSION = re.compile(r"v\d+$")


class ArxivUnavailable(Exception):
    """The arXiv API could not be reached or kept failing; the message says why."""


class Pacer:
    """At most one request every ``interval`` seconds, shared by threads.

    Args:
        interval: Minimum seconds between the starts of two requests.
        clock: Monotonic clock (injectable).
        sleep: Sleep function (injectable, so tests record waits instead of waiting).
    """

    def __init__(self, interval: float = 3.0, *, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = interval
        self.clock = clock
        self.sleep = sleep
        self._lock = threading.Lock()
        self._last: float | None = None

    def wait(self) -> None:
        """Block until the next request may start."""
        with self._lock:
            now = self.clock()
            if self._last is not None:
                delay = self._last + self.interval - now
                if delay > 0:
                    self.sleep(delay)
                    now = self._last + self.interval
            self._last = now


DEFAULT_PACER = Pacer(3.0)


@dataclass(slots=True)
class CacheHit:
    """A cached answer: a paper, or ``None`` for "arXiv does not know this ID"."""

    paper: Paper | None


class ArxivCache:
    """arXiv answers cached in SQLite with a TTL (found papers and not-found answers).

    Args:
        db_path: The SQLite file (the state database).
        ttl_seconds: How long a found paper stays fresh.
        negative_ttl_seconds: How long a "not found" answer stays fresh.
        clock: Wall clock (injectable).
    """

    def __init__(self, db_path: str | Path, ttl_seconds: float = 7 * 86400, *, negative_ttl_seconds: float = 86400, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(db_path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.ttl = ttl_seconds
        self.negative_ttl = negative_ttl_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS arxiv_cache (arxiv_id TEXT PRIMARY KEY, payload TEXT, fetched_at REAL NOT NULL)")
        self._db.commit()

    def get(self, arxiv_id: str) -> CacheHit | None:
        """The fresh cached answer for an ID, or None when absent or expired."""
        with self._lock:
            row = self._db.execute("SELECT payload, fetched_at FROM arxiv_cache WHERE arxiv_id = ?", (arxiv_id,)).fetchone()
        if row is None:
            return None
        payload, fetched_at = row
        ttl = self.ttl if payload else self.negative_ttl
        if self.clock() - fetched_at > ttl:
            return None
        return CacheHit(Paper(**json.loads(payload)) if payload else None)

    def put(self, arxiv_id: str, paper: Paper | None) -> None:
        """Remember an answer."""
        payload = json.dumps(asdict(paper)) if paper is not None else None
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO arxiv_cache VALUES (?, ?, ?)", (arxiv_id, payload, self.clock()))
            self._db.commit()

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _iso_date(value: str) -> str:
    return value[:10] if value and re.match(r"\d{4}-\d{2}-\d{2}", value) else ""


def parse_feed(text: str) -> dict[str, Paper]:
    """Papers in an arXiv API Atom answer, by normalised ID (the error entry is skipped)."""
    feed = feedparser.parse(text)
    out: dict[str, Paper] = {}
    for entry in feed.entries:
        title = " ".join(str(entry.get("title", "")).split())
        entry_id = str(entry.get("id", ""))
        if title == "Error" or "/api/errors" in entry_id:
            continue
        raw_id = entry_id.rsplit("/abs/", 1)[-1]
        try:
            arxiv_id = parse_arxiv_id(_VERSION.sub("", raw_id))
        except InvalidArxivId:
            log.warning("arXiv answered an entry with an unreadable id %r", entry_id[:80])
            continue
        out[arxiv_id] = Paper(
            arxiv_id=arxiv_id,
            title=title,
            authors=[str(a.get("name", "")).strip() for a in entry.get("authors", []) if a.get("name")],
            abstract=" ".join(str(entry.get("summary", "")).split()),
            published=_iso_date(str(entry.get("published", ""))),
            updated=_iso_date(str(entry.get("updated", ""))),
            metadata_source="arxiv-api",
        )
    return out


class ArxivClient:
    """Looks papers up on the arXiv API.

    Args:
        base_url: The query endpoint (``ARXIV_API_URL``).
        cache: Where answers are cached (None: no cache).
        timeout: Seconds per request.
        max_retries: Retries after the first attempt.
        backoff: First backoff in seconds (doubles each retry).
        pacer: The request pacer (default: the process-wide one, one request per 3 s).
        sleep: Sleep used for backoff (injectable).
        transport: httpx transport (tests).
    """

    def __init__(
        self,
        base_url: str,
        *,
        cache: ArxivCache | None = None,
        timeout: float = 10.0,
        max_retries: int = 2,
        backoff: float = 3.0,
        pacer: Pacer | None = None,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url
        self.cache = cache
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.pacer = pacer or DEFAULT_PACER
        self.sleep = sleep
        self._client = httpx.Client(timeout=timeout, headers={"User-Agent": USER_AGENT}, transport=transport, follow_redirects=True)

    def fetch(self, arxiv_id: str) -> Paper | None:
        """One paper, or None when arXiv does not know the ID.

        Raises:
            ArxivUnavailable: Offline, timed out, throttled or failing after the retries.
        """
        return self.fetch_many([arxiv_id])[arxiv_id]

    def fetch_many(self, ids: list[str]) -> dict[str, Paper | None]:
        """Several papers in one request (cached ones are not asked again).

        Raises:
            ArxivUnavailable: As :meth:`fetch`.
        """
        out: dict[str, Paper | None] = {}
        missing = []
        for arxiv_id in dict.fromkeys(ids):
            hit = self.cache.get(arxiv_id) if self.cache else None
            if hit is not None:
                out[arxiv_id] = hit.paper
            else:
                missing.append(arxiv_id)
        for start in range(0, len(missing), 50):
            batch = missing[start : start + 50]
            found = parse_feed(self._request({"id_list": ",".join(batch), "max_results": str(len(batch))}))
            for arxiv_id in batch:
                paper = found.get(arxiv_id)
                out[arxiv_id] = paper
                if self.cache:
                    self.cache.put(arxiv_id, paper)
        return out

    def _request(self, params: dict[str, str]) -> str:
        reason = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                delay = self.backoff * (2 ** (attempt - 1))
                log.info("arXiv: %s; retrying in %.0f s", reason, delay)
                self.sleep(delay)
            self.pacer.wait()
            try:
                response = self._client.get(self.base_url, params=params)
            except httpx.TimeoutException:
                reason = f"timed out after {self.timeout:g} s"
                continue
            except (httpx.ConnectError, httpx.UnsupportedProtocol) as exc:
                # no DNS answer or nobody listening: offline, and retrying will not change that
                raise ArxivUnavailable(f"cannot reach {self.base_url} ({type(exc).__name__})") from exc
            except httpx.HTTPError as exc:
                reason = f"cannot reach {self.base_url} ({type(exc).__name__})"
                continue
            body = response.text
            if "Rate exceeded" in body[:200]:
                reason = "throttled (Rate exceeded)"
                continue
            if response.status_code >= 500:
                reason = f"HTTP {response.status_code}"
                continue
            if response.status_code >= 400:
                raise ArxivUnavailable(f"HTTP {response.status_code} from the arXiv API")
            return body
        raise ArxivUnavailable(reason)

    def close(self) -> None:
        self._client.close()
