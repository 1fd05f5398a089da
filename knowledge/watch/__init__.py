"""Watching digests: the feed poller and the state database of sources, entries and their progress."""
