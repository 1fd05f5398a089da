"""knowledge.search.answers: one citation per section, diverse across digests, papers shared by digests."""

from __future__ import annotations

from knowledge.models import Citation
from knowledge.search.answers import group_sections, select, shared_papers
from knowledge.search.retrieval import Hit


def hit(doc: str, section: int, score: float, digest: str) -> Hit:
    return Hit(f"{doc}#{section}:{int(score * 100)}", "text", {"doc_id": doc, "section_index": section, "digest": digest}, score=score)


def test_each_section_is_cited_once_and_another_digest_gets_a_slot():
    hits = [hit("d1", 0, 0.9, "A"), hit("d1", 0, 0.8, "A"), hit("d1", 1, 0.85, "A"), hit("d2", 0, 0.5, "B"), hit("d3", 0, 0.1, "C")]
    sections = group_sections(hits)
    assert [h.section_key for h in sections] == [("d1", 0), ("d1", 1), ("d2", 0), ("d3", 0)]
    chosen, more = select(sections, 2)
    assert [h.meta["digest"] for h in chosen] == ["A", "B"]  # the other digest, not A's second section
    assert [h.section_key for h in more] == [("d1", 1), ("d3", 0)]


def citation(rank: int, digest: str, section: str, ids: list[str]) -> Citation:
    return Citation(rank, digest, "t", "2024-01-01", section, "", "s", "e", 1.0, ids)


def test_shared_papers_join_on_arxiv_id_or_short_name_never_on_generic_headings():
    cs = [citation(1, "A", "QLoRA: Efficient Finetuning of Quantized LLMs", []), citation(2, "B", "QLoRA", []),
          citation(3, "A", "Limitations", ["2401.00001"]), citation(4, "C", "Limitations", [])]
    shared = shared_papers(cs)
    assert list(shared) == ["QLoRA"] and [c.rank for c in shared["QLoRA"]] == [1, 2]
