"""`digestbot run` itself, as a user starts it: a real process against the local fake Discord.

The bot serves from its knowledge process (the default, ``KNOWLEDGE_PROCESS=1``): the test
starts the console script with the fake's REST and gateway URLs, asks through a slash
command, and checks that stopping the bot leaves no knowledge process behind. The one
watched source answers only when the test ends: the bot must connect, answer and report
itself healthy ("poller catching up") while its first poll is still waiting.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.health import check
from tests.bot.announce_helpers import issue
from tests.conftest import ARCHIVE, free_port
from tests.fakes.discord import GUILD_ID, FakeDiscord
from tests.fakes.feeds import FakeFeedServer

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.fake.e2e-run-token"


@pytest.fixture
def data_dir(tmp_path, embedder) -> Path:
    """A data directory with the fixture archive ingested (by this process, then closed)."""
    from knowledge.config import Settings
    from knowledge.facade import KnowledgeBase

    data = tmp_path / "data"
    kb = KnowledgeBase(Settings.from_env({"DIGESTBOT_DATA_DIR": str(data)}, dotenv=False), embedder=embedder)
    kb.ingest([ARCHIVE])
    kb.close()
    return data


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])  # a user; docker stop / systemd
async def test_digestbot_run_answers_from_its_knowledge_process(data_dir: Path, tmp_path: Path, stop: signal.Signals) -> None:
    feeds = FakeFeedServer()
    feeds.start()
    feeds.set_feed("/feed", [issue(1)])
    feeds.slow("/feed", 600)  # answers when the server stops, at the end of the test
    sources = tmp_path / "sources.toml"
    sources.write_text(f'[[digest]]\nname = "Slow Weekly"\nfeed = "{feeds.url("/feed")}"\n')
    log_path = tmp_path / "bot.log"
    async with FakeDiscord(heartbeat_interval_ms=200, interaction_timeout=3.0, patch_discord_py=False) as fake:
        env = {
            **os.environ,
            "DISCORD_TOKEN": TOKEN,
            "DISCORD_API_BASE": fake.api_base,
            "DISCORD_GATEWAY_URL": fake.gateway_url,
            "DISCORD_GUILD_ID": str(GUILD_ID),
            "DIGESTBOT_DATA_DIR": str(data_dir),
            "DIGESTBOT_SOURCES": str(sources),
            "ARXIV_API_URL": f"http://127.0.0.1:{free_port()}/api/query",
            "ASK_COOLDOWN_SECONDS": "0.001",
            "KNOWLEDGE_PROCESS": "1",
            "DIGESTBOT_ALLOW_PRIVATE_URLS": "1",
            "HTTP_TIMEOUT_SECONDS": "900",
        }
        exe = Path(sys.executable).parent / "digestbot"
        with log_path.open("w") as log:
            bot = subprocess.Popen([str(exe), "-v", "run"], env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while not fake.guild_commands.get(GUILD_ID):
                assert bot.poll() is None, f"digestbot run exited early:\n{log_path.read_text()}"
                assert time.monotonic() < deadline, f"the bot never synced its commands:\n{log_path.read_text()}"
                await asyncio.sleep(0.2)
            knowledge = children_of(bot.pid)
            assert knowledge, "no knowledge process under digestbot run"
            # the Docker healthcheck: healthy once connected and the knowledge process answers
            while not check(data_dir)[0]:
                assert time.monotonic() < deadline, f"never healthy: {check(data_dir)[1]}"
                await asyncio.sleep(0.2)
            health = subprocess.run([str(exe), "health"], env=env, capture_output=True, text=True, timeout=60)
            assert health.returncode == 0 and "gateway connected" in health.stdout, health
            assert "poller catching up" in health.stdout, health  # honest: the first poll still waits for the feed
            assert feeds.requests_to("/feed"), "the first poll never started"

            inter = await fake.inject_slash_command("ask", {"question": "mixture of experts router collapse"})
            answer = await fake.wait_for_message(
                lambda m: m.kind == "followup" and m.interaction_id == int(inter["id"]), timeout=30
            )
            assert [r.type for r in fake.interaction_responses(inter["id"])][:1] == [5]  # deferred first
            assert "Sparse Router Collapse" in answer.embeds[0]["description"]
            assert answer.allowed_mentions.get("parse") == []

            inter = await fake.inject_slash_command("paper", {"id": "2403.05678"})
            card = await fake.wait_for_message(lambda m: m.interaction_id == int(inter["id"]), timeout=30)
            assert card.embeds[0]["title"] == "Lantern-7B: A Small Model That Reads Long Documents"
        finally:
            bot.send_signal(stop)  # while the first poll still waits for the feed
            stopping = time.monotonic() + 30
            while bot.poll() is None and "gateway stopped" not in check(data_dir)[1] and time.monotonic() < stopping:
                await asyncio.sleep(0.2)
            feeds.stop()  # the feed answers now; the stopping poller drops the answer and the bot exits
            try:
                bot.wait(30)
            except subprocess.TimeoutExpired:
                bot.kill()
                bot.wait(10)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() and _running(pid) for pid in knowledge):
        await asyncio.sleep(0.2)
    assert not any(_running(pid) for pid in knowledge), "the knowledge process outlived the bot"
    healthy, line = check(data_dir)
    assert not healthy and "gateway stopped" in line  # a stopped bot says so
    text = log_path.read_text()
    assert TOKEN not in text
    assert "Traceback" not in text, text


def _running(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
