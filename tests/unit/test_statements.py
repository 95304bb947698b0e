"""Batches read as each engine's client reads them: statements, their lines, what is refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sqlfleet.errors import InvalidCommand
from sqlfleet.statements import (
    Location,
    Statement,
    first_switch,
    locate,
    location_of,
    read_mysql,
    read_postgres,
    read_sqlite,
    read_statements,
)
from sqlfleet.targets.base import grouped

# -- MySQL / MariaDB ------------------------------------------------------------------------


def _texts(statements: list[Statement]) -> list[str]:
    return [s.text for s in statements]


@pytest.mark.parametrize(
    ("script", "texts"),
    [
        ("SELECT 1; SELECT 2;", ["SELECT 1", "SELECT 2"]),
        ("SELECT 1", ["SELECT 1"]),
        ("SELECT 'a;b', \"c;d\", `e;f`;", ["SELECT 'a;b', \"c;d\", `e;f`"]),
        ("SELECT 'it\\'s;', 'it''s;';", ["SELECT 'it\\'s;', 'it''s;'"]),
        ("SELECT 1; # a comment; with ;\nSELECT 2;", ["SELECT 1", "SELECT 2"]),
        ("SELECT 1; -- a comment; with ;\nSELECT 2;", ["SELECT 1", "SELECT 2"]),
        ("SELECT 1--1;", ["SELECT 1--1"]),  # `--` without a space is no comment
        ("/* c; */ SELECT 1;", ["SELECT 1"]),
        ("/*!40101 SET NAMES utf8 */;", ["/*!40101 SET NAMES utf8 */"]),
        ("/*M!100100 SET x = 1 */;", ["/*M!100100 SET x = 1 */"]),
        ("/*M!999999\\- enable the sandbox mode */\nSELECT 1;", ["SELECT 1"]),
        ("-- only a comment\n", []),
        (";;", []),
        (
            "DELIMITER ;;\nCREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END ;;\nDELIMITER ;\n"
            "SELECT 3;",
            ["CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END", "SELECT 3"],
        ),
        (
            "delimiter //\nCREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW BEGIN SET @a = 1; "
            "END//\ndelimiter ;",
            ["CREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW BEGIN SET @a = 1; END"],
        ),
        ("DELIMITER $$\nSELECT '$$'$$\nDELIMITER ;", ["SELECT '$$'"]),
    ],
)
def test_mysql_statements_end_where_the_mysql_client_ends_them(
    script: str, texts: list[str]
) -> None:
    assert _texts(read_mysql(script)) == texts


def test_mysql_statements_under_a_custom_delimiter_are_sent_alone() -> None:
    statements = read_mysql("SELECT 1;\nDELIMITER ;;\nSELECT 2;;\nDELIMITER ;\nSELECT 3;")
    assert [s.alone for s in statements] == [False, True, False]


def test_mysql_statements_know_their_line_and_column() -> None:
    statements = read_mysql("\n\n  SELECT 1; SELECT\n2;\n-- c\n\n/* c */ SELECT 3")
    assert [(s.line, s.column) for s in statements] == [(3, 3), (3, 13), (7, 9)]


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("SELECT 1;\nSELECT 'abc;\n", "line 2: the quote ' opened here is never closed"),
        ('SELECT "abc;\n', 'line 1: the quote " opened here is never closed'),
        ("\n\nSELECT `abc", "line 3: the backtick ` opened here is never closed"),
        ("SELECT 1; /* open\n", "line 1: the /* comment opened here is never closed"),
        (
            "SELECT 1;\nDELIMITER //\nSELECT 2//\n",
            "line 2: DELIMITER // is never set back to ';' before the end of the batch",
        ),
        ("DELIMITER\nSELECT 1;", "line 1: DELIMITER must be followed by the new delimiter"),
    ],
)
def test_a_mysql_script_the_client_cannot_read_is_refused_with_its_line(
    script: str, message: str
) -> None:
    with pytest.raises(InvalidCommand) as caught:
        read_mysql(script)
    assert caught.value.message == message


@pytest.mark.parametrize(
    ("script", "line"),
    [
        ("USE other;", 1),
        ("SELECT 1;\nuse `other`;", 2),
        ("SELECT 1;\n\nCREATE DATABASE x;", 3),
        ("CREATE SCHEMA IF NOT EXISTS x;", 1),
        ("drop database x;", 1),
        ("/*!40000 DROP DATABASE IF EXISTS `x`*/;", 1),
        ("CREATE DATABASE /*!32312 IF NOT EXISTS*/ `x`;", 1),
    ],
)
def test_statements_that_switch_database_are_found(script: str, line: int) -> None:
    switch = first_switch(read_mysql(script))
    assert switch is not None and switch.line == line


@pytest.mark.parametrize(
    "script",
    ["SELECT 'USE x';", "-- USE x\nSELECT 1;", "CREATE TABLE used (a int);", "SELECT 1 AS use_it;"],
)
def test_statements_that_only_mention_a_database_switch_are_not_one(script: str) -> None:
    assert first_switch(read_mysql(script)) is None


# -- PostgreSQL ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "texts"),
    [
        ("SELECT 1; SELECT 2", ["SELECT 1;", "SELECT 2"]),
        ("SELECT 'a;b', \"c;d\";", ["SELECT 'a;b', \"c;d\";"]),
        ("SELECT 'a\\'; SELECT 2;", ["SELECT 'a\\';", "SELECT 2;"]),  # no backslash escapes
        ("SELECT E'a\\';b';", ["SELECT E'a\\';b';"]),
        ("SELECT $$a;b$$; SELECT $f$ $$; $f$;", ["SELECT $$a;b$$;", "SELECT $f$ $$; $f$;"]),
        ("SELECT $1, a$b;", ["SELECT $1, a$b;"]),
        # Letters beyond U+FFFF are letters of an identifier too: `😀$a$` is one name.
        ("SELECT 1 AS \U0001f600$a$; SELECT 2", ["SELECT 1 AS \U0001f600$a$;", "SELECT 2"]),
        ("SELECT 1 AS \u00e9$a$; SELECT 2", ["SELECT 1 AS \u00e9$a$;", "SELECT 2"]),
        ("SELECT 1 /* a /* nested; */ still; */;", ["SELECT 1 /* a /* nested; */ still; */;"]),
        ("-- c;\nSELECT 1;", ["SELECT 1;"]),
        ("\\restrict abc\nSELECT 1;\n\\unrestrict abc\n", ["SELECT 1;"]),
        (
            "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; "
            "SELECT CASE WHEN true THEN 2 END; END; SELECT 3;",
            [
                "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; "
                "SELECT CASE WHEN true THEN 2 END; END;",
                "SELECT 3;",
            ],
        ),
        (
            'BEGIN; SELECT begin, "end" FROM t; END;',
            ["BEGIN;", 'SELECT begin, "end" FROM t;', "END;"],
        ),
        (
            "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); DELETE FROM b);",
            ["CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); DELETE FROM b);"],
        ),
    ],
)
def test_postgres_statements_end_where_psql_ends_them(script: str, texts: list[str]) -> None:
    assert _texts(read_postgres(script)) == texts


def test_copy_from_stdin_takes_the_lines_up_to_a_backslash_dot_as_its_data() -> None:
    script = "SET x = 1;\nCOPY public.t (a, b) FROM stdin;\n1\tone;\n2\t\\N\n\\.\nSELECT 2;\n"
    statements = read_postgres(script)
    assert _texts(statements) == ["SET x = 1;", "COPY public.t (a, b) FROM stdin;", "SELECT 2;"]
    assert statements[1].copy_data == "1\tone;\n2\t\\N\n"
    assert statements[1].line == 2
    assert statements[2].line == 6


def test_copy_data_may_be_empty_and_the_script_may_end_after_it() -> None:
    statements = read_postgres("COPY t FROM STDIN;\n\\.")
    assert statements[0].copy_data == ""


@pytest.mark.parametrize(
    ("script", "message"),
    [
        (
            "SELECT 1;\n\\connect other\n",
            "line 2: psql meta-command \\connect cannot run here: each target is already "
            "connected to its own database",
        ),
        ("\n\\i other.sql", "line 2: psql meta-command \\i cannot run here"),
        ("SELECT 1 \\gset", "line 1: psql meta-command \\gset cannot run here"),
        ("\\set x 1", "line 1: psql meta-command \\set cannot run here: use sqlfleet's"),
        (
            "SELECT 1;\nCOPY t FROM stdin;\n1\n2\n",
            "line 2: the COPY ... FROM stdin starting here has no line holding only \\.",
        ),
        ("SELECT 'abc;\n", "line 1: the quote ' opened here is never closed"),
        ("\nSELECT $x$ abc;\n", "line 2: the dollar quote $x$ opened here is never closed"),
        ("SELECT 1 /* /* */", "line 1: the /* comment opened here is never closed"),
    ],
)
def test_a_postgres_script_psql_would_not_run_as_sql_is_refused_with_its_line(
    script: str, message: str
) -> None:
    with pytest.raises(InvalidCommand) as caught:
        read_postgres(script)
    assert caught.value.message.startswith(message), caught.value.message
    assert "\n" not in caught.value.message


# -- SQLite -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "texts"),
    [
        ("SELECT 1; SELECT 2", ["SELECT 1;", "SELECT 2"]),
        ("SELECT 'a;b', \"c;d\", [e;f], `g;h`;", ["SELECT 'a;b', \"c;d\", [e;f], `g;h`;"]),
        (
            "CREATE TRIGGER t AFTER INSERT ON x BEGIN INSERT INTO y VALUES (1); "
            "UPDATE y SET a = 2; END; SELECT 3;",
            [
                "CREATE TRIGGER t AFTER INSERT ON x BEGIN INSERT INTO y VALUES (1); "
                "UPDATE y SET a = 2; END;",
                "SELECT 3;",
            ],
        ),
        (
            "CREATE TEMP TRIGGER t AFTER INSERT ON x BEGIN SELECT 'END;'; END;",
            ["CREATE TEMP TRIGGER t AFTER INSERT ON x BEGIN SELECT 'END;'; END;"],
        ),
        ("-- c;\nSELECT 1; /* d; */", ["SELECT 1;"]),
    ],
)
def test_sqlite_statements_end_where_the_sqlite3_shell_ends_them(
    script: str, texts: list[str]
) -> None:
    assert _texts(read_sqlite(script)) == texts


# -- properties shared by every engine ---------------------------------------------------------

_VALUES = st.lists(st.text(st.characters(blacklist_characters="\x00\r"), max_size=12), max_size=6)


def _literal(value: str, engine: str) -> str:
    quoted = value.replace("'", "''")
    if engine == "mysql":
        quoted = quoted.replace("\\", "\\\\")
    return "'" + quoted + "'"


@pytest.mark.parametrize("engine", ["mysql", "postgresql", "sqlite"])
@given(values=_VALUES)
def test_any_string_literals_stay_inside_their_statements(engine: str, values: list[str]) -> None:
    texts = [f"SELECT {_literal(value, engine)}" for value in values]
    script = "".join(f"{text};\n" for text in texts)
    statements = read_statements(engine, script, 10)
    keep = ";" if engine != "mysql" else ""
    assert _texts(statements) == [text + keep for text in texts]
    # Each statement starts on its own line, counted from the batch's first line.
    expected_lines = []
    line = 10
    for text in texts:
        expected_lines.append(line)
        line += text.count("\n") + 1
    assert [s.line for s in statements] == expected_lines


def test_engines_without_a_reader_get_the_batch_as_one_statement() -> None:
    assert read_statements("mssql", "SELECT 1; SELECT 2", 4) == [Statement("SELECT 1; SELECT 2", 4)]


# -- locations ------------------------------------------------------------------------------


def test_a_position_in_a_statement_is_a_script_line_and_column() -> None:
    statement = Statement("SELECT a,\n  b FROM nope;", line=115, column=4)
    assert locate(statement, 8) == (115, 11)
    assert locate(statement, 18) == (116, 8)
    assert locate(statement, None) == (115, None)


def test_a_location_shows_batch_line_column_and_the_statement() -> None:
    statements = [Statement("SELECT 1;", 3), Statement("SELECT nope\nFROM t;", 4, 2)]
    location = location_of(2, statements, 1, 1, 8, 1)
    assert location == Location(2, 4, 9, "SELECT nope\nFROM t;")
    assert location.describe() == "batch 2, line 4, column 9"
    ranged = location_of(1, statements, 0, 1, None, 1)
    assert ranged.describe() == "batch 1, one of the statements at lines 3 to 4"
    assert location_of(1, statements, None, None, None, 7).describe() == "batch 1, line 7"


def test_a_line_the_server_names_counts_from_the_statements_first_line() -> None:
    copy = Statement("COPY t (a)\nFROM stdin;", 10, copy_data="1\n2\nx\n")
    # The data's 3rd line comes after the statement's own two lines.
    assert location_of(1, [copy], 0, 0, None, 1, line_in_statement=5).line == 14
    # A position, when there is one, says more than a line.
    assert location_of(1, [copy], 0, 0, 3, 1, line_in_statement=5).line == 10


# -- grouping statements into packets ------------------------------------------------------------

_STATEMENT_TEXTS = st.lists(
    st.text(
        st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
        min_size=1,
        max_size=40,
    ),
    max_size=30,
)


@given(texts=_STATEMENT_TEXTS, budget=st.integers(1, 200), alone=st.sets(st.integers(0, 29)))
def test_groups_keep_every_statement_in_order_within_the_budget(
    texts: list[str], budget: int, alone: set[int]
) -> None:
    statements = [Statement(text, n + 1, alone=n in alone) for n, text in enumerate(texts)]
    groups = grouped(statements, separator="\n;\n", budget=budget)
    seen: list[str] = []
    for group in groups:
        members = [statements[i].text for i in range(group.first, group.last + 1)]
        assert group.text == "\n;\n".join(members)
        if len(members) > 1:
            assert len(group.text.encode("utf-8")) <= budget
            assert not any(statements[i].alone for i in range(group.first, group.last + 1))
        for offset, start in enumerate(group.starts):
            # A position in a statement maps back to that statement and its own position.
            assert group.which(start + 1) == (group.first + offset, 1)
        seen.extend(members)
    assert seen == texts


def test_a_trigger_ends_at_its_end_even_with_comments_before_the_semicolon() -> None:
    script = (
        "CREATE TRIGGER t AFTER INSERT ON x BEGIN SELECT 1; END -- done\n/* really */;\nSELECT 2;"
    )
    assert _texts(read_sqlite(script))[1:] == ["SELECT 2;"]
