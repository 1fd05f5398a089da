"""``digestbot roundup``: text and JSON over the three fixture digests of one week, and bad dates."""

from __future__ import annotations

import json

import pytest

from tests.helpers.cli import cli_environment
from tests.helpers.cli import run_cli as run
from tests.helpers.paths import ROUNDUP


@pytest.fixture
def env(tmp_path, monkeypatch, embedder):
    return cli_environment(tmp_path, monkeypatch)


def test_roundup_prints_papers_grouped_with_quoted_takes(env, capsys):
    assert run(capsys, "ingest", str(ROUNDUP))[0] == 0
    code, out, _ = run(capsys, "roundup", "--since", "2024-04-05", "--until", "2024-04-11")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Papers covered, 2024-04-05 to 2024-04-11" and lines[1] == "3 issues from 3 digests, 4 papers"
    assert "1. Patchwork Memory for Streaming Video Models · arXiv:2404.02222 · 2 digests" in lines
    assert "2. Rho-1: Not All Tokens Are What You Need · arXiv:2404.07965 · 2 digests" in lines
    rho = out.split("2. Rho-1")[1].split("\n3. ")[0]
    assert rho.count("   > ") == 2 and "— Gradient Gazette · *Gradient Gazette: which tokens deserve a loss* · 2024-04-10 · <https://gazette.example.org/p/" in rho
    assert "— Tensor Tea ·" in rho and "§" not in rho  # sections named for the paper are not repeated

    code, out, _ = run(capsys, "roundup", "--json", "--digest", "Weekend Weights")  # the default window falls back
    data = json.loads(out)
    assert code == 0 and data["fallback"] is True and data["digest"] == "Weekend Weights"
    assert (data["since"], data["until"]) == ("2024-04-03", "2024-04-09") and "newest week" in data["note"]
    assert [p["title"] for p in data["papers"]] == ["Patchwork Memory for Streaming Video Models"]
    assert data["papers"][0]["takes"][0]["section"] == "This week's video paper"

    code, out, _ = run(capsys, "roundup", "--since", "2030-01-01")
    assert code == 0 and "No digest issue is dated between 2030-01-01 and 2030-01-07." in out


@pytest.mark.parametrize(("argv", "reason"), [
    (["--since", "2024-13-01"], "--since: not a date (YYYY-MM-DD): '2024-13-01'"),
    (["--until", "last week"], "--until: not a date (YYYY-MM-DD): 'last week'"),
    (["--since", "2024-05-01", "--until", "2024-04-01"], "--since 2024-05-01 is after --until 2024-04-01"),
])
def test_bad_dates_exit_2_with_a_reason_before_anything_loads(env, capsys, argv, reason):
    code, out, err = run(capsys, "roundup", *argv)
    assert code == 2 and out == "" and err.startswith(f"error: {reason}")
    code, out, _ = run(capsys, "roundup", "--json", *argv)
    assert code == 2 and json.loads(out)["error"].startswith(reason)
    assert not (env / "data").exists()  # refused before the store was opened
