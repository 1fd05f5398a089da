"""Turn files into :class:`~knowledge.models.Document` records.

:func:`discover` walks files and folders; :func:`parse_file` reads one file
(digest post as .txt/.md/.html, Korean daily notes, or an abstract dataset) and
returns its documents. Errors are raised as :class:`ParseError` so the caller
can report the file and go on.
"""

from knowledge.ingest.parsing.documents import (
    SUPPORTED_SUFFIXES,
    ParseError,
    discover,
    document_from_html,
    parse_file,
)

__all__ = ["SUPPORTED_SUFFIXES", "ParseError", "discover", "document_from_html", "parse_file"]
