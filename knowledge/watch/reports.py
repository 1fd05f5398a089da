"""What a polling round hands the bot: new issues to announce, summary lines, health notices, and
the poller's status. Plain data: the bot words and escapes the messages."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Announcement:
    """A new issue, indexed and ready to announce."""

    source: str
    guid: str
    doc_id: str
    digest: str
    title: str
    date: str
    url: str
    summary: str = ""
    papers: list[str] = field(default_factory=list)
    paid: bool = False

    @property
    def key(self) -> str:
        return f"{self.source}\x1f{self.guid}"


@dataclass(slots=True)
class Summary:
    """One "…and N more new issues" line standing for entries not announced one by one.

    The entries stay pending until :meth:`~knowledge.watch.poller.Poller.mark_summarised` is called, i.e. until the
    line was posted, so a round whose report is dropped (the command line's ``poll``) loses
    nothing.
    """

    source: str
    guids: list[str]
    titles: list[str] = field(default_factory=list)  # the newest few (the bot renders and escapes them)


@dataclass(slots=True)
class PollerStatus:
    """The poller's state, for the health report and /sources.

    Attributes:
        sources: How many sources are watched.
        failing: Sources whose last poll failed (paused ones included).
        paused: Sources paused after repeated failures.
        pending: Indexed issues waiting to be announced (or summarised).
        refused: Of those, how many Discord refused at least once (waiting for a retry).
        last_refusal: The most recent refusal's reason.
        entries_failing: Entries that could not be indexed yet (backing off).
    """

    sources: int = 0
    failing: list[str] = field(default_factory=list)
    paused: list[str] = field(default_factory=list)
    pending: int = 0
    refused: int = 0
    last_refusal: str = ""
    entries_failing: int = 0

    def line(self) -> str:
        """A short human summary ("2 sources, 1 failing (Broken); 1 announcement refused: …")."""
        parts = [f"{self.sources} source{'s' if self.sources != 1 else ''}"]
        if self.failing:
            parts[0] += f", {len(self.failing)} failing ({', '.join(self.failing[:3])})"
        if self.pending:
            parts.append(f"{self.pending} announcement{'s' if self.pending != 1 else ''} pending")
        if self.refused:
            parts.append(f"{self.refused} refused by Discord: {self.last_refusal}")
        if self.entries_failing:
            parts.append(f"{self.entries_failing} entr{'ies' if self.entries_failing != 1 else 'y'} not indexable yet")
        return "; ".join(parts)


@dataclass(slots=True)
class HealthNotice:
    """A source was paused after repeated failures, or recovered (the bot words the message)."""

    source: str
    kind: str  # "paused" | "recovered"
    failures: int = 0
    error: str = ""


@dataclass(slots=True)
class PollReport:
    """What one polling round did."""

    checked: list[str] = field(default_factory=list)
    new_entries: int = 0
    indexed: int = 0
    reindexed: int = 0
    seeded: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    announcements: list[Announcement] = field(default_factory=list)
    summaries: list[Summary] = field(default_factory=list)
    notices: list[HealthNotice] = field(default_factory=list)
    would_index: list[str] = field(default_factory=list)
    entry_errors: dict[str, str] = field(default_factory=dict)  # "source: title" -> reason
    busy: list[str] = field(default_factory=list)  # sources skipped because the store was busy
