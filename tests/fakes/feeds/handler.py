"""The request handler: answers feeds, Substack API calls and scripted faults."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .models import (
    _CHUNK,
    JSON_TYPE,
    MALFORMED_XML,
    RSS_TYPE,
    TRICKLE_FEED,
    RecordedRequest,
    _Fault,
    _not_modified,
    _Resource,
    log,
)

if TYPE_CHECKING:
    from .server import FakeFeedServer


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeFeedServer/1.0"

    @property
    def fake(self) -> FakeFeedServer:
        return self.server.fake  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: object) -> None:
        log.debug("fake feed server: " + format, *args)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.fake._record(RecordedRequest("GET", parts.path, parts.query, headers))
        try:
            self._answer(parts.path, parts.query)
        except (BrokenPipeError, ConnectionResetError):
            log.debug("fake feed server: client went away during %s", parts.path)

    def _answer(self, path: str, query: str) -> None:
        fault, resource = self.fake._lookup(path)
        if fault is not None and fault.kind == "slow":
            self.fake._sleep(fault.delay)
        elif fault is not None:
            self._fault(fault)
            return
        if resource is not None:
            self._resource(resource)
        elif path == "/api/v1/archive":
            self._send(200, self.fake._archive_json(query), JSON_TYPE)
        elif path.startswith("/api/v1/posts/"):
            body = self.fake._post_json(path.removeprefix("/api/v1/posts/"))
            if body is None:
                self._send(404, b'{"error":"Not found"}', JSON_TYPE)
            else:
                self._send(200, body, JSON_TYPE)
        else:
            self._send(404, b"Not Found", "text/plain")

    def _fault(self, fault: _Fault) -> None:
        if fault.kind == "status":
            self._send(fault.status, f"HTTP {fault.status}".encode(), "text/plain")
        elif fault.kind == "malformed":
            self._send(200, MALFORMED_XML, RSS_TYPE)
        elif fault.kind == "oversized":
            self._oversized(fault.size, fault.declare_length)
        elif fault.kind == "redirect":
            self._send(fault.status, b"", "text/plain", extra={"Location": fault.target})
        elif fault.kind == "trickle_headers":
            self._trickle_headers(fault.delay, fault.size)
        elif fault.kind == "trickle_body":
            self._trickle_body(fault.delay)
        elif fault.kind == "encoded":
            self._send(
                200, fault.body, fault.content_type, extra={"Content-Encoding": fault.encoding}
            )
        else:
            raise ValueError(f"unknown fault {fault.kind!r}")

    def _resource(self, resource: _Resource) -> None:
        validators = {"ETag": resource.etag, "Last-Modified": resource.last_modified}
        if _not_modified(self.headers, resource):
            self._send(304, b"", None, extra=validators)
        else:
            self._send(200, resource.body, resource.content_type, extra=validators)

    def _oversized(self, size: int, declare_length: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", RSS_TYPE)
        if declare_length:
            self.send_header("Content-Length", str(size))
        self.end_headers()
        head = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Big</title><!--'
        self.wfile.write(head[:size])
        remaining = size - len(head)
        while remaining > 0:
            chunk = min(remaining, _CHUNK)
            self.wfile.write(b"x" * chunk)
            remaining -= chunk
        self.wfile.flush()

    def _trickle(self, data: bytes, interval: float) -> None:
        """Write ``data`` one byte at a time; stop early when the server stops."""
        for index in range(len(data)):
            if self.fake._stopping.is_set():
                return
            self.wfile.write(data[index : index + 1])
            self.wfile.flush()
            self.fake._sleep(interval)

    def _trickle_headers(self, interval: float, padding: int) -> None:
        head = (
            "HTTP/1.0 200 OK\r\n"
            f"Content-Type: {RSS_TYPE}\r\n"
            f"X-Padding: {'p' * padding}\r\n"
            f"Content-Length: {len(TRICKLE_FEED)}\r\n\r\n"
        ).encode("ascii")
        self._trickle(head, interval)
        if not self.fake._stopping.is_set():
            self.wfile.write(TRICKLE_FEED)

    def _trickle_body(self, interval: float) -> None:
        self.send_response(200)
        self.send_header("Content-Type", RSS_TYPE)
        self.send_header("Content-Length", str(len(TRICKLE_FEED)))
        self.end_headers()
        self.wfile.flush()
        self._trickle(TRICKLE_FEED, interval)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str | None,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 304 and body:
            self.wfile.write(body)
