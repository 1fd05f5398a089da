"""Talking to the network: the guarded HTTP client, feeds, Substack, the arXiv API, arXiv IDs and
the public-address checks every fetch goes through."""
