"""The transformations beside `grad` (compiler/transforms.py): jvp, vjp, jacobian, hessian, hvp, and
stop_gradient, on scalar `math` code, NumPy array code and control flow.

Every derivative is checked against an independent reference: central differences of the function
itself (or of `compiler.grad` for second derivatives), the gradient dotted with the tangent, and, for
Hessians, torch.autograd.functional.hessian when torch is importable. Random points come from
`np.random.default_rng` with fixed seeds, away from kinks. The functions under test live at module
level in this file (the compiler reads their source).

Tests marked xfail(strict=True) pin compiler bugs found while writing these tests; each reason says
what is wrong. They turn into failures (XPASS strict) when the compiler is fixed: then drop the mark.
"""
import contextlib
import math

import numpy as np
import pytest

from compiler import (GradError, grad, hessian, hvp, jacobian, jvp, register, stop_gradient,
                      value_and_grad, vjp)
from runtime.gradcheck import EPS_SCALE, compare


# --- references ------------------------------------------------------------------------------------

def _is_float_arg(a):
    return isinstance(a, float) or isinstance(a, np.ndarray) and a.dtype.kind == "f"


def _float_positions(args):
    return tuple(k for k, a in enumerate(args) if _is_float_arg(a))


def _copy(a):
    return a.copy() if isinstance(a, np.ndarray) else a


def _random_like(rng, a):
    return rng.normal(size=a.shape) if isinstance(a, np.ndarray) else float(rng.normal())


def fd_directional(f, args, wrt, tangents):
    """d/dt f(args + t * tangents) at t = 0 by a central difference (tangents on `wrt` only)."""
    scale = max(max(float(np.max(np.abs(args[k]))) for k in wrt), 1.0)
    size = max(float(np.max(np.abs(t))) for t in tangents) or 1.0
    h = EPS_SCALE * scale / size

    def at(s):
        moved = [_copy(a) for a in args]
        for k, t in zip(wrt, tangents):
            moved[k] = args[k] + s * t
        return np.asarray(f(*moved), dtype=np.float64)

    return (at(h) - at(-h)) / (2.0 * h)


def fd_jacobian(f, args, k):
    """The Jacobian of f in args[k] by central differences: shape out.shape + args[k].shape."""
    x0 = np.asarray(args[k], dtype=np.float64)
    columns = {}
    for idx in np.ndindex(x0.shape):
        h = EPS_SCALE * max(1.0, abs(float(x0[idx])))
        up, down = x0.copy(), x0.copy()
        up[idx] += h
        down[idx] -= h
        a_up, a_down = [_copy(a) for a in args], [_copy(a) for a in args]
        a_up[k] = up if x0.shape else float(up)
        a_down[k] = down if x0.shape else float(down)
        columns[idx] = (np.asarray(f(*a_up), dtype=np.float64)
                        - np.asarray(f(*a_down), dtype=np.float64)) / (2.0 * h)
    out_shape = np.shape(next(iter(columns.values())))
    jac = np.zeros(out_shape + x0.shape)
    for idx, col in columns.items():
        jac[(...,) + idx] = col
    return jac


def fd_hessian(f, args, i, j):
    """d(grad_i f)/d args[j] by central differences of compiler.grad: shape x_i.shape + x_j.shape."""
    g = grad(f, wrt=i)
    return fd_jacobian(lambda *a: g(*a), args, j)


def assert_close(got, want, atol=1e-6, rtol=1e-5, what=""):
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, reference {want.shape}"
    err, rel, ok = compare(got, want, atol=atol, rtol=rtol)
    assert ok, f"{what}: max abs error {err:.3g} (rel {rel:.3g})\n got {got}\nwant {want}"


@contextlib.contextmanager
def one_line():
    """For expected failures: an error deep in the compiler reported in one line (pytest formats
    tracebacks through the compiler's large modules slowly)."""
    try:
        yield
        return
    except AssertionError:
        raise
    except Exception as exc:  # noqa: BLE001
        message = f"{type(exc).__name__}: {str(exc)[:600]}"
    raise pytest.fail.Exception(message, pytrace=False) from None


# --- functions: scalar code ------------------------------------------------------------------------

def trig_exp(x, y):
    return math.sin(x) * y + math.exp(x * y) + math.log(1.0 + x * x) / (y * y + 1.0)


def mixed_math(x, y):
    return math.tanh(x) * math.sqrt(y) + math.atan2(x, y) + math.hypot(x, y) + x ** y + math.cosh(x / y)


def seed_chain(x):
    # lecture 004: log(x^2) + 1
    return math.log(x ** 2) + 1


# --- functions: NumPy array code -------------------------------------------------------------------

def mlp_loss(W1, b1, W2, b2, X, T):
    H = np.tanh(X @ W1 + b1)
    Y = H @ W2 + b2
    return np.mean((Y - T) ** 2)


def mlp_out(W1, b1, W2, X):
    return np.tanh(X @ W1 + b1) @ W2


def softmax(x):
    e = np.exp(x - np.max(x))
    return e / np.sum(e)


def logsumexp(x):
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m)))


def softmax_cross_entropy(Z, labels_onehot):
    m = np.max(Z, axis=1, keepdims=True)
    logp = Z - m - np.log(np.sum(np.exp(Z - m), axis=1, keepdims=True))
    return -np.sum(labels_onehot * logp) / Z.shape[0]


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def matmul_chain(A, B):
    return np.sin(A) @ B @ A


def broadcast_mix(x, y, b):
    return np.sin(x[:, None] * y[None, :] + b) * np.exp(-y)


def axis_reductions(X):
    col = np.sum(X * X, axis=0)
    row = np.mean(np.sin(X), axis=1, keepdims=True)
    return col * row + np.max(X, axis=1, keepdims=True) * np.prod(X, axis=0)


