"""Paths of the project's test fixtures."""

from __future__ import annotations

from pathlib import Path

#: ``tests/``.
TESTS = Path(__file__).resolve().parents[1]
#: ``tests/fixtures/``.
FIXTURES = TESTS / "fixtures"
#: The fixture archive of digest issues (``tests/fixtures/archive``).
ARCHIVE = FIXTURES / "archive"
