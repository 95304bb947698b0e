"""Scripts: splitting on GO lines, substituting $(variables), validating a step's command."""

from __future__ import annotations

import re
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sqlfleet.errors import InvalidCommand, InvalidValue, UnsafeVariable
from sqlfleet.script import (
    MODIFIERS,
    VARIABLES,
    Batch,
    is_plain_name,
    read_batches,
    render,
    split_batches,
    substitute,
    validate_command,
)

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


class Brackets:
    """A quoting that shows which form was asked for, and refuses an empty identifier."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def quote_literal(self, value: str) -> str:
        self.calls.append(("literal", value))
        return f"L[{value}]"

    def quote_identifier(self, value: str) -> str:
        self.calls.append(("identifier", value))
        if not value:
            raise InvalidValue("'' is not a valid identifier")
        return f"I[{value}]"


QUOTING = Brackets()

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
INJECTION = "x'); DROP TABLE victim; --"


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
    assert MODIFIERS == ("literal", "identifier")


@pytest.mark.parametrize("name", VARIABLES)
def test_each_variable_is_substituted(name: str) -> None:
    assert substitute(f"SELECT '$({name})'", EXAMPLE, QUOTING) == f"SELECT '{EXAMPLE[name]}'"


@pytest.mark.parametrize("name", VARIABLES)
def test_each_variable_has_the_quoted_forms(name: str) -> None:
    text = f"$({name}:literal) $({name}:identifier)"
    value = EXAMPLE[name]
    assert substitute(text, EXAMPLE, QUOTING) == f"L[{value}] I[{value}]"


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
        ("$(unknown:literal)", "$(unknown:literal)"),
        ("$(unknown:anything)", "$(unknown:anything)"),
        ("$(JOB_NAME)", "$(JOB_NAME)"),
        ("$(JOB_NAME:literal)", "$(JOB_NAME:literal)"),
        ("$( job_name )", "$( job_name )"),
        ("$(job_name :literal)", "$(job_name :literal)"),
        ("$()", "$()"),
        ("$(:literal)", "$(:literal)"),
        ("$(job_name", "$(job_name"),
        ("$(job_name:literal", "$(job_name:literal"),
        ("$job_name", "$job_name"),
        ("(job_name)", "(job_name)"),
        ("$$(job_name)", "$nightly"),
        ("$($(job_name))", "$(nightly)"),
        (
            "-- $(target_database_name)\nUSE $(target_database_name);",
            "-- tenant_042\nUSE tenant_042;",
        ),
        ("$(job_id)", "12345678-1234-5678-1234-567812345678"),
        ("SELECT $(job_name:literal)", "SELECT L[nightly]"),
        ("CREATE TABLE $(step_name:identifier) (x int)", "CREATE TABLE I[vacuum] (x int)"),
        ("$(job_name)$(job_name:literal)$(job_name:identifier)", "nightlyL[nightly]I[nightly]"),
    ],
)
def test_substitute(text: str, expected: str) -> None:
    assert substitute(text, EXAMPLE, QUOTING) == expected


def test_substitution_is_a_single_pass() -> None:
    variables = {"a": "$(b)", "b": "B", "c": "$(c)"}
    assert substitute("$(a:literal) $(b) $(c:identifier)", variables, QUOTING) == (
        "L[$(b)] B I[$(c)]"
    )


def test_values_are_converted_with_str() -> None:
    class Tenant:
        def __str__(self) -> str:
            return "tenant-7"

    variables = {"t": Tenant(), "n": 1.5}
    assert substitute("$(t) $(n) $(t:literal)", variables, QUOTING) == ("tenant-7 1.5 L[tenant-7]")


@pytest.mark.parametrize("reference", ["$(plan)", "$(plan:literal)", "$(plan:identifier)"])
def test_a_value_of_none_is_no_value_and_sends_nothing(reference: str) -> None:
    # A shard map's NULL: no text can stand for it, in any form.
    with pytest.raises(UnsafeVariable) as raised:
        substitute(f"SELECT {reference}", {"plan": None}, QUOTING)
    assert raised.value.message == (
        f"{reference} has no value on this target (NULL in its shard map), so nothing was sent"
    )


def test_an_unknown_modifier_of_a_null_variable_is_named_as_such() -> None:
    with pytest.raises(InvalidCommand, match="unknown modifier 'literl'"):
        substitute("SELECT $(plan:literl)", {"plan": None}, QUOTING)


def test_substitute_accepts_any_variable_name() -> None:
    assert substitute("$(my var) $(x-y)", {"my var": 1, "x-y": 2}, QUOTING) == "1 2"


def test_a_name_with_a_colon_is_matched_whole_first() -> None:
    assert substitute("$(a:b) $(a:literal)", {"a:b": "ab", "a": "A"}, QUOTING) == "ab L[A]"


def test_backslashes_go_to_the_quoting_as_they_are() -> None:
    assert substitute("$(path:literal)", {"path": r"C:\new\1"}, QUOTING) == r"L[C:\new\1]"


# -- the plain-name rule ------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "tenant_042",
        "tenant-01",
        "db.example.com",
        "a$b",
        "$",
        "0",
        "42",
        "12345678-1234-5678-1234-567812345678",
        "tenant_é_日本",
        "Ωμέγα",
        "١٢٣",  # Arabic-Indic digits: category Nd
        "\uff21\uff22\uff23",  # fullwidth ABC: category Lu
        "ǅ",  # titlecase letter: category Lt
    ],
)
def test_plain_names(value: str) -> None:
    assert is_plain_name(value)
    assert substitute("$(v)", {"v": value}, QUOTING) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        " ",
        "a b",
        "a'b",
        'a"b',
        "a`b",
        "a;b",
        "a\\b",
        "a/b",
        "a:b",
        "a,b",
        "a(b)",
        "a*b",
        "a#b",
        "a=b",
        "a\nb",
        "a\tb",
        "a\x00b",
        "\u00a0",  # no-break space
        "a\u200bb",  # zero-width space: category Cf
        "\u02bc",  # modifier letter apostrophe: category Lm
        "e\u0301",  # e and a combining acute accent: category Mn
        "½",  # category No
        "²",  # category No
        "Ⅻ",  # category Nl
        "a\uff07b",  # fullwidth apostrophe: category Po
        "\ud800",  # a lone surrogate
        INJECTION,
        "postgresql://db1:5432",
    ],
)
def test_values_that_are_not_plain_names(value: str) -> None:
    assert not is_plain_name(value)
    with pytest.raises(UnsafeVariable):
        substitute("$(v)", {"v": value}, QUOTING)


def test_the_refusal_names_the_variable_and_says_how_to_quote() -> None:
    variables = {**EXAMPLE, "target_database_name": INJECTION}
    with pytest.raises(UnsafeVariable) as raised:
        substitute("INSERT INTO audit VALUES ('$(target_database_name)')", variables, QUOTING)
    assert raised.value.message == (
        '$(target_database_name) is "x\'); DROP TABLE victim; --", which is not a plain name '
        "(letters, digits, _ - . $), so nothing was sent: use $(target_database_name:literal) "
        "for a string or $(target_database_name:identifier) for a name"
    )
    assert isinstance(raised.value, InvalidCommand)


def test_the_refusal_shows_an_empty_value() -> None:
    with pytest.raises(UnsafeVariable) as raised:
        substitute("$(v)", {"v": ""}, QUOTING)
    assert raised.value.message.startswith("$(v) is '', which is not a plain name")


def test_the_refusal_shows_control_characters_escaped_and_cuts_long_values() -> None:
    value = "a\nb\x1b" + "z" * 200
    with pytest.raises(UnsafeVariable) as raised:
        substitute("$(v)", {"v": value}, QUOTING)
    shown = repr(value[:60])
    assert raised.value.message.startswith(f"$(v) is {shown}… (204 characters), which is not")
    assert "\n" not in raised.value.message
    assert "z" * 61 not in raised.value.message


def test_one_unsafe_value_fails_the_whole_text_even_after_good_ones() -> None:
    with pytest.raises(UnsafeVariable):
        substitute("$(a) $(b:literal) $(c)", {"a": "ok", "b": "x y", "c": "x y"}, QUOTING)


plain_names = st.text(
    alphabet=st.characters(categories=["Lu", "Ll", "Lt", "Lo", "Nd"]) | st.sampled_from("_-.$"),
    min_size=1,
    max_size=20,
)


@given(plain_names)
def test_generated_plain_names_are_inserted_as_they_are(value: str) -> None:
    assert substitute("'$(v)'", {"v": value}, QUOTING) == f"'{value}'"


@given(st.text())
def test_a_plain_name_holds_no_ascii_but_letters_digits_and_four_marks(value: str) -> None:
    if is_plain_name(value):
        assert value
        assert all(c.isalnum() or c in "_-.$" for c in value if c.isascii())
        assert all(c.isprintable() and not c.isspace() for c in value)


@given(st.text())
def test_the_bare_form_inserts_exactly_the_plain_names(value: str) -> None:
    try:
        result = substitute("<$(v)>", {"v": value}, QUOTING)
    except UnsafeVariable as exc:
        assert not is_plain_name(value)
        assert exc.message.startswith("$(v) is ")
        assert exc.message.endswith("use $(v:literal) for a string or $(v:identifier) for a name")
    else:
        assert is_plain_name(value)
        assert result == f"<{value}>"


# -- the quoted forms ---------------------------------------------------------------------

no_nul = st.text(alphabet=st.characters(exclude_characters="\x00", exclude_categories=["Cs"]))


@given(no_nul)
def test_any_text_without_nul_goes_to_the_quoting_whole(value: str) -> None:
    quoting = Brackets()
    text = "SELECT $(v:literal) FROM $(v:identifier)"
    if value:
        assert substitute(text, {"v": value}, quoting) == f"SELECT L[{value}] FROM I[{value}]"
        assert quoting.calls == [("literal", value), ("identifier", value)]


@pytest.mark.parametrize("modifier", MODIFIERS)
def test_a_nul_is_refused_before_the_quoting_sees_it(modifier: str) -> None:
    quoting = Brackets()
    with pytest.raises(UnsafeVariable) as raised:
        substitute(
            f"$(target_database_name:{modifier})", {"target_database_name": "a\x00b"}, quoting
        )
    assert raised.value.message == (
        f"$(target_database_name:{modifier}) is 'a\\x00b', which holds a NUL character that "
        "no engine can quote, so nothing was sent"
    )
    assert quoting.calls == []


def test_a_lone_surrogate_is_refused_before_the_quoting_sees_it() -> None:
    quoting = Brackets()
    with pytest.raises(UnsafeVariable) as raised:
        substitute("$(v:literal)", {"v": "a\udc80"}, quoting)
    assert "not valid Unicode text" in raised.value.message
    assert quoting.calls == []


def test_a_value_the_engine_cannot_quote_fails_with_the_engines_reason() -> None:
    with pytest.raises(UnsafeVariable) as raised:
        substitute("CREATE TABLE $(v:identifier) (x int)", {"v": ""}, QUOTING)
    assert raised.value.message == (
        "$(v:identifier) is '', which cannot be quoted as an identifier, so nothing was "
        "sent: '' is not a valid identifier"
    )


def test_an_empty_value_is_an_empty_literal() -> None:
    assert substitute("$(v:literal)", {"v": ""}, QUOTING) == "L[]"


@pytest.mark.parametrize("modifier", ["", "foo", "LITERAL", "literal ", "literal:identifier"])
def test_an_unknown_modifier_of_a_known_name_is_refused(modifier: str) -> None:
    with pytest.raises(InvalidCommand) as raised:
        substitute(f"$(job_name:{modifier})", EXAMPLE, QUOTING)
    assert not isinstance(raised.value, UnsafeVariable)
    assert raised.value.message == (
        f"$(job_name:{modifier}) has an unknown modifier {modifier!r}: write $(job_name) for "
        "a plain name, $(job_name:literal) for a string or $(job_name:identifier) for a name"
    )


names = st.sampled_from(VARIABLES)
forms = st.sampled_from(["", ":literal", ":identifier"])
plain = st.text(alphabet=st.characters(exclude_characters="$()"), max_size=20)


@given(st.text())
def test_nothing_to_substitute_leaves_text_alone(text: str) -> None:
    assert substitute(text, {}, QUOTING) == text


@given(st.lists(st.tuples(plain, names, forms)), plain, st.dictionaries(names, plain_names))
def test_every_known_reference_is_replaced(
    pieces: list[tuple[str, str, str]], tail: str, values: dict[str, str]
) -> None:
    text = "".join(f"{before}$({name}{form})" for before, name, form in pieces) + tail
    shapes = {"": "{}", ":literal": "L[{}]", ":identifier": "I[{}]"}
    expected = "".join(
        before + (shapes[form].format(values[name]) if name in values else f"$({name}{form})")
        for before, name, form in pieces
    )
    assert substitute(text, values, QUOTING) == expected + tail


# -- render -------------------------------------------------------------------------------


def test_render_splits_then_substitutes() -> None:
    script = "USE $(target_database_name)\nGO\nINSERT INTO log VALUES ('$(job_name)', $(step_id))"
    assert render(script, EXAMPLE, QUOTING) == [
        "USE tenant_042",
        "INSERT INTO log VALUES ('nightly', 1)",
    ]


def test_a_value_cannot_add_a_go_separator() -> None:
    variables = {"v": "a\nGO\nDROP TABLE victim"}
    assert render("SELECT $(v:literal)", variables, QUOTING) == [
        "SELECT L[a\nGO\nDROP TABLE victim]"
    ]


def test_render_of_a_script_without_variables_is_split_batches() -> None:
    assert render("SELECT 1\nGO\nSELECT 2", {}, QUOTING) == ["SELECT 1", "SELECT 2"]


def test_render_leaves_unknown_variables() -> None:
    assert render("SELECT '$(other)' $(other:x)", EXAMPLE, QUOTING) == [
        "SELECT '$(other)' $(other:x)"
    ]


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


@pytest.mark.parametrize(
    "text",
    [
        "SELECT $(target_database_name:literal)",
        "CREATE TABLE $(target_database_name:identifier) (x int)",
        "SELECT $(other:foo), $(job_name)",
        "SELECT '$(my var:foo)'",
    ],
)
def test_known_modifiers_and_unknown_names_are_accepted(text: str) -> None:
    assert validate_command(text) == text


@pytest.mark.parametrize(
    ("text", "reference", "modifier"),
    [
        ("SELECT $(target_database_name:foo)", "target_database_name", "foo"),
        ("SELECT 1\nGO\nSELECT $(job_name:)", "job_name", ""),
        ("SELECT $(step_name:Literal)", "step_name", "Literal"),
    ],
)
def test_an_unknown_modifier_is_refused_when_the_step_is_defined(
    text: str, reference: str, modifier: str
) -> None:
    with pytest.raises(InvalidCommand) as raised:
        validate_command(text)
    assert raised.value.message == (
        f"$({reference}:{modifier}) has an unknown modifier {modifier!r}: write $({reference}) "
        f"for a plain name, $({reference}:literal) for a string or "
        f"$({reference}:identifier) for a name"
    )


# -- read_batches: numbers, lines and GO n --------------------------------------------------


def test_batches_know_their_number_and_first_line() -> None:
    script = "\nSELECT 1\nGO\n\n\nSELECT 2\nSELECT 3\nGO 3\nSELECT 4"
    assert read_batches(script) == [
        Batch(1, 2, "SELECT 1"),
        Batch(2, 6, "SELECT 2\nSELECT 3", repeat=3),
        Batch(3, 9, "SELECT 4"),
    ]


@pytest.mark.parametrize("line", ["GO 2", "go 2;", "  GO\t2  ", "GO 100000"])
def test_go_with_a_count_repeats_the_batch_before_it(line: str) -> None:
    (batch,) = read_batches(f"INSERT INTO t VALUES (1)\n{line}\n")
    assert batch.repeat == int(line.strip().rstrip(";").split()[1])


@pytest.mark.parametrize("count", ["0", "100001", "99999999999999999999"])
def test_go_with_a_count_out_of_range_is_refused_with_its_line(count: str) -> None:
    with pytest.raises(InvalidCommand) as caught:
        read_batches(f"SELECT 1\n\nGO {count}\nSELECT 2")
    assert caught.value.message.startswith(f"line 3: GO {count} repeats its batch")
