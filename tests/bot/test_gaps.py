"""Ask-channel question detection, 👎 reasons, per-guild settings and the gaps report (state + CLI)."""

from __future__ import annotations

import csv
import io

import pytest

from bot.cli import main
from bot.cogs.admin import gaps_text
from bot.conversation import looks_like_question
from bot.feedback import REASONS, reason_of
from bot.state import BotState, normalize_question


@pytest.mark.parametrize(("text", "question"), [
    ("what did the digest say about QLoRA", True),
    ("PebbleTune?", True),
    ("PebbleTune？", True),
    ("How does Lantern-7B read long documents", True),
    ("is there anything on router collapse", True),
    ("어떻게 Lantern-7B는 긴 문서를 읽나", True),
    ("왜 MoE 라우터가 무너지나", True),
    ("I was reading about sparse routers and wondered which digest covered the collapse issue last spring", True),
    ("PebbleTune is neat", False),
    ("thanks!", False),
    ("whatever", False),
    ("lol", False),
    ("", False),
])
def test_looks_like_question(text: str, question: bool) -> None:
    assert looks_like_question(text) is question


def test_min_words_setting() -> None:
    assert looks_like_question("one two three four", min_words=4)
    assert not looks_like_question("one two three four", min_words=5)


@pytest.mark.parametrize(("typed", "reason"), [
    ("wrong paper", "wrong paper"),
    ("It cited the wrong paper", "wrong paper"),
    ("Outdated", "outdated"),
    ("there's a newer version", "outdated"),
    ("not in the archive", "not in the archive"),
    ("missing", "not in the archive"),
    ("other: too long", "other"),
    ("meh", "other"),
])
def test_reason_of(typed: str, reason: str) -> None:
    assert reason_of(typed) == reason and reason in REASONS


@pytest.fixture
def state(tmp_path) -> BotState:
    db = BotState(tmp_path / "state.sqlite3")
    yield db
    db.close()


def test_ask_channels_and_flags_are_per_guild(state: BotState) -> None:
    state.set_ask_channel(1, 10, True)
    state.set_ask_channel(1, 11, True)
    state.set_ask_channel(2, 20, True)
    state.set_ask_channel(1, 11, False)
    assert state.ask_channels(1) == {10} and state.ask_channels(2) == {20} and state.ask_channels() == {10, 20}
    assert state.guild_flag(1, "threads") is False and state.guild_flag(None, "threads", True) is True
    state.set_guild_flag(1, "threads", True)
    assert state.guild_flag(1, "threads") is True and state.guild_flag(2, "threads") is False
    state.set_guild_flag(1, "threads", False)
    assert state.guild_flag(1, "threads") is False


def fill(state: BotState) -> None:
    for q, conf, guild in [
        ("What about Zorblax?", "none", 1), ("what about  zorblax", "none", 1), ("What about Zorblax?", "related", 2),
        ("PebbleTune?", "answer", 1), ("Lantern long context?", "related", 1),
    ]:
        state.record_question(user_id=5, guild_id=guild, channel_id=9, question=q, confidence=conf)
    for _ in range(2):
        state.add_feedback(user_id=5, guild_id=1, question="PebbleTune?", answer="a", citations=[], verdict="down")
    state.add_feedback(user_id=6, guild_id=1, question="PebbleTune?", answer="a", citations=[], verdict="up")
    state.add_feedback_reason(user_id=5, guild_id=1, question="pebbletune", confidence="answer", citations=[{"rank": 1}], reason="outdated", details="old")


def test_gaps_counts_unanswered_and_downvoted(state: BotState) -> None:
    fill(state)
    report = state.gaps()
    assert [(r["count"], r["none"], r["related"]) for r in report["unanswered"]] == [(3, 2, 1), (1, 0, 1)]
    assert normalize_question(report["unanswered"][0]["question"]) == "what about zorblax"
    assert report["downvoted"] == [{"question": "PebbleTune?", "count": 2, "reason": "outdated"}]
    one = state.gaps(2)
    assert [r["count"] for r in one["unanswered"]] == [1] and one["downvoted"] == []
    text = gaps_text(report)
    assert "3× (2 none, 1 related)" in text and "2× 👎 — mostly “outdated”" in text
    assert "Nothing yet." in gaps_text({"unanswered": [], "downvoted": []})


def test_gaps_cli_csv(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("DIGESTBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    assert main(["gaps", "--csv"]) == 1  # no database yet
    (tmp_path / "data").mkdir()
    state = BotState(tmp_path / "data" / "state.sqlite3")
    fill(state)
    state.close()
    capsys.readouterr()
    assert main(["gaps", "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["kind"], r["count"]) for r in rows] == [("unanswered", "3"), ("unanswered", "1"), ("downvoted", "2")]
    assert rows[2]["reason"] == "outdated" and rows[0]["none"] == "2"
    assert main(["gaps"]) == 0
    out = capsys.readouterr().out
    assert "Most downvoted:" in out and "PebbleTune?" in out
