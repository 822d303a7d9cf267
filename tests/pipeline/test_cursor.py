"""Cursor geometry: UTF-16 and code-point columns, LSP line endings, positions outside the text."""

from __future__ import annotations

import pytest

from codeward.completion.text import PositionError, from_code_points, locate, to_code_points, utf16_len

LINE = "aé😀b"  # é is one UTF-16 unit, 😀 (U+1F600) two


def test_utf16_length_counts_astral_characters_twice():
    assert utf16_len(LINE) == 5
    assert utf16_len("") == 0


@pytest.mark.parametrize(("utf16", "code_points"), [(0, 0), (1, 1), (2, 2), (4, 3), (5, 4)])
def test_utf16_columns_map_to_code_points(utf16, code_points):
    assert to_code_points(LINE, utf16, "utf-16") == code_points
    assert from_code_points(LINE, code_points, "utf-16") == utf16


def test_a_column_inside_a_surrogate_pair_keeps_the_character_before_the_cursor():
    assert to_code_points(LINE, 3, "utf-16") == 2


def test_columns_past_the_line_end_clamp_to_it_as_lsp_says():
    assert to_code_points(LINE, 99, "utf-16") == 4
    assert locate("ab\ncd", 0, 99).offset == 2


def test_locate_follows_crlf_and_cr_line_endings():
    text = "a\r\nbc\rdé😀f"
    c = locate(text, 2, 4, "utf-16")
    assert (c.line_before, c.line_after) == ("dé😀", "f")
    assert text[c.offset] == "f"
    assert locate(text, 1, 1, "code-point").offset == text.index("c")


def test_code_point_columns_index_python_strings():
    c = locate("x = '😀'\n", 0, 6, "code-point")
    assert c.line_before == "x = '😀'"[:6]


def test_lines_outside_the_document_raise_and_say_how_many_there_are():
    with pytest.raises(PositionError, match="outside the document .*2 line"):
        locate("a\nb", 5, 0)
    with pytest.raises(PositionError, match="line -1 is outside .*start at 0"):
        locate("a", -1, 0)


def test_one_based_positions_and_strict_columns_for_the_cli():
    with pytest.raises(PositionError, match="line 0 is outside .*start at 1"):
        locate("a", -1, 0, base=1)
    with pytest.raises(PositionError, match=r"column 5 is outside line 1 \(valid: 1..2"):
        locate("a\nb", 0, 4, "code-point", base=1, clamp=False)
    assert locate("a\nb", 0, 1, "code-point", base=1, clamp=False).offset == 1


def test_unknown_units_are_refused():
    with pytest.raises(PositionError, match="unknown column unit"):
        to_code_points("abc", 1, "utf-32")  # type: ignore[arg-type]


def test_utf8_columns_count_bytes():
    assert to_code_points(LINE, 3, "utf-8") == 2  # a, é (2 bytes)
    assert to_code_points(LINE, 7, "utf-8") == 3  # 😀 is 4 bytes
    assert from_code_points(LINE, 4, "utf-8") == 8
