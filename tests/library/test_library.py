"""The library as a whole: every entry has a gradient-check case in both designs, and declares what
both designs need."""
import importlib
import pathlib

import pytest

from compiler.library import ENTRIES, HELPERS
from compiler.primitives import PRIMS, RESOLVE
from compiler.rules import TABLE

HERE = pathlib.Path(__file__).parent
MODULES = [importlib.import_module(p.stem) for p in sorted(HERE.glob("test_*.py"))
           if p.stem != "test_library"]
CASES = [case for m in MODULES for case in getattr(m, "CASES", [])]


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_every_entry_has_a_gradient_check_in_both_designs(entry):
    cases = [c for c in CASES if c.entry == entry.name]
    assert cases, f"{entry.name}: no gradient-check case in tests/library/"
    if entry.tape:
        assert any(c.tape for c in cases), f"{entry.name}: no tape case"


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_every_entry_is_a_primitive_with_a_rule_and_resolves(entry):
    assert entry.name in PRIMS and entry.name in TABLE
    for fn in [*entry.impls.values(), *entry.also]:
        assert RESOLVE[fn][0] == entry.name
    rule = TABLE[entry.name]
    assert len(rule.names) + (rule.rest is not None) == len(entry.inputs.split())


def test_helpers_are_internal_primitives():
    for name in HELPERS:
        assert PRIMS[name].internal
