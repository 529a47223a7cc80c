"""User names that collide with what generated code uses, in scalar code, loops and NumPy code.

Every function is checked against central differences (and, where written, an analytic gradient).
The code that runs must be compiled from the source shown for the call (`.source` for scalar code,
`source_for(*args)` for array code), no name the source binds may mean something else than the same
name in the user's code, calls leave the user's modules and arrays alone, and module-level numbers
are read when the gradient runs.
"""
import numpy as onp
import pytest

import reliability_names as N
import reliability_shadowed as S
from compiler import grad, value_and_grad
from generated_checks import (assert_args_unchanged, assert_globals_unchanged, assert_names_hygienic,
                              assert_runs_source, copy_args, globals_snapshot, numeric_globals_read)
from reliability_helpers import assert_matches_central_differences, load_source

rng = onp.random.default_rng(1234)

SCALAR = {
    "params np math _d grad self type float int": (N.scalar_params, (0.3, 0.7, 1.1, -0.4, 0.2, 0.9, -0.6, 1.3)),
    "locals named like every helper": (N.scalar_locals, (0.3, 0.7)),
    "module globals tape reversed record len slice make_f_grad respecialize, user abs and max":
        (N.scalar_globals, (0.3, 0.7)),
    "shadowed builtins type float int range reversed len slice abs max min, numbers np math":
        (S.scalar, (0.3, 0.7)),
}

LOOPS = {
    "for loop: param tape, locals reversed record len": (N.loop_locals, (0.3, 0.7, 4)),
    "for loop reading globals tape reversed len slice": (N.loop_globals, (0.3, 0.7)),
    "while loop: params range reversed, local tape": (N.while_locals, (0.3, 0.9, 0.4)),
    "while loop in a module whose range/reversed/abs are the user's": (S.scalar_while, (0.3, 4)),
    "for loops inlined into a module whose range/reversed are the user's": (
        S.calls_loop_helper, (0.3, 0.7)),
}

ARRAYS = {
    "array params np sum_grad unbroadcast slice": (
        N.array_params, (rng.normal(size=3), rng.normal(size=3), rng.normal(size=(2, 3)), 0.7)),
    "array locals np sum_grad unbroadcast slice len type float tape": (
        N.array_locals, (rng.normal(size=(4, 3)), rng.normal(size=(3, 3)))),
    "array code reading globals tape reversed sum_grad unbroadcast slice": (
        N.array_globals, (rng.normal(size=5), rng.normal(size=5))),
    "array loop with locals tape reversed": (N.array_loop, (rng.normal(size=4), rng.normal(size=4), 3)),
    "array code next to a global np that is a number": (
        S.array, (rng.normal(size=(4, 3)), rng.normal(size=(3, 2)))),
    "array index arrays beside a slice, param slice": (
        N.array_fancy_index, (rng.normal(size=(4, 3)), 0.7, onp.array([0, 2, 0]))),
    "array loop inlined into a module whose range/reversed/float are the user's": (
        S.calls_loop_helper_arrays, (rng.normal(size=4), rng.normal(size=4))),
}

ALL = {**SCALAR, **LOOPS, **ARRAYS}


def _wrt(point):
    """Every float and float array argument (ints and index arrays are not differentiated)."""
    return tuple(i for i, v in enumerate(point)
                 if not isinstance(v, int) and onp.asarray(v).dtype.kind == "f")


@pytest.mark.parametrize("fn, point", list(ALL.values()), ids=list(ALL))
def test_gradients_match_central_differences(fn, point):
    wrt = _wrt(point)
    g = grad(fn, wrt=wrt)
    assert_matches_central_differences(fn, point, g(*point), wrt)
    value, grads = value_and_grad(fn, wrt=wrt)(*point)
    assert value == pytest.approx(fn(*point), rel=1e-12)
    assert_matches_central_differences(fn, point, grads, wrt)


def _traced(fn, point, make=grad):
    """The gradient, the source of the version these arguments run (`source_for`; for scalar code
    called with numbers, `.source` itself), and what ran, checked to be compiled from that source."""
    g = make(fn, wrt=_wrt(point))
    source = g.source_for(*point)
    if fn not in _ARRAY_FUNCS:
        assert source == g.source
    result, ran = assert_runs_source(g, point, source)
    if fn not in _ARRAY_FUNCS:
        assert ran.code is g.__code__  # the float-specialised function runs itself, nothing else
    return g, source, result, ran


