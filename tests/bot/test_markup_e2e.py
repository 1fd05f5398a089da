"""Markup from feeds reaches Discord as text: answers and paper cards through the real bot and the fake Discord.

A watched feed (the local feed server) carries an issue whose text holds a masked link, a role
mention, ``@everyone``, a spoiler and a right-to-left override; the poller indexes it for real.
Asking about it and opening the paper it covers must show those characters escaped, never
rendered, while the bot's own bold highlighting of the matched terms still works.
"""

from __future__ import annotations

import re

import pytest

from bot.client import create_bot
from bot.state import BotState
from knowledge.watch.poller import Poller
from tests.bot.announce_helpers import BASE
from tests.fakes.discord import GUILD_ID, FakeDiscord
from tests.fakes.feeds import FakeEntry, FakeFeedServer

ROLE = "1100000000000000010"
BAIT_HTML = f"[click here](http://evil.example/login) &lt;@&amp;{ROLE}&gt; @everyone ||hidden|| \u202eexe.gnp \u2066isolated\u2069"


@pytest.fixture
def hostile_kb(tmp_path, kb_factory, settings_factory):
    """A knowledge base into which the poller indexed one hostile issue from a real feed."""
    kb = kb_factory()
    with FakeFeedServer() as feeds:
        sources = tmp_path / "sources.toml"
        sources.write_text(f'[[digest]]\nname = "Glass Weekly"\nfeed = "{feeds.url("/feed")}"\n')
        settings = settings_factory(DIGESTBOT_SOURCES=str(sources), DIGESTBOT_ALLOW_PRIVATE_URLS="1", HTTP_TIMEOUT_SECONDS="2")
        html = (
            f"<p>Issue 9 opens with {BAIT_HTML} and a long note about sparse experts this week.</p>"
            f"<h2>Obsidian Routers for Sparse Experts</h2><p>The obsidian routers paper routes tokens by entropy {BAIT_HTML} "
            "and reports a large speedup on long documents (<a href='https://arxiv.org/abs/2403.09999'>arXiv</a>).</p>"
        )
        feeds.set_feed("/feed", [FakeEntry(title="Weekly issue 9", link="/p/issue-9", guid="issue-9", published=BASE, content=html)])
        state = BotState(settings.state_db)
        try:
            Poller(kb, state, settings, substack_pace=0).poll_once()  # the first run indexes what exists
        finally:
            state.close()
    return kb


def assert_inert(text: str) -> None:
    """Nothing in ``text`` renders as a link, mention, spoiler or reordered text."""
    assert not re.search(r"(?<!\\)\[click here(?<!\\)\]\(", text)
    assert "\\[click here\\](http://evil.example/login)" in text
    assert f"<@\u200b&{ROLE}>" in text and "@\u200beveryone" in text
    assert "\\|\\|hidden\\|\\|" in text
    assert not any(ch in text for ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


async def test_answers_and_paper_cards_show_feed_markup_as_text(fake: FakeDiscord, hostile_kb, settings_factory, tmp_path) -> None:
    state = BotState(tmp_path / "bot-state.sqlite3")
    settings = settings_factory(DISCORD_GUILD_ID=str(GUILD_ID), ASK_COOLDOWN_SECONDS="0.001")
    bot = create_bot(settings, hostile_kb, state, None, cogs=("bot.cogs.ask", "bot.cogs.paper"), guild_ready_timeout=0.05)
    try:
        async with fake.running(bot):
            inter = await fake.inject_slash_command("ask", {"question": "obsidian routers entropy @everyone \u202e"})
            answer = await fake.wait_for_message(lambda m: m.kind == "followup" and m.interaction_id == int(inter["id"]), timeout=30)
            embed = answer.embeds[0]
            assert_inert(embed["description"])
            assert re.search(r"\*\*(obsidian|routers|entropy)\*\*", embed["description"], re.IGNORECASE)  # our bold still works
            assert "\u202e" not in embed["title"] and answer.allowed_mentions == {"parse": []}

            inter = await fake.inject_slash_command("paper", {"id": "2403.09999"})
            card = await fake.wait_for_message(lambda m: m.interaction_id == int(inter["id"]) and bool(m.embeds), timeout=30)
            values = "\n".join(f["value"] for f in card.embeds[0].get("fields", []))
            assert "Glass Weekly" in str(card.embeds[0]["fields"]) and "obsidian" in values.lower()
            assert_inert(values)
    finally:
        state.close()
