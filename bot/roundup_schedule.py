"""When the weekly roundup is posted: a day and an hour (UTC) per guild, once per ISO week.

Stored in the bot state's per-guild values as ``"<weekday 0-6> <hour 0-23>"``; pure time
arithmetic here, no Discord.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

log = logging.getLogger(__name__)

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
#: The per-guild value's name in the bot state.
SETTING = "roundup"


@dataclass(frozen=True, slots=True)
class Schedule:
    """The weekly roundup's day (0 = Monday) and hour, UTC."""

    day: int
    hour: int

    def __post_init__(self) -> None:
        if not (0 <= self.day <= 6 and 0 <= self.hour <= 23):
            raise ValueError(f"no such day/hour: {self.day} {self.hour}")

    @classmethod
    def parse(cls, value: str) -> Schedule | None:
        """The stored form back; None (logged) for anything unreadable."""
        try:
            day, hour = (int(x) for x in value.split())
            return cls(day, hour)
        except ValueError:
            log.warning("ignoring an unreadable roundup schedule %r", value)
            return None

    def encode(self) -> str:
        return f"{self.day} {self.hour}"

    def label(self) -> str:
        """"every Mon at 09:00 UTC"."""
        return f"every {DAYS[self.day]} at {self.hour:02d}:00 UTC"

    def due_at(self, now: datetime) -> datetime:
        """This ISO week's posting time (the week ``now`` is in)."""
        now = now.astimezone(UTC)
        monday = now.date() - timedelta(days=now.weekday())
        return datetime.combine(monday + timedelta(days=self.day), time(self.hour), tzinfo=UTC)

    def next_at(self, now: datetime) -> datetime:
        """The next posting time from ``now`` on (this week's when it is still to come)."""
        at = self.due_at(now)
        return at if at > now else at + timedelta(days=7)


def week_key(now: datetime) -> str:
    """The ISO week ``now`` is in: ``2024-W15``."""
    year, week, _ = now.astimezone(UTC).isocalendar()
    return f"{year}-W{week:02d}"