_ARRAY_FUNCS = [f for f, _ in ARRAYS.values()]


@pytest.mark.parametrize("fn, point", list(ALL.values()), ids=list(ALL))
@pytest.mark.parametrize("make", [grad, value_and_grad])
def test_the_code_that_runs_is_compiled_from_the_source(fn, point, make):
    # seen by a profiler: the generated function that computes the result is compiled from the
    # source shown for these arguments (bytecode, constants, names, line table), and linecache
    # holds exactly that text
    g, _, result, _ = _traced(fn, point, make)
    if make is grad:
        assert_matches_central_differences(fn, point, result, _wrt(point))


@pytest.mark.parametrize("fn, point", list(ALL.values()), ids=list(ALL))
def test_generated_names_never_mean_something_else_than_the_users(fn, point):
    # every name the source binds is new, one of the user's locals, or a helper that is the very
    # object the user's name refers to: S's `range`, `np`, `type` are the user's, so the generated
    # code must call the builtins and NumPy by other names
    _, source, _, ran = _traced(fn, point)
    assert_names_hygienic(fn, source, ran)


@pytest.mark.parametrize("fn, point", list(ALL.values()), ids=list(ALL))
def test_calls_leave_the_users_globals_and_arguments_alone(fn, point):
    snapshot = globals_snapshot(fn)
    copies = copy_args(point)
    grad(fn, wrt=_wrt(point))(*point)
    value_and_grad(fn, wrt=_wrt(point))(*point)
    assert_globals_unchanged(snapshot)
    assert_args_unchanged(point, copies)


_READS_NUMBERS = {k: v for k, v in ALL.items() if numeric_globals_read(v[0])}


@pytest.mark.parametrize("fn, point", list(_READS_NUMBERS.values()), ids=list(_READS_NUMBERS))
def test_module_numbers_are_read_live_from_the_users_module(fn, point, monkeypatch):
    # change every module-level number the user's code (and the code it inlines) reads: value and
    # gradient follow, as in Python; a generated name hiding one of them, or a copy taken when the
    # gradient was built, would keep the old value
    vg = value_and_grad(fn, wrt=_wrt(point))
    before = vg(*point)
    for module_dict, name in numeric_globals_read(fn):
        monkeypatch.setitem(module_dict, name, module_dict[name] * 1.75 + 0.375)
    value, grads = vg(*point)
    assert value == pytest.approx(fn(*point), rel=1e-12)
    assert value != pytest.approx(before[0], rel=1e-9)
    assert_matches_central_differences(fn, point, grads, _wrt(point))


def test_the_hostile_cases_read_module_numbers():
    # the test above covers each module's numbers, and the ones of an inlined helper's module
    assert {n for _, n in numeric_globals_read(N.scalar_globals)} == {
        "tape", "reversed", "record", "sum_grad", "unbroadcast", "len", "slice", "make_f_grad",
        "respecialize"}
    assert {n for _, n in numeric_globals_read(S.scalar)} == {"np", "math"}
    read = numeric_globals_read(S.calls_loop_helper)
    assert {n for d, n in read if d is vars(N)} == {"tape", "reversed", "len", "slice"}
    assert {fn for fn, _ in _READS_NUMBERS.values()} == {
        N.scalar_globals, N.loop_globals, N.array_globals, S.scalar, S.scalar_while, S.array,
        S.calls_loop_helper}


def test_scalar_params_analytic():
    point = SCALAR["params np math _d grad self type float int"][1]
    got = grad(N.scalar_params, wrt=tuple(range(8)))(*point)
    assert got == pytest.approx(N.scalar_params_grad(*point), rel=1e-13)


def test_parameter_named_int_not_in_wrt_accepts_an_int():
    # the guard for a non-differentiated parameter calls `type(...)` and compares with `int`
    point = (0.3, 0.7, 1.1, -0.4, 0.2, 0.9, -0.6, 3)
    got = grad(N.scalar_params, wrt=tuple(range(7)))(*point)
    assert got == pytest.approx(N.scalar_params_grad(*point)[:7], rel=1e-13)


