"""Per-target variables: names, values, text from catalog types, and shard-map columns."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sqlfleet import limits
from sqlfleet.errors import InvalidValue, TargetError
from sqlfleet.model import Target
from sqlfleet.script import VARIABLES
from sqlfleet.targets.resolve import shard_targets
from sqlfleet.variables import (
    as_text,
    check_name,
    check_variables,
    describe,
    from_json,
    parse_assignments,
    shown,
    to_json,
)

SERVER = "postgresql://127.0.0.1:5432"


@pytest.mark.parametrize("name", ["plan", "_x", "Tenant_ID_2", "p" * limits.MAX_VARIABLE_NAME])
def test_good_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("", "a variable name is empty"),
        ("9lives", "'9lives' is not a valid variable name"),
        ("a-b", "'a-b' is not a valid variable name"),
        ("plan:literal", "'plan:literal' is not a valid variable name"),
        ("é", "'é' is not a valid variable name"),
        ("p" * (limits.MAX_VARIABLE_NAME + 1), "is longer than 63 characters"),
        ("JOB_NAME", "taken by the built-in variable $(job_name)"),
        ("schema", "database, server and schema say where a target is"),
        (3, "a variable name must be text, not 3"),
    ],
)
def test_bad_names(name: object, says: str) -> None:
    with pytest.raises(InvalidValue) as raised:
        check_name(name)
    assert says in raised.value.message


@pytest.mark.parametrize("built_in", VARIABLES)
def test_no_built_in_variable_can_be_shadowed(built_in: str) -> None:
    with pytest.raises(InvalidValue, match="built-in"):
        check_name(built_in)


def test_values_and_counts() -> None:
    at_limit = "x" * limits.MAX_VARIABLE_VALUE
    assert check_variables([("a", at_limit), ("b", "")]) == (("a", at_limit), ("b", ""))
    assert check_variables([("a", None)], null=True) == (("a", None),)
    cases = [
        ([("a", at_limit + "x")], "is longer than 4,000 characters"),
        ([("a", None)], "must be text, not None"),
        ([("a", 1)], "must be text, not 1"),
        ([("a", "x\x00")], "contains a NUL character"),
        ([("a", "\udce9")], "is not valid UTF-8 text"),
        ([("a", "1"), ("a", "2")], "the variable 'a' is given twice"),
        ([(f"v{i}", "x") for i in range(limits.MAX_VARIABLES + 1)], "at most 64 variables"),
        (["a=b"], "a variable is a name and a value"),
    ]
    for pairs, says in cases:
        with pytest.raises(InvalidValue) as raised:
            check_variables(pairs)  # type: ignore[arg-type]
        assert says in raised.value.message, pairs
    many = [(f"v{i}", "x") for i in range(limits.MAX_VARIABLES)]
    assert len(check_variables(many)) == limits.MAX_VARIABLES


def test_assignments_split_at_the_first_equals_sign() -> None:
    assert parse_assignments(["plan=gold", "note=a=b ", "empty="]) == [
        ("plan", "gold"),
        ("note", "a=b "),
        ("empty", ""),
    ]
    with pytest.raises(InvalidValue, match="NAME=VALUE, not 'plan'"):
        parse_assignments(["plan"])


def test_catalog_values_become_text_as_results_show_them() -> None:
    cases = [
        (None, None),
        ("x", "x"),
        (42, "42"),
        (Decimal("1.50"), "1.50"),
        (0.25, "0.25"),
        (True, "true"),
        (False, "false"),
        (datetime.date(2024, 2, 29), "2024-02-29"),
        (datetime.datetime(2024, 2, 29, 3, 4, 5), "2024-02-29T03:04:05"),
        (datetime.time(3, 4), "03:04:00"),
        ("日本".encode(), "日本"),
        (b"\x00\xff", "\\x00ff"),
        (uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
    ]
    assert [as_text(value) for value, _ in cases] == [text for _, text in cases]


@given(
    st.lists(
        st.tuples(st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True), st.none() | st.text()),
        max_size=5,
        unique_by=lambda pair: pair[0],
    )
)
def test_json_round_trips(pairs: list[tuple[str, str | None]]) -> None:
    variables = tuple(pairs)
    assert from_json(to_json(variables)) == variables
    assert (to_json(variables) is None) == (not variables)


def test_shown_values_mask_passwords_and_nothing_else() -> None:
    assert shown("postgresql://u:pw@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert shown("host=h password=pw") == "host=h password=***"
    for plain in ("tier:gold", "ops@example.com", "it's", None):
        assert shown(plain) == plain
    assert describe((("plan", 'it\'s "gold"'), ("none", None))) == (
        'plan="it\'s \\"gold\\"" none=null'
    )


def test_targets_compare_by_where_they_are() -> None:
    plain = Target(SERVER, "a")
    gold = Target(SERVER, "a", variables=(("plan", "gold"),))
    assert plain == gold and hash(plain) == hash(gold)
    assert {plain, gold} == {plain}
    assert gold.variable_map == {"plan": "gold"}


# -- shard-map rows --------------------------------------------------------------------------


def test_named_columns_say_where_and_the_rest_are_variables() -> None:
    rows = [
        ("a", "gold", None, None),
        ("b", None, "mysql://h:3306", None),
        ("c", 7, "", "s1"),
    ]
    found = shard_targets(SERVER, ["Database", "plan", "server", "schema"], rows, "cat")
    assert [(t.server_url, t.database, t.schema, t.variables) for t in found] == [
        (SERVER, "a", None, (("plan", "gold"),)),
        ("mysql://h:3306", "b", None, (("plan", None),)),
        (SERVER, "c", "s1", (("plan", "7"),)),
    ]


def test_positional_rows_are_read_as_before() -> None:
    assert shard_targets(SERVER, ["name"], [("a",)], "cat") == [Target(SERVER, "a")]
    assert shard_targets(SERVER, ["url", "db"], [("mysql://h:3306", "a")], "cat") == [
        Target("mysql://h:3306", "a")
    ]
    with pytest.raises(TargetError, match=r"must return rows of \(database\)"):
        shard_targets(SERVER, ["name", "plan", "x"], [("a", "b", "c")], "cat")


@pytest.mark.parametrize(
    ("columns", "row", "says"),
    [
        (["server", "db"], (SERVER, "a"), "returns a 'server' column but no 'database' column"),
        (["db", "schema"], ("a", "s"), "returns a 'schema' column but no 'database' column"),
        (["database", "plan", "Plan"], ("a", "x", "y"), "two columns named 'plan' and 'Plan'"),
        (["database", "?column?"], ("a", 1), "column '?column?' cannot be a variable"),
        (["database", "step_id"], ("a", 1), "built-in variable $(step_id)"),
        (["database"], (None,), "returned a row whose database is NULL"),
        (["database"], ("",), "returned a row whose database is empty"),
        (["database", "server"], ("a", "ftp://h"), "names a bad server"),
        (["database", "plan"], ("a", "x" * 4001), "target postgresql://127.0.0.1:5432/a: the"),
        (["database", "plan"], ("a", "x\x00"), "contains a NUL character"),
    ],
)
def test_bad_shard_maps_name_what_is_wrong(
    columns: list[str], row: tuple[object, ...], says: str
) -> None:
    with pytest.raises(TargetError) as raised:
        shard_targets(SERVER, columns, [row], "cat")
    assert says in raised.value.message
    assert "shard map" in raised.value.message


def test_a_bad_server_in_a_shard_map_never_shows_its_password() -> None:
    with pytest.raises(TargetError) as raised:
        shard_targets(SERVER, ["database", "server"], [("a", "postgresql://u:S3cr3t@h:x")], "c")
    assert "S3cr3t" not in raised.value.message
