"""Scripts: splitting on GO lines, substituting $(variables), validating a step's command."""

from __future__ import annotations

import re
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sqlfleet.errors import InvalidCommand
from sqlfleet.script import VARIABLES, render, split_batches, substitute, validate_command

# -- split_batches ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "batches"),
    [
        ("SELECT 1", ["SELECT 1"]),
        ("SELECT 1;\n", ["SELECT 1;"]),
        ("SELECT 1\nGO\nSELECT 2", ["SELECT 1", "SELECT 2"]),
        ("SELECT 1\nGO\nSELECT 2\nGO\n", ["SELECT 1", "SELECT 2"]),
        ("GO\nSELECT 1\nGO", ["SELECT 1"]),
        ("SELECT 1\ngo\nSELECT 2", ["SELECT 1", "SELECT 2"]),
        ("SELECT 1\nGo\nSELECT 2", ["SELECT 1", "SELECT 2"]),
        ("SELECT 1\ngO\nSELECT 2", ["SELECT 1", "SELECT 2"]),
        ("SELECT 1\n   GO   \nSELECT 2", ["SELECT 1", "SELECT 2"]),
        ("SELECT 1\n\tGO\t\nSELECT 2", ["SELECT 1", "SELECT 2"]),
        ("SELECT 1\nGO;\nSELECT 2", ["SELECT 1", "SELECT 2"]),
        ("SELECT 1\n go ; \nSELECT 2", ["SELECT 1", "SELECT 2"]),
        ("SELECT 1\nGO\nGO\nGO\nSELECT 2", ["SELECT 1", "SELECT 2"]),
        ("SELECT 1\nGO\n   \n\t\nGO\nSELECT 2", ["SELECT 1", "SELECT 2"]),
        ("SELECT 1\r\nGO\r\nSELECT 2\r\n", ["SELECT 1", "SELECT 2"]),
        ("SELECT 1\rGO\rSELECT 2", ["SELECT 1", "SELECT 2"]),
        ("SELECT 1\nGO", ["SELECT 1"]),
        ("\n\n\nSELECT 1\n\n\n", ["SELECT 1"]),
        ("\ufeffSELECT 1\nGO\nSELECT 2", ["SELECT 1", "SELECT 2"]),
    ],
)
def test_split_on_go_lines(script: str, batches: list[str]) -> None:
    assert split_batches(script) == batches


@pytest.mark.parametrize(
    "script",
    [
        "SELECT 'GO'",
        "SELECT 1 GO",
        "GO SELECT 1",
        "EXEC sp_go\nGOTO done",
        "SELECT 1\nGO 5\nSELECT 2",
        "SELECT 1\nGO;;\nSELECT 2",
        "SELECT 1\n-- GO\nSELECT 2",
        "SELECT 1\nGOGO\nSELECT 2",
        "SELECT 1\nG O\nSELECT 2",
        "SELECT 1\nGO -- done\nSELECT 2",
        "CREATE TABLE go (go int)",
    ],
)
def test_go_inside_other_text_is_not_a_separator(script: str) -> None:
    assert split_batches(script) == [script]


@pytest.mark.parametrize("script", ["", " ", "\n", "\n\n  \n\t", "GO", "GO\nGO\n", "  go;  \n\n"])
def test_scripts_without_sql_have_no_batches(script: str) -> None:
    assert split_batches(script) == []


def test_batches_keep_their_text() -> None:
    script = (
        "\n"
        "  CREATE TABLE t (\n"
        "\n"
        "      id int   -- keep my spacing\n"
        "  );  \n"
        "\n"
        "GO\n"
        "INSERT INTO t VALUES (1);\n"
        "\n"
        "INSERT INTO t VALUES (2);\n"
    )
    assert split_batches(script) == [
        "  CREATE TABLE t (\n\n      id int   -- keep my spacing\n  );  ",
        "INSERT INTO t VALUES (1);\n\nINSERT INTO t VALUES (2);",
    ]


def test_crlf_inside_a_batch_is_kept() -> None:
    assert split_batches("SELECT 1;\r\nSELECT 2;\r\nGO\r\n") == ["SELECT 1;\r\nSELECT 2;"]


def test_a_form_feed_does_not_end_a_line() -> None:
    # str.splitlines would treat \f as a line break and see a lone GO here.
    script = "SELECT 1\fGO\nSELECT 2"
    assert split_batches(script) == [script]


def test_known_limitation_go_line_inside_a_string_literal_splits() -> None:
    # Documented: the SQL is not parsed, as with sqlcmd.
    script = "SELECT '\nGO\n'"
    assert split_batches(script) == ["SELECT '", "'"]


batch_lines = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"),
    max_size=30,
).filter(lambda line: line.strip().upper().rstrip(";").strip() != "GO")
batches = (
    st.lists(batch_lines, min_size=1, max_size=6)
    .map("\n".join)
    .filter(
        lambda batch: (
            bool(batch.strip())
            and bool(batch.split("\n")[0].strip())
            and bool(batch.split("\n")[-1].strip())
            and not batch.startswith("\ufeff")
        )
    )
)
separators = st.sampled_from(["GO", "go", " GO ", "GO;", "\tGo ;", "GO\nGO"])
newlines = st.sampled_from(["\n", "\r\n"])


@given(st.lists(batches, max_size=6), separators, newlines)
def test_joined_batches_split_back(parts: list[str], separator: str, newline: str) -> None:
    script = newline.join(part.replace("\n", newline) for part in _interleave(parts, separator))
    assert split_batches(script) == [part.replace("\n", newline) for part in parts]


def _interleave(parts: list[str], separator: str) -> list[str]:
    joined: list[str] = []
    for part in parts:
        joined += [part, separator]
    return joined


