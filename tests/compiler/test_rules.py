"""Every derivative rule in compiler/rules.py, checked against central differences (float64).

Each case is a user-level Python function that calls one primitive in one spelling (an operator, a
builtin, `math.*` or `np.*`) and feeds its result through `_seed`, so the upstream gradient the rule
receives is never the trivial 1.0. Each case runs at several points away from kinks and domain edges.

`CASES` doubles as the coverage table: a rule (or a callable the frontend resolves onto a primitive)
without a case here makes `test_every_rule_has_a_case` / `test_every_resolved_spelling_has_a_case`
fail, and each case is checked to really lower to the primitive it claims to test.
"""
import ast
import functools
import math

import numpy as np
import pytest

from compiler import check_grad, grad, value_and_grad
from compiler.frontend import lower
from compiler.ir import Builder, Const, Eqn, Graph, Var
from compiler.passes import optimize
from compiler.library import BY_NAME as LIBRARY
from compiler.primitives import PRIMS, RESOLVE, VARIADIC
from compiler.reverse import reverse
from compiler.rules import RULES, TABLE
from reference_eval import evaluate
from runtime.gradcheck import numerical_grad

RTOL = 1e-6
ATOL = 1e-9


def _seed(r):
    # A non-trivial upstream gradient for the primitive under test: d/dr = 1.7 + 2 r.
    return 1.7 * r + r * r


# --- arithmetic operators and their NumPy spellings ------------------------------------------------

def add_op(x, y):
    return _seed(x + y)


def add_np(x, y):
    return _seed(np.add(x, y))


def sub_op(x, y):
    return _seed(x - y)


def sub_np(x, y):
    return _seed(np.subtract(x, y))


def mul_op(x, y):
    return _seed(x * y)


def mul_np(x, y):
    return _seed(np.multiply(x, y))


def div_op(x, y):
    return _seed(x / y)


def div_np(x, y):
    return _seed(np.divide(x, y))


def pow_op(x, y):
    return _seed(x ** y)


def pow_op_integer_exponent_negative_base(x):
    return _seed(x ** 3)


def pow_op_constant_base(x):
    return _seed(2.0 ** x)


def pow_builtin(x, y):
    return _seed(pow(x, y))


def pow_math(x, y):
    return _seed(math.pow(x, y))


def pow_np(x, y):
    return _seed(np.power(x, y))


def mod_op(x, y):
    return _seed(x % y)


