"""Kept results read out: every page of an execution's merged rows, as CSV or as JSON text.

The CLI and the REST API stream what they print page by page, so a 10,000-target
execution's results never have to sit in memory at once; both use the first page's columns
(later pages are aligned to them) and write values the same way.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence

from sqlfleet import documents
from sqlfleet.fleet import Fleet
from sqlfleet.model import JsonValue, ResultPage

PAGE_SIZE = 5000


def result_pages(
    fleet: Fleet, execution_id: int, *, step: str | None = None, page_size: int = PAGE_SIZE
) -> Iterator[ResultPage]:
    """Every page of an execution's kept rows, the first one even when there are none."""
    offset = 0
    while True:
        page = fleet.execution_results(execution_id, step=step, offset=offset, limit=page_size)
        yield page
        offset += len(page.rows)
        if len(page.rows) < page_size:
            return


def text_value(value: JsonValue) -> str:
    """A kept value as CSV and tables show it: null is empty, booleans are true/false."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def csv_text(columns: Sequence[str], rows: Iterable[Sequence[JsonValue]]) -> str:
    """Rows (and a header when `columns` is given) as CSV lines."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if columns:
        writer.writerow(columns)
    writer.writerows([text_value(v) for v in row] for row in rows)
    return out.getvalue()


def csv_chunks(pages: Iterable[ResultPage]) -> Iterator[str]:
    """The CSV of every page: a header of the first page's columns, then the rows."""
    columns: tuple[str, ...] | None = None
    for page in pages:
        if columns is None:
            columns = page.columns
            yield csv_text(columns, page.rows)
        else:
            yield csv_text((), page.aligned(columns))


def json_chunks(pages: Iterable[ResultPage]) -> Iterator[str]:
    """One JSON document (`documents.result_page` with every row), written page by page."""
    columns: tuple[str, ...] | None = None
    count = 0
    for page in pages:
        rows = page.rows
        if columns is None:
            columns = page.columns
            head = documents.result_page(page)
            del head["rows"], head["offset"]
            yield json.dumps(head, ensure_ascii=False)[:-1] + ', "rows": ['
        else:
            rows = tuple(page.aligned(columns))
        for row in rows:
            yield ("," if count else "") + "\n  " + json.dumps(list(row), ensure_ascii=False)
            count += 1
    yield "\n]}\n"
