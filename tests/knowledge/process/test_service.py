"""The knowledge base in its own process: real child processes, real model, real Chroma.

Each child loads the model itself (a few seconds), so the module shares one child where it
can and starts new ones only to test starting, dying and restarting.
"""

from __future__ import annotations

import fcntl
import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from knowledge.clients.arxiv_ids import InvalidArxivId
from knowledge.config import Settings
from knowledge.models import Document, IngestReport, Section
from knowledge.process.ownership import StoreOwned, current_owner, ingest_through_owner
from knowledge.process.service import KnowledgeProcess, KnowledgeUnavailable, open_knowledge
from knowledge.search.store import ChromaStore, ModelMismatch, StoreBusy
from knowledge.text import content_hash
from tests.conftest import ARCHIVE, free_port

REPO = Path(__file__).resolve().parents[3]


def settings_for(data: Path, **env: str) -> Settings:
    return Settings.from_env(
        {"DIGESTBOT_DATA_DIR": str(data), "ARXIV_API_URL": f"http://127.0.0.1:{free_port()}/api/query", **env},
        dotenv=False,
    )


def note(n: int, words: str) -> Document:
    text = f"Note {n} is about {words}. " * 2
    return Document(
        doc_id=f"service-test/{n}", digest="Service Notes", title=f"Service note {n}", date="2024-05-01", url="",
        source=f"service-test/{n}.md", language="en", content_hash=content_hash(text),
        sections=[Section(heading=f"Note {n}", text=text, arxiv_ids=[])],
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """One knowledge process over a fresh data directory with the fixture archive ingested."""
    data = tmp_path_factory.mktemp("served")
    # the bot's process has the token in its environment (.env is loaded into it)
    saved = os.environ.get("DISCORD_TOKEN")
    os.environ["DISCORD_TOKEN"] = "secret-token-for-the-bot-only"
    try:
        kp = KnowledgeProcess(settings_for(data))
    finally:
        if saved is None:
            os.environ.pop("DISCORD_TOKEN")
        else:
            os.environ["DISCORD_TOKEN"] = saved
    progress: list[tuple[int, int, str]] = []
    report = kp.ingest([ARCHIVE], progress=lambda done, total, label: progress.append((done, total, label)))
    yield kp, report, progress
    kp.close()


def test_answers_like_the_knowledge_base_in_this_process(served, fixture_kb):
    kp, report, progress = served
    assert report.added == fixture_kb.stats().documents and report.chunks_embedded > 0
    # progress callbacks run here, in order: chunks embedded, from 0 to the total, one step per document
    done = [p[0] for p in progress]
    assert done[0] == 0 and done == sorted(done) and done[-1] == report.chunks_embedded
    assert len(progress) == report.added + 1
    assert all(p[1] == report.chunks_embedded for p in progress)
    question = "what did the digest say about PebbleTune?"
    remote, local = kp.ask(question), fixture_kb.ask(question)
    assert remote.found and remote.found == local.found
    assert [(c.title, c.section) for c in remote.citations] == [(c.title, c.section) for c in local.citations]
    assert kp.stats().chunks == fixture_kb.stats().chunks
    assert kp.digests() == fixture_kb.digests()
    assert [i.title for i in kp.latest_issues(None, 3)] == [i.title for i in fixture_kb.latest_issues(None, 3)]
    assert kp.suggest_papers("2403") == fixture_kb.suggest_papers("2403")
    issue = kp.latest_issues(None, 1)[0]
    assert kp.issue_overview(issue.doc_id) == fixture_kb.issue_overview(issue.doc_id)


def test_a_watch_topic_is_matched_in_the_knowledge_process_as_here(served, fixture_kb):
    kp, _, _ = served
    docs = [d.doc_id for d in fixture_kb.documents() if d.kind == "digest"]
    remote, local = kp.match_topic("PebbleTune adapters", docs), fixture_kb.match_topic("PebbleTune adapters", docs)
    assert remote and {d: (c.section, c.excerpt) for d, c in remote.items()} == {d: (c.section, c.excerpt) for d, c in local.items()}


def test_exceptions_come_back_as_themselves(served):
    kp, _, _ = served
    with pytest.raises(InvalidArxivId) as raised:
        kp.paper("not an id at all")
    assert any("raised in the knowledge process" in n for n in raised.value.__notes__)
    with pytest.raises(AttributeError, match="does not serve"):
        kp._call("_write", [])
    # a bad question still gets its clear answer (no exception)
    assert kp.ask("   ").error == "empty question"


def test_store_busy_reaches_the_caller(served):
    kp, _, _ = served
    # this process holds the store's write lock, as a CLI ingest that began before the bot would
    with (kp.settings.data_dir / ".write.lock").open("a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            with pytest.raises(StoreBusy, match="another digestbot process"):
                kp.ingest_documents([note(1, "lock holders")])
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    # and once it is released, the same documents go in
    assert kp.ingest_documents([note(1, "lock holders")]).added == 1


def test_the_child_does_not_get_the_token(served):
    kp, _, _ = served
    environ = Path(f"/proc/{kp.pid}/environ").read_bytes().split(b"\0")
    assert not any(v.startswith(b"DISCORD_TOKEN=") for v in environ)
    assert any(v.startswith(b"DIGESTBOT_DATA_DIR=") or v.startswith(b"PATH=") for v in environ)
    assert os.environ.get("DISCORD_TOKEN") != "secret-token-for-the-bot-only"  # put back as it was


def test_the_child_owns_the_embedded_store_and_runs_other_processes_ingests(served, tmp_path):
    kp, _, _ = served
    owner = current_owner(kp.settings.data_dir)
    assert owner is not None and owner.pid == kp.pid and owner.role.startswith("digestbot run (knowledge process")
    # a CLI ingest's path: through the child's socket, progress streamed back
    (tmp_path / "handed.md").write_text("# Handed Over Notes\n\nThe lantern sampler paper trains with glowing batches of tokens.\n")
    progress: list[tuple] = []
    report = ingest_through_owner(owner, [str(tmp_path / "handed.md")], digest="Handed", progress=lambda *p: progress.append(p))
    assert report.added == 1 and report.chunks_embedded > 0 and progress and progress[-1][:2] == (1, 1)
    assert kp.ask("what about the lantern sampler?").found
    # a second bot on the same embedded store is refused with who owns it
    with pytest.raises(StoreOwned, match=f"pid {kp.pid}.*CHROMA_HOST"):
        KnowledgeProcess(settings_for(kp.settings.data_dir))


def test_the_data_directory_is_private(served):
    kp, _, _ = served
    data = kp.settings.data_dir
    assert stat.S_IMODE(os.stat(data).st_mode) == 0o700
    loose = [str(p) for p in data.rglob("*") if stat.S_IMODE(p.lstat().st_mode) & 0o077]
    assert not loose


def test_a_report_passed_in_is_updated_in_place(served):
    kp, _, _ = served
    report = IngestReport(failed=2, failures=[("elsewhere", "not found")])
    returned = kp.ingest_documents([note(2, "report keeping"), note(3, "report keeping")], report=report)
    assert returned is report
    assert report.added == 2 and report.failed == 2 and report.failures == [("elsewhere", "not found")]
    assert kp.ask("note about report keeping").found


def test_a_call_that_takes_too_long_is_given_up_and_the_next_one_works(served):
    kp, _, _ = served
    kp.call_timeout = 0.0001
    try:
        with pytest.raises(KnowledgeUnavailable, match="did not answer ask"):
            kp.ask("what did the digest say about PebbleTune?")
    finally:
        kp.call_timeout = 120.0
    assert kp.ask("what did the digest say about PebbleTune?").found


def test_questions_are_answered_while_an_ingest_runs(served):
    kp, _, _ = served
    docs = [note(100 + n, f"concurrent topic {n}") for n in range(60)]
    result: dict[str, object] = {}
    writer = threading.Thread(target=lambda: result.update(report=kp.ingest_documents(docs)))
    writer.start()
    answers = []
    while writer.is_alive() and len(answers) < 50:
        answers.append(kp.ask("what did the digest say about PebbleTune?"))
    writer.join(120)
    assert result["report"].added == 60
    assert answers and all(a.found for a in answers)


def test_a_dead_child_fails_its_calls_and_the_next_call_starts_a_new_one(tmp_path):
    kp = KnowledgeProcess(settings_for(tmp_path))
    try:
        first = kp.pid
        docs = [note(n, f"crash topic {n}") for n in range(300)]  # one chunk each: two embedding batches
        written = threading.Event()
        failure: list[BaseException] = []

        def ingest() -> None:
            try:
                kp.ingest_documents(docs, progress=lambda done, *_: done and written.set())
            except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
                failure.append(exc)

        writer = threading.Thread(target=ingest)
        writer.start()
        assert written.wait(120), "the first batch was never written"
        os.kill(first, signal.SIGKILL)  # mid-ingest: the first batch is in, the second is not
        writer.join(60)
        assert failure and isinstance(failure[0], KnowledgeUnavailable)
        assert "stopped (exit code -9)" in str(failure[0])
        # the next call starts a new child; running the ingest again completes it
        assert 0 < kp.stats().documents < len(docs)
        assert kp.pid != first and kp.starts == 2
        again = kp.ingest_documents(docs)
        assert again.added == len(docs) - again.unchanged and again.unchanged > 0
        assert kp.stats().documents == len(docs)
        assert kp.ask("note about crash topic 299").found
    finally:
        kp.close()
    assert kp.pid is None
    with pytest.raises(KnowledgeUnavailable, match="closed"):
        kp.stats()


def test_a_child_that_cannot_open_the_store_raises_what_it_raised(tmp_path):
    ChromaStore(tmp_path, "some-other-model", 384)  # a store built with another model
    with pytest.raises(ModelMismatch, match="reindex"):
        KnowledgeProcess(settings_for(tmp_path))


def test_a_background_start_reports_its_failure_when_waited_for(tmp_path):
    ChromaStore(tmp_path, "some-other-model", 384)
    started = time.monotonic()
    kp = KnowledgeProcess(settings_for(tmp_path), wait=False)
    assert time.monotonic() - started < 2  # returned at once; the child loads in the background
    try:
        with pytest.raises(ModelMismatch, match="reindex"):
            kp.wait_ready()
        # calls right after a failed start fail at once with the reason, instead of retrying
        began = time.monotonic()
        with pytest.raises(KnowledgeUnavailable, match="not running.*reindex"):
            kp.ask("anything")
        assert time.monotonic() - began < 2
    finally:
        kp.close()


def test_the_child_exits_when_the_bots_process_dies(tmp_path):
    script = textwrap.dedent(
        f"""
        import os, sys
        from knowledge.config import Settings
        from knowledge.process.service import KnowledgeProcess
        if __name__ == "__main__":
            kp = KnowledgeProcess(Settings.from_env({{"DIGESTBOT_DATA_DIR": {str(tmp_path)!r}}}, dotenv=False))
            print(kp.pid, flush=True)
            os._exit(0)  # no close(): as if the bot were killed
        """
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=180, check=True)
    child = int(out.stdout.split()[-1])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.2)
    assert not _alive(child), "the knowledge process outlived the bot's process"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by its parent) counts as gone
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


def test_knowledge_process_is_a_setting(tmp_path, embedder):
    settings = settings_for(tmp_path, KNOWLEDGE_PROCESS="0")
    assert not settings.knowledge_process and settings_for(tmp_path).knowledge_process
    kb = open_knowledge(settings)
    try:
        assert type(kb).__name__ == "KnowledgeBase"
    finally:
        kb.close()


def test_roundups_are_served_and_a_bad_date_comes_back_as_itself(served, fixture_kb):
    from knowledge import InvalidDate

    kp, _, _ = served
    week = {"since": "2024-03-16", "until": "2024-03-22"}
    remote, local = kp.roundup(**week), fixture_kb.roundup(**week)
    assert remote.papers and [p.to_json() for p in remote.papers] == [p.to_json() for p in local.papers]
    with pytest.raises(InvalidDate, match="not a date"):
        kp.roundup(since="someday")
