"""Golden files for the generated source (`f.source`) of a few small functions: straight-line scalar
code, loops (one with an early return), a branch, and an MLP's version specialised to its shapes
(`f.source_for(*args)`, where storage planning runs: in-place updates and frees).

The comparison is exact. To accept a deliberate change in the emitted code, regenerate with
`SOURCEAD_REGOLD=1 python -m pytest tests/compiler/test_golden.py`, then read the diff: a golden is
only as good as the review it got. The gradients these sources compute are checked here too (against
hand-derived formulas and central differences), so a wrong gradient cannot hide in a golden file.
"""
import math
import os

import numpy as np
import pytest

import golden_funcs as G
from compiler import grad, value_and_grad
from generated_checks import assert_runs_source
from runtime.gradcheck import numerical_grad

GOLDEN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
REGOLD = os.environ.get("SOURCEAD_REGOLD") == "1"

CASES = {
    "seed_grad": lambda: grad(G.seed, wrt=("x", "y", "z")),
    "log_square_value_and_grad": lambda: value_and_grad(G.log_square),
    "fork_grad": lambda: grad(G.fork, wrt=("x", "y")),
    "max_router_grad": lambda: grad(G.max_router, wrt=(0, 1, 2, 3)),
    "loop_grad": lambda: grad(G.loop, wrt=(0, 1)),
    "loop_early_return_grad": lambda: grad(G.loop_early_return, wrt=0),
    "branch_grad": lambda: grad(G.branch, wrt=(0, 1)),
    "mlp_grad_specialised": lambda: grad(G.mlp, wrt=(1, 2, 3)),
}

_rng = np.random.default_rng(7)
MLP_ARGS = (_rng.normal(size=(4, 3)), _rng.normal(size=(3, 5)), _rng.normal(size=5), _rng.normal(size=5))

# The arguments each golden's code runs with below. Array code keeps one version per signature: its
# golden is the version specialised to these shapes (`source_for`), where storage planning runs.
ARGS = {
    "seed_grad": (-2.0, 5.0, -4.0),
    "log_square_value_and_grad": (3.0,),
    "fork_grad": (0.7, -1.3),
    "max_router_grad": (3.0, -4.0, 2.0, -1.0),
    "loop_grad": (0.4, 1.3),
    "loop_early_return_grad": (2.0, 5),
    "branch_grad": (1.5, 0.5),
    "mlp_grad_specialised": MLP_ARGS,
}
SPECIALISED = {"mlp_grad_specialised"}


def _golden_source(name, f):
    return f.source_for(*ARGS[name]) if name in SPECIALISED else f.source


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
    source = _golden_source(name, CASES[name]())
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
    # seen by a profiler: the function a call runs is compiled from the golden's text (bytecode,
    # constants, names, line table) and linecache holds that text, so the golden shows what runs
    f = CASES[name]()
    source = _golden_source(name, f)
    result, ran = assert_runs_source(f, ARGS[name], source)
    if name not in SPECIALISED:
        assert ran.code is f.__code__  # scalar code called with floats runs the function itself
    path = os.path.join(GOLDEN_DIR, f"{name}.txt")
    if not REGOLD and os.path.exists(path):
        with open(path) as fh:
            assert ran.text == fh.read()


def test_every_golden_has_arguments():
    assert set(ARGS) == set(CASES) and SPECIALISED <= set(CASES)


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


def _loop_forward(x, y):
    h, dh_dx, dh_dy = x, 1.0, 0.0  # forward mode by hand: h_{k+1} = sin(h_k y) + h_k
    for _ in range(3):
        c = math.cos(h * y)
        h, dh_dx, dh_dy = math.sin(h * y) + h, (c * y + 1.0) * dh_dx, c * (dh_dy * y + h) + dh_dy
    return dh_dx, dh_dy


def test_golden_loop_gradient():
    f = CASES["loop_grad"]()
    for x, y in [(0.4, 1.3), (-1.1, 0.6)]:
        assert f(x, y) == pytest.approx(_loop_forward(x, y), rel=1e-13)
        for i in range(2):
            assert f(x, y)[i] == pytest.approx(numerical_grad(G.loop, (x, y), i), rel=1e-7)


def test_golden_loop_early_return_gradient_on_both_paths():
    f = CASES["loop_early_return_grad"]()
    for x, n in [(0.5, 3), (2.0, 5), (1.5, 4)]:
        acc, d = x, 1.0  # forward mode by hand
        for _ in range(n):
            acc, d = acc * x + 1.0, d * x + acc
            if acc > 10.0:
                break
        else:
            d = 0.5 * d
        assert f(x, n) == pytest.approx(d, rel=1e-14)
        assert f(x, n) == pytest.approx(numerical_grad(lambda v: G.loop_early_return(v, n), (x,), 0),
                                        rel=1e-7)
    assert f(2.0, 5) == 13.0  # returns at the second step: acc = 5, then 11


def test_golden_branch_gradient_on_both_sides():
    f = CASES["branch_grad"]()
    x, y = 1.5, 0.5  # x > y: f = x^2 y
    assert f(x, y) == pytest.approx((2 * x * y, x * x), rel=1e-15)
    x, y = 0.5, 1.5  # else: f = x e^y
    assert f(x, y) == pytest.approx((math.exp(y), x * math.exp(y)), rel=1e-15)


def test_golden_mlp_gradient():
    f = CASES["mlp_grad_specialised"]()
    x, w1, b1, w2 = MLP_ARGS
    h = np.tanh(x @ w1 + b1)  # by hand: f = mean(out^2), out = h w2
    dout = 2.0 * (h @ w2) / len(x)
    dt1 = np.outer(dout, w2) * (1.0 - h * h)
    expected = (x.T @ dt1, dt1.sum(axis=0), h.T @ dout)
    got = f(*MLP_ARGS)
    for g, e, i in zip(got, expected, (1, 2, 3)):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(g, numerical_grad(G.mlp, MLP_ARGS, i), rtol=1e-6, atol=1e-9)