def reductions_scalar(X):
    return np.sum(axis_reductions(X) ** 2) + np.sum(np.mean(X, axis=0)) * np.sum(np.min(X, axis=1))


def reductions_smooth(X):
    # reductions with axis whose Hessians forward mode has (np.prod's has no tangent for its
    # adjoint helper yet: see test_hessian_through_a_helper_without_a_tangent_names_the_users_line)
    col = np.sum(X * X, axis=0)
    row = np.mean(np.sin(X), axis=1, keepdims=True)
    top = np.max(X, axis=1, keepdims=True)
    return np.sum((col * row + top * col) ** 2) + np.sum(np.mean(X ** 3, axis=0)) * np.sum(np.min(X, axis=1))


# --- functions: control flow -----------------------------------------------------------------------

def branch(x, y):
    if x * y > 0.5:
        z = x * x * y
    else:
        z = math.sin(x) + y
    return z * 2.0


def for_range(x, n):
    s = 0.0
    for i in range(n):
        s = s + math.sin(x * (i + 1.0)) * s + x
    return s


def for_array(W, h, n):
    for i in range(n):
        h = np.tanh(W @ h + 0.1)
    return h


def while_grow(x):
    y = x
    while y < 10.0:
        y = y * 1.7 + math.sin(y)
    return y


def early_return(x, y):
    if x < 0.0:
        return -x * y
    z = math.exp(x) * y
    if z > 5.0:
        return z * z
    return z + x


def loop_break(x):
    s = x
    for i in range(10):
        s = s * math.cos(s) + 1.0
        if s > 1.2:
            break
    return s * x


def _helper(a, b):
    return np.tanh(a) * b


def uses_helper(x, y):
    return np.sum(_helper(x, y) ** 2 + _helper(y, x))


def rows_loop(X, w):
    s = 0.0
    for row in X:
        s = s + np.sum(np.sin(row * w))
    return s


def nested_loops(x, n):
    s = x
    for i in range(n):
        for j in range(i):
            s = s * 0.9 + math.sin(s * j)
    return s


def while_array(x):
    while np.sum(x * x) < 50.0:
        x = x * 1.5 + np.sin(x)
    return x


def where_clip_abs(x):
    return np.sum(np.where(x > 0, x ** 2, np.exp(x)) + np.clip(x, -0.5, 0.5) * x
                  + np.abs(x) ** 3 + np.maximum(x, 0.1) * x)


def py_min_max_abs(x, y):
    return max(x, y) * min(x * x, y) + abs(x - y)


def setitem_copy(x):
    y = x.copy()
    y[1] = x[0] * x[2]
    y[2:] = np.sin(x[:2])
    return np.sum(y ** 2)


def concat_stack(x, y):
    return np.sum(np.concatenate([x, y * 2.0]) ** 3) + np.sum(np.stack([x, y]).T @ np.ones(2) * x)


def fancy_index(x):
    idx = np.array([0, 2, 2, 1])
    return np.sum(x[idx] ** 2 * x[1:3].reshape(2, 1))


SCALAR_OUT = [
    (trig_exp, (0.3, 1.2)),
    (mixed_math, (0.7, 1.3)),
    (seed_chain, (3.0,)),
    (mlp_loss, None),
    (logsumexp, None),
    (softmax_cross_entropy, None),
    (rosenbrock, None),
    (reductions_scalar, None),
    (branch, (0.9, 1.1)),
    (branch, (0.2, 0.4)),
    (for_range, (0.4, 4)),
    (while_grow, (1.3,)),
    (early_return, (-0.5, 2.0)),
    (early_return, (0.3, 2.0)),
    (early_return, (0.9, 3.0)),
    (loop_break, (0.3,)),
    (loop_break, (0.9,)),
    (uses_helper, None),
    (rows_loop, None),
    (nested_loops, (0.3, 4)),
    (where_clip_abs, None),
    (py_min_max_abs, (0.3, 0.7)),
    (py_min_max_abs, (0.9, 0.2)),
    (setitem_copy, None),
    (concat_stack, None),
    (fancy_index, None),
]

VECTOR_OUT = ["mlp_out", "softmax", "matmul_chain", "broadcast_mix", "axis_reductions", "for_array",
              "while_array"]


def _args(name, seed=0):
    rng = np.random.default_rng(seed)
    n = rng.normal
    if name == "mlp_loss":
        return (n(size=(3, 4)), n(size=4), n(size=(4, 2)), n(size=2), n(size=(5, 3)),
                n(size=(5, 2)))
    if name == "mlp_out":
        return (n(size=(3, 4)), n(size=4), n(size=(4, 2)), n(size=(5, 3)))
    if name in ("softmax", "logsumexp"):
        return (n(size=5),)
    if name == "softmax_cross_entropy":
        return (n(size=(4, 3)), np.eye(3)[[0, 2, 1, 2]])
    if name == "rosenbrock":
        return (n(size=5),)
    if name == "matmul_chain":
        return (n(size=(3, 4)), n(size=(4, 3)))
    if name == "broadcast_mix":
        return (n(size=3), n(size=4), n(size=4))
    if name in ("axis_reductions", "reductions_scalar", "reductions_smooth"):
        return (n(size=(3, 4)) + 2.0 * np.sign(n(size=(3, 4))),)  # away from ties and zeros
    if name == "for_array":
        return (0.5 * n(size=(3, 3)), n(size=3), 3)
    if name in ("uses_helper", "concat_stack"):
        return (n(size=3), n(size=3))
    if name == "rows_loop":
        return (n(size=(4, 3)), n(size=3))
    if name == "while_array":
        return (n(size=3),)
    if name == "where_clip_abs":
        return (np.array([-1.3, -0.3, 0.25, 0.7, 1.4, -2.0]),)  # away from the kinks
    if name in ("setitem_copy", "fancy_index"):
        return (n(size=4 if name == "setitem_copy" else 3),)
    raise KeyError(name)


