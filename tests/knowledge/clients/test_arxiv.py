"""arXiv IDs (a grammar table) and the API client against a local fake of the arXiv API."""

from __future__ import annotations

import pytest

from knowledge.clients.arxiv_api import ArxivCache, ArxivClient, ArxivUnavailable, Pacer
from knowledge.clients.arxiv_ids import InvalidArxivId, find_arxiv_ids, parse_arxiv_id
from tests.conftest import free_port
from tests.fakes.arxiv_server import FakeArxiv, FakePaper

VALID = [
    ("2305.14314", "2305.14314"),
    ("2305.14314v2", "2305.14314"),
    ("arXiv:2305.14314", "2305.14314"),
    ("arxiv: 2305.14314v3", "2305.14314"),
    ("https://arxiv.org/abs/2305.14314", "2305.14314"),
    ("http://export.arxiv.org/abs/2305.14314v1", "2305.14314"),
    ("https://arxiv.org/pdf/2305.14314v1.pdf", "2305.14314"),
    ("https://www.arxiv.org/pdf/2305.14314", "2305.14314"),
    ("  <https://arxiv.org/abs/2305.14314>. ", "2305.14314"),
    ("(2305.14314),", "2305.14314"),
    ("'2305.14314'", "2305.14314"),
    ("hep-th/9901001", "hep-th/9901001"),
    ("hep-th/9901001v2", "hep-th/9901001"),
    ("math.GT/0309136", "math.GT/0309136"),
    ("https://arxiv.org/abs/math.GT/0309136v1", "math.GT/0309136"),
    ("0704.0001", "0704.0001"),
    ("1412.1234", "1412.1234"),
]
INVALID = ["", "   ", "hello", "2305.1431", "2313.14314", "2305.143145", "1234", "1412.12345", "1501.1234", "0703.0001",
           "https://example.com/abs/2305.14314", "foo/9901001", "hep-th/99010", "x" * 10_000, "2305.14314 and 2305.14315"]


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_valid_ids(text, expected):
    assert parse_arxiv_id(text) == expected


@pytest.mark.parametrize("text", INVALID)
def test_invalid_ids_have_a_one_line_reason(text):
    with pytest.raises(InvalidArxivId) as err:
        parse_arxiv_id(text)
    assert "\n" not in str(err.value) and len(str(err.value)) < 300


def test_find_ids_in_text():
    text = ("QLoRA (https://arxiv.org/abs/2305.14314v2) builds on arXiv:2106.09685; see also 2402.13144. "
            "Not IDs: version 3.14159, the date 2023.10.05, 12345.6789. Old: https://arxiv.org/pdf/hep-th/9901001v1")
    assert find_arxiv_ids(text) == ["2305.14314", "2106.09685", "2402.13144", "hep-th/9901001"]


@pytest.mark.parametrize(
    "text",
    [
        "２４０３.０５６７８",  # full-width digits
        "２４０３．０５６７８ｖ２",  # full-width dot and version
        "arXiv：２４０３.０５６７８",  # full-width colon
        "٢٤٠٣.٠٥٦٧٨",  # Arabic-Indic digits
        "٢٤٠٣٫٠٥٦٧٨",  # ... with the Arabic decimal separator
        "۲۴۰۳.۰۵۶۷۸v1",  # Extended Arabic-Indic (Persian) digits
        "२४०३.०५६७८",  # Devanagari digits
        "https://arxiv.org/abs/２４０３.０５６７８",
    ],
)
def test_non_ascii_digits_are_normalised_to_the_ascii_id(text):
    assert parse_arxiv_id(text) == "2403.05678"


def test_find_ids_normalises_non_ascii_digits():
    text = "논문 ２４０３.０５６７８ 참고, and arxiv.org/abs/٢٤٠١.٠١٢٣٤v3; also 2403.05678 again."
    assert find_arxiv_ids(text) == ["2403.05678", "2401.01234"]


