"""The issue end to end: `digestbot chat` open, `digestbot ingest` from a second shell.

Real processes (the console script), real model, real embedded Chroma. The chat loads the
model once; the ingest hands its work to the chat and loads none; `stats` loads its own.
"""

from __future__ import annotations

import json
import os
import queue
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import ARCHIVE, free_port

REPO = Path(__file__).resolve().parents[3]
DIGESTBOT = str(REPO / ".venv" / "bin" / "digestbot")


class Chat:
    """A running `digestbot chat` whose output is read line by line."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.proc = subprocess.Popen([DIGESTBOT, "chat"], cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float = 180.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None and self.lines.empty():
                pytest.fail(f"digestbot chat exited ({self.proc.returncode}): {self.proc.stderr.read()[-2000:]}")
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return line
        pytest.fail(f"no {text!r} from digestbot chat within {timeout:.0f} s; saw {''.join(self.seen)[-2000:]}")

    def say(self, line: str) -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()


@pytest.fixture(scope="module")
def chat(tmp_path_factory):
    root = tmp_path_factory.mktemp("owned")
    env = {**os.environ, "DIGESTBOT_DATA_DIR": str(root / "data"), "ARXIV_API_URL": f"http://127.0.0.1:{free_port()}/api/query",
           "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    for name in ("CHROMA_HOST", "EMBEDDING_MODEL", "DISCORD_TOKEN", "KNOWLEDGE_PROCESS"):
        env.pop(name, None)
    running = Chat(env, root)
    running.wait_for("Commands:")
    yield running, env, root
    if running.proc.poll() is None:
        running.say("/quit")
        try:
            running.proc.wait(30)
        except subprocess.TimeoutExpired:
            running.proc.kill()


def digestbot(env: dict[str, str], cwd: Path, *argv: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([DIGESTBOT, *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_the_chats_first_screen_says_how_to_ingest(chat):
    running, _, _ = chat
    screen = "".join(running.seen)
    assert "This chat owns the embedded store (embedded Chroma serves one process at a time)" in screen
    assert "/ingest ../shared/archive" in screen and ".venv/bin/digestbot ingest" in screen


def test_an_ingest_from_another_shell_is_run_by_the_chat_which_keeps_answering(chat, tmp_path):
    running, env, _ = chat
    running.say("what did the roundup say about quiet gradients?")
    running.wait_for("I found nothing in the archive about")  # empty so far: the chat's store is open and read
    # a second shell, in another directory: relative paths mean what they mean there
    (tmp_path / "archive").symlink_to(ARCHIVE)
    done = digestbot(env, tmp_path, "ingest", "--json", "archive", "missing-folder")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert f"digestbot chat (pid {running.proc.pid}) owns the embedded store; it runs this ingest" in done.stderr
    assert report["added"] == 9 and report["chunks_embedded"] > 0 and report["failed"] == 1
    assert report["failures"] == [{"source": "missing-folder", "reason": "no such file or folder"}]
    assert set(report) == {"added", "updated", "unchanged", "failed", "chunks_embedded", "seconds", "failures", "doc_ids", "duplicates", "documents"}
    # the summary lines are the ones a local ingest prints
    again = digestbot(env, tmp_path, "ingest", "archive")
    assert again.returncode == 0
    lines = again.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("documents: 0 added, 0 updated, 9 unchanged, 0 failed; chunks embedded: 0; ")
    # the chat's next question is answered from what was just ingested (today: InternalError)
    running.say("what did the roundup say about quiet gradients?")
    assert "Quiet Gradients" in running.wait_for("Quiet Gradients")
    assert running.proc.poll() is None


def test_other_writers_are_refused_and_readers_do_not_crash(chat, tmp_path):
    running, env, root = chat
    refused = digestbot(env, tmp_path, "reindex")
    assert refused.returncode == 1
    assert f"error: digestbot chat (pid {running.proc.pid}) owns the embedded chroma at {root / 'data' / 'chroma'}" in refused.stderr
    assert "stop it first, or use a Chroma server (CHROMA_HOST)" in refused.stderr
    polled = digestbot(env, tmp_path, "poll", "--once")
    assert polled.returncode == 1 and "so this poll cannot use it" in polled.stderr and "/ingest PATH" in polled.stderr
    stats = digestbot(env, tmp_path, "stats")
    assert stats.returncode == 0, stats.stderr
    store_line = next(line for line in stats.stdout.splitlines() if line.startswith("store:"))
    assert "embedded Chroma serves one process at a time" in store_line
    assert f"owned by digestbot chat (pid {running.proc.pid})" in store_line


def test_the_data_files_are_private(chat):
    _, _, root = chat
    data = root / "data"
    assert stat.S_IMODE(os.stat(data).st_mode) == 0o700
    paths = [data, *data.rglob("*")]
    assert any(p.name.startswith("lexical") for p in paths) and (data / "chroma").is_dir()
    loose = [f"{p} {oct(stat.S_IMODE(p.lstat().st_mode))}" for p in paths if stat.S_IMODE(p.lstat().st_mode) & 0o077]
    assert not loose
