"""Paths of the project's test fixtures."""

from __future__ import annotations

from pathlib import Path

#: ``tests/``.
TESTS = Path(__file__).resolve().parents[1]
#: ``tests/fixtures/``.
FIXTURES = TESTS / "fixtures"
#: The fixture archive of digest issues (``tests/fixtures/archive``).
ARCHIVE = FIXTURES / "archive"
#: Three small digests of one week (2024-04-09..11) covering the same papers (``tests/fixtures/roundup``).
ROUNDUP = FIXTURES / "roundup"
