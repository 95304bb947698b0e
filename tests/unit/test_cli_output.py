"""What the command line prints in tables: one line per row, whatever the names hold."""

from __future__ import annotations

from sqlfleet.cli.app import cell


def test_a_cell_escapes_control_characters_so_a_name_cannot_fake_rows() -> None:
    assert cell("tenant_1\nGO\nselect 1") == "tenant_1\\nGO\\nselect 1"
    assert cell("a\tb\x00c\x7f") == "a\\tb\\x00c\\x7f"


def test_a_cell_keeps_ordinary_text_and_shows_nothing_for_none() -> None:
    assert cell("tenant_é_日本 'x'") == "tenant_é_日本 'x'"
    assert cell(None) == ""
    assert cell(42) == "42"