def test_non_ascii_digits_still_obey_the_grammar():
    for text in ("２３１３.１４３１４", "٢٣٠٥.١٤٣١", "2305.14314¹"):  # bad month, short number, superscript mark
        with pytest.raises(InvalidArxivId):
            parse_arxiv_id(text)


QLORA = FakePaper("2305.14314", "QLoRA: Efficient Finetuning of Quantized LLMs", ["Tim Dettmers", "Artidoro Pagnoni", "Ari Holtzman", "Luke Zettlemoyer"], "We present QLoRA, an efficient finetuning approach.")


class FakeClock:
    """A clock that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.now += seconds


@pytest.fixture
def api():
    with FakeArxiv() as fake:
        fake.add(QLORA)
        yield fake


def client(api_url: str, clock: FakeClock, tmp_path=None, **kw) -> ArxivClient:
    cache = ArxivCache(tmp_path / "state.sqlite3", clock=clock.time) if tmp_path else None
    return ArxivClient(api_url, cache=cache, pacer=Pacer(3.0, clock=clock.time, sleep=clock.sleep), sleep=clock.sleep, **kw)


def test_hit_parses_the_atom_entry(api):
    paper = client(api.url, FakeClock()).fetch("2305.14314")
    assert paper.title == QLORA.title and paper.authors[0] == "Tim Dettmers"
    assert paper.published == "2023-05-23" and paper.metadata_source == "arxiv-api"
    assert paper.abstract == QLORA.abstract


def test_unknown_and_error_entry_are_not_found(api):
    c = client(api.url, FakeClock())
    assert c.fetch("2401.99999") is None  # empty feed
    api.queue("error_entry")
    assert c.fetch("2401.99998") is None  # HTTP 200 with <title>Error</title>


def test_throttling_and_5xx_are_retried_with_backoff(api):
    clock = FakeClock()
    api.queue("rate_exceeded", "500")
    paper = client(api.url, clock).fetch("2305.14314")
    assert paper is not None and len(api.requests) == 3
    assert clock.sleeps == [3.0, 6.0]  # backoff waits; pacing fits inside them


def test_slow_api_times_out_and_says_so(api):
    api.state.slow_seconds = 1.0
    api.queue("slow", "slow", "slow")
    with pytest.raises(ArxivUnavailable, match="timed out"):
        client(api.url, FakeClock(), timeout=0.2).fetch("2305.14314")


def test_offline_is_a_clear_error_at_once():
    clock = FakeClock()
    with pytest.raises(ArxivUnavailable, match="cannot reach"):
        client(f"http://127.0.0.1:{free_port()}/api/query", clock).fetch("2305.14314")
    assert clock.sleeps == []  # nobody listening: no backoff, no retries


def test_malformed_answer_is_not_a_crash(api):
    api.queue("malformed")
    assert client(api.url, FakeClock()).fetch("2305.14314") is None


def test_cache_serves_repeats_and_expires(api, tmp_path):
    clock = FakeClock()
    c = client(api.url, clock, tmp_path)
    c.fetch("2305.14314")
    c.fetch("2305.14314")
    assert len(api.requests) == 1
    c.fetch("2401.99999")
    c.fetch("2401.99999")  # not-found answers are cached too
    assert len(api.requests) == 2
    clock.now += 8 * 86400
    c.fetch("2305.14314")
    assert len(api.requests) == 3


def test_pacing_is_one_request_every_three_seconds(api):
    clock = FakeClock()
    c = client(api.url, clock)
    c.fetch("2305.14314")
    clock.now += 1.0
    c.fetch("2401.00001")
    assert clock.sleeps == [2.0]
    clock.now += 5.0
    c.fetch("2401.00002")
    assert clock.sleeps == [2.0]


def test_fetch_many_uses_one_request(api):
    api.add(FakePaper("2402.13144", "Diffusion Weights", ["A. Author"], "Weights from diffusion."))
    found = client(api.url, FakeClock()).fetch_many(["2305.14314", "2402.13144", "2401.00003"])
    assert found["2402.13144"].title == "Diffusion Weights" and found["2401.00003"] is None
    assert len(api.requests) == 1
