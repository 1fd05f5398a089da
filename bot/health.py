"""The bot's health report: a small JSON file in the data directory, and its reader.

The running bot rewrites ``health.json`` every ``HEALTH_SECONDS`` (``bot/cogs/health.py``):
whether the gateway is connected and whether the knowledge base answered, and what the
feed poller is doing (catching up after a start, sources failing, announcements pending or
refused by Discord). ``digestbot health`` (the Docker healthcheck) reads it without
starting anything: fresh, gateway connected and knowledge answering means healthy (exit 0)
— the poller's state is in the line it prints but does not make the container unhealthy,
since restarting the bot cures neither a broken feed nor a missing channel permission.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

HEALTH_FILE = "health.json"
#: How often the bot writes its report.
HEALTH_SECONDS = 30.0
#: A report older than this means the bot is stuck or gone.
MAX_AGE_SECONDS = 120.0


@dataclass(slots=True)
class HealthReport:
    """One health report of the running bot.

    Attributes:
        at: When it was written (seconds since the epoch).
        ok: Gateway connected and the knowledge base answering.
        gateway: "connected", "connecting" or "stopped".
        latency_ms: The gateway's heartbeat latency (None before the first heartbeat).
        knowledge: "ok", or why the knowledge base did not answer.
        pid: The bot's process ID.
        poller: The feed poller in one line: "off", "catching up (…)", "ok: …", "degraded: …",
            "polling in another process".
        catching_up: The first poll after the start has not finished yet.
        sources_failing: Watched sources whose last poll failed.
        announcements_pending: Indexed issues not announced yet.
        announcements_refused: Of those, how many Discord refused (retrying with backoff).
        watches_active: Active watches of Discord users (0 when watches are not loaded).
        watch_dms_waiting: Watch matches still to be sent as a DM.
    """

    at: float
    ok: bool
    gateway: str
    latency_ms: float | None
    knowledge: str
    pid: int
    poller: str = "off"
    catching_up: bool = False
    sources_failing: int = 0
    announcements_pending: int = 0
    announcements_refused: int = 0
    watches_active: int = 0
    watch_dms_waiting: int = 0


def health_path(data_dir: Path) -> Path:
    """Where the report lives."""
    return data_dir / HEALTH_FILE


def write_report(data_dir: Path, report: HealthReport) -> None:
    """Replace the report atomically (a reader never sees half a file)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = health_path(data_dir)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(report)), encoding="utf-8")
    tmp.replace(path)


def check(data_dir: Path, *, max_age: float = MAX_AGE_SECONDS, now: float | None = None) -> tuple[bool, str]:
    """Whether the bot reported itself healthy recently, and a one-line reason.

    Returns:
        ``(healthy, line)``.
    """
    path = health_path(data_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        report = HealthReport(**data)
    except FileNotFoundError:
        return False, f"no health report at {path} yet (is `digestbot run` running?)"
    except (ValueError, TypeError) as exc:
        return False, f"unreadable health report at {path}: {exc}"
    age = (time.time() if now is None else now) - report.at
    if age > max_age:
        return False, f"the last health report is {age:.0f} s old (the bot is stuck or stopped)"
    if not report.ok:
        return False, f"unhealthy: gateway {report.gateway}, knowledge {report.knowledge}, poller {report.poller}"
    latency = f", latency {report.latency_ms:.0f} ms" if report.latency_ms is not None else ""
    watches = f", watches {report.watches_active} active ({report.watch_dms_waiting} DMs waiting)" if report.watches_active else ""
    return True, f"healthy {age:.0f} s ago: gateway {report.gateway}{latency}, knowledge {report.knowledge}, poller {report.poller}{watches}"
