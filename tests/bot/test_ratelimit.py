"""Question rate limits: token buckets per user and per channel, with an injected clock."""

from __future__ import annotations

import pytest

from bot.client import slow_down
from bot.ratelimit import AskLimiter, TokenBucket, UserCooldown
from knowledge import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_one_per_period() -> None:
    clock = Clock()
    limiter = AskLimiter(5, burst=3, channel_burst=None, clock=clock)
    assert [limiter.retry_after(1) for _ in range(3)] == [0, 0, 0]
    assert limiter.retry_after(1) == pytest.approx(5)
    clock.now += 2
    assert limiter.retry_after(1) == pytest.approx(3)  # a refusal takes nothing
    clock.now += 3
    assert limiter.retry_after(1) == 0
    assert limiter.retry_after(1) == pytest.approx(5)
    clock.now += 100  # refills up to the burst, not beyond
    assert [limiter.retry_after(1) for _ in range(4)][-1] == pytest.approx(5)


def test_users_are_independent_and_the_channel_has_its_own_bucket() -> None:
    clock = Clock()
    limiter = AskLimiter(5, burst=3, channel_burst=4, channel_per=2, clock=clock)
    assert [limiter.retry_after(u, 7) for u in (1, 1, 2, 2)] == [0, 0, 0, 0]
    # users 1 and 2 still have a token each, but the channel is empty
    assert limiter.retry_after(3, 7) == pytest.approx(2)
    assert limiter.retry_after(3, 8) == 0  # another channel is not held up
    clock.now += 2
    assert limiter.retry_after(3, 7) == 0


def test_zero_turns_the_limits_off() -> None:
    limiter = AskLimiter(0, burst=1, channel_burst=1, clock=Clock())
    assert all(limiter.retry_after(1, 2) == 0 for _ in range(100))
    assert Settings.from_env({"ASK_COOLDOWN_SECONDS": "0"}, dotenv=False).ask_cooldown_seconds == 0
    with pytest.raises(ValueError, match="0 or more"):
        Settings.from_env({"ASK_COOLDOWN_SECONDS": "-1"}, dotenv=False)


def test_settings_for_the_buckets() -> None:
    s = Settings.from_env({"ASK_BURST": "5", "ASK_CHANNEL_BURST": "20", "ASK_CHANNEL_COOLDOWN_SECONDS": "0.5"}, dotenv=False)
    assert (s.ask_burst, s.ask_channel_burst, s.ask_channel_cooldown_seconds) == (5, 20, 0.5)
    default = Settings.from_env({}, dotenv=False)
    assert (default.ask_cooldown_seconds, default.ask_burst, default.ask_channel_burst, default.ask_channel_cooldown_seconds) == (5.0, 3, 10, None)


def test_user_cooldown_keeps_one_per_period() -> None:
    clock = Clock()
    cd = UserCooldown(5, clock)
    assert cd.retry_after(1) == 0
    clock.now += 2
    assert cd.retry_after(1) == pytest.approx(3)


def test_bucket_forgets_full_buckets_when_large(monkeypatch) -> None:
    import bot.ratelimit as rl

    monkeypatch.setattr(rl, "MAX_KEYS", 3)
    clock = Clock()
    bucket = TokenBucket(1, 1, clock)
    for key in range(3):
        bucket.take(key)
    clock.now += 10
    bucket.take(99)
    assert set(bucket._buckets) == {99}


def test_refusal_text() -> None:
    assert slow_down(6.000000001) == "Slow down a little: try again in 6 s."
    assert slow_down(0.2) == "Slow down a little: try again in 1 s."
