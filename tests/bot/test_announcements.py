"""bot.announcements: the poller's data worded for Discord, feed text escaped."""

from __future__ import annotations

from bot.announcements import notice_line, summary_line
from knowledge import HealthNotice, Summary


def test_health_notices_are_worded_here_with_the_source_escaped():
    paused = notice_line(HealthNotice("Glass *Weekly*", "paused", 3, "HTTP 503\nService Unavailable"))
    assert paused.startswith("⏸ **Glass \\*Weekly\\*** is paused after 3 failed polls: HTTP 503 Service Unavailable")
    assert notice_line(HealthNotice("Glass Weekly", "recovered")) == "▶ **Glass Weekly** is reachable again and back to normal polling."


def test_summary_line_counts_the_folded_issues():
    line = summary_line(Summary("Glass Weekly", ["a", "b", "c"], ["Issue 3", "Issue 4"]))
    assert line == "…and 3 more new issues of **Glass Weekly** while I was away: Issue 3; Issue 4"
