"""A local HTTP server that answers like the arXiv API (``/api/query``), with scriptable faults."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

FEED_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
    'xmlns:arxiv="http://arxiv.org/schemas/atom">\n'
    '<link href="http://arxiv.org/api/query" rel="self" type="application/atom+xml"/>\n'
    "<title type=\"html\">ArXiv Query</title>\n<id>http://arxiv.org/api/fake</id>\n<updated>2024-04-01T00:00:00-04:00</updated>\n"
)


@dataclass
class FakePaper:
    """A paper the fake API knows."""

    arxiv_id: str
    title: str
    authors: list[str]
    abstract: str
    published: str = "2023-05-23T17:50:33Z"
    updated: str = "2023-05-24T10:00:00Z"
    version: int = 1
    category: str = "cs.LG"


@dataclass
class Request:
    """One request the fake received."""

    path: str
    query: dict[str, list[str]]
    at: float


@dataclass
class _State:
    papers: dict[str, FakePaper] = field(default_factory=dict)
    faults: list[str] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    slow_seconds: float = 1.0
    lock: threading.Lock = field(default_factory=threading.Lock)


def entry_xml(p: FakePaper) -> str:
    """One Atom entry as arXiv writes it."""
    authors = "".join(f"<author><name>{escape(a)}</name></author>" for a in p.authors)
    return (
        f"<entry><id>http://arxiv.org/abs/{p.arxiv_id}v{p.version}</id><updated>{p.updated}</updated>"
        f"<published>{p.published}</published><title>{escape(p.title)}</title><summary>  {escape(p.abstract)}\n</summary>{authors}"
        f'<link href="http://arxiv.org/abs/{p.arxiv_id}v{p.version}" rel="alternate" type="text/html"/>'
        f'<link title="pdf" href="http://arxiv.org/pdf/{p.arxiv_id}v{p.version}" rel="related" type="application/pdf"/>'
        f'<arxiv:primary_category term="{p.category}" scheme="http://arxiv.org/schemas/atom"/></entry>\n'
    )


def error_xml(bad: str) -> str:
    """The API's answer to a malformed ID: HTTP 200 and an entry titled "Error"."""
    return (
        f"{FEED_HEAD}<opensearch:totalResults>1</opensearch:totalResults>"
        f"<entry><id>http://arxiv.org/api/errors#incorrect_id_format_for_{escape(bad)}</id><title>Error</title>"
        f"<summary>incorrect id format for {escape(bad)}</summary><updated>2024-04-01T00:00:00-04:00</updated>"
        '<link href="http://arxiv.org/api/errors#incorrect_id_format" rel="alternate" type="text/html"/>'
        "<author><name>arXiv api core</name></author></entry></feed>"
    )


class FakeArxiv:
    """Serves ``/api/query?id_list=...`` on 127.0.0.1 from papers added by the test.

    Faults are queued and used one per request: ``"rate_exceeded"``, ``"500"``, ``"slow"``,
    ``"malformed"``, ``"error_entry"``.
    """

    def __init__(self) -> None:
        self.state = _State()
        state = self.state

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's API
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                with state.lock:
                    state.requests.append(Request(parts.path, query, time.monotonic()))
                    fault = state.faults.pop(0) if state.faults else ""
                if parts.path != "/api/query":
                    return self._send(404, "text/plain", "not found")
                if fault == "rate_exceeded":
                    return self._send(503, "text/plain", "Rate exceeded.")
                if fault == "500":
                    return self._send(500, "text/plain", "Internal Server Error")
                if fault == "slow":
                    time.sleep(state.slow_seconds)
                if fault == "malformed":
                    return self._send(200, "application/atom+xml", "<feed><entry><title>broken")
                ids = [i for i in ",".join(query.get("id_list", [""])).split(",") if i]
                bad = [i for i in ids if not any(ch.isdigit() for ch in i)]
                if fault == "error_entry" or bad:
                    return self._send(200, "application/atom+xml", error_xml(bad[0] if bad else ids[0] if ids else ""))
                found = [state.papers[i.split("v")[0]] for i in ids if i.split("v")[0] in state.papers]
                body = FEED_HEAD + f"<opensearch:totalResults>{len(found)}</opensearch:totalResults>\n" + "".join(entry_xml(p) for p in found) + "</feed>"
                return self._send(200, "application/atom+xml; charset=utf-8", body)

            def _send(self, status: int, ctype: str, body: str) -> None:
                data = body.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> FakeArxiv:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        """The query endpoint (``ARXIV_API_URL``)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/query"

    def add(self, paper: FakePaper) -> None:
        self.state.papers[paper.arxiv_id] = paper

    def queue(self, *faults: str) -> None:
        self.state.faults.extend(faults)

    @property
    def requests(self) -> list[Request]:
        return list(self.state.requests)
