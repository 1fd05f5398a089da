"""The terminal chat in a real pseudo-terminal (pexpect): rendered answers, /ingest, Ctrl-C."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pexpect
import pytest

from tests.helpers.net import free_port
from tests.helpers.paths import ARCHIVE

REPO = Path(__file__).resolve().parents[2]
DIGESTBOT = str(REPO / ".venv" / "bin" / "digestbot")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]|\x1b\][^\x1b]*\x1b\\")


@pytest.fixture
def terminal(tmp_path):
    env = {**os.environ, "DIGESTBOT_DATA_DIR": str(tmp_path / "data"), "ARXIV_API_URL": f"http://127.0.0.1:{free_port()}/api/query",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "TERM": "xterm-256color",
           "COLUMNS": "160", "LINES": "50"}
    for name in ("CHROMA_HOST", "DISCORD_TOKEN", "EMBEDDING_MODEL"):
        env.pop(name, None)
    child = pexpect.spawn(DIGESTBOT, ["chat"], cwd=str(tmp_path), env=env, encoding="utf-8", timeout=180,
                          dimensions=(50, 160))
    child.logfile_read = sys.stderr if os.environ.get("DIGESTBOT_TEST_VERBOSE") else None
    yield child
    if child.isalive():
        child.terminate(force=True)


def test_ingest_ask_and_ctrl_c_in_a_terminal(terminal):
    child = terminal
    child.expect("The index is empty")
    child.expect("> ")
    child.sendline(f"/ingest {ARCHIVE}")
    child.expect(r"documents: 9 added")
    child.expect("> ")
    child.sendline("what did the digest say about PebbleTune?")
    child.expect("> ")  # the next prompt: the answer has been printed
    shown = child.before
    assert "\x1b[1m" in shown  # matched terms and numbers in bold, the terminal's way
    plain = ANSI.sub("", shown)
    assert "PebbleTune" in plain and "Weekly Paper Roundup" in plain
    assert "**" not in plain  # no raw Markdown
    child.sendintr()  # Ctrl-C at the prompt ends the chat
    child.expect(pexpect.EOF, timeout=30)
    child.close()
    assert child.exitstatus == 130 or child.signalstatus is not None
