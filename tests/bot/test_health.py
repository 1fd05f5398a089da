"""The health report: what `digestbot health` (the Docker healthcheck) decides from it."""

from __future__ import annotations

import time

from bot.cli import main
from bot.health import HealthReport, check, health_path, write_report


def report(**changes) -> HealthReport:
    values = {"at": time.time(), "ok": True, "gateway": "connected", "latency_ms": 42.0, "knowledge": "ok", "pid": 1}
    return HealthReport(**(values | changes))


def test_fresh_and_ok_is_healthy(tmp_path):
    write_report(tmp_path, report())
    healthy, line = check(tmp_path)
    assert healthy and "latency 42 ms" in line and "knowledge ok" in line


def test_no_report_stale_unhealthy_or_broken_is_not(tmp_path):
    assert check(tmp_path) == (False, f"no health report at {health_path(tmp_path)} yet (is `digestbot run` running?)")
    write_report(tmp_path, report(at=time.time() - 600))
    healthy, line = check(tmp_path)
    assert not healthy and "stuck or stopped" in line
    write_report(tmp_path, report(ok=False, knowledge="no answer within 10 s"))
    healthy, line = check(tmp_path)
    assert not healthy and "no answer within 10 s" in line
    health_path(tmp_path).write_text("{half a file")
    healthy, line = check(tmp_path)
    assert not healthy and line.startswith("unreadable health report")


def test_the_command_exits_by_health(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DIGESTBOT_DATA_DIR", str(tmp_path))
    assert main(["health"]) == 1
    assert "no health report" in capsys.readouterr().err
    write_report(tmp_path, report(at=time.time() - 50))
    assert main(["health"]) == 0
    assert main(["health", "--max-age", "10"]) == 1


async def test_the_cog_reports_a_knowledge_base_that_fails(tmp_path):
    import dataclasses

    from bot.cogs.health import HealthCog
    from tests.bot.helpers import MockBot

    bot = MockBot()
    bot.settings = dataclasses.replace(bot.settings, data_dir=tmp_path)
    bot.latency = 0.05
    bot.is_ready.return_value = True
    bot.is_closed.return_value = False
    cog = HealthCog(bot)
    await cog.write_now()
    assert check(tmp_path)[0]
    bot.kb.stats.side_effect = RuntimeError("the knowledge process stopped (exit code -9)")
    await cog.write_now()
    healthy, line = check(tmp_path)
    assert not healthy and "exit code -9" in line and "gateway connected" in line
    bot.kb.stats.side_effect = None
    bot.is_ready.return_value = False
    bot.latency = float("nan")  # discord.py before the first heartbeat
    await cog.write_now()
    healthy, line = check(tmp_path)
    assert not healthy and "gateway connecting" in line


def test_the_poller_state_is_in_the_line_but_not_in_the_exit_code(tmp_path):
    write_report(tmp_path, report(poller="catching up (2 sources)", catching_up=True))
    healthy, line = check(tmp_path)
    assert healthy and line.endswith("poller catching up (2 sources)")
    write_report(tmp_path, report(poller="degraded: 1 source, 1 failing (Broken); 1 refused by Discord: HTTP 403", announcements_refused=1))
    healthy, line = check(tmp_path)
    assert healthy and "refused by Discord: HTTP 403" in line
    write_report(tmp_path, report(ok=False, gateway="stopped", poller="stopped"))
    assert check(tmp_path) == (False, "unhealthy: gateway stopped, knowledge ok, poller stopped")


def test_a_report_written_before_the_poller_fields_still_reads(tmp_path):
    import json

    old = {"at": time.time(), "ok": True, "gateway": "connected", "latency_ms": 1.0, "knowledge": "ok", "pid": 1}
    health_path(tmp_path).write_text(json.dumps(old))
    healthy, line = check(tmp_path)
    assert healthy and line.endswith("poller off")


def test_watch_counts_are_in_the_healthy_line_when_there_are_any(tmp_path):
    write_report(tmp_path, report(poller="ok: 1 source", watches_active=4, watch_dms_waiting=2))
    healthy, line = check(tmp_path)
    assert healthy and line.endswith("poller ok: 1 source, watches 4 active (2 DMs waiting)")
    write_report(tmp_path, report(poller="ok: 1 source"))
    assert check(tmp_path)[1].endswith("poller ok: 1 source")
