"""Matching a watch's topic against newly indexed documents: :class:`TopicMatching`.

Mixed into :class:`~knowledge.facade.KnowledgeBase`. Each document is searched on its own
(dense neighbours and BM25 scores looked up inside its chunks, not filtered out of the global
top k), and the answer gate is the one ``ask`` uses: the evidence of the document's sections
(:func:`~knowledge.search.confidence.gather`) through the calibrated model, and only the
``answer`` level counts. So a watch fires exactly when ``/ask`` with the topic, asked of that
issue alone, would say the excerpts answer it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from knowledge.models import Citation
from knowledge.search.answers import group_sections, section_members, to_citation
from knowledge.search.confidence import gather
from knowledge.text import clean_line

if TYPE_CHECKING:
    from knowledge.search.confidence import Calibration
    from knowledge.search.records import DocRecord
    from knowledge.search.retrieval import Retriever


class TopicMatching:
    """``match_topic``: the best confident citation of a topic in each of some documents."""

    retriever: Retriever
    calibration: Calibration
    _records: dict[str, DocRecord]

    if TYPE_CHECKING:  # defined by KnowledgeBase
        def _maybe_refresh(self) -> None: ...

    def match_topic(self, text: str, doc_ids: list[str]) -> dict[str, Citation]:
        """The best citation answering ``text`` in each document that answers it.

        Args:
            text: The topic (as a watch holds it).
            doc_ids: The documents to look in (those not indexed completely, and abstracts, are left out).

        Returns:
            ``doc_id -> Citation`` for each document whose best section answers the topic with
            the ``answer`` confidence of ``ask``; documents that do not are absent.
        """
        topic = clean_line(text or "")
        if not topic or not doc_ids:
            return {}
        self._maybe_refresh()
        out: dict[str, Citation] = {}
        for doc_id in dict.fromkeys(doc_ids):
            record = self._records.get(doc_id)
            if record is None or record.kind != "digest":
                continue
            hits, terms = self.retriever.search(topic, within=[doc_id], allowed_docs={doc_id})
            sections = group_sections(hits)
            if not sections or self.calibration.level(gather(sections, hits, terms)) != "answer":
                continue
            best = sections[0]
            out[doc_id] = to_citation(1, best, terms, weak=False, section_hits=section_members(hits)[best.section_key])
        return out
