"""Table dumps saved as .txt/.md: a dataset viewer's rows, not a digest post.

A scraped dataset page (``arxiv_id | abstract`` header, ``2401.01234 | We propose ... |``
rows, "stringlengths" column-statistics noise) must not become one post with a
section per row. When its rows are (arXiv ID, abstract) pairs they are read as an
abstract dataset; otherwise the file is refused.
"""

from __future__ import annotations

import re

from knowledge.clients.arxiv_ids import InvalidArxivId, parse_arxiv_id

# A file is a table dump when this share of its non-empty lines are table rows ...
_MIN_ROW_SHARE = 0.6
# ... and it has this many rows, or a dataset-like header or viewer noise.
_MIN_ROWS = 20
_MIN_ROWS_WITH_HINT = 2
# Rows count as abstracts when this share of them parse as (arXiv ID, abstract).
_MIN_PARSED_SHARE = 0.5
_MIN_ABSTRACT_WORDS = 5

_SEPARATOR = re.compile(r"^[\s|:\-–—+=]+$")
_VIEWER_NOISE = re.compile(r"\b(?:stringlengths|stringclasses|sequencelengths|listlengths)\b", re.IGNORECASE)
# Column statistics a viewer prints between the header and the rows ("stringlengths", "10", "1.9k").
_NOISE_LINE = re.compile(
    r"^(?:stringlengths|stringclasses|sequencelengths|listlengths|string|int64|float64|bool|\d+(?:\.\d+)?[kmb]?)$", re.IGNORECASE
)
_COLUMN_TYPE = re.compile(r"\s*(?:\((?:string|str|int\d*|float\d*)\)|\b(?:string|stringlengths)\b).*$", re.IGNORECASE)
_ID_COLUMNS = ("arxiv_id", "arxiv id", "id", "paper_id")
_ABSTRACT_COLUMNS = ("abstract", "summary")


def _is_row(line: str) -> bool:
    return "|" in line and not _SEPARATOR.match(line)


def _cells(line: str) -> list[str]:
    cells = [c.strip() for c in line.strip().split("|")]
    if cells and not cells[0]:
        cells = cells[1:]
    if cells and not cells[-1]:
        cells = cells[:-1]
    return cells


def _column_name(cell: str) -> str:
    return _COLUMN_TYPE.sub("", cell).strip().lower()


def _header(line: str) -> dict[str, int] | None:
    """Column positions of an ``arxiv_id | abstract [| title]`` header row, or None."""
    names = [_column_name(c) for c in _cells(line)]
    id_col = next((names.index(n) for n in _ID_COLUMNS if n in names), None)
    abstract_col = next((names.index(n) for n in _ABSTRACT_COLUMNS if n in names), None)
    if id_col is None or abstract_col is None:
        return None
    columns = {"arxiv_id": id_col, "abstract": abstract_col}
    if "title" in names:
        columns["title"] = names.index("title")
    return columns


def looks_like_table_dump(lines: list[str]) -> bool:
    """Whether the text is mostly ``a | b | c`` rows (a scraped table, not prose)."""
    body = [ln for ln in lines if ln.strip() and not _NOISE_LINE.match(ln.strip())]
    rows = [ln for ln in body if _is_row(ln)]
    if not rows or len(rows) < _MIN_ROW_SHARE * len(body):
        return False
    hinted = any(_VIEWER_NOISE.search(ln) for ln in lines) or any(_header(r) for r in rows[:5])
    return len(rows) >= (_MIN_ROWS_WITH_HINT if hinted else _MIN_ROWS)


def table_rows(lines: list[str]) -> list[dict[str, str]]:
    """The (arXiv ID, abstract) rows of a table dump, or [] when most rows are not such rows.

    Each row is a dict with ``arxiv_id``, ``abstract`` and, when the header has one,
    ``title``, ready for the abstract-dataset reader.
    """
    rows = [ln for ln in lines if ln.strip() and _is_row(ln)]
    columns = None
    parsed: list[dict[str, str]] = []
    data_rows = 0
    for line in rows:
        if columns is None and (header := _header(line)):
            columns = header
            continue
        if _VIEWER_NOISE.search(line):
            continue
        data_rows += 1
        row = _row(_cells(line), columns)
        if row:
            parsed.append(row)
    if not parsed or len(parsed) < _MIN_PARSED_SHARE * data_rows:
        return []
    return parsed


def _row(cells: list[str], columns: dict[str, int] | None) -> dict[str, str] | None:
    if columns and len(cells) > max(columns.values()):
        last = columns["abstract"] == max(columns.values())
        abstract = " | ".join(cells[columns["abstract"] :]) if last else cells[columns["abstract"]]
        row = {"arxiv_id": cells[columns["arxiv_id"]], "abstract": abstract}
        if "title" in columns:
            row["title"] = cells[columns["title"]]
    else:
        id_cell = next((c for c in cells if _is_arxiv_id(c)), "")
        others = [c for c in cells if c is not id_cell]
        row = {"arxiv_id": id_cell, "abstract": max(others, key=len, default="")}
    if not _is_arxiv_id(row["arxiv_id"]) or len(row["abstract"].split()) < _MIN_ABSTRACT_WORDS:
        return None
    return row


def _is_arxiv_id(cell: str) -> bool:
    try:
        parse_arxiv_id(cell)
    except InvalidArxivId:
        return False
    return True
