"""Shared fixtures: the real embedding model (loaded once), real Chroma (embedded and a
``chroma run`` server on 127.0.0.1), and knowledge bases over the project's own fixtures."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.helpers.net import free_port
from tests.helpers.paths import ARCHIVE, FIXTURES
from tests.helpers.settings import settings_for

if TYPE_CHECKING:
    from knowledge.watch.state import StateDB

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

__all__ = ["ARCHIVE", "FIXTURES", "free_port"]  # kept importable from here; defined in tests.helpers


def pytest_configure(config: pytest.Config) -> None:
    """Give the processes the tests start a working Ctrl-C.

    Several tests stop ``digestbot run`` and ``digestbot chat`` with SIGINT, as a user's Ctrl-C
    would. A runner that starts pytest as a background job of a non-interactive shell has
    SIGINT ignored, and an ignored signal stays ignored across ``exec``: those children would
    never see it. A Python-level handler here is reset to the default in every child.
    """
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def embedder():
    """The bundled all-MiniLM-L6-v2, loaded once for the whole session."""
    from knowledge.embeddings import get_embedder

    e = get_embedder(None)
    e.model  # noqa: B018 - load now
    return e


def _chroma_executable() -> str | None:
    found = shutil.which("chroma")
    if found:
        return found
    candidate = Path(sys.executable).parent / "chroma"
    return str(candidate) if candidate.exists() else None


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory) -> Iterator[tuple[str, int]]:
    """A real ``chroma run`` server on 127.0.0.1 for this test session."""
    exe = _chroma_executable()
    if exe is None:
        pytest.fail("the chroma command is missing: install chromadb (it ships `chroma run`)")
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    log = (path / "server.log").open("w")
    proc = subprocess.Popen([exe, "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(path / "db")], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    import httpx

    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"chroma run exited: {(path / 'server.log').read_text()[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                break
        time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("chroma run did not start within 60 s")
    yield "127.0.0.1", port
    proc.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(10)
    if proc.poll() is None:
        proc.kill()
    log.close()


def _reset_server(host: str, port: int) -> None:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.HttpClient(host=host, port=port, settings=ChromaSettings(anonymized_telemetry=False))
    for col in client.list_collections():
        client.delete_collection(col.name if hasattr(col, "name") else col)


@pytest.fixture(params=["embedded", "server"])
def backend(request) -> str:
    """Run a test against the embedded store and against a Chroma server."""
    return request.param


@pytest.fixture
def settings_factory(tmp_path, request) -> Callable[..., object]:
    """Build Settings for a fresh data directory; ``server=True`` points at the session's Chroma server."""

    def make(server: bool = False, **env: str):
        values: dict[str, str] = {}
        if server:
            host, port = request.getfixturevalue("chroma_server")
            _reset_server(host, port)
            values.update(CHROMA_HOST=host, CHROMA_PORT=str(port))
        values.update(env)
        return settings_for(tmp_path / "data", **values)

    return make


@pytest.fixture
def kb_factory(settings_factory, embedder):
    """Build KnowledgeBases sharing the session's model; closed after the test."""
    from knowledge.facade import KnowledgeBase

    made = []

    def make(server: bool = False, **kwargs):
        kb = KnowledgeBase(settings_factory(server=server), embedder=embedder, **kwargs)
        made.append(kb)
        return kb

    yield make
    for kb in made:
        kb.close()


@pytest.fixture(scope="session")
def fixture_kb(tmp_path_factory, embedder):
    """An embedded knowledge base with the project's fixture archive ingested (read-only use)."""
    from knowledge.facade import KnowledgeBase

    kb = KnowledgeBase(settings_for(tmp_path_factory.mktemp("fixture-kb")), embedder=embedder)
    kb.ingest([ARCHIVE])
    yield kb
    kb.close()


@pytest.fixture
def server():
    """A local feed and Substack-API server (tests/fakes/feeds/)."""
    from tests.fakes.feeds import FakeFeedServer

    with FakeFeedServer() as fake:
        yield fake


@pytest.fixture
def state(tmp_path: Path) -> Iterator[StateDB]:
    """A fresh state database (``tmp_path/state.sqlite3``), closed after the test."""
    from knowledge.watch.state import StateDB

    db = StateDB(tmp_path / "state.sqlite3")
    yield db
    db.close()


@pytest.fixture
def state_factory() -> Iterator[Callable[[Path], StateDB]]:
    """Open state databases by path (as a restart would); all are closed after the test."""
    from knowledge.watch.state import StateDB

    opened: list[StateDB] = []

    def open_state(path: Path) -> StateDB:
        db = StateDB(path)
        opened.append(db)
        return db

    yield open_state
    for db in opened:
        db.close()


@pytest.fixture
def fetcher():
    """A feed fetcher allowed to reach 127.0.0.1, with a short timeout."""
    from knowledge.clients.feeds import FeedFetcher

    with FeedFetcher(timeout=2.0, allow_private=True) as client:
        yield client


@pytest.fixture(scope="session")
def roundup_kb(tmp_path_factory, embedder):
    """The fixture archive plus ``tests/fixtures/roundup`` (three digests of one week sharing papers); read-only use."""
    from knowledge.facade import KnowledgeBase
    from tests.helpers.paths import ROUNDUP

    kb = KnowledgeBase(settings_for(tmp_path_factory.mktemp("roundup-kb")), embedder=embedder)
    kb.ingest([ARCHIVE, ROUNDUP])
    yield kb
    kb.close()
