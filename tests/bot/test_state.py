"""bot.state: the bot's tables beside the knowledge layer's, in one SQLite file."""

from __future__ import annotations

from bot.state import BotState
from knowledge import StateDB


def test_channels_feedback_and_posted_messages_survive_a_reopen(tmp_path):
    db = BotState(tmp_path / "state.sqlite3")
    assert isinstance(db, StateDB)  # the poller shares it
    db.set_announce_channel(1, 10)
    db.set_announce_channel(2, None)
    db.add_feedback(user_id=5, guild_id=1, question="q", answer="a", citations=[{"rank": 1}], verdict="up")
    db.mark_posting("Weekly", "g1", 10, "nonce-1")
    assert db.announcement("Weekly", "g1", 10)["state"] == "sending"
    db.mark_posted("Weekly", "g1", 10, 999)
    db.close()
    again = BotState(tmp_path / "state.sqlite3")
    assert again.announce_channels() == {1: 10}
    [row] = again.feedback()
    assert (row["question"], row["verdict"], row["citations"]) == ("q", "up", '[{"rank": 1}]')
    sent = again.announcement("Weekly", "g1", 10)
    assert (sent["state"], sent["message_id"], sent["nonce"]) == ("sent", "999", "nonce-1")
    assert again.announcement("Weekly", "g1", 11) is None
    again.close()
