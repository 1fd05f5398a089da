"""bot.rendering: the text a user reads for an answer, made from the knowledge layer's data."""

from __future__ import annotations

from bot.rendering import answer_text, bold, citation_line, render
from knowledge import Answer, Citation


def _citation(rank: int, digest: str, section: str, excerpt: str = "They report PebbleTune matches full finetuning.") -> Citation:
    return Citation(rank=rank, digest=digest, title=f"{digest} issue", date="2024-03-17", section=section,
                    url=f"https://{rank}.example.org/p", source="x.txt", excerpt=excerpt, score=0.8,
                    arxiv_ids=["2403.05678"], highlights=["PebbleTune"])


def test_shared_paper_leads_the_answer():
    cs = [_citation(1, "Weekly Paper Roundup", "PebbleTune: Pebble-Sized Adapters"), _citation(2, "Model Notes", "PebbleTune")]
    text = render("what about PebbleTune?", cs, "answer")
    assert text.splitlines()[0] == "2 digests discussed **PebbleTune**: Weekly Paper Roundup, Model Notes."
    assert "**1.** They report **PebbleTune** matches" in text


def test_nothing_found_says_so_and_related_is_marked_uncertain():
    assert "found nothing" in render("AlphaFold?", [], "none")
    related = render("AlphaFold?", [_citation(1, "Model Notes", "Other")], "related")
    assert related.startswith("Nothing in the archive clearly answers") and "uncertain" in related


def test_answer_text_prefers_the_knowledge_layers_own_message():
    refused = Answer(question="", found=False, citations=[], answer="Ask me about a paper", error="empty question")
    assert answer_text(refused) == "Ask me about a paper"
    empty = Answer(question="q", found=False, citations=[])
    assert "found nothing" in answer_text(empty)


def test_answer_json_takes_the_rendered_text():
    answer = Answer(question="q", found=False, citations=[])
    data = answer.to_json(answer_text(answer))
    assert list(data) == ["question", "found", "confidence", "answer", "citations", "took_ms"]
    assert data["answer"].startswith("I found nothing")


def test_bold_escapes_markup_and_citation_line_hides_previews():
    assert bold("a*b snake_case and PebbleTune", ["PebbleTune"]) == "a\\*b snake\\_case and **PebbleTune**"
    line = citation_line(_citation(1, "Model Notes", "PebbleTune"))
    assert line.endswith("· <https://1.example.org/p>") and "§ PebbleTune" in line


def test_an_offline_lookup_is_said_once_on_the_card():
    from bot.rendering import paper_card_text
    from knowledge import PaperReport

    report = PaperReport(arxiv_id="2401.00001", found=False, paper=None, mentions=[],
                         lookup_error="arXiv lookup failed: cannot reach http://127.0.0.1:9/api/query (ConnectError)")
    card = paper_card_text(report)
    assert card.count("cannot reach") == 1
    assert "arXiv could not be asked" in card
