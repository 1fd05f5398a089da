"""``digestbot watch add|list|remove`` and the terminal's matches after an ingest (in-process, real model and store)."""

from __future__ import annotations

import io
import json

import pytest

from bot.chat import run_chat
from bot.cli import main
from knowledge.config import Settings
from tests.conftest import ARCHIVE
from tests.helpers.cli import cli_environment
from tests.helpers.cli import run_cli as run

ISSUE = """2024-4-2 Glass Weekly: routers and more

A short note opens this issue about the week in machine learning research and what came out of it.

Glass Routers for Sparse Experts

The authors route every token through a glass router, a tiny learned gate that keeps the load of the experts balanced. They report a 30% speedup on sparse expert models at the same quality.
"""

OTHER = """2024-4-9 Glass Weekly: a quiet week

A short note opens this issue about a quiet week in machine learning research, with one paper.

Protein Folding with Small Models

A compact model predicts protein structures from sequences and runs on one consumer graphics card.
"""


@pytest.fixture
def env(tmp_path, monkeypatch, embedder):
    return cli_environment(tmp_path, monkeypatch)


def write_issue(env, name: str, text: str) -> str:
    folder = env / "glass-weekly"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_watch_add_list_remove_and_matches_after_ingest(env, capsys):
    assert run(capsys, "ingest", str(ARCHIVE))[0] == 0
    code, out, _ = run(capsys, "watch", "add", "--json", "glass", "routers")
    assert code == 0 and json.loads(out)["watch"] | {"created_at": 0} == {
        "id": 1, "kind": "topic", "target": "glass routers", "title": "", "guild_id": None, "created_at": 0}
    code, out, _ = run(capsys, "watch", "add", "--paper", "arXiv:2403.05678v2")
    assert code == 0 and "Already covered by: Korean Daily" in out and "Model Notes" in out and "watch #2" in out
    code, _, err = run(capsys, "watch", "add", "the", "of", "and")
    assert code == 2 and "no words to match" in err
    code, out, _ = run(capsys, "watch", "add", "--json", "--paper", "not-a-paper")
    assert code == 2 and json.loads(out)["error"].startswith("not an arXiv ID")
    code, _, err = run(capsys, "watch", "add", "glass", "routers")
    assert code == 2 and "already watch this (watch #1)" in err

    code, out, _ = run(capsys, "watch", "list")
    assert out.splitlines() == ["#1  topic  “glass routers”", "#2  paper  arXiv:2403.05678 (Lantern-7B: A Small Model That Reads Long Documents)"]

    code, out, _ = run(capsys, "ingest", write_issue(env, "2024-4-2-glass.txt", ISSUE))
    assert code == 0 and "1 added" in out
    assert "watch matches: 1 new" in out and "watch #1 “glass routers”" in out
    assert "§ Glass Routers for Sparse Experts" in out and "glass router, a tiny learned gate" in out

    code, out, _ = run(capsys, "ingest", "--json", write_issue(env, "2024-4-2-glass.txt", ISSUE + "\nOne more line about the routers and their gates.\n"))
    report = json.loads(out)
    assert report["updated"] == 1 and "watch_matches" not in report  # the edited issue: matched once, not twice

    code, out, _ = run(capsys, "ingest", write_issue(env, "2024-4-9-quiet.txt", OTHER))
    assert code == 0 and "watch matches" not in out

    code, out, _ = run(capsys, "watch", "remove", "--json", "1")
    assert code == 0 and json.loads(out) == {"id": 1, "removed": True}
    assert run(capsys, "watch", "remove", "1")[0] == 1
    code, out, _ = run(capsys, "watch", "list", "--json")
    assert [json.loads(line)["id"] for line in out.splitlines()] == [2]


def test_the_terminal_chat_shows_its_matches_after_ingest(env, capsys, kb_factory):
    kb = kb_factory()
    kb.ingest([ARCHIVE])
    assert main(["watch", "add", "glass routers"]) == 0
    capsys.readouterr()
    path = write_issue(env, "2024-4-2-glass.txt", ISSUE)
    out = io.StringIO()
    run_chat(Settings.from_env(dotenv=False), stdin=io.StringIO(f"/ingest {path}\n/ingest {path}\n"), stdout=out, kb=kb)
    text = out.getvalue()
    assert text.count("watch matches: 1 new") == 1 and "watch #1 “glass routers”" in text


def test_poll_once_prints_the_terminals_new_matches_once(env, capsys, server, monkeypatch):
    from tests.helpers.feeds import issue, write_sources

    monkeypatch.setenv("DIGESTBOT_SOURCES", str(write_sources(env / "sources.toml", [("Glass Weekly", server.url("/feed"), None)])))
    monkeypatch.setenv("DIGESTBOT_ALLOW_PRIVATE_URLS", "1")
    server.set_feed("/feed", [issue(1)])
    assert run(capsys, "poll", "--once")[0] == 0  # the first run seeds
    assert run(capsys, "watch", "add", "glass routers for sparse experts")[0] == 0
    server.set_feed("/feed", [issue(2), issue(1)])
    code, out, _ = run(capsys, "poll", "--once")
    assert code == 0 and "1 indexed" in out and "watch matches: 1 new" in out and "Weekly issue 2" in out
    code, out, _ = run(capsys, "poll", "--once")
    assert code == 0 and "watch matches" not in out
