"""Helpers shared by the bot and knowledge tests (one definition each).

* :mod:`tests.helpers.paths` -- ``FIXTURES``, ``ARCHIVE``.
* :mod:`tests.helpers.net` -- :func:`~tests.helpers.net.free_port`.
* :mod:`tests.helpers.settings` -- :func:`~tests.helpers.settings.settings_for` and
  :func:`~tests.helpers.settings.local_http_settings`.
* :mod:`tests.helpers.feeds` -- the made-up weekly digest (:func:`~tests.helpers.feeds.issue`)
  and ``sources.toml`` writing.
* :mod:`tests.helpers.waiting` -- :func:`~tests.helpers.waiting.until` for async tests.

Fixtures built on these (``state``, ``state_factory``, ``settings_factory``, ...) live in
``tests/conftest.py``.
"""
