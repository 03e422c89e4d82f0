"""Masking secret values that are known (a run's secret variables, a tool's secret
arguments) wherever they appear in a structure (``core.redaction``)."""

from __future__ import annotations

from core.redaction import MASK, mask_values, values_to_hide


def test_only_texts_long_enough_are_hidden_longest_first():
    assert values_to_hide(["hunter22", "hunter22-admin", "abc", True, 12345, None, 1.5]) == [
        "hunter22-admin", "hunter22", "12345"]


def test_every_string_of_a_structure_is_masked_and_its_shape_kept():
    hidden = values_to_hide(["hunter22-admin", "hunter22"])
    value = {"body": "pw=hunter22-admin&old=hunter22", "list": ["hunter22", 7],
             "pair": ("x hunter22", None), "count": 3}
    assert mask_values(value, hidden) == {
        "body": f"pw={MASK}&old={MASK}", "list": [MASK, 7], "pair": (f"x {MASK}", None),
        "count": 3}
    assert mask_values("hunter22", hidden, "••••••") == "••••••"
    assert mask_values(value, []) is value
