"""What watch DMs and replies say: within Discord's limits, third-party text inert."""

from __future__ import annotations

import discord

from bot.watch_messages import (
    coverage_line,
    terminal_match_lines,
    watch_content,
    watch_embed,
    watches_text,
)
from knowledge.alerts.store import Watch, WatchHit
from tests.bot.helpers import embed_violations, make_citation


def hit(**citation) -> WatchHit:
    watch = Watch(7, "123", "42", "topic", "glass routers")
    values = {"digest": "Glass Weekly", "title": "Weekly issue 2", "date": "2024-03-15", "section": "Glass Routers",
              "excerpt": "They route tokens through glass routers.", "url": "https://glass.example/p/2", "highlights": ["glass routers"]}
    return WatchHit(watch=watch, doc_id="d2", state="pending", nonce="", citation=values | citation)


def test_the_dm_names_digest_issue_date_section_excerpt_link_and_watch():
    embed = watch_embed(hit(), "abcd1234")
    assert embed.title == "Weekly issue 2" and embed.url == "https://glass.example/p/2" and embed.author.name == "New in Glass Weekly"
    assert embed.description.splitlines()[0] == "§ Glass Routers"
    assert "> They route tokens through **glass routers**." in embed.description
    assert "[Read the issue](https://glass.example/p/2)" in embed.description
    assert embed.footer.text.startswith("2024-03-15 · your watch #7: “glass routers”") and embed.footer.text.endswith("ref abcd1234")
    assert watch_content(hit()) == "A new digest issue matches your watch: “glass routers”"


def test_hostile_and_huge_text_stays_inert_and_within_limits():
    embed = watch_embed(hit(title="@everyone " + "T" * 400, section="[click](https://evil.example) " * 50,
                            excerpt="@here <@&1> ||spoiler|| " * 200, url="javascript:alert(1)", digest="D" * 300), "n")
    assert embed_violations(embed) == []
    assert embed.url is None and "javascript" not in (embed.description or "")
    assert "@here" not in embed.description and "\\|\\|spoiler\\|\\|" in embed.description
    assert "[click](https://evil.example)" not in embed.description
    assert isinstance(embed, discord.Embed)


def test_lists_and_coverage_lines():
    watches = [Watch(1, "u", None, "topic", "glass routers"), Watch(2, "u", None, "paper", "2305.14314", "QLoRA")]
    text = watches_text(watches, limit_per_user=25)
    assert "(2 of 25)" in text and "#1 · topic · “glass routers”" in text and "#2 · paper · arXiv:2305.14314 (QLoRA)" in text
    assert watches_text([], limit_per_user=25).startswith("You have no watches.")
    assert coverage_line([]) == "No digest has covered this yet."
    line = coverage_line([make_citation(1), make_citation(2), make_citation(3, digest="Model Notes", date="")])
    assert line.startswith("Already covered by: Weekly Paper Roundup · 2024-3-17 arXiv roundup") and "(2024-03-17)" in line
    assert line.count("Weekly Paper Roundup") == 1 and "Model Notes" in line
    assert terminal_match_lines(hit())[1:] == ["  § Glass Routers", "  “They route tokens through glass routers.”", "  https://glass.example/p/2"]


def test_the_sources_line_about_watches_gives_counts_only():
    from bot.watch_messages import watch_summary_text
    from knowledge import WatchSummary

    assert "No active watches" in watch_summary_text(WatchSummary())
    assert watch_summary_text(WatchSummary(active=1, users=1, waiting=1)) == "1 active (1 person) · 1 DM waiting"
    line = watch_summary_text(WatchSummary(active=5, users=2, waiting=0, refused=1, failed=2))
    assert line == "5 active (2 people) · 0 DMs waiting · 1 not sent (DMs closed) · 2 given up after failures"
