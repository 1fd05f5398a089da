"""What an ingest can refuse at once, before the embedding model is loaded.

Loading the model takes seconds; a file of an unsupported type or a path that does not exist
is known to fail without it. URLs and folders are left to the ingest itself.
"""

from __future__ import annotations

from pathlib import Path

from knowledge.ingest.parsing import SUPPORTED_SUFFIXES


def precheck_inputs(inputs: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """Split inputs into those worth ingesting and those refused at once.

    Args:
        inputs: Paths and URLs as given on the command line.

    Returns:
        ``(to_ingest, refused)``; ``refused`` holds ``(input, reason)`` pairs.
    """
    keep: list[str] = []
    refused: list[tuple[str, str]] = []
    for item in inputs:
        if item.startswith(("http://", "https://")):
            keep.append(item)
            continue
        path = Path(item)
        if not path.exists():
            refused.append((item, "no such file or folder"))
        elif path.is_file() and path.suffix.lower() not in SUPPORTED_SUFFIXES:
            refused.append((item, f"unsupported file type {path.suffix.lower() or '(none)'}"))
        else:
            keep.append(item)
    return keep, refused