FUNCS = {f.__name__: f for f in (mlp_out, softmax, matmul_chain, broadcast_mix, axis_reductions,
                                 for_array, while_array)}


def _case(f, args):
    return f, (args if args is not None else _args(f.__name__))


def _id(case):
    f, args = case
    return f.__name__ + ("" if args is None else "-" + "-".join(
        str(a) for a in args if not isinstance(a, np.ndarray)))


# --- jvp ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", SCALAR_OUT, ids=_id)
def test_jvp_matches_differences_and_gradient_dot_tangent(case):
    f, args = _case(*case)
    wrt = _float_positions(args)
    rng = np.random.default_rng(1)
    tangents = tuple(_random_like(rng, args[k]) for k in wrt)
    out, d = jvp(f, args, tangents, wrt=wrt)
    assert_close(out, f(*args), atol=1e-12, rtol=1e-12, what="jvp's primal")
    assert np.ndim(d) == 0
    assert_close(d, fd_directional(f, args, wrt, tangents), what="jvp vs differences")
    grads = grad(f, wrt=wrt)(*args)
    want = sum(float(np.sum(g * t)) for g, t in zip(grads, tangents))
    assert_close(d, want, atol=1e-10, rtol=1e-10, what="jvp vs grad . v")


@pytest.mark.parametrize("name", VECTOR_OUT)
def test_jvp_of_array_outputs_matches_differences(name):
    f, args = FUNCS[name], _args(name)
    wrt = _float_positions(args)
    rng = np.random.default_rng(2)
    tangents = tuple(_random_like(rng, args[k]) for k in wrt)
    out, d = jvp(f, args, tangents, wrt=wrt)
    assert_close(out, f(*args), atol=1e-12, rtol=1e-12, what="jvp's primal")
    assert np.shape(d) == np.shape(out)
    assert_close(d, fd_directional(f, args, wrt, tangents), what="jvp vs differences")


def test_jvp_is_linear_in_the_tangent():
    args = _args("mlp_out")
    rng = np.random.default_rng(3)
    t1 = tuple(_random_like(rng, a) for a in args)
    t2 = tuple(_random_like(rng, a) for a in args)
    f = jvp(mlp_out)
    d1, d2 = f(args, t1)[1], f(args, t2)[1]
    d12 = f(args, tuple(2.0 * a - 3.0 * b for a, b in zip(t1, t2)))[1]
    assert_close(d12, 2.0 * d1 - 3.0 * d2, atol=1e-12, rtol=1e-10)


def test_jvp_with_a_subset_of_arguments_by_index_and_by_name():
    args = (0.3, 1.2)
    by_index = jvp(trig_exp, args, (1.0,), wrt=1)
    by_name = jvp(trig_exp, args, (1.0,), wrt="y")
    want = grad(trig_exp, wrt=1)(*args)
    assert by_index[1] == pytest.approx(want, rel=1e-12)
    assert by_name[1] == pytest.approx(want, rel=1e-12)
    # an integer argument (a loop bound) is left out of wrt
    out, d = jvp(for_range, (0.4, 4), (1.0,), wrt=0)
    assert float(d) == pytest.approx(grad(for_range, wrt=0)(0.4, 4), rel=1e-12)


def test_jvp_of_a_scalar_function_returns_plain_floats():
    out, d = jvp(trig_exp, (0.3, 1.2), (1.0, 0.5))
    assert type(out) is float and type(d) is float


def identity(x):
    return x


def test_jvp_float_tangents_are_floats():
    assert type(jvp(identity, (1.0,), (2.0,))[1]) is float
    out, d = jvp(for_range, (0.4, 4), (1.0,), wrt=0)
    assert type(out) is float and type(d) is float
    assert type(jvp(branch, (0.2, 0.4), (1.0, 0.0))[1]) is float


def test_jvp_of_an_output_that_does_not_depend_on_the_input_is_zero():
    def const_in_x(x, y):
        return y * 2.0
    out, d = jvp(const_in_x, (np.ones(3), 1.5), (np.ones(3),), wrt=0)
    assert out == 3.0 and d == 0.0
    out, d = jvp(lambda x, y: y * 2.0, (1.0, np.ones(3)), (1.0,), wrt=0)
    np.testing.assert_array_equal(d, np.zeros(3))


def test_jvp_accepts_a_list_tangent_for_an_array_argument():
    out, d = jvp(softmax, (np.array([0.1, 0.2, 0.3]),), ([1.0, 0.0, -1.0],))
    want = fd_directional(softmax, (np.array([0.1, 0.2, 0.3]),), (0,), (np.array([1.0, 0.0, -1.0]),))
    assert_close(d, want)


def test_jvp_does_not_write_the_callers_arrays():
    args = _args("mlp_loss")
    before = [a.copy() for a in args]
    tangents = tuple(np.ones_like(a) for a in args)
    kept = [t.copy() for t in tangents]
    jvp(mlp_loss, args, tangents)
    for a, b in zip(args + tangents, before + kept):
        np.testing.assert_array_equal(a, b)


def test_jvp_of_float32_code_keeps_float32():
    x = np.array([0.1, 0.2], dtype=np.float32)
    out, d = jvp(lambda x: np.sin(x) * x, (x,), (np.ones(2, np.float32),))
    assert out.dtype == np.float32 and d.dtype == np.float32