@given(st.text())
def test_batches_are_never_blank_and_never_hold_a_separator(script: str) -> None:
    for batch in split_batches(script):
        assert batch.strip()
        lines = re.split(r"\r\n|\r|\n", batch)
        assert lines[0].strip()
        assert lines[-1].strip()
        assert not batch.endswith(("\n", "\r"))
        assert split_batches(batch) == [batch]


@given(st.text())
def test_splitting_only_removes_text(script: str) -> None:
    remaining = script
    for batch in split_batches(script):
        position = remaining.find(batch)
        assert position >= 0
        remaining = remaining[position + len(batch) :]


# -- substitute ---------------------------------------------------------------------------

EXAMPLE = {
    "job_name": "nightly",
    "job_id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "job_version": 3,
    "job_execution_id": uuid.UUID("87654321-4321-8765-4321-876543218765"),
    "step_id": 1,
    "step_name": "vacuum",
    "target_group_name": "tenants",
    "target_server_name": "db1.example.com",
    "target_database_name": "tenant_042",
}


def test_the_documented_variables() -> None:
    assert VARIABLES == (
        "job_name",
        "job_id",
        "job_version",
        "job_execution_id",
        "step_id",
        "step_name",
        "target_group_name",
        "target_server_name",
        "target_database_name",
    )
    assert set(EXAMPLE) == set(VARIABLES)


@pytest.mark.parametrize("name", VARIABLES)
def test_each_variable_is_substituted(name: str) -> None:
    assert substitute(f"SELECT '$({name})'", EXAMPLE) == f"SELECT '{EXAMPLE[name]}'"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ""),
        ("SELECT 1", "SELECT 1"),
        ("$(job_name)", "nightly"),
        ("$(job_name)$(step_name)", "nightlyvacuum"),
        ("$(job_name) $(job_name)", "nightly nightly"),
        ("v$(job_version)", "v3"),
        ("$(unknown)", "$(unknown)"),
        ("$(JOB_NAME)", "$(JOB_NAME)"),
        ("$( job_name )", "$( job_name )"),
        ("$()", "$()"),
        ("$(job_name", "$(job_name"),
        ("$job_name", "$job_name"),
        ("(job_name)", "(job_name)"),
        ("$$(job_name)", "$nightly"),
        ("$($(job_name))", "$(nightly)"),
        (
            "-- $(target_database_name)\nUSE $(target_database_name);",
            "-- tenant_042\nUSE tenant_042;",
        ),
        ("$(job_id)", "12345678-1234-5678-1234-567812345678"),
    ],
)
def test_substitute(text: str, expected: str) -> None:
    assert substitute(text, EXAMPLE) == expected


def test_substitution_is_a_single_pass() -> None:
    variables = {"a": "$(b)", "b": "B", "c": "$(c)"}
    assert substitute("$(a) $(b) $(c)", variables) == "$(b) B $(c)"


def test_values_are_converted_with_str() -> None:
    class Tenant:
        def __str__(self) -> str:
            return "tenant-7"

    assert substitute("$(t) $(n) $(none)", {"t": Tenant(), "n": 1.5, "none": None}) == (
        "tenant-7 1.5 None"
    )


def test_substitute_accepts_any_variable_name() -> None:
    assert substitute("$(my var) $(x-y)", {"my var": 1, "x-y": 2}) == "1 2"


def test_backslashes_in_values_are_inserted_as_they_are() -> None:
    assert substitute("$(path)", {"path": r"C:\new\1"}) == r"C:\new\1"


names = st.sampled_from(VARIABLES)
plain = st.text(alphabet=st.characters(exclude_characters="$()"), max_size=20)


@given(st.text())
def test_nothing_to_substitute_leaves_text_alone(text: str) -> None:
    assert substitute(text, {}) == text


@given(st.lists(st.tuples(plain, names)), plain, st.dictionaries(names, plain))
def test_every_known_reference_is_replaced(
    pieces: list[tuple[str, str]], tail: str, values: dict[str, str]
) -> None:
    text = "".join(f"{before}$({name})" for before, name in pieces) + tail
    expected = "".join(before + values.get(name, f"$({name})") for before, name in pieces)
    assert substitute(text, values) == expected + tail


# -- render -------------------------------------------------------------------------------


def test_render_substitutes_then_splits() -> None:
    script = "USE $(target_database_name)\nGO\nINSERT INTO log VALUES ('$(job_name)', $(step_id))"
    assert render(script, EXAMPLE) == [
        "USE tenant_042",
        "INSERT INTO log VALUES ('nightly', 1)",
    ]


def test_render_of_a_script_without_variables_is_split_batches() -> None:
    assert render("SELECT 1\nGO\nSELECT 2", {}) == ["SELECT 1", "SELECT 2"]


def test_render_leaves_unknown_variables() -> None:
    assert render("SELECT '$(other)'", EXAMPLE) == ["SELECT '$(other)'"]


# -- validate_command ---------------------------------------------------------------------


@pytest.mark.parametrize("text", ["SELECT 1", "GO\nSELECT 1\nGO", "  x  ", "$(job_name)"])
def test_validate_command_returns_the_text(text: str) -> None:
    assert validate_command(text) == text


@pytest.mark.parametrize("text", ["", "   ", "\n\t\n", "\ufeff"])
def test_an_empty_command_is_refused(text: str) -> None:
    with pytest.raises(InvalidCommand) as raised:
        validate_command(text)
    assert raised.value.message == "the step's command is empty"


@pytest.mark.parametrize("text", ["GO", "GO\nGO", "\n  go;\n\nGO\n"])
def test_a_command_of_separators_only_is_refused(text: str) -> None:
    with pytest.raises(InvalidCommand) as raised:
        validate_command(text)
    assert raised.value.message == "the step's command holds only GO separators and no SQL"
