"""Settings: names, defaults, empty values, and .env.example kept in step."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from knowledge.config import REPO_ROOT, Settings


def test_defaults_and_empty_values_count_as_unset():
    s = Settings.from_env({"CHROMA_HOST": "", "POLL_MINUTES": "", "DISCORD_TOKEN": ""})
    assert s.chroma_host is None and s.poll_minutes == 30 and s.discord_token is None
    assert s.data_dir == Path("data") and s.sources_file == REPO_ROOT / "sources.toml"
    assert s.arxiv_api_url == "https://export.arxiv.org/api/query"


def test_decimal_poll_minutes_and_bad_values():
    assert Settings.from_env({"POLL_MINUTES": "0.05"}).poll_minutes == 0.05
    with pytest.raises(ValueError, match="POLL_MINUTES"):
        Settings.from_env({"POLL_MINUTES": "-1"})
    with pytest.raises(ValueError, match="DISCORD_GUILD_ID"):
        Settings.from_env({"DISCORD_GUILD_ID": "abc"})


def test_token_is_not_in_the_repr():
    assert "s3cret" not in repr(Settings.from_env({"DISCORD_TOKEN": "s3cret"}))


def test_env_example_lists_every_setting_and_nothing_else():
    example = (REPO_ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^([A-Z_]+)=", example, re.MULTILINE))
    source = (REPO_ROOT / "knowledge" / "config.py").read_text()
    read = set(re.findall(r'"([A-Z][A-Z_]+)"', source))
    assert documented == read


def test_sources_default_outside_a_source_checkout(tmp_path, monkeypatch):
    import knowledge.config as config

    monkeypatch.setattr(config, "REPO_ROOT", tmp_path / "site-packages")  # installed from a wheel
    monkeypatch.chdir(tmp_path)
    assert Settings.from_env({}).sources_file == tmp_path / "sources.toml"
    assert Settings.from_env({"DIGESTBOT_SOURCES": "/etc/digests.toml"}).sources_file == Path("/etc/digests.toml")


def test_knowledge_process_is_on_unless_turned_off():
    assert Settings.from_env({}).knowledge_process
    assert Settings.from_env({"KNOWLEDGE_PROCESS": ""}).knowledge_process
    assert not Settings.from_env({"KNOWLEDGE_PROCESS": "0"}).knowledge_process


def test_watch_limits_have_defaults_and_are_at_least_one():
    assert (Settings.from_env({}).watch_max_per_user, Settings.from_env({}).watch_dms_per_hour) == (25, 10)
    tuned = Settings.from_env({"WATCH_MAX_PER_USER": "3", "WATCH_DMS_PER_HOUR": "0"})
    assert (tuned.watch_max_per_user, tuned.watch_dms_per_hour) == (3, 1)
    with pytest.raises(ValueError, match="WATCH_MAX_PER_USER must be a whole number"):
        Settings.from_env({"WATCH_MAX_PER_USER": "many"})
