"""Reading what an ingest is given: parsing files and pages into Documents, chunking them for the
embedding model, near-duplicate detection, and the inputs themselves (paths, feed URLs, Substack)."""
