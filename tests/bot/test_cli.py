"""The command line's contracts (design.md), run in-process with the real model and store."""

from __future__ import annotations

import io
import json

import pytest

from tests.conftest import ARCHIVE
from tests.helpers.cli import cli_environment
from tests.helpers.cli import run_cli as run


@pytest.fixture
def env(tmp_path, monkeypatch, embedder):
    return cli_environment(tmp_path, monkeypatch)


def test_ingest_ask_stats_paper_contracts(env, capsys, monkeypatch):
    code, out, _ = run(capsys, "ingest", "--json", str(ARCHIVE))
    assert code == 0
    summary = json.loads(out)
    assert summary["added"] == 9 and summary["failed"] == 0 and summary["chunks_embedded"] > 0

    code, out, _ = run(capsys, "ingest", str(ARCHIVE))
    assert code == 0 and "9 unchanged" in out and "chunks embedded: 0" in out

    code, out, _ = run(capsys, "ask", "--json", "-k", "3", "what", "did", "the", "digest", "say", "about", "PebbleTune?")
    answer = json.loads(out)
    assert answer["found"] is True and answer["question"] == "what did the digest say about PebbleTune?"
    assert 1 <= len(answer["citations"]) <= 3 and answer["citations"][0]["rank"] == 1
    assert {"digest", "title", "date", "section", "url", "source", "excerpt", "score", "arxiv_ids"} <= set(answer["citations"][0])
    assert isinstance(answer["took_ms"], float)

    monkeypatch.setattr("sys.stdin", io.StringIO("PebbleTune adapters\n\nrouter collapse entropy\n"))
    code, out, _ = run(capsys, "ask", "--json", "-")
    lines = [json.loads(line) for line in out.splitlines()]
    assert [a["question"] for a in lines] == ["PebbleTune adapters", "router collapse entropy"]

    code, out, _ = run(capsys, "ask", "PebbleTune")
    assert code == 0 and "PebbleTune" in out and "Weekly Paper Roundup" in out

    code, out, _ = run(capsys, "stats", "--json")
    stats = json.loads(out)
    assert stats["documents"] == 9 and stats["model"] == "sentence-transformers/all-MiniLM-L6-v2" and "chroma" in stats["store"]

    code, out, _ = run(capsys, "paper", "--json", "2403.05678v2")
    card = json.loads(out)
    assert code == 0 and card["found"] and card["metadata_source"] == "index" and card["mentions"]

    code, out, _ = run(capsys, "paper", "2403.05678")
    assert code == 0 and "Lantern-7B" in out and "What the digests said" in out


@pytest.mark.parametrize("bad", ["hello", "2313.14314", "https://example.com/abs/2305.14314"])
def test_paper_with_a_non_id_exits_2_with_one_line(env, capsys, bad):
    code, out, err = run(capsys, "paper", "--json", bad)
    assert code == 2
    assert list(json.loads(out)) == ["error"] and "\n" not in json.loads(out)["error"]
    code, out, err = run(capsys, "paper", bad)
    assert code == 2 and err.count("\n") == 1 and err.startswith("error:")


def test_unknown_files_are_reported_and_the_rest_goes_on(env, capsys):
    folder = env / "mixed"
    folder.mkdir()
    (folder / "notes.pdf").write_bytes(b"%PDF-1.4")
    (folder / "issue.txt").write_text("Weekly Notes 2024-01-05\nCrystal Adapters for Frozen Models\nThe crystal adapter paper trains tiny modules on frozen backbones and reports strong results.\n")
    code, out, _ = run(capsys, "ingest", str(folder), str(env / "missing-folder"))
    assert code == 0
    assert "1 added" in out and "2 failed" in out and "notes.pdf" in out and "no such file" in out


def test_chat_tells_a_newcomer_how_to_fill_the_index(env, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("what about QLoRA?\n/paper nonsense\n/quit\n"))
    code, out, _ = run(capsys, "chat")
    assert code == 0
    assert "digestbot ingest ../shared/archive" in out
    assert "nothing in the archive" in out
    assert "not an arXiv ID" in out


def test_run_without_a_token_falls_back_to_the_terminal_chat(env, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code, out, err = run(capsys, "run")
    assert code == 0 and "DISCORD_TOKEN is not set" in err and "documents" in out


def test_bad_setting_is_a_clear_error(env, capsys, monkeypatch):
    monkeypatch.setenv("POLL_MINUTES", "soon")
    code, _, err = run(capsys, "stats")
    assert code == 2 and "POLL_MINUTES" in err


def test_unsupported_files_are_refused_before_the_model_loads(env, capsys, monkeypatch):
    (env / "notes.pdf").write_bytes(b"%PDF-1.4")

    def no_model(settings):  # noqa: ANN001, ANN202
        raise AssertionError("the knowledge base (and its model) must not be opened")

    monkeypatch.setattr("bot.commands.open_kb", no_model)
    code, out, _ = run(capsys, "ingest", "notes.pdf", "missing-folder")
    assert code == 1
    assert "unsupported file type .pdf" in out and "missing-folder: no such file or folder" in out


def test_ctrl_c_during_an_ingest_says_what_was_kept(env, capsys, monkeypatch):
    def interrupted(kb, inputs, *, progress, **_):  # noqa: ANN001, ANN202
        progress(0, 20, "embedding")
        progress(8, 20, "first issue")
        raise KeyboardInterrupt

    monkeypatch.setattr("knowledge.ingest_inputs", interrupted)
    monkeypatch.setattr("bot.commands.open_kb", lambda settings: object())
    code, _, err = run(capsys, "ingest", str(env))
    assert code == 130
    assert "interrupted after 8 of 20 chunks" in err and "every document written so far is kept" in err
    assert "Run the same command again to finish" in err
