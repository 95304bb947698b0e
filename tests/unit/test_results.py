"""Keeping a result set: JSON-safe values, unique column names, the cap."""

from __future__ import annotations

import datetime
import json
import uuid
from decimal import Decimal

import pytest

from sqlfleet.engine.results import json_safe, keep_result, unique_names
from sqlfleet.model import ResultPage


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        (None, None),
        (True, True),
        (7, 7),
        (2**70, 2**70),
        (1.5, 1.5),
        (float("nan"), "nan"),
        (float("-inf"), "-inf"),
        ("ü\x00", "ü\x00"),
        (Decimal("1.50"), "1.50"),
        (datetime.date(2024, 2, 29), "2024-02-29"),
        (datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC), "2024-01-02T03:04:05+00:00"),
        (datetime.time(13, 14), "13:14:00"),
        (b"\x00\xff", "\\x00ff"),
        (memoryview(b"ab"), "\\x6162"),
        (uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
        (datetime.timedelta(hours=1), "1:00:00"),
        ([1, 2], "[1, 2]"),
    ],
)
def test_values_are_kept_json_safe(value: object, kept: object) -> None:
    assert json_safe(value) == kept
    json.dumps(json_safe(value), allow_nan=False)  # never raises


def test_the_cap_keeps_the_first_rows_and_counts_them_all() -> None:
    kept = keep_result(["n", "n", "m"], [(i, i, Decimal(i)) for i in range(5)], 2)
    assert kept.columns == ("n", "n_2", "m")
    assert kept.rows == ((0, 0, "0"), (1, 1, "1"))
    assert (kept.returned_rows, kept.kept_rows, kept.truncated) == (5, 2, True)
    nothing = keep_result(["n"], [(1,)], 0)
    assert (nothing.rows, nothing.returned_rows, nothing.truncated) == ((), 1, True)
    assert not keep_result(["n"], [], 10).truncated


def test_unique_names_skip_names_already_taken() -> None:
    assert unique_names(["a", "a_2", "a", "a"]) == ("a", "a_2", "a_3", "a_4")


def test_a_page_aligns_its_rows_to_other_columns() -> None:
    page = ResultPage(1, None, ("s", "d", "x"), (("s1", "d1", 1),), 0, 1, 1, 0)
    assert page.aligned(("s", "d", "y", "x")) == [("s1", "d1", None, 1)]
    assert page.aligned(("s", "d", "x")) == [("s1", "d1", 1)]
