"""The convention at non-differentiable points (README, "Kinks and ties"), row by row, in both designs and
against PyTorch: the same Python function through the compiler (`grad`) and through the tape
(`compiler.compare.tape_value_and_grad`, which runs the function's own source on Tensors), and its
PyTorch spelling, each compared with the value the table states. Every function multiplies its result
by 3, so the gradient arriving at the kink is never the trivial 1.

PyTorch is optional: without it the PyTorch column skips, except under CI (the environment variable CI
set), where a missing torch is an error.
"""
import math
import os

import numpy as np
import pytest

from compiler import grad
from compiler.compare import tape_value_and_grad

if os.environ.get("CI"):
    import torch
else:
    try:
        import torch
    except ImportError:
        torch = None


def max_tie(x, y):
    return 3.0 * max(x, y)


def min_tie(x, y):
    return 3.0 * min(x, y)


def np_maximum_ties(x, y):
    return 3.0 * np.sum(np.maximum(x, y))


def np_minimum_ties(x, y):
    return 3.0 * np.sum(np.minimum(x, y))


def np_maximum_zero(x):
    return 3.0 * np.sum(np.maximum(x, 0.0))


def max_zero(x):
    return 3.0 * max(x, 0.0)


def np_max_all(x):
    return 3.0 * np.max(x)


def max_method_axis(x):
    return 3.0 * np.sum(x.max(axis=1))


def np_min_axis(x):
    return 3.0 * np.sum(np.min(x, axis=0))


def abs_builtin(x):
    return 3.0 * abs(x)


def abs_math(x):
    return 3.0 * math.fabs(x)


def abs_np(x):
    return 3.0 * np.sum(np.abs(x))


def sign_np(x):
    return 3.0 * np.sum(np.sign(x) * x)


def clip_constant_bounds(x):
    return 3.0 * np.sum(np.clip(x, -0.5, 0.5))


def clip_bounds(x, lo, hi):
    return 3.0 * np.sum(np.clip(x, lo, hi))


def sqrt_np(x):
    return 3.0 * np.sum(np.sqrt(x))


def sqrt_math(x):
    return 3.0 * math.sqrt(x)


def max_three(a, b, c):
    return 3.0 * max(a, b, c)


def max_nan(x, y):
    return 3.0 * max(x, y)