def test_jvp_source_reads_like_forward_mode():
    f = jvp(trig_exp)
    f((0.3, 1.2), (1.0, 0.0))
    src = f.source
    assert "def trig_exp_jvp(x, y, x_dot, y_dot)" in src
    assert "_dot" in src and "x_dot" in src
    assert "# trig_exp, line" in src  # each block headed by the user's line
    assert "cos(x)" in src  # sin's tangent
    lines = [ln.strip() for ln in src.splitlines()]
    assert lines[-2].startswith("return ") and "_dot" in lines[-2]


def test_jvp_source_of_array_code_names_tangents_after_their_values():
    f = jvp(mlp_out)
    args = _args("mlp_out")
    f(args, tuple(np.ones_like(a) for a in args))
    src = f.source
    for name in ("W1_dot", "b1_dot", "W2_dot", "X_dot"):
        assert name in src
    assert "tanh(" in src and ("matmul" in src or "@" in src)


# --- vjp ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", SCALAR_OUT, ids=_id)
def test_vjp_of_a_scalar_output_is_the_gradient_scaled_by_the_seed(case):
    f, args = _case(*case)
    wrt = _float_positions(args)
    out, back = vjp(f, *args, wrt=wrt)
    assert_close(out, f(*args), atol=0, rtol=0, what="vjp's value")
    grads = grad(f, wrt=wrt)(*args)
    for seed in (1.0, -2.5):
        got = back(seed)
        assert isinstance(got, tuple) and len(got) == len(wrt)
        for g, want in zip(got, grads):
            assert_close(g, seed * np.asarray(want), atol=1e-12, rtol=1e-12, what="vjp vs grad")


@pytest.mark.parametrize("name", VECTOR_OUT)
def test_vjp_of_array_outputs_matches_the_difference_jacobian(name):
    f, args = FUNCS[name], _args(name)
    wrt = _float_positions(args)
    out, back = vjp(f, *args, wrt=wrt)
    rng = np.random.default_rng(4)
    seed = rng.normal(size=np.shape(out))
    got = back(seed)
    for k, g in zip(wrt, got):
        J = fd_jacobian(f, args, k)
        want = np.tensordot(seed, J, axes=np.ndim(out))
        assert_close(g, want, what=f"vjp d/d arg {k}")


def lecture_001(x):
    # lecture 001: y = f1(x) = x ** 2, z = f2(y) = 2 y + sin(y), with 2-vectors
    y = x ** 2
    return 2 * y + np.sin(y)


def test_vjp_lecture_external_gradient_0_2_0_8():
    """Lecture 001: backward with the external gradient [0.2, 0.8] weights dz1 by 0.2 and dz2 by
    0.8: dz/dx = [0.2, 0.8] * 2x (2 + cos(x^2))."""
    x = np.array([1.0, 2.0])
    z, back = vjp(lecture_001, x)
    np.testing.assert_allclose(z, 2 * x ** 2 + np.sin(x ** 2), rtol=1e-15)
    local = 2 * x * (2 + np.cos(x ** 2))
    (dx,) = back(np.array([0.2, 0.8]))
    np.testing.assert_allclose(dx, [0.2, 0.8] * local, rtol=1e-14)
    # ones as the external gradient: the sum of the Jacobian's rows (the gradient of sum(z))
    (ones,) = back(np.ones(2))
    np.testing.assert_allclose(ones, local, rtol=1e-14)
    np.testing.assert_allclose(dx, np.array([0.2, 0.8]) @ fd_jacobian(lecture_001, (x,), 0),
                               rtol=1e-6)


def test_vjp_single_wrt_gives_the_gradient_alone():
    def prod(x, y):
        return x * y
    assert vjp(prod, 2.0, 3.0, wrt=0)[1](1.0) == 3.0
    assert vjp(prod, 2.0, 3.0, wrt="y")[1](1.0) == 2.0
    assert vjp(prod, 2.0, 3.0, wrt=(1,))[1](1.0) == (2.0,)


def test_vjp_back_uses_the_arguments_as_they_were_when_called():
    x = np.array([1.0, 2.0])
    out, back = vjp(lecture_001, x)
    x[:] = 100.0
    (dx,) = back(np.ones(2))
    np.testing.assert_allclose(dx, 2 * np.array([1.0, 2.0]) * (2 + np.cos([1.0, 4.0])), rtol=1e-14)
    (again,) = back(np.ones(2))  # callable twice
    np.testing.assert_array_equal(again, dx)


def test_vjp_back_has_readable_source():
    out, back = vjp(lecture_001, np.array([1.0, 2.0]))
    assert "def lecture_001" in back.source and "dx" in back.source


# --- jacobian ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", VECTOR_OUT)
def test_jacobian_forward_and_reverse_agree_with_differences(name):
    f, args = FUNCS[name], _args(name)
    wrt = _float_positions(args)
    rev = jacobian(f, wrt=wrt, mode="rev")(*args)
    fwd = jacobian(f, wrt=wrt, mode="fwd")(*args)
    assert isinstance(rev, tuple) and len(rev) == len(wrt)
    out = f(*args)
    for k, r, w in zip(wrt, rev, fwd):
        assert r.shape == np.shape(out) + np.shape(args[k])
        assert_close(r, w, atol=1e-12, rtol=1e-10, what=f"rev vs fwd, arg {k}")
        assert_close(r, fd_jacobian(f, args, k), what=f"rev vs differences, arg {k}")