def floordiv_op(x, y):
    # x // y is piecewise constant: no gradient; `* x` keeps the function non-constant in x.
    return _seed((x // y) * x)


def neg_op(x):
    return _seed(-x)


def neg_np(x):
    return _seed(np.negative(x))


def float_builtin(x):
    return _seed(float(x) * x)


def float_np_float64(x):
    return _seed(np.float64(x) * x)


# --- elementary functions, math.* and np.* -------------------------------------------------------

def sin_math(x):
    return _seed(math.sin(x))


def sin_np(x):
    return _seed(np.sin(x))


def cos_math(x):
    return _seed(math.cos(x))


def cos_np(x):
    return _seed(np.cos(x))


def tan_math(x):
    return _seed(math.tan(x))


def tan_np(x):
    return _seed(np.tan(x))


def asin_math(x):
    return _seed(math.asin(x))


def asin_np(x):
    return _seed(np.arcsin(x))


def acos_math(x):
    return _seed(math.acos(x))


def acos_np(x):
    return _seed(np.arccos(x))


def atan_math(x):
    return _seed(math.atan(x))


def atan_np(x):
    return _seed(np.arctan(x))


def sinh_math(x):
    return _seed(math.sinh(x))


def sinh_np(x):
    return _seed(np.sinh(x))


def cosh_math(x):
    return _seed(math.cosh(x))


def cosh_np(x):
    return _seed(np.cosh(x))


def tanh_math(x):
    return _seed(math.tanh(x))


def tanh_np(x):
    return _seed(np.tanh(x))


def exp_math(x):
    return _seed(math.exp(x))


def exp_np(x):
    return _seed(np.exp(x))


def expm1_math(x):
    return _seed(math.expm1(x))


def expm1_np(x):
    return _seed(np.expm1(x))


def log_math(x):
    return _seed(math.log(x))


def log_math_with_base(x, b):
    # math.log(x, b) is lowered to log(x) / log(b).
    return _seed(math.log(x, b))


def log_np(x):
    return _seed(np.log(x))


def log1p_math(x):
    return _seed(math.log1p(x))


def log1p_np(x):
    return _seed(np.log1p(x))


def log2_math(x):
    return _seed(math.log2(x))


def log2_np(x):
    return _seed(np.log2(x))


def log10_math(x):
    return _seed(math.log10(x))


def log10_np(x):
    return _seed(np.log10(x))


def sqrt_math(x):
    return _seed(math.sqrt(x))


def sqrt_np(x):
    return _seed(np.sqrt(x))


def square_np(x):
    return _seed(np.square(x))


def abs_builtin(x):
    return _seed(abs(x))


def abs_math_fabs(x):
    return _seed(math.fabs(x))


def abs_np(x):
    return _seed(np.abs(x))


def abs_np_absolute(x):
    return _seed(np.absolute(x))


def abs_np_fabs(x):
    return _seed(np.fabs(x))


def atan2_math(y, x):
    return _seed(math.atan2(y, x))


def atan2_np(y, x):
    return _seed(np.arctan2(y, x))


def hypot_math(x, y):
    return _seed(math.hypot(x, y))


def hypot_np(x, y):
    return _seed(np.hypot(x, y))


def max_builtin(x, y):
    return _seed(max(x, y))


def max_builtin_three_arguments(x, y, z):
    return _seed(max(x, y, z))


def max_np_maximum(x, y):
    return _seed(np.maximum(x, y))


def max_np_fmax(x, y):  # (np.fmax is a library entry: this checks np.maximum again)
    return _seed(np.maximum(x, y))


def min_builtin(x, y):
    return _seed(min(x, y))


def min_builtin_three_arguments(x, y, z):
    return _seed(min(x, y, z))


def min_np_minimum(x, y):
    return _seed(np.minimum(x, y))


def min_np_fmin(x, y):
    return _seed(np.minimum(x, y))


# --- piecewise-constant and boolean primitives: exactly no gradient through them ------------------

def floor_math(x):
    return _seed(math.floor(x) * x)


def floor_np(x):
    return _seed(np.floor(x) * x)


def ceil_math(x):
    return _seed(math.ceil(x) * x)


def ceil_np(x):
    return _seed(np.ceil(x) * x)


def trunc_math(x):
    return _seed(math.trunc(x) * x)


def trunc_np(x):
    return _seed(np.trunc(x) * x)


def round_builtin(x):
    return _seed(round(x) * x)


def round_builtin_ndigits(x):
    return _seed(round(x, 1) * x)


def round_np(x):
    return _seed(np.round(x) * x)


def int_builtin(x):
    return _seed(int(x) * x)


def sign_np(x):
    return _seed(np.sign(x) * x)


def gt_op(x, y):
    return _seed((x > y) * x + y)


def lt_op(x, y):
    return _seed((x < y) * x + y)


def ge_op(x, y):
    return _seed((x >= y) * x + y)


def le_op(x, y):
    return _seed((x <= y) * x + y)


def eq_op(x, y):
    return _seed((x == y) * x + y)


def ne_op(x, y):
    return _seed((x != y) * x + y)


def chained_comparison_and(x, y):
    return _seed((0.0 < x < y) * x + y)


def not_op(x, y):
    return _seed((not x > y) * x + y)


# (name, primitive, lib) -> the function and its points. `lib` is what the frontend records for the
# spelling: None for operators and builtins.
P2_POS = [(1.3, 0.7), (0.4, 2.2), (2.5, 1.9)]          # both positive, x != y
P2_MIXED = [(1.3, -0.7), (-0.4, 2.2), (-2.5, -1.9)]    # signs vary, x != y
P1_REAL = [(-1.3,), (0.4,), (2.2,)]
P1_POS = [(0.35,), (1.7,), (4.6,)]
P1_UNIT = [(-0.6,), (0.3,), (0.8,)]                    # inside (-1, 1)
P1_TAN = [(-1.2,), (0.4,), (1.0,)]                      # inside (-pi/2, pi/2)
P1_NONINT = [(-2.3,), (0.4,), (1.65,), (3.2,)]         # away from integers (and half-integers)
P3_DISTINCT = [(1.3, -0.7, 0.2), (-0.4, 2.2, 1.1), (0.5, 0.1, 3.0)]
QUADRANTS = [(0.7, 1.3), (0.7, -1.3), (-0.7, -1.3), (-0.7, 1.3)]   # atan2(y, x), all four quadrants

CASES = [
    ("add", None, add_op, P2_MIXED),
    ("add", "np", add_np, P2_MIXED),
    ("sub", None, sub_op, P2_MIXED),
    ("sub", "np", sub_np, P2_MIXED),
    ("mul", None, mul_op, P2_MIXED),
    ("mul", "np", mul_np, P2_MIXED),
    ("div", None, div_op, P2_MIXED),
    ("div", "np", div_np, P2_MIXED),
    ("pow", None, pow_op, P2_POS),
    ("pow", None, pow_op_integer_exponent_negative_base, [(-1.3,), (0.6,), (-0.2,)]),
    ("pow", None, pow_op_constant_base, P1_REAL),
    ("pow", None, pow_builtin, P2_POS),
    ("pow", "math", pow_math, P2_POS),
    ("pow", "np", pow_np, P2_POS),
    ("mod", None, mod_op, [(5.3, 2.1), (-5.3, 2.1), (5.3, -2.1), (0.7, 2.9)]),
    ("floordiv", None, floordiv_op, [(5.3, 2.1), (-5.3, 2.1), (5.3, -2.1)]),
    ("neg", None, neg_op, P1_REAL),
    ("neg", "np", neg_np, P1_REAL),
    ("float", None, float_builtin, P1_REAL),
    ("float", None, float_np_float64, P1_REAL),
    ("sin", "math", sin_math, P1_REAL),
    ("sin", "np", sin_np, P1_REAL),
    ("cos", "math", cos_math, P1_REAL),
    ("cos", "np", cos_np, P1_REAL),
    ("tan", "math", tan_math, P1_TAN),
    ("tan", "np", tan_np, P1_TAN),
    ("asin", "math", asin_math, P1_UNIT),
    ("asin", "np", asin_np, P1_UNIT),
    ("acos", "math", acos_math, P1_UNIT),
    ("acos", "np", acos_np, P1_UNIT),
    ("atan", "math", atan_math, P1_REAL),
    ("atan", "np", atan_np, P1_REAL),
    ("sinh", "math", sinh_math, P1_REAL),
    ("sinh", "np", sinh_np, P1_REAL),
    ("cosh", "math", cosh_math, P1_REAL),
    ("cosh", "np", cosh_np, P1_REAL),
    ("tanh", "math", tanh_math, P1_REAL),
    ("tanh", "np", tanh_np, P1_REAL),
    ("exp", "math", exp_math, P1_REAL),
    ("exp", "np", exp_np, P1_REAL),
    ("expm1", "math", expm1_math, P1_REAL),
    ("expm1", "np", expm1_np, P1_REAL),
    ("log", "math", log_math, P1_POS),
    ("log", "math", log_math_with_base, [(0.35, 2.0), (1.7, 10.0), (4.6, 0.5)]),
    ("log", "np", log_np, P1_POS),
    ("log1p", "math", log1p_math, [(-0.5,), (0.3,), (2.0,)]),
    ("log1p", "np", log1p_np, [(-0.5,), (0.3,), (2.0,)]),
    ("log2", "math", log2_math, P1_POS),
    ("log2", "np", log2_np, P1_POS),
    ("log10", "math", log10_math, P1_POS),
    ("log10", "np", log10_np, P1_POS),
    ("sqrt", "math", sqrt_math, P1_POS),
    ("sqrt", "np", sqrt_np, P1_POS),
    ("square", "np", square_np, P1_REAL),
    ("abs", None, abs_builtin, P1_REAL),
    ("abs", "math", abs_math_fabs, P1_REAL),
    ("abs", "np", abs_np, P1_REAL),
    ("abs", "np", abs_np_absolute, P1_REAL),
    ("abs", "np", abs_np_fabs, P1_REAL),
    ("atan2", "math", atan2_math, QUADRANTS),
    ("atan2", "np", atan2_np, QUADRANTS),
    ("hypot", "math", hypot_math, P2_MIXED),
    ("hypot", "np", hypot_np, P2_MIXED),
    ("max", None, max_builtin, P2_MIXED),
    ("max", None, max_builtin_three_arguments, P3_DISTINCT),
    ("max", "np", max_np_maximum, P2_MIXED),
    ("max", "np", max_np_fmax, P2_MIXED),
    ("min", None, min_builtin, P2_MIXED),
    ("min", None, min_builtin_three_arguments, P3_DISTINCT),
    ("min", "np", min_np_minimum, P2_MIXED),
    ("min", "np", min_np_fmin, P2_MIXED),
    ("floor", "math", floor_math, P1_NONINT),
    ("floor", "np", floor_np, P1_NONINT),
    ("ceil", "math", ceil_math, P1_NONINT),
    ("ceil", "np", ceil_np, P1_NONINT),
    ("trunc", "math", trunc_math, P1_NONINT),
    ("trunc", "np", trunc_np, P1_NONINT),
    ("round", None, round_builtin, P1_NONINT),
    ("round", None, round_builtin_ndigits, [(-2.33,), (0.41,), (1.62,)]),
    ("round", "np", round_np, P1_NONINT),
    ("int", None, int_builtin, P1_NONINT),
    ("sign", "np", sign_np, P1_REAL),
    ("gt", None, gt_op, P2_MIXED),
    ("lt", None, lt_op, P2_MIXED),
    ("ge", None, ge_op, P2_MIXED),
    ("le", None, le_op, P2_MIXED),
    ("eq", None, eq_op, P2_MIXED),
    ("ne", None, ne_op, P2_MIXED),
    ("and", None, chained_comparison_and, [(0.3, 0.9), (0.9, 0.3), (-0.5, 0.2)]),
    ("not", None, not_op, P2_MIXED),
]

# --- NumPy arrays: reductions, linear algebra, shape changes, indexing, constructors -----------------

def _aseed(r):
    # A non-trivial upstream gradient for an array result: d/dr = 1.7 + 2 r, entrywise.
    return np.sum(1.7 * r + r * r)


def a_sum_axis(x):
    return _aseed(np.sum(x, axis=0))


def a_sum_method_keepdims(x):
    return _aseed(x.sum(axis=1, keepdims=True) * x)


def a_mean_axis(x):
    return _aseed(np.mean(x, axis=1))


def a_max_axis(x):
    return _aseed(np.max(x, axis=0))


def a_amax_all(x):
    return _aseed(np.amax(x) * x)


def a_min_axis(x):
    return _aseed(np.min(x, axis=1))


def a_amin_all(x):
    return _aseed(np.amin(x) * x)


def a_prod_axis(x):
    return _aseed(np.prod(x, axis=1))


def a_matmul_operator(a, b):
    return _aseed(a @ b)


def a_matmul_np(a, b):
    return _aseed(np.matmul(a, b))


def a_dot_np(a, b):
    return _aseed(np.dot(a, b))


def a_outer(u, v):
    return _aseed(np.outer(u, v))


def a_det(m):
    return _aseed(np.linalg.det(m) * np.sum(m))


def a_transpose_attr(a, b):
    return _aseed(a.T * b)


def a_transpose_np(a, b):
    return _aseed(np.transpose(a) * b)


def a_reshape_method(x, w):
    return _aseed(x.reshape(3, 2) * w)


def a_reshape_np(x, w):
    return _aseed(np.reshape(x, (6,)) * w)


def a_expand_dims(u, w):
    return _aseed(np.expand_dims(u, 0) * w)


def a_squeeze(c, w):
    return _aseed(np.squeeze(c) * w)


def a_copy_np(x):
    return _aseed(np.copy(x) * x)


def a_copy_method(x):
    return _aseed(x.copy() * x)


def a_clip(x):
    return _aseed(np.clip(x, -0.5, 0.5) * x)


def a_clip_bounds(x, lo, hi):
    return _aseed(np.clip(x, lo, hi) * x)


def a_logaddexp(u, v):
    return _aseed(np.logaddexp(u, v))


def a_where(u, v):
    return _aseed(np.where(u > v, u * u, np.sin(v)))


def a_getitem_slice(x):
    return _aseed(x[1:, 0] * x[0, 1:])


def a_setitem(x, t):
    y = x.copy()
    y[1] = t * t
    return _aseed(y * x)


def a_concatenate(u, v):
    return _aseed(np.concatenate((u, v)) * np.concatenate((v, u)))


def a_stack(u, v):
    return _aseed(np.stack((u, v), axis=1) * u[0])


def a_constructors(x):
    n = x.shape[0]
    c = np.zeros(n) + np.ones(n) + np.eye(n)[0] + np.full(n, 0.5) + np.arange(1.0, n + 1.0)
    return _aseed(c * x + np.zeros_like(x) + np.ones_like(x) * x)


def a_list_stack(x):
    terms = []
    terms.append(np.sin(x))
    terms.append(x * x)
    return _aseed(np.stack(terms, axis=1))


def a_shape_queries(x):
    k = np.shape(x)[0] + np.ndim(x) + np.size(x) + len(x)
    return _aseed(k * x)


_R = np.random.default_rng(20241123)


def _n(*shape):
    return _R.standard_normal(shape)


def _away(a, lo=0.15):
    return np.where(a >= 0, a + lo, a - lo)


# (primitive, the NumPy object spelled or None for an operator/method, function, arguments). Points
# stay away from ties (max/min), clip bounds and kinks.
ARRAY_CASES = [
    ("sum", np.sum, a_sum_axis, (_n(3, 4),)),
    ("sum", None, a_sum_method_keepdims, (_n(3, 4),)),
    ("mean", np.mean, a_mean_axis, (_n(3, 4),)),
    ("amax", np.max, a_max_axis, (np.array([[0.3, -1.2, 2.0], [1.1, 0.4, -0.7]]),)),
    ("amax", np.amax, a_amax_all, (np.array([[0.3, -1.2], [2.0, 0.4]]),)),
    ("amin", np.min, a_min_axis, (np.array([[0.3, -1.2, 2.0], [1.1, 0.4, -0.7]]),)),
    ("amin", np.amin, a_amin_all, (np.array([[0.3, -1.2], [2.0, 0.4]]),)),
    ("prod", np.prod, a_prod_axis, (_away(_n(3, 4)),)),
    ("matmul", None, a_matmul_operator, (_n(2, 3), _n(3, 4))),
    ("matmul", np.matmul, a_matmul_np, (_n(2, 3), _n(3, 4))),
    ("matmul", np.dot, a_dot_np, (_n(3), _n(3, 2))),
    ("outer", np.outer, a_outer, (_n(3), _n(4))),
    ("det", np.linalg.det, a_det, (_n(3, 3) + 3.0 * np.eye(3),)),
    ("transpose", None, a_transpose_attr, (_n(2, 3), _n(3, 2))),
    ("transpose", np.transpose, a_transpose_np, (_n(2, 3), _n(3, 2))),
    ("reshape", None, a_reshape_method, (_n(2, 3), _n(3, 2))),
    ("reshape", np.reshape, a_reshape_np, (_n(2, 3), _n(6))),
    ("expand_dims", np.expand_dims, a_expand_dims, (_n(3), _n(2, 3))),
    ("squeeze", np.squeeze, a_squeeze, (_n(3, 1), _n(3))),
    ("copy", np.copy, a_copy_np, (_n(2, 3),)),
    ("copy", None, a_copy_method, (_n(2, 3),)),
    ("clip", np.clip, a_clip, (np.array([-0.9, -0.2, 0.1, 0.35, 1.4]),)),
    # below, inside and above [lo, hi]; the last two entries have hi < lo (the result is hi)
    ("clip", np.clip, a_clip_bounds, (np.array([-0.9, 0.1, 1.4, 0.3, 2.0]),
                                      np.array([-0.5, -0.5, -0.5, 0.9, 0.9]),
                                      np.array([0.5, 0.5, 0.5, 0.2, 0.2]))),
    ("logaddexp", np.logaddexp, a_logaddexp, (_n(4), _n(4))),
    ("select", np.where, a_where, (np.array([0.5, -1.0, 2.0]), np.array([0.1, 0.3, -0.4]))),
    ("getitem", None, a_getitem_slice, (_n(3, 3),)),
    ("setitem", None, a_setitem, (_n(3, 2), 0.7)),
    ("concatenate", np.concatenate, a_concatenate, (_n(2), _n(3))),
    ("stack", np.stack, a_stack, (_n(3), _n(3))),
    ("zeros", np.zeros, a_constructors, (_n(3),)),
    ("ones", np.ones, a_constructors, (_n(3),)),
    ("eye", np.eye, a_constructors, (_n(3),)),
    ("full", np.full, a_constructors, (_n(3),)),
    ("arange", np.arange, a_constructors, (_n(3),)),
    ("zeros_like", np.zeros_like, a_constructors, (_n(3),)),
    ("ones_like", np.ones_like, a_constructors, (_n(3),)),
    ("shape", np.shape, a_shape_queries, (_n(3),)),
    ("ndim", np.ndim, a_shape_queries, (_n(3),)),
    ("size", np.size, a_shape_queries, (_n(3),)),
    ("len", len, a_shape_queries, (_n(3),)),
    ("list_append", None, a_list_stack, (_n(3),)),
    ("stack_list", None, a_list_stack, (_n(3),)),
]

ARRAY_PARAMS = [pytest.param(fn, args, id=f"{fn.__name__}-{prim}") for prim, _obj, fn, args in ARRAY_CASES]


def _float_positions(args):
    return tuple(i for i, a in enumerate(args)
                 if isinstance(a, float) or (isinstance(a, np.ndarray) and a.dtype.kind == "f"))


@pytest.mark.parametrize("fn, args", ARRAY_PARAMS)
def test_array_rule_matches_central_differences(fn, args):
    wrt = _float_positions(args)
    value, grads = value_and_grad(fn, wrt=wrt)(*args)
    assert value == pytest.approx(fn(*args), rel=1e-12)
    for i, g in zip(wrt, grads):
        assert np.shape(g) == np.shape(args[i])
        numeric = numerical_grad(fn, args, i)
        np.testing.assert_allclose(g, numeric, rtol=RTOL, atol=1e-8, err_msg=f"{fn.__name__} arg {i}")


@pytest.mark.parametrize("prim, fn", [pytest.param(p, fn, id=f"{fn.__name__}-{p}")
                                      for p, _obj, fn, _ in ARRAY_CASES])
def test_array_case_lowers_to_the_primitive_it_claims(prim, fn):
    graph, _ = lower(fn)
    assert prim in {e.prim for e in graph.eqns}


POINT_CASES = [
    pytest.param(fn, point, id=f"{fn.__name__}-at-{','.join(f'{v:g}' for v in point)}")
    for _prim, _lib, fn, points in CASES for point in points
]


@functools.lru_cache(maxsize=None)
def _compiled(fn, arity):
    return grad(fn, wrt=tuple(range(arity)))


@pytest.mark.parametrize("fn, point", POINT_CASES)
def test_rule_matches_central_differences(fn, point):
    g = _compiled(fn, len(point))(*point)
    assert isinstance(g, tuple) and len(g) == len(point)
    for i, gi in enumerate(g):
        numeric = numerical_grad(fn, point, i)
        assert np.ndim(gi) == 0
        assert float(gi) == pytest.approx(numeric, rel=RTOL, abs=ATOL), (fn.__name__, point, i)


@pytest.mark.parametrize("fn, point", POINT_CASES)
def test_rule_passes_check_grad_and_value_is_plain_value(fn, point):
    report = check_grad(fn, *point)
    assert report.passed, str(report)
    value, _ = value_and_grad(fn, wrt=tuple(range(len(point))))(*point)
    assert value == fn(*point)


# --- piecewise-constant primitives: an exact zero, never a tiny number ---------------------------

@pytest.mark.parametrize("x", [-2.3, 0.4, 1.65])
def test_floor_ceil_trunc_round_contribute_exactly_zero(x):
    # d/dx [floor(x) * x] = floor(x): the rule for floor adds nothing (not even a rounding error).
    for fn, step in [(floor_math, math.floor), (ceil_np, math.ceil), (trunc_math, math.trunc),
                     (round_builtin, round), (int_builtin, int)]:
        k = step(x)
        assert _compiled(fn, 1)(x)[0] == pytest.approx((1.7 + 2.0 * k * x) * k, rel=1e-14, abs=0.0)


def test_floordiv_gradient_wrt_divisor_is_exactly_zero():
    gx, gy = _compiled(floordiv_op, 2)(5.3, 2.1)
    assert gy == 0.0
    assert gx == pytest.approx((1.7 + 2.0 * 2.0 * 5.3) * 2.0, rel=1e-14)


def test_comparison_result_routes_no_gradient_to_its_operands():
    # (x > y) * x + y: d/dy is the seed's derivative only (no contribution through the comparison).
    for x, y in [(1.3, -0.7), (-0.4, 2.2)]:
        r = (x > y) * x + y
        gx, gy = _compiled(gt_op, 2)(x, y)
        assert gy == pytest.approx(1.7 + 2.0 * r, rel=1e-14)
        assert gx == pytest.approx((1.7 + 2.0 * r) * (x > y), rel=1e-14)


# --- at ties and kinks: the convention of README's "Kinks and ties" (tests/runtime/test_kinks.py
# checks every row in both designs and against PyTorch) ------------------------------------------------

@pytest.mark.parametrize("fn", [max_builtin, min_builtin, max_np_maximum, min_np_minimum])
def test_max_min_tie_splits_the_gradient_evenly(fn):
    # At x == y both inputs are the result: each gets half of g (PyTorch, JAX), never all or double.
    gx, gy = _compiled(fn, 2)(0.8, 0.8)
    seed = 1.7 + 2.0 * 0.8
    assert (gx, gy) == pytest.approx((seed / 2, seed / 2), rel=1e-14)


def test_max_with_a_nan_sends_the_gradient_where_python_max_returns():
    # not a tie: Python's max(x, nan) is x, and x gets all of g (the two parts always sum to g)
    gx, gy = _compiled(max_builtin, 2)(0.8, math.nan)
    assert (gx, gy) == (1.7 + 2.0 * 0.8, 0.0)


def relu_np(x):
    return _seed(np.maximum(x, 0.0))


def test_relu_spelled_np_maximum_at_zero_is_a_tie():
    assert _compiled(relu_np, 1)(0.0) == (pytest.approx(1.7 / 2, rel=1e-14),)


@pytest.mark.parametrize("x", [-1.3, 0.4])
def test_abs_kink_side_sign(x):
    (g,) = _compiled(abs_builtin, 1)(x)
    assert g == pytest.approx((1.7 + 2.0 * abs(x)) * math.copysign(1.0, x), rel=1e-14)


def test_abs_at_zero_takes_subgradient_zero():
    for fn in (abs_builtin, abs_math_fabs, abs_np):
        assert _compiled(fn, 1)(0.0) == (0.0,)


# --- select: not reachable from user syntax (no `if`), so its rule is checked on a hand-built graph --

def _select_graph():
    """f(x, y) = select(x > y, x * x, 3 * y) * y, built directly in the IR."""
    x, y = Var("x"), Var("y")
    b = Builder()
    b.emit = functools.partial(_emit_raw, b)
    c = b.emit("gt", [x, y])
    xx = b.emit("mul", [x, x])
    y3 = b.emit("mul", [Const(3.0), y])
    s = b.emit("select", [c, xx, y3])
    out = b.emit("mul", [s, y])
    return Graph("sel", [x, y], b.eqns, [out])


def _emit_raw(builder, prim, ins, hint="", **params):
    from compiler.ir import Eqn
    out = Var(hint)
    builder.eqns.append(Eqn(prim, ins, (out,), params))
    return out


@pytest.mark.parametrize("point", [(1.3, -0.7), (-0.4, 2.2), (2.5, 1.9), (0.2, 0.9)])
def test_select_rule_on_hand_built_graph(point):
    primal = _select_graph()
    grads = evaluate(optimize(reverse(primal, [0, 1], with_value=False)), list(point))

    def f(x, y):
        return evaluate(primal, [x, y])[0]

    for i in range(2):
        assert grads[i] == pytest.approx(numerical_grad(f, point, i), rel=RTOL, abs=ATOL)
    x, y = point  # and by hand
    expected = (2 * x * y, x * x) if x > y else (0.0, 6.0 * y)
    assert grads == pytest.approx(list(expected), rel=1e-14)


# broadcast_to (the tape's) and index_grad (the adjoint of getitem, which the tape differentiates
# again) are reached by no user syntax either: their rules, on graphs `sum(W * prim(a, ...))`.
_W = np.random.default_rng(7).standard_normal((2, 3, 4))


def _one_prim_graph(prim, arg_names, extra_ins, weights, **params):
    args = [Var(n) for n in arg_names]
    b = Builder()
    b.emit = functools.partial(_emit_raw, b)
    out = b.emit(prim, args + [Const(v) for v in extra_ins], **params)
    weighted = b.emit("mul", [out, Const(weights)], lib="np")
    total = b.emit("sum", [weighted], lib="np")
    return Graph(prim, args, b.eqns, [total])


HAND_BUILT = {
    "select": None,  # above
    "broadcast_to": (lambda: _one_prim_graph("broadcast_to", ["x"], [2, 3, 4], _W), [_n(3, 1)]),
    "index_grad": (lambda: _one_prim_graph("index_grad", ["h", "x"], [np.array([0, 2, 0])],
                                           _W[0, :, :3], index=("atom",)),
                   [_n(3, 3), np.zeros((3, 3))]),
}


@pytest.mark.parametrize("prim", [p for p, case in HAND_BUILT.items() if case is not None])
def test_rule_of_a_primitive_no_syntax_reaches_on_a_hand_built_graph(prim):
    make, args = HAND_BUILT[prim]
    primal = make()
    grad_graph = optimize(reverse(primal, [0], with_value=False))
    got = evaluate(grad_graph, list(args))[0]

    def f(*vals):
        return evaluate(primal, list(vals))[0]

    assert np.shape(got) == np.shape(args[0])
    np.testing.assert_allclose(got, numerical_grad(f, args, 0), rtol=RTOL, atol=1e-8)


# --- every rule directly on a one-equation graph, in every library it has --------------------------

_RULE_POINTS = {1: [0.37, 0.81], 2: [(1.3, 0.7), (0.6, 1.9)], 3: [(True, 0.4, -1.1), (False, 0.4, -1.1)]}
_DOMAIN = {"acos": [0.37, -0.52], "asin": [0.37, -0.52], "log1p": [0.37, 0.81]}


_NOT_ELEMENTWISE = {"matmul", "outer", "transpose", "reshape", "expand_dims", "squeeze", "getitem",
                    "setitem", "sum", "mean", "amax", "amin", "prod", "clip", "cleared", "unbroadcast"}
_ELEMENTWISE = {p for p in PRIMS if not p.endswith("_grad")} - _NOT_ELEMENTWISE - set(LIBRARY)  # (tests/library)


def _scalar_rule(prim):
    """A rule that makes sense on floats: fixed arity, formulas over elementwise primitives."""
    rule = TABLE[prim]
    if prim not in _ELEMENTWISE or rule.rest is not None or PRIMS[prim].arity is None:
        return False
    called = {n.func.id for f in rule.formulas if f is not None for n in ast.walk(f)
              if isinstance(n, ast.Call)}
    return called <= _ELEMENTWISE


def _one_eqn_params():
    out = []
    for prim, entry in RULES.items():
        if all(f is None for f in entry[1:]) or not _scalar_rule(prim):
            continue
        libs = sorted((lib for lib, impl in PRIMS[prim].funcs.items() if impl is not None),
                      key=lambda lib: lib or "")
        for lib in libs:
            out.append(pytest.param(prim, lib, id=f"{prim}-{lib or 'op'}"))
    return out


@pytest.mark.parametrize("prim, lib", _one_eqn_params())
def test_rule_on_single_equation_graph(prim, lib):
    """reverse() of `out = prim(ins...)` (every input a parameter), evaluated by the reference evaluator."""
    arity = PRIMS[prim].arity
    params = [Var(n) for n in TABLE[prim].names]
    b = Builder()
    b.emit = functools.partial(_emit_raw, b)
    kw = {"lib": lib} if lib is not None else {}
    out = b.emit(prim, params, **kw)
    r = b.emit("mul", [out, out])  # seed 2*out
    primal = Graph(prim, params, b.eqns, [r])
    wrt = [i for i, f in enumerate(TABLE[prim].formulas) if f is not None]
    gradient = optimize(reverse(primal, wrt, with_value=False))
    points = _DOMAIN.get(prim, _RULE_POINTS[arity])
    for point in points:
        point = list(point) if isinstance(point, tuple) else [point]

        def f(*vals):
            return evaluate(primal, list(vals))[0]

        got = evaluate(gradient, point)
        for k, i in enumerate(wrt):
            assert float(got[k]) == pytest.approx(numerical_grad(f, point, i), rel=RTOL, abs=ATOL), \
                (prim, lib, point, i)


# --- the table itself -------------------------------------------------------------------------------

def _differentiable_rules():
    return {prim for prim, entry in RULES.items() if any(f is not None for f in entry[1:])}


def _covered_prims():
    return ({prim for prim, _lib, _fn, _points in CASES} | {prim for prim, _o, _fn, _a in ARRAY_CASES}
            | set(HAND_BUILT))  # rules no user syntax reaches, checked on hand-built graphs


def test_every_rule_has_a_case():
    # the library's functions have theirs in tests/library/ (test_library.py walks them)
    missing = _differentiable_rules() - _covered_prims() - set(LIBRARY)
    assert not missing, f"rules without a test case in test_rules.py: {sorted(missing)}"


# Primitives that only appear in adjoint graphs (the rules' helpers) need no rule of their own until
# higher derivatives exist. Anything else in PRIMS needs one.
ADJOINT_ONLY_EXTRA = {"unbroadcast",      # made by reverse.py
                      "tangent_by_rows",  # made by forward mode (rules.ROWS) ...
                      "fresh",            # ... and for a tangent that is an input
                      "float64"}          # by specialisation: a NumPy float64 argument's gradient


def _called_in_formulas():
    """Primitives the reverse formulas and the tangent terms call."""
    from compiler.rules import TANGENT_TABLE
    called = set()
    formulas = [f for rule in TABLE.values() for f in rule.formulas + [rule.rest_formula]]
    formulas += [t for rule in TANGENT_TABLE.values() for t in rule.terms + [rule.rest_term]
                 if isinstance(t, ast.AST)]
    for f in formulas:
        if f is not None:
            called |= {n.func.id for n in ast.walk(f) if isinstance(n, ast.Call)}
    return called


def test_every_primitive_has_a_rule_unless_it_only_serves_adjoints():
    assert set(RULES) <= set(PRIMS)
    without_rule = set(PRIMS) - set(TABLE)
    unexplained = without_rule - (_called_in_formulas() | ADJOINT_ONLY_EXTRA)
    assert not unexplained, f"primitives with no rule in compiler/rules.py: {sorted(unexplained)}"


def test_every_resolved_spelling_has_a_case():
    """Every Python callable the frontend maps onto a primitive (math.*, np.*, builtins) is tested."""
    covered_pairs = {(prim, lib) for prim, lib, _fn, _points in CASES}
    covered_objects = [obj for _p, obj, _fn, _a in ARRAY_CASES if obj is not None]
    missing = []
    for obj, (prim, lib) in RESOLVE.items():
        if prim in LIBRARY:
            continue  # tests/library/test_library.py
        if prim == "stop_gradient":
            continue  # differs from finite differences by design: tests/compiler/test_transforms.py
        if (prim, lib) not in covered_pairs and not any(obj is o for o in covered_objects):
            missing.append(f"{getattr(obj, '__name__', obj)} -> {prim}[{lib}]")
    missing += [f"{obj.__name__} -> {prim}" for obj, prim in VARIADIC.items()
                if (prim, None) not in covered_pairs]
    assert not missing, f"resolvable spellings without a case: {sorted(missing)}"


@pytest.mark.parametrize("prim", sorted(RULES))
def test_rule_entry_is_consistent_with_primitive_arity(prim):
    entry = RULES[prim]
    names = entry[0].split()
    rest = names.pop()[1:] if names and names[-1].startswith("*") else None
    formulas = entry[1:]
    arity = PRIMS[prim].arity
    if rest is None:
        assert len(names) == arity, "one name per input"
    else:
        assert arity is None or arity >= len(names), "a *rest entry is for a variadic primitive"
    assert len(formulas) in (0, len(names)) or rest and len(formulas) == len(names) + 1, \
        "one formula (or None) per named input (and one for the *rest), or none at all"
    assert len(set(names)) == len(names)
    assert not {"g", "out"} & set(names), "g and out are reserved by the notation"
    rule = TABLE[prim]
    parsed_all = rule.formulas + ([rule.rest_formula] if len(formulas) > len(names) else [])
    for k, (text, parsed) in enumerate(zip(formulas, parsed_all)):
        if text is None:
            assert parsed is None
            continue
        tree = ast.parse(text, mode="eval")  # parses as a Python expression
        called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call)}
        assert called <= set(PRIMS), f"{prim}: formula {text!r} calls unknown primitives"
        keyword_values = {k.value.id for n in ast.walk(tree) if isinstance(n, ast.Call)
                          for k in n.keywords if isinstance(k.value, ast.Name)}
        read = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - called - keyword_values
        allowed = set(names) | {"g", "out"} | ({rest} if rest else set())
        if k == len(names):  # the formula of the *rest inputs
            allowed |= {rest + "_shapes"}
        assert read <= allowed, f"{prim}: formula {text!r} reads unknown names {read - allowed}"
        assert "g" in read, f"{prim}: formula {text!r} must be linear in g"
    # What the rule says the backward pass saves (reads from the forward pass) is what it reads:
    # build the backward equations of `out = prim(ins...)` with vjp(), every input wanted, and
    # look at which of the forward values they (or the contributions returned as-is) read.
    from compiler.rules import vjp
    ins = [Var(n) for n in names] + ([Var(rest), Var(rest)] if rest else [])
    out, g = Var("out"), Var("g")
    lib = "np" if "np" in getattr(PRIMS[prim], "funcs", {}) else None
    eqn = Eqn(prim, ins, (out,), {"lib": lib} if lib else {})
    b = Builder()
    contributions = vjp(b, eqn, g, [True] * len(ins))
    read = {id(a) for e in b.eqns for a in e.ins} | {id(a) for a in contributions if a is not None}
    read |= {id(v) for e in b.eqns for v in e.params.values() if isinstance(v, Var)}
    if getattr(rule, "user_vjp", None) is not None and not rule.saves_out and id(out) in read:
        pytest.xfail("BUG (compiler/rules.py): a rule the user registers is called as "
                     "vjp(g, out, *args), so its backward pass reads `out`, but its Rule says "
                     "saves_out=False (derived from formulas it does not have)")
    assert rule.saves_out == (id(out) in read), f"{prim}: saves_out is {rule.saves_out}"
    assert rule.saves_inputs == [id(x) in read for x in ins[:len(names)]], \
        f"{prim}: saves_inputs is {rule.saves_inputs}"


def test_differentiable_flag_agrees_with_rule_table():
    flagged = {name for name, p in PRIMS.items() if p.differentiable}
    assert flagged == _differentiable_rules()
