"""The digests to watch: the sources file (TOML), plus those admins add from Discord (state database)."""

from __future__ import annotations

import logging
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from knowledge.clients.urlsafety import UnsafeUrl, check_source_url
from knowledge.watch.reports import PollerStatus
from knowledge.watch.state import INDEXED, SEEN

if TYPE_CHECKING:
    from knowledge.config import Settings
    from knowledge.watch.state import StateDB

log = logging.getLogger(__name__)


@dataclass(slots=True)
class SourceConfig:
    """A watched digest."""

    name: str
    feed: str
    substack: str = ""
    origin: str = "file"  # "file" (sources.toml) or "discord" (added by an admin)


_WARNED_MISSING: set[Path] = set()


def load_sources(path: Path) -> list[SourceConfig]:
    """Digests listed in a sources TOML file (``[[digest]]`` tables); a missing file lists none.

    Raises:
        ValueError: The file is not valid TOML or a table lacks ``name``/``feed``.
    """
    if not path.exists():
        if path not in _WARNED_MISSING:
            _WARNED_MISSING.add(path)
            log.warning("sources file %s does not exist: no digests are watched (set DIGESTBOT_SOURCES)", path)
        return []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML ({exc})") from exc
    out = []
    for i, table in enumerate(data.get("digest", []), 1):
        if not table.get("name") or not table.get("feed"):
            raise ValueError(f"{path}: digest #{i} needs a name and a feed")
        out.append(SourceConfig(str(table["name"]), str(table["feed"]), str(table.get("substack", "")), "file"))
    return out


class SourceAdmin:
    """The watched sources and their health; mixed into :class:`~knowledge.watch.poller.Poller`."""

    state: StateDB
    settings: Settings

    # -- sources -------------------------------------------------------------
    def sources(self) -> list[SourceConfig]:
        """Sources from the sources file, then those admins added (a name given twice: the file wins)."""
        file_sources = load_sources(self.settings.sources_file)
        names = {s.name.lower() for s in file_sources}
        added = [SourceConfig(r["name"], r["feed"], r["substack"], "discord") for r in self.state.sources() if r["name"].lower() not in names]
        return file_sources + added

    def add_source(self, name: str, feed: str, substack: str = "", added_by: str = "") -> SourceConfig:
        """Watch a new digest (admins, from Discord).

        Raises:
            ValueError: A URL is not http(s), resolves to a private address (unless allowed), or the name is taken.
        """
        name = " ".join(name.split())
        if not name:
            raise ValueError("the name is empty")
        try:
            feed = check_source_url(feed, allow_private=self.settings.allow_private_urls)
            substack = check_source_url(substack, allow_private=self.settings.allow_private_urls) if substack else ""
        except UnsafeUrl as exc:
            raise ValueError(str(exc)) from exc
        if any(s.name.lower() == name.lower() and s.origin == "file" for s in self.sources()):
            raise ValueError(f"{name} is already configured in the sources file")
        self.state.add_source(name, feed, substack, added_by)
        return SourceConfig(name, feed, substack, "discord")

    def remove_source(self, name: str) -> bool:
        """Stop watching a source added from Discord."""
        return self.state.remove_source(name)

    def health_lines(self) -> list[str]:
        """One line per source: name, health, last success; then what waits to be announced or indexed."""
        lines = []
        for s in self.sources():
            h = self.state.health(s.name)
            if h.paused:
                status = f"⏸ paused after {h.failures} failures: {h.last_error}"
            elif h.failures:
                status = f"⚠ {h.failures} failure(s): {h.last_error}"
            elif h.last_ok:
                status = "✅ ok, last checked " + time.strftime("%Y-%m-%d %H:%M", time.localtime(h.last_ok))
            else:
                status = "not checked yet"
            lines.append(f"• {s.name} — {status}")
            lines.extend(f"  ↳ {line}" for line in self._waiting_lines(s.name))
        return lines

    def _waiting_lines(self, source: str) -> list[str]:
        pending = self.state.entries(source, INDEXED)
        refused = [r for r in pending if r.failures]
        failing = [r for r in self.state.entries(source, SEEN) if r.failures]
        lines = []
        if refused:
            last = max(refused, key=lambda r: r.retry_at)
            lines.append(f"⚠ {len(refused)} announcement(s) refused by Discord, retrying: {last.last_error}")
        if len(pending) > len(refused):
            lines.append(f"{len(pending) - len(refused)} announcement(s) waiting for the next round")
        if failing:
            lines.append(f"⚠ {len(failing)} entr{'ies' if len(failing) > 1 else 'y'} not indexable yet: {failing[-1].title}: {failing[-1].last_error}")
        return lines

    def status(self) -> PollerStatus:
        """Counts for the health report: failing sources, pending and refused announcements."""
        sources = self.sources()
        names = {s.name for s in sources}
        healths = [self.state.health(s.name) for s in sources]
        pending = [r for r in self.state.entries(state=INDEXED) if r.source in names]
        refused = sorted((r for r in pending if r.failures), key=lambda r: r.retry_at)
        return PollerStatus(
            sources=len(sources),
            failing=[h.name for h in healths if h.failures],
            paused=[h.name for h in healths if h.paused],
            pending=len(pending),
            refused=len(refused),
            last_refusal=refused[-1].last_error if refused else "",
            entries_failing=sum(1 for r in self.state.entries(state=SEEN) if r.failures and r.source in names),
        )