@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_jacobian_of_scalar_code(mode):
    J = jacobian(trig_exp, wrt=(0, 1), mode=mode)(0.3, 1.2)
    assert J == pytest.approx(grad(trig_exp, wrt=(0, 1))(0.3, 1.2), rel=1e-12)
    assert jacobian(lambda x: x ** 3, mode=mode)(2.0) == pytest.approx(12.0)
    # scalar output of an array: the gradient; array output of a number: a column
    np.testing.assert_allclose(jacobian(rosenbrock, mode=mode)(*_args("rosenbrock")),
                               grad(rosenbrock)(*_args("rosenbrock")), rtol=1e-12)
    np.testing.assert_allclose(jacobian(lambda t: np.array([1.0, 2.0]) * t ** 2, mode=mode)(3.0),
                               [6.0, 12.0])


@pytest.mark.parametrize("mode", ["rev", "fwd"])
@pytest.mark.parametrize("case", [(branch, (0.9, 1.1)), (branch, (0.2, 0.4)),
                                  (early_return, (0.3, 2.0)), (while_grow, (1.3,)),
                                  (loop_break, (0.9,))], ids=_id)
def test_jacobian_through_control_flow(case, mode):
    f, args = case
    wrt = _float_positions(args)
    J = jacobian(f, wrt=wrt, mode=mode)(*args)
    for k, got in zip(wrt, J):
        assert_close(got, fd_jacobian(f, args, k), what=f"arg {k}")


def test_jacobian_of_a_loop_over_an_integer_bound():
    args = _args("for_array")
    for mode in ("rev", "fwd"):
        J = jacobian(for_array, wrt=(0, 1), mode=mode)(*args)
        assert_close(J[0], fd_jacobian(for_array, args, 0), what=f"{mode} d/dW")
        assert_close(J[1], fd_jacobian(for_array, args, 1), what=f"{mode} d/dh")


def test_jacobian_rejects_an_unknown_mode():
    with pytest.raises(ValueError, match="rev.*fwd"):
        jacobian(softmax, mode="forward")


# --- hessian and hvp ---------------------------------------------------------------------------------

HESSIAN_CASES = [
    (trig_exp, (0.3, 1.2)),
    (mixed_math, (0.7, 1.3)),
    (seed_chain, (3.0,)),
    (logsumexp, None),
    (rosenbrock, None),
    (softmax_cross_entropy, None),
    (reductions_smooth, None),
    (branch, (0.9, 1.1)),
    (branch, (0.2, 0.4)),
    (early_return, (-0.5, 2.0)),
    (early_return, (0.3, 2.0)),
    (early_return, (0.9, 3.0)),
    (uses_helper, None),
    (where_clip_abs, None),
    (py_min_max_abs, (0.3, 0.7)),
    (py_min_max_abs, (0.9, 0.2)),
    (setitem_copy, None),
    (concat_stack, None),
    (fancy_index, None),
]


@pytest.mark.parametrize("case", HESSIAN_CASES, ids=_id)
def test_hessian_matches_differences_of_the_gradient(case):
    f, args = _case(*case)
    wrt = _float_positions(args)[:2]
    H = hessian(f, wrt=wrt)(*args)
    assert isinstance(H, tuple) and len(H) == len(wrt)
    for a, i in enumerate(wrt):
        for b, j in enumerate(wrt):
            block = H[a][b]
            assert np.shape(block) == np.shape(args[i]) + np.shape(args[j])
            assert_close(block, fd_hessian(f, args, i, j), atol=1e-5, rtol=1e-5,
                         what=f"H[{i}][{j}]")
    for a in range(len(wrt)):  # symmetric: H[i][j] is H[j][i] transposed
        for b in range(len(wrt)):
            Hab, Hba = np.asarray(H[a][b]), np.asarray(H[b][a])
            nb = np.ndim(args[wrt[b]])  # Hba's first axes are x_b's
            Hba_t = Hba.transpose(list(range(nb, Hba.ndim)) + list(range(nb)))
            assert_close(Hab, Hba_t, atol=1e-10, rtol=1e-9, what="symmetry")


def test_hessian_of_the_mlp_loss_in_its_first_layer():
    args = _args("mlp_loss")
    H = hessian(mlp_loss, wrt=0)(*args)
    assert H.shape == (3, 4, 3, 4)
    assert_close(H, fd_hessian(mlp_loss, args, 0, 0), atol=1e-5, rtol=1e-5)
    assert_close(H, H.transpose(2, 3, 0, 1), atol=1e-12, rtol=1e-10, what="symmetry")
    Hb = hessian(mlp_loss, wrt=("W1", "b1"))(*args)
    assert_close(Hb[0][1], fd_hessian(mlp_loss, args, 0, 1), atol=1e-5, rtol=1e-5)
    assert_close(Hb[1][1], fd_hessian(mlp_loss, args, 1, 1), atol=1e-5, rtol=1e-5)


def _torch_funcs(torch):
    def t_rosenbrock(x):
        return torch.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

    def t_logsumexp(x):
        m = torch.max(x)
        return m + torch.log(torch.sum(torch.exp(x - m)))

    def t_mlp_W1(W1, b1, W2, b2, X, T):
        return torch.mean((torch.tanh(X @ W1 + b1) @ W2 + b2 - T) ** 2)

    def t_trig_exp(xy):
        x, y = xy[0], xy[1]
        return torch.sin(x) * y + torch.exp(x * y) + torch.log(1.0 + x * x) / (y * y + 1.0)

    return t_rosenbrock, t_logsumexp, t_mlp_W1, t_trig_exp


