"""Question rate limits: token buckets per user and per channel.

A bucket holds up to ``capacity`` tokens and gains one every ``per`` seconds; each question
takes one. So a user may ask a few questions at once (the burst), then one per ``per``
seconds. A question must find a token in both its user's and its channel's bucket; a
refused question takes nothing. ``per <= 0`` turns a limit off.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable

MAX_KEYS = 10_000


class TokenBucket:
    """Buckets of ``capacity`` tokens refilling at one per ``per`` seconds, one bucket per key."""

    def __init__(self, capacity: int, per: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = max(1, int(capacity))
        self.per = per
        self.clock = clock
        self._buckets: dict[Hashable, tuple[float, float]] = {}  # key -> (tokens, at)

    @property
    def enabled(self) -> bool:
        return self.per > 0

    def level(self, key: Hashable, now: float | None = None) -> float:
        """Tokens available for ``key`` now."""
        if not self.enabled:
            return float(self.capacity)
        now = self.clock() if now is None else now
        tokens, at = self._buckets.get(key, (float(self.capacity), now))
        return min(float(self.capacity), tokens + max(0.0, now - at) / self.per)

    def wait(self, key: Hashable, now: float | None = None) -> float:
        """Seconds until ``key`` has a token (0: it has one now); takes nothing."""
        if not self.enabled:
            return 0.0
        level = self.level(key, now)
        return 0.0 if level >= 1 else (1 - level) * self.per

    def take(self, key: Hashable, now: float | None = None) -> None:
        """Use one token of ``key`` (call after :meth:`wait` returned 0)."""
        if not self.enabled:
            return
        now = self.clock() if now is None else now
        self._buckets[key] = (self.level(key, now) - 1, now)
        if len(self._buckets) > MAX_KEYS:  # forget full buckets: they are the default anyway
            self._buckets = {k: v for k, v in self._buckets.items() if self.level(k, now) < self.capacity}


class AskLimiter:
    """Per-user and per-channel token buckets for questions.

    Args:
        per: Seconds per question per user (steady rate); ``<= 0`` turns every limit off.
        burst: Questions a user may ask at once.
        channel_burst: Questions a channel may get at once (``None``: no channel limit).
        channel_per: Seconds per question per channel (default ``per / 5``).
        clock: Monotonic seconds (injectable for tests).
    """

    def __init__(self, per: float, *, burst: int = 3, channel_burst: int | None = 10, channel_per: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per = per
        self._clock = clock
        self.users = TokenBucket(burst, per, clock)
        channel_per = per / 5 if channel_per is None else channel_per
        self.channels = TokenBucket(channel_burst or 1, channel_per if (per > 0 and channel_burst) else 0, clock)

    @property
    def clock(self) -> Callable[[], float]:
        return self._clock

    @clock.setter
    def clock(self, clock: Callable[[], float]) -> None:
        self._clock = self.users.clock = self.channels.clock = clock

    def retry_after(self, user_id: int, channel_id: int | None = None) -> float:
        """Seconds to wait; 0 means go ahead (and uses a token of the user and of the channel)."""
        now = self._clock()
        wait = max(self.users.wait(user_id, now), self.channels.wait(channel_id, now) if channel_id is not None else 0.0)
        if wait:
            return wait
        self.users.take(user_id, now)
        if channel_id is not None:
            self.channels.take(channel_id, now)
        return 0.0


class UserCooldown(AskLimiter):
    """At most one question per ``per`` seconds per user (no burst, no channel limit)."""

    def __init__(self, per: float, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(per, burst=1, channel_burst=None, clock=clock)
