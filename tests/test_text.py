"""srlm.core.text: what counts as blank text, and JSON with named errors (issue 24)."""

import json

import pytest

from srlm.core.text import JsonTextError, is_blank, lone_surrogate, parse_json


@pytest.mark.parametrize(
    "text",
    [
        "",
        " \t\n",
        "\u200b",
        "\u200b\u200c\u200d\u2060\ufeff",
        "\u00a0\u3000",
        "\u200e\u00ad",
        " \u200b \ufeff ",
    ],
)
def test_whitespace_and_zero_width_characters_are_blank(text):
    assert is_blank(text)


@pytest.mark.parametrize("text", ["a", "\u200bHi\u200b", "?", "你好", "\u0301"])
def test_anything_visible_is_not_blank(text):
    assert not is_blank(text)


def test_parse_json_names_nesting_too_deep():
    with pytest.raises(JsonTextError, match=r"^data\.jsonl:3: JSON nested too deeply"):
        parse_json("[" * 200_000 + "]" * 200_000, "data.jsonl:3")
    assert parse_json("[" * 100 + "]" * 100, "x")  # nesting within the limit is fine


@pytest.mark.parametrize("text", ['"a\\ud800b"', '{"k": ["\\uDC00"]}', '{"\\ud83d": 1}'])
def test_parse_json_names_a_lone_surrogate(text):
    with pytest.raises(
        JsonTextError,
        match=r"^f\.json: not valid UTF-8 text \(a lone surrogate "
        r"\\ud[0-9a-f]{3}",
    ):
        parse_json(text, "f.json")


def test_parse_json_keeps_surrogate_pairs_and_passes_malformed_json_through():
    assert parse_json('"\\ud83d\\ude00"', "x") == "\U0001f600"
    with pytest.raises(json.JSONDecodeError):
        parse_json("{oops", "x")
    with pytest.raises(JsonTextError, match="a JSON number too long"):
        parse_json("1" * 5000, "x")


def test_lone_surrogate_walks_deep_values_without_recursion():
    value: object = "\ud800"
    for _ in range(5000):
        value = [value]
    assert lone_surrogate(value) == "\\ud800"
    assert lone_surrogate({"a": ["b", {"c": 1.5}], "d": None}) is None