def test_hessian_matches_torch():
    torch = pytest.importorskip("torch")
    from torch.autograd.functional import hessian as torch_hessian
    t_rosenbrock, t_logsumexp, t_mlp, t_trig_exp = _torch_funcs(torch)
    T = lambda a: torch.tensor(a, dtype=torch.float64)  # noqa: E731
    for f, tf in ((rosenbrock, t_rosenbrock), (logsumexp, t_logsumexp)):
        (x,) = _args(f.__name__)
        want = torch_hessian(tf, T(x)).numpy()
        assert_close(hessian(f)(x), want, atol=1e-10, rtol=1e-10, what=f.__name__)
    args = _args("mlp_loss")
    rest = [T(a) for a in args[1:]]
    want = torch_hessian(lambda W1: t_mlp(W1, *rest), T(args[0])).numpy()
    assert_close(hessian(mlp_loss)(*args), want, atol=1e-10, rtol=1e-10, what="mlp_loss")
    H = hessian(trig_exp, wrt=(0, 1))(0.3, 1.2)
    want = torch_hessian(t_trig_exp, T([0.3, 1.2])).numpy()
    assert_close(np.array(H, dtype=float), want, atol=1e-12, rtol=1e-12, what="trig_exp")


@pytest.mark.parametrize("name", ["rosenbrock", "logsumexp", "softmax_cross_entropy", "mlp_loss"])
def test_hvp_is_the_hessian_times_v_and_the_gradients_directional_derivative(name):
    f = {"rosenbrock": rosenbrock, "logsumexp": logsumexp,
         "softmax_cross_entropy": softmax_cross_entropy, "mlp_loss": mlp_loss}[name]
    args = _args(name)
    x = args[0]
    v = np.random.default_rng(5).normal(size=x.shape)
    Hv = hvp(f)(*args, v)
    assert Hv.shape == x.shape
    H = hessian(f)(*args)
    want = np.tensordot(H, v, axes=x.ndim)
    assert_close(Hv, want, atol=1e-12, rtol=1e-10, what="hvp vs H @ v")
    g = grad(f, wrt=0)
    assert_close(Hv, fd_directional(lambda *a: g(*a), args, (0,), (v,)), atol=1e-5, rtol=1e-5,
                 what="hvp vs differences of grad")


def test_hvp_of_a_later_argument():
    def cubic(x, y):
        return x * y * y * y + math.sin(y)
    got = hvp(cubic, wrt=1)(2.0, 0.5, 1.5)
    assert got == pytest.approx(1.5 * (6.0 * 2.0 * 0.5 - math.sin(0.5)), rel=1e-12)
    # a tuple wrt: v is a tuple of vectors, and so is H v
    hx, hy = hvp(cubic, wrt=(0, 1))(2.0, 0.5, (1.0, 1.5))
    assert hx == pytest.approx(3 * 0.5 ** 2 * 1.5, rel=1e-12)
    assert hy == pytest.approx(3 * 0.5 ** 2 + 1.5 * (6.0 * 2.0 * 0.5 - math.sin(0.5)), rel=1e-12)


def test_hessian_source_differentiates_the_gradient_forwards():
    h = hessian(trig_exp)
    h(0.3, 1.2)
    src = h.source
    assert "def trig_exp_grad_jvp(" in src
    assert "dx_dot" in src  # the gradient's tangent: forward over reverse
    assert "# gradient of trig_exp, line" in src


def loop_in_hessian(x):
    s = 0.0
    for i in range(3):
        s = s + math.sin(x * (i + 1.0))
    return s


@pytest.mark.parametrize("name", ["loop_in_hessian", "while_grow", "for_range", "rows_loop",
                                  "nested_loops"])
def test_hessian_through_loops_matches_differences_of_the_gradient(name):
    """Forward over reverse through a loop: the forward loop pushes the tangents of what it saves,
    the reverse loop carries and accumulates tangents."""
    f, args = {"loop_in_hessian": (loop_in_hessian, (0.4,)), "while_grow": (while_grow, (1.3,)),
               "for_range": (for_range, (0.4, 4)), "rows_loop": (rows_loop, _args("rows_loop")),
               "nested_loops": (nested_loops, (0.3, 4))}[name]
    H = hessian(f, wrt=0)(*args)
    assert_close(H, fd_hessian(f, args, 0, 0), what="hessian through a loop")


def test_hessian_through_a_loop():
    with one_line():
        H = hessian(loop_in_hessian)(0.4)
    assert H == pytest.approx(-sum((i + 1.0) ** 2 * math.sin(0.4 * (i + 1.0)) for i in range(3)))


def test_hessian_of_an_array_output_is_refused_like_grad():
    with pytest.raises(GradError, match="scalar"):
        grad(lambda x: x * x)(np.ones(2))  # what grad says
    with pytest.raises(GradError, match="scalar"):
        hessian(lambda x: x * x)(np.ones(2))
    with one_line(), pytest.raises(GradError, match="scalar"):
        hessian(mlp_out)(*_args("mlp_out"))


# --- third order -------------------------------------------------------------------------------------

def sin_cubic(x):
    return math.sin(x) * x ** 3


def two_args_third(x, y):
    return x * x * y + math.exp(x * y) + math.tanh(x - y)


@pytest.mark.parametrize("f, x", [(sin_cubic, 0.7), (seed_chain, 3.0), (mixed_math, 0.7)],
                         ids=lambda v: getattr(v, "__name__", str(v)))
def test_third_derivative_grad_cubed_matches_differences_of_the_hessian(f, x):
    """Third order in one variable: grad(grad(grad(f))) against central differences of
    hessian(f); and hessian(f) itself against grad(grad(f))."""
    rest = (1.3,) if f is mixed_math else ()
    d2 = grad(grad(f, wrt=0), wrt=0)
    d3 = grad(d2, wrt=0)
    h = hessian(f, wrt=0)
    assert h(x, *rest) == pytest.approx(d2(x, *rest), rel=1e-12, abs=1e-14)
    step = EPS_SCALE * max(1.0, abs(x))
    fd = (h(x + step, *rest) - h(x - step, *rest)) / (2 * step)
    assert d3(x, *rest) == pytest.approx(fd, rel=1e-5, abs=1e-7)


