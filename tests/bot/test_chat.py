"""The terminal chat runs the same conversation handlers as Discord."""

from __future__ import annotations

import io

from bot.chat import handle_line, run_chat
from bot.conversation import Conversation, is_follow_up


def test_follow_up_detection():
    assert is_follow_up("and its limitations?")
    assert is_follow_up("what about the evaluation?")
    assert is_follow_up("그리고 한계는?")
    assert not is_follow_up("What is NEFTune?")
    assert not is_follow_up("Do ConvNets match vision transformers when given the same compute budget?")


def test_follow_up_uses_the_previous_question(fixture_kb):
    state = Conversation()
    first = handle_line(fixture_kb, state, "PebbleTune adapters")
    assert "PebbleTune" in first
    follow = handle_line(fixture_kb, state, "and how was it evaluated?")
    assert state.last_question.startswith("PebbleTune adapters")
    # the follow-up stays on PebbleTune and finds what was not shown yet: the evaluation
    assert "PebbleTune" in follow.split("\n")[2]  # the first citation line
    assert "evaluation" in follow.split("\n")[1]
    assert follow.split("\n")[1] != first.split("\n")[1]


def test_commands_in_chat(fixture_kb):
    state = Conversation()
    assert "Lantern-7B" in handle_line(fixture_kb, state, "/paper 2403.05678")
    assert "not an arXiv ID" in handle_line(fixture_kb, state, "/paper 12")
    assert "Weekly Paper Roundup" in handle_line(fixture_kb, state, "/latest")
    assert "documents" in handle_line(fixture_kb, state, "/sources")
    assert "No more excerpts" in handle_line(fixture_kb, state, "/more")


def test_run_chat_reads_until_quit(fixture_kb):
    out = io.StringIO()
    run_chat(fixture_kb.settings, stdin=io.StringIO("router collapse\n/quit\nnever asked\n"), stdout=out, kb=fixture_kb)
    text = out.getvalue()
    assert "router" in text.lower() and "never asked" not in text
