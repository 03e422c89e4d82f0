"""JSON with a cap on nesting depth (core.json)."""

from __future__ import annotations

import json

import pytest

from core.json import TooDeep, depth, loads


@pytest.mark.parametrize("text, expected", [
    ("3", 0),
    ('"[[[{"', 0),
    ('["\\"[", {"a": [1]}]', 3),
    ('{"a": {"b": {"c": []}}}', 4),
    ("[[], [[]], []]", 3),
])
def test_depth_counts_brackets_outside_strings(text, expected):
    assert depth(text.encode()) == expected


def test_a_document_deeper_than_the_cap_is_refused_before_parsing():
    with pytest.raises(TooDeep) as refused:
        loads("[" * 5000 + "]" * 5000, max_depth=64)
    assert refused.value.max_depth == 64
    assert isinstance(refused.value, ValueError)


def test_a_document_at_the_cap_is_parsed():
    parsed = loads("[" * 64 + "]" * 64, max_depth=64)
    assert depth(json.dumps(parsed).encode()) == 64
    assert loads(b'{"a": "]]]]"}', max_depth=1) == {"a": "]]]]"}


def test_malformed_json_is_a_value_error():
    with pytest.raises(ValueError):
        loads(b'{"a": ', max_depth=64)
    with pytest.raises(ValueError):
        loads(b"\xff\xfe\x00", max_depth=64)
