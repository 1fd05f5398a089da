"""Feed items shared by the announcement tests.

Kept for existing imports: the definitions live in :mod:`tests.helpers.feeds` and
:mod:`tests.helpers.waiting`.
"""

from __future__ import annotations

from tests.helpers.feeds import BASE, issue
from tests.helpers.waiting import until

__all__ = ["BASE", "issue", "until"]