T = torch
# (row of the README table, function, arguments, its PyTorch spelling or None, expected gradients; None
# where the compiler raises)
ROWS = [
    ("tie of max(x, y)", max_tie, (0.8, 0.8), lambda x, y: 3.0 * T.maximum(x, y), (1.5, 1.5)),
    ("tie of min(x, y)", min_tie, (0.8, 0.8), lambda x, y: 3.0 * T.minimum(x, y), (1.5, 1.5)),
    ("ties of np.maximum", np_maximum_ties, (np.array([1.0, 2.0, 3.0]), np.array([1.0, 5.0, 0.0])),
     lambda x, y: 3.0 * T.maximum(x, y).sum(), ([1.5, 0.0, 3.0], [1.5, 3.0, 0.0])),
    ("ties of np.minimum", np_minimum_ties, (np.array([1.0, 2.0, 3.0]), np.array([1.0, 5.0, 0.0])),
     lambda x, y: 3.0 * T.minimum(x, y).sum(), ([1.5, 3.0, 0.0], [1.5, 0.0, 3.0])),
    ("np.maximum(x, 0.0) at 0", np_maximum_zero, (np.array([-1.0, 0.0, 2.0]),),
     lambda x: 3.0 * T.maximum(x, T.zeros(())).sum(), ([0.0, 1.5, 3.0],)),
    ("max(x, 0.0) at 0", max_zero, (0.0,), lambda x: 3.0 * T.maximum(x, T.zeros(())), (1.5,)),
    ("ties of np.max(x)", np_max_all, (np.array([1.0, 3.0, 3.0, 2.0]),),
     lambda x: 3.0 * T.amax(x), ([0.0, 1.5, 1.5, 0.0],)),
    ("ties of x.max(axis=1)", max_method_axis, (np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]),),
     lambda x: 3.0 * T.amax(x, dim=1).sum(), ([[0.0, 1.5, 1.5], [1.0, 1.0, 1.0]],)),
    ("ties of np.min(x, axis=0)", np_min_axis, (np.array([[1.0, 0.0], [1.0, 2.0]]),),
     lambda x: 3.0 * T.amin(x, dim=0).sum(), ([[1.5, 3.0], [1.5, 0.0]],)),
    ("abs at 0", abs_builtin, (0.0,), lambda x: 3.0 * T.abs(x), (0.0,)),
    ("math.fabs at 0", abs_math, (0.0,), lambda x: 3.0 * T.abs(x), (0.0,)),
    ("np.abs at 0", abs_np, (np.array([-2.0, 0.0, 1.0]),), lambda x: 3.0 * T.abs(x).sum(),
     ([-3.0, 0.0, 3.0],)),
    ("np.sign at 0", sign_np, (np.array([-2.0, 0.0, 1.0]),), lambda x: 3.0 * (T.sign(x) * x).sum(),
     ([-3.0, 0.0, 3.0],)),
    ("np.clip at its bounds", clip_constant_bounds, (np.array([-1.0, -0.5, 0.0, 0.5, 1.0]),),
     lambda x: 3.0 * T.clamp(x, -0.5, 0.5).sum(), ([0.0, 3.0, 3.0, 3.0, 0.0],)),
    # x at lo, at hi, below, above, inside; lo == hi with x below; hi < lo
    ("np.clip with array bounds", clip_bounds,
     (np.array([0.0, 1.0, -1.0, 2.0, 0.5, 0.0, 1.5]), np.array([0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 2.0]),
      np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])),
     lambda x, lo, hi: 3.0 * T.clamp(x, lo, hi).sum(),
     ([3.0, 3.0, 0.0, 0.0, 3.0, 0.0, 0.0], [0.0, 0.0, 3.0, 0.0, 0.0, 0.0, 0.0],
      [0.0, 0.0, 0.0, 3.0, 0.0, 0.0, 3.0])),
    ("np.sqrt at 0", sqrt_np, (np.array([0.0, 4.0]),), lambda x: 3.0 * T.sqrt(x).sum(),
     ([math.inf, 0.75],)),
    # math keeps Python's semantics in compiled code: 1.5 / 0.0 raises there (the tape's math is NumPy's)
    ("math.sqrt at 0", sqrt_math, (0.0,), lambda x: 3.0 * T.sqrt(x), None),
    # folded as max(max(a, b), c): each fold splits its tie, so not evenly (PyTorch has no builtin max)
    ("three-way tie of max(a, b, c)", max_three, (1.0, 1.0, 1.0), None, (0.75, 0.75, 1.5)),
    # not a tie: Python's max(x, nan) is x, which gets all of g (torch.maximum gives g to both)
    ("max(x, nan)", max_nan, (0.5, math.nan), None, (3.0, 0.0)),
]

PARAMS = [pytest.param(fn, args, torch_fn, expected, id=row) for row, fn, args, torch_fn, expected in ROWS]


def _check(got, expected):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert np.shape(g) == np.shape(e)
        np.testing.assert_allclose(np.asarray(g, dtype=float), np.asarray(e, dtype=float), rtol=1e-14, atol=0)


@pytest.mark.parametrize("fn, args, torch_fn, expected", PARAMS)
def test_compiler(fn, args, torch_fn, expected):
    compiled = grad(fn, wrt=tuple(range(len(args))))
    if expected is None:
        with pytest.raises(ZeroDivisionError):
            compiled(*args)
        return
    with np.errstate(divide="ignore"):
        _check(compiled(*args), expected)


@pytest.mark.parametrize("fn, args, torch_fn, expected", PARAMS)
def test_tape(fn, args, torch_fn, expected):
    with np.errstate(divide="ignore"):
        _, got = tape_value_and_grad(fn, tuple(range(len(args))))(*args)
    if expected is None:            # math.sqrt on the tape is its sqrt: PyTorch's value
        expected = (math.inf,)
    _check(got, expected)


@pytest.mark.parametrize("fn, args, torch_fn, expected", [p for p in PARAMS if p.values[2] is not None])
def test_pytorch(fn, args, torch_fn, expected):
    if torch is None:
        pytest.skip("PyTorch is not installed; the PyTorch column needs it (pip install '.[conformance]')")
    ts = [torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in args]
    torch_fn(*ts).backward()
    if expected is None:
        expected = (math.inf,)
    _check([t.grad.numpy() for t in ts], expected)
