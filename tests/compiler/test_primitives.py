"""The primitive table: each primitive states every fact about itself, and the lists the passes use
are derived from those facts (issue "Architecture for growth", item 1)."""
import numpy as np
import pytest

from compiler import primitives as P
from compiler.primitives import FACTS, PRIMS, Prim, having


@pytest.mark.parametrize("name", sorted(PRIMS))
def test_every_primitive_declares_every_fact(name):
    prim = PRIMS[name]
    for fact in FACTS:
        assert hasattr(prim, fact), f"{name} does not declare {fact}"
    assert prim.view in (None, "always", "maybe", "opaque")
    if prim.tape is not None:
        import runtime
        assert callable(getattr(runtime, prim.tape, None)), f"{name}: runtime.{prim.tape} is missing"
    if "np" in prim.funcs and not prim.internal:
        fn = prim.funcs["np"]
        if isinstance(fn, np.ufunc) and getattr(np, fn.__name__, None) is fn \
                or getattr(np, prim.np_name, None) is fn:  # (SciPy's ufuncs are bound by name)
            assert getattr(np, prim.np_name) is fn, f"{name}: np.{prim.np_name} is not its function"


def test_a_missing_fact_is_an_error():
    facts = {k: False for k in FACTS}
    del facts["fresh"]
    with pytest.raises(TypeError, match="fresh"):
        Prim("made_up", 1, None, {}, (), facts)


def test_derived_lists_follow_the_facts():
    from compiler import aliasing, frontend, passes, rules, specialize, storage
    assert rules.BROADCASTING == having("broadcasts")
    assert specialize.ARRAY_MAKERS == having("makes_arrays")
    assert specialize.SHAPE_FROM_VALUES == having("shape_from_values")
    assert specialize.FRESH == storage.FRESH == having("fresh")  # one list, where two disagreed
    assert frontend.ARRAY_CALLS == having("static_args")
    assert passes._UNSHARED == having("unshared")
    assert aliasing.ALWAYS_VIEWS <= aliasing.VIEW_PRIMS
    # sanity: the facts say what NumPy does
    assert {"add", "mul", "select", "setitem"} <= having("broadcasts")
    assert not {"sin", "neg", "sum"} & having("broadcasts")
    assert {"reshape", "getitem"} <= having("view", "maybe")
    assert {"sum_grad", "mean_grad", "unbroadcast", "astype"}.isdisjoint(having("fresh"))


def test_an_integer_input_that_decides_a_shape_is_part_of_the_cache_key():
    # leaving a primitive out of shape_from_values would drop its integer arguments from the key
    for name in ("zeros", "ones", "full", "eye", "arange", "reshape", "getitem", "setitem"):
        assert PRIMS[name].shape_from_values, name