def test_third_order_mixed_partial_matches_differences_of_the_hessian():
    H = hessian(two_args_third, wrt=(0, 1))
    x, y = 0.4, -0.3
    d_xyx = grad(grad(grad(two_args_third, wrt=0), wrt=1), wrt=0)(x, y)
    step = EPS_SCALE
    fd = (H(x + step, y)[0][1] - H(x - step, y)[0][1]) / (2 * step)
    assert d_xyx == pytest.approx(fd, rel=1e-5, abs=1e-7)
    # hvp along v, differentiated by differences in x: the third derivative contracted with v
    v = 0.7
    hv = hvp(two_args_third, wrt=0)
    d3 = grad(grad(grad(two_args_third, wrt=0), wrt=0), wrt=0)(x, y)
    fd_hv = (hv(x + step, y, v) - hv(x - step, y, v)) / (2 * step)
    assert fd_hv == pytest.approx(d3 * v, rel=1e-5, abs=1e-7)


def test_transformations_do_not_compose_they_refuse_a_compiled_function():
    """A gap (reported): third order by composing transformations (jvp of a gradient, hessian of
    a gradient, jvp of an hvp) is refused with a message naming the original function."""
    d1 = grad(sin_cubic)
    with pytest.raises(GradError, match="already a compiled gradient"):
        jvp(d1, (0.7,), (1.0,))
    with pytest.raises(GradError, match="already a compiled gradient"):
        hessian(d1)
    with pytest.raises(GradError, match="Python function"):
        jvp(hessian(sin_cubic), (0.7,), (1.0,))


def _calls_hvp(x):
    return hvp(sin_cubic)(x, 1.0)


def test_a_function_calling_a_compiled_derivative_is_refused_clearly():
    """A gap, refused at the user's line (it read compiler/transforms.py as the user's code and
    failed inside it): take the higher derivative of the original function instead."""
    with pytest.raises(GradError, match="compiled derivative"):
        jvp(_calls_hvp, (0.7,), (1.0,))
    d1 = grad(sin_cubic)
    with pytest.raises(GradError, match="compiled derivative of `sin_cubic`"):
        grad(lambda x: d1(x) * x)(0.7)


# --- stop_gradient -----------------------------------------------------------------------------------

def sg_scalar(x, y):
    return x * stop_gradient(x * y) + math.sin(stop_gradient(y)) * y


def sg_scalar_ref(x, y, cxy, cy):
    """sg_scalar with the stopped values as constants."""
    return x * cxy + math.sin(cy) * y


def test_stop_gradient_value_is_unchanged():
    assert sg_scalar(0.7, 1.3) == 0.7 * (0.7 * 1.3) + math.sin(1.3) * 1.3
    x = np.array([1.0, 2.0])
    assert stop_gradient(x) is x


def test_stop_gradient_in_grad_excludes_the_stopped_path():
    x, y = 0.7, 1.3
    got = grad(sg_scalar, wrt=(0, 1))(x, y)
    want = grad(sg_scalar_ref, wrt=(0, 1))(x, y, x * y, y)
    assert got == pytest.approx(want, rel=1e-14)
    assert got[0] == pytest.approx(x * y, rel=1e-14)  # not 2 x y
    assert got[1] == pytest.approx(math.sin(y), rel=1e-14)  # no x^2, no cos(y) y


def test_stop_gradient_in_jvp_and_hessian():
    x, y = 0.7, 1.3
    out, d = jvp(sg_scalar, (x, y), (0.4, -0.9))
    assert out == sg_scalar(x, y)
    assert d == pytest.approx(0.4 * x * y + (-0.9) * math.sin(y), rel=1e-14)
    H = hessian(sg_scalar, wrt=(0, 1))(x, y)
    np.testing.assert_allclose(np.array(H, dtype=float), np.zeros((2, 2)), atol=0)

    def cubic_sg(x):
        return x ** 3 * stop_gradient(math.sin(x))
    assert hessian(cubic_sg)(0.3) == pytest.approx(6 * 0.3 * math.sin(0.3), rel=1e-14)
    assert hvp(cubic_sg)(0.3, 2.0) == pytest.approx(12 * 0.3 * math.sin(0.3), rel=1e-14)


def sg_array(x):
    return np.sum(x ** 3 * stop_gradient(np.sin(x)))


@pytest.mark.parametrize("transform", ["grad", "jvp", "hessian"])
def test_stop_gradient_on_arrays(transform):
    with one_line():
        _stop_gradient_on_arrays(transform)


def _stop_gradient_on_arrays(transform):
    x = np.array([0.3, 0.5])
    if transform == "grad":
        np.testing.assert_allclose(grad(sg_array)(x), 3 * x ** 2 * np.sin(x), rtol=1e-14)
    elif transform == "jvp":
        v = np.array([1.0, -2.0])
        d = jvp(sg_array, (x,), (v,))[1]
        assert d == pytest.approx(np.sum(3 * x ** 2 * np.sin(x) * v), rel=1e-14)
    else:
        np.testing.assert_allclose(hessian(sg_array)(x), np.diag(6 * x * np.sin(x)), rtol=1e-14)


# --- errors ------------------------------------------------------------------------------------------

