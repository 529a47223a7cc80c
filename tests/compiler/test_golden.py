"""Golden files for the generated source (`f.source`) of a few small functions.

The comparison is exact. To accept a deliberate change in the emitted code, regenerate with
`SOURCEAD_REGOLD=1 python -m pytest tests/compiler/test_golden.py`, then read the diff: a golden is
only as good as the review it got. The gradients these sources compute are checked here too (against
hand-derived formulas and central differences), so a wrong gradient cannot hide in a golden file.
"""
import math
import os

import pytest

import golden_funcs as G
from compiler import grad, value_and_grad
from runtime.gradcheck import numerical_grad

GOLDEN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
REGOLD = os.environ.get("SOURCEAD_REGOLD") == "1"

CASES = {
    "seed_grad": lambda: grad(G.seed, wrt=("x", "y", "z")),
    "log_square_value_and_grad": lambda: value_and_grad(G.log_square),
    "fork_grad": lambda: grad(G.fork, wrt=("x", "y")),
    "max_router_grad": lambda: grad(G.max_router, wrt=(0, 1, 2, 3)),
}


# Goldens that currently differ because of a bug (strict xfail: remove the entry once fixed, or
# regenerate if the new text is the better one).
_NAMES_LOST = ("BUG (readability regression since 9adacdf): gradients of parameters and of user values "
               "are no longer named after them (`dx = da * y` became `t3 = da * y`, "
               "`dz = 0.0 if t1 else 2.0` became `t2 = ...`, `return dx, dy` became `return t3, t4`)")
KNOWN_REGRESSIONS = {}


def _golden_params():
    return [pytest.param(name, id=name, marks=pytest.mark.xfail(strict=True, reason=KNOWN_REGRESSIONS[name])
                         if name in KNOWN_REGRESSIONS and not REGOLD else ())
            for name in sorted(CASES)]


@pytest.mark.parametrize("name", _golden_params())
def test_generated_source_matches_golden(name):
    source = CASES[name]().source
    path = os.path.join(GOLDEN_DIR, f"{name}.txt")
    if REGOLD:
        os.makedirs(GOLDEN_DIR, exist_ok=True)
        with open(path, "w") as fh:
            fh.write(source)
        return
    assert os.path.exists(path), f"no golden file {path}: run with SOURCEAD_REGOLD=1 to create it"
    with open(path) as fh:
        expected = fh.read()
    assert source == expected, (f"generated source of {name} differs from {path}; if the change is "
                                "intended, regenerate with SOURCEAD_REGOLD=1 and review the diff")


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_source_is_the_code_that_runs(name):
    f = CASES[name]()
    namespace = {}
    exec(compile(f.source, f"<golden {name}>", "exec"), namespace)  # valid, self-contained Python
    assert any(callable(v) and k.startswith("make_") for k, v in namespace.items())


def test_no_golden_file_is_orphaned():
    names = {n[:-4] for n in os.listdir(GOLDEN_DIR) if n.endswith(".txt")}
    assert names == set(CASES)


# --- the goldens' gradients, checked independently ---------------------------------------------------

def test_golden_seed_gradient():
    for x, y, z in [(-2.0, 5.0, -4.0), (0.3, 1.7, 2.5)]:
        assert CASES["seed_grad"]()(x, y, z) == (z, z, x + y)


def test_golden_log_square_value_and_gradient():
    for x in (3.0, -0.5, 1.7):
        value, g = CASES["log_square_value_and_grad"]()(x)
        assert value == pytest.approx(math.log(x * x) + 1, rel=1e-15)
        assert g == pytest.approx(2.0 / x, rel=1e-15)


def test_golden_fork_gradient_sums_both_uses():
    # f = a^2 + sin(a), a = x y: df/da = 2a + cos(a)
    for x, y in [(0.7, -1.3), (1.9, 0.45)]:
        a = x * y
        da = 2 * a + math.cos(a)
        gx, gy = CASES["fork_grad"]()(x, y)
        assert (gx, gy) == pytest.approx((da * y, da * x), rel=1e-14)
        assert gx == pytest.approx(numerical_grad(G.fork, (x, y), 0), rel=1e-7)
        assert gy == pytest.approx(numerical_grad(G.fork, (x, y), 1), rel=1e-7)


def test_golden_max_router_gradient():
    f = CASES["max_router_grad"]()
    assert f(3.0, -4.0, 2.0, -1.0) == (-8.0, 6.0, 2.0, 0.0)
    assert f(3.0, -4.0, -1.0, 2.0) == (-8.0, 6.0, 0.0, 2.0)