def test_module_globals_analytic():
    got = grad(N.scalar_globals, wrt=(0, 1))(0.3, 0.7)
    assert got == pytest.approx(N.scalar_globals_grad(0.3, 0.7), rel=1e-13)


def test_shadowed_builtins_analytic():
    for point in ((0.3, 0.7), (-1.1, 0.4)):
        got = grad(S.scalar, wrt=(0, 1))(*point)
        assert got == pytest.approx(S.scalar_grad(*point), rel=1e-12)


def test_closure_cells_named_like_helpers(tmp_path):
    text = (
        "import numpy as onp\n"
        "def make():\n"
        "    np = 2.0\n"
        "    tape = 0.5\n"
        "    reversed = 3.0\n"
        "    sum_grad = onp.array([1.0, 2.0, 3.0])\n"
        "    def f(x):\n"
        "        h = x\n"
        "        for i in range(3):\n"
        "            h = onp.tanh(h * np + tape) * reversed\n"
        "        return onp.sum(h * sum_grad)\n"
        "    return f\n"
    )
    f = load_source(tmp_path, text, "cells").make()
    x = onp.array([0.1, -0.2, 0.3])
    assert_matches_central_differences(f, (x,), grad(f)(x), (0,))


def test_unicode_identifiers():
    import reliability_funcs as F
    g = grad(F.énergie, wrt=("α", "β", "γ"))
    assert g(0.3, 0.7) == pytest.approx(F.énergie_grad_analytic(0.3, 0.7), rel=1e-13)
    assert g(0.3, 0.7, γ=1.5) == pytest.approx(F.énergie_grad_analytic(0.3, 0.7, 1.5), rel=1e-13)
    assert g.__name__ == "énergie"
    assert_runs_source(g, (0.3, 0.7), g.source)
    x, w = rng.normal(size=(3, 2)), rng.normal(size=2)
    ga = grad(F.数组, wrt=("张量", "权重"))
    assert_matches_central_differences(F.数组, (x, w), ga(x, w), (0, 1))
    assert_runs_source(ga, (x, w), ga.source_for(x, w))


# --- a global named like the generated function itself ------------------------------------------

_SELF_NAMED = {
    "scalar, grad": (
        "f_grad = 2.0\n"
        "def f(x):\n"
        "    return x * f_grad + x * x\n", "grad", 0.5, lambda x: 2.0 + 2 * x),
    "scalar, value_and_grad": (
        "f_value_and_grad = 2.0\n"
        "def f(x):\n"
        "    return x * f_value_and_grad + x * x\n", "value_and_grad", 0.5, lambda x: 2.0 + 2 * x),
    "loop": (
        "f_grad = 2.0\n"
        "def f(x):\n"
        "    y = x\n"
        "    for i in range(2):\n"
        "        y = y * f_grad\n"
        "    return y\n", "grad", 0.5, lambda x: 4.0),
    "arrays": (
        "import numpy as np\n"
        "f_grad = 2.0\n"
        "def f(x):\n"
        "    return np.sum(x * f_grad)\n", "grad", onp.ones(3), lambda x: onp.full(3, 2.0)),
}


@pytest.mark.parametrize("text, kind, x, expected", list(_SELF_NAMED.values()), ids=list(_SELF_NAMED))
def test_global_named_like_the_generated_function(tmp_path, text, kind, x, expected):
    f = load_source(tmp_path, text, "selfnamed").f
    make = grad if kind == "grad" else value_and_grad
    g = make(f)
    source = g.source_for(x)
    got, ran = assert_runs_source(g, (x,), source)
    assert_names_hygienic(f, source, ran)  # the generated function is not named like the global
    if kind == "value_and_grad":
        assert got[0] == pytest.approx(f(x))
        got = got[1]
    onp.testing.assert_allclose(got, expected(x), rtol=1e-13)


def test_local_named_like_the_generated_function(tmp_path):
    # the same spelling as a *local* is fine (contrast with the xfail above)
    f = load_source(tmp_path, "def f(x):\n    f_grad = x * 3.0\n    return f_grad * x\n", "local").f
    assert grad(f)(0.5) == pytest.approx(3.0)