def test_wrong_tangent_shapes_are_clear_value_errors():
    x = np.array([0.1, 0.5])
    with pytest.raises(ValueError, match=r"tangent of `x` has shape \(3,\).*shape \(2,\)"):
        jvp(softmax, (x,), (np.ones(3),))
    with pytest.raises(ValueError, match="tangent of `x`.*is a number"):
        jvp(seed_chain, (3.0,), (np.ones(3),))
    with pytest.raises(ValueError, match=r"1 tangent\(s\) for 2 differentiated argument"):
        jvp(trig_exp, (0.3, 1.2), (1.0,))
    with pytest.raises(ValueError, match=r"seed of vjp's back has shape \(3,\)"):
        vjp(softmax, x)[1](np.ones(3))
    with pytest.raises(ValueError, match=r"hvp's vector for `x` has shape \(3,\)"):
        hvp(logsumexp)(x, np.ones(3))


def test_an_integer_differentiated_argument_is_refused():
    with pytest.raises(GradError, match="integer"):
        jvp(seed_chain, (3,), (1.0,))
    with pytest.raises(GradError, match="integer"):
        hessian(seed_chain)(3)


def transforms_softplus(x):
    return np.log1p(np.exp(x))


def _transforms_softplus_vjp(g, out, x):
    return g / (1.0 + np.exp(-x))


def uses_registered(x):
    y = x * 2.0
    return np.sum(transforms_softplus(y))


@pytest.fixture(scope="module")
def registered():
    register(transforms_softplus, _transforms_softplus_vjp)
    return uses_registered


def test_jvp_through_a_function_with_no_tangent_rule_names_the_users_line(registered):
    x = np.array([0.1, 0.5])
    np.testing.assert_allclose(grad(registered)(x), 2.0 / (1.0 + np.exp(-2.0 * x)), rtol=1e-14)
    line = uses_registered.__code__.co_firstlineno + 2
    for call in (lambda: jvp(registered, (x,), (np.ones(2),)), lambda: hessian(registered)(x),
                 lambda: jacobian(registered, mode="fwd")(x)):
        with pytest.raises(GradError) as info:
            call()
        text = str(info.value)
        assert f"line {line}, in uses_registered" in text
        assert "return np.sum(transforms_softplus(y))" in text
        assert "no tangent rule" in text and "reverse mode" in text
    # reverse mode still works, as the message says
    np.testing.assert_allclose(jacobian(registered, mode="rev")(x), grad(registered)(x))


def uses_det(A):
    return np.linalg.det(A) * 2.0


def uses_prod(x):
    return np.sum(np.prod(x, axis=0) * x)


def test_hessian_through_a_helper_without_a_tangent_names_the_users_line():
    """A gap, refused clearly: the adjoint helpers of det and prod (and 25 others marked UNKNOWN)
    have no tangent for their second input, so a hessian through them stops with a GradError at
    the user's line, while first order works."""
    A = np.eye(2) * 2.0 + 0.1
    out, d = jvp(uses_det, (A,), (np.ones((2, 2)),))  # first order is fine
    assert d == pytest.approx(float(np.sum(grad(uses_det)(A))), rel=1e-12)
    with pytest.raises(GradError, match="no tangent rule for det_grad") as info:
        hessian(uses_det)(A)
    assert "in uses_det" in str(info.value) and "np.linalg.det(A)" in str(info.value)
    x = np.array([[1.5, -0.7], [0.4, 2.0]])
    out, d = jvp(uses_prod, (x,), (np.ones((2, 2)),))
    assert d == pytest.approx(float(np.sum(grad(uses_prod)(x))), rel=1e-12)
    with pytest.raises(GradError, match="no tangent rule for prod_grad") as info:
        hessian(uses_prod)(x)
    assert "in uses_prod" in str(info.value)


def uses_cholesky(A):
    return np.sum(np.linalg.cholesky(A) ** 2)


def test_jvp_through_a_rows_tangent():
    A = np.array([[2.0, 0.3], [0.3, 1.5]])
    T = np.array([[0.5, -0.2], [-0.2, 0.1]])
    with one_line():
        out, d = jvp(uses_cholesky, (A,), (T,))
    assert_close(d, fd_directional(uses_cholesky, (A,), (0,), (T,)))


def list_last(x):
    a = [x * 1.0]
    for i in range(3):
        a.append(math.sin(a[-1]))
    return a[-1]


def test_list_made_with_items_and_appended_in_a_loop_is_refused_not_wrong():
    """Found here: the loop did not carry such a list, and a[-1] read the item from before the
    loop (a silent wrong value, in reverse mode too). Now refused at the loop, saying what to do;
    a dict changed in a loop is refused the same way (it was an internal error)."""
    for transform in (lambda: value_and_grad(list_last)(0.3),
                      lambda: jvp(list_last, (0.3,), (1.0,))):
        with pytest.raises(GradError, match="appended to in this loop"):
            transform()

    def dict_in_loop(x):
        d = {"a": x}
        for i in range(2):
            d["a"] = d["a"] * 2.0
        return d["a"]
    with pytest.raises(GradError, match="holds a dict"):
        value_and_grad(dict_in_loop)(0.3)


def _stack_with_a_constant(x):
    lam1 = lambda l1: (l1 * np.sum(np.stack([(v2 * l1) for v2 in (x, l1)])))  # noqa: E731
    return lam1(0.5)


def test_a_constant_beside_a_tangent_in_a_linear_primitive_has_tangent_zero():
    """Found by the fuzzers' forward cross-check: np.stack([x * 0.5, 0.25]) gave the constant
    0.25 as its own tangent (a linear primitive's other inputs must be zeros, constants too)."""
    out, d = jvp(_stack_with_a_constant, (0.0,), (0.9130334170387961,))
    assert d == pytest.approx(0.25 * 0.9130334170387961, rel=1e-14)
    out, d = jvp(lambda x: np.sum(np.concatenate([np.array([1.0, 2.0]), x * 2.0])),
                 (np.ones(2),), (np.ones(2),))
    assert d == pytest.approx(4.0, rel=1e-14)
