"""Per-user watches: private alerts when a newly indexed issue covers a topic or a paper.

- :mod:`.words`: whether a topic has words retrieval can use (and its length cap).
- :mod:`.store`: :class:`WatchStore`, the watches, their hits (pending -> sending -> sent)
  and the queue of newly indexed documents, in the state database.
- :mod:`.matching`: :class:`WatchMatcher`, matching the queued documents against every watch.
- :mod:`.polling`: the poller's half (queue what it indexed, scan after each round).

No Discord here: the bot delivers the hits as DMs, the terminal prints them.
"""
