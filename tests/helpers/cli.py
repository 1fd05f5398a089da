"""Running ``digestbot`` commands in-process, as a user's terminal would, for the CLI tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.net import free_port


def cli_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean environment for ``bot.cli.main``: its own data dir, a dead arXiv, no token.

    Returns:
        ``tmp_path``, which is also made the working directory.
    """
    monkeypatch.setenv("DIGESTBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ARXIV_API_URL", f"http://127.0.0.1:{free_port()}/api/query")
    for name in ("CHROMA_HOST", "EMBEDDING_MODEL", "DISCORD_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``digestbot ARGV...`` in this process: its exit code, stdout and stderr."""
    from bot.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err
