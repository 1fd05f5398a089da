"""Embeds stay within Discord's limits whatever the archive holds, and nothing in them pings anyone."""

from __future__ import annotations

import discord
import pytest

from bot import embeds
from bot.announcements import announcement_embed
from bot.embeds import NO_MENTIONS, answer_embed, issues_embed, more_embed, paper_embed
from knowledge.models import IssueSummary
from knowledge.watch.reports import Announcement
from tests.bot.helpers import LIMITS, embed_violations, make_answer, make_citation, make_report

HUGE = "word " * 3000  # 15 000 characters


def huge_citation(rank: int) -> object:
    return make_citation(
        rank,
        digest="D" * 300,
        title="T" * 1000,
        section="S" * 1000,
        url="https://example.org/" + "p" * 400,
        excerpt=HUGE,
        highlights=["word"],
    )


def test_limits_match_discord() -> None:
    assert (embeds.TITLE_MAX, embeds.DESCRIPTION_MAX, embeds.FIELD_VALUE_MAX, embeds.FIELDS_MAX, embeds.EMBED_TOTAL_MAX, embeds.CONTENT_MAX) == (
        256, 4096, 1024, 25, 6000, 2000)


def test_answer_with_ten_huge_citations_and_long_question_fits() -> None:
    question = "q" * 300
    answer = make_answer(question)
    answer.citations = [huge_citation(i) for i in range(1, 11)]
    answer.answer = "L" * 5000 + "\nsecond line"
    embed = answer_embed(answer, asked_by="x" * 3000)
    assert embed_violations(embed) == []
    assert len(embed.title) == 256 and embed.title.endswith("…")
    assert len(embed.description) <= 4096
    assert "…" in embed.description  # trimmed, with a visible mark


@pytest.mark.parametrize("n", [1, 3, 10])
def test_answer_shows_every_ordinary_citation_or_says_how_many_are_hidden(n: int) -> None:
    answer = make_answer(citations=n)
    embed = answer_embed(answer)
    assert embed_violations(embed) == []
    for i in range(1, n + 1):
        assert f"**{i}.** Weekly Paper Roundup" in embed.description
    big = make_answer(citations=n)
    big.citations = [huge_citation(i) for i in range(1, n + 1)]
    text = answer_embed(big).description
    shown = sum(f"**{i}.** " in text for i in range(1, n + 1))
    assert shown == n or f"{n - shown} more excerpt(s) not shown" in text


def test_citation_links_are_in_the_embed_not_in_message_content() -> None:
    # Link previews only unfurl from message content; citation links live in the embed.
    embed = answer_embed(make_answer(citations=3))
    assert "](https://roundup.example.org/p/2024-3-17)" in embed.description


def test_more_excerpts_fit() -> None:
    embed = more_embed("q" * 400, [huge_citation(i) for i in range(1, 8)])
    assert embed_violations(embed) == []
    assert more_embed("q", []).description == "No more excerpts."


def test_paper_card_with_forty_mentions_and_a_10k_abstract_fits() -> None:
    report = make_report(mentions=0, abstract="abstract " * 1200)
    report.paper.title = "P" * 500
    report.paper.authors = [f"Author Number {i}" for i in range(300)]
    report.mentions = [
        make_citation(i, digest="Model Notes " + "d" * 300, title="t" * 400, section="s" * 400, excerpt=HUGE)
        for i in range(1, 41)
    ]
    report.lookup_error = "e" * 2000
    embed = paper_embed(report)
    assert embed_violations(embed) == []
    assert len(embed.fields) >= 1
    assert len(embed.description) < 4096  # abstract trimmed, not the whole 10k
    assert embed.footer.text and "more mention" in embed.footer.text


def test_paper_card_for_unknown_paper_fits_and_says_so() -> None:
    report = make_report(mentions=0, found=False, paper=None)
    embed = paper_embed(report)
    assert embed_violations(embed) == []
    assert "No paper with this ID" in embed.description
    assert embed.fields[0].value.startswith("No digest")


def test_issue_list_and_announcement_fit() -> None:
    issues = [IssueSummary("D" * 300, "T" * 1000, "2024-03-17", "https://e.org/" + "u" * 500, "s", f"d{i}") for i in range(200)]
    assert embed_violations(issues_embed("x" * 1000, issues)) == []
    a = Announcement(source="s", guid="g", digest="D" * 400, title="T" * 600, url="https://e.org/x", date="2024-03-17",
                     summary=HUGE, papers=["P" * 400] * 20, paid=True, doc_id="d")
    assert embed_violations(announcement_embed(a, "abcd" * 4)) == []


def test_fit_drops_fields_beyond_25_and_trims_to_6000() -> None:
    embed = discord.Embed(title="t", description="d" * 4096)
    for i in range(40):
        embed.add_field(name=f"f{i}", value="v" * 1024)
    embeds.fit(embed)
    assert embed_violations(embed) == []
    assert len(embed.fields) <= 25


def test_everyone_in_archive_text_never_pings() -> None:
    mention_bait = "@everyone @here <@123456789012345678> <@&223456789012345678>"
    answer = make_answer(mention_bait)
    answer.citations = [make_citation(1, excerpt=f"{mention_bait} PebbleTune", section=mention_bait, title=mention_bait)]
    embed = answer_embed(answer)
    assert "@everyone" in embed.title  # shown as text ...
    assert NO_MENTIONS.to_dict() == {"parse": []}  # ... and every send uses allowed_mentions none
    assert LIMITS["content"] == 2000


def test_embed_links_are_http_only() -> None:
    from bot.embeds import safe_url

    assert safe_url("https://e.org/p/1?a=b#c") == "https://e.org/p/1?a=b#c"
    assert safe_url("https://e.org/x_(y)") == "https://e.org/x_%28y%29"  # cannot end a Markdown link early
    for bad in ("javascript:alert(1)", "ftp://e.org/x", "data:text/html,x", "/relative", "https://", "https://e.org/a b", ""):
        assert safe_url(bad) is None
    a = Announcement(source="s", guid="g", digest="D", title="T", url="javascript:alert(1)", date="2024-03-17", doc_id="d")
    assert announcement_embed(a, "n").url is None


def test_feed_markup_is_escaped_and_our_bold_survives() -> None:
    bait = "[x](http://evil.example) <@&223456789012345678> @everyone ||spoiler|| \u202eevil\u2066 *QLoRA* _under_"
    c = make_citation(1, excerpt=f"QLoRA makes LoRA cheaper {bait}", title=f"Issue {bait}", section=f"QLoRA {bait}", highlights=["QLoRA", "everyone"])
    answer = make_answer("q")
    answer.citations = [c]
    for text in (answer_embed(answer).description, more_embed("q", [c]).description):
        assert "> **QLoRA** makes LoRA cheaper" in text and "\\*QLoRA\\*" in text  # our bold; the feed's asterisks escaped
        assert "\\[x\\](http://evil.example)" in text and "\\|\\|spoiler\\|\\|" in text
        assert "@\u200beveryone" in text and "<@\u200b&223456789012345678>" in text and "@**everyone**" not in text
        assert "\u202e" not in text and "\u2066" not in text and "\\_under\\_" in text
