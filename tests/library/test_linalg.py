"""numpy.linalg: each function's gradient, both designs, against central differences."""
import numpy as np
import pytest

import runtime as rt
from compiler import grad
from harness import Case, check_compiler, check_tape

rng = np.random.default_rng(7)
A = rng.normal(size=(3, 3)) + 3.0 * np.eye(3)
BATCH = rng.normal(size=(2, 3, 3)) + 3.0 * np.eye(3)


def det_times_sum(a):
    return np.linalg.det(a) * np.sum(a)


def det_batched(a):
    return np.sum(np.linalg.det(a) ** 2)


def inv_weighted(a):
    return np.sum(np.linalg.inv(a) * np.arange(9.0).reshape(3, 3))


def inv_batched(a):
    return np.sum(np.sin(np.linalg.inv(a)))


def slogdet_logabs(a):
    sign, logdet = np.linalg.slogdet(a)
    return logdet * 2.0


def slogdet_both(a):
    s, ld = np.linalg.slogdet(a)
    return np.sum(s * ld)


V = rng.normal(size=5)
V_TIE = np.array([3.0, -1.0, -3.0, 0.5])          # |x| ties at the inf-norm: g split evenly
M = rng.normal(size=(3, 4))
T3 = rng.normal(size=(2, 3, 4))
SPD = A @ A.T + np.eye(3)


def norm_default(x):
    return np.linalg.norm(x) * 2.0


def norm_orders(x):
    return (np.linalg.norm(x, 1) + np.linalg.norm(x, ord=np.inf) + np.linalg.norm(x, -np.inf)
            + np.linalg.norm(x, 3) + np.linalg.norm(x, ord=0.5) + np.linalg.norm(x, 2))


def norm_inf_tie(x):
    return np.linalg.norm(x, np.inf)


def norm_matrix_orders(x):
    return (np.linalg.norm(x, 1) + np.linalg.norm(x, 2) + np.linalg.norm(x, np.inf)
            + np.linalg.norm(x, -2) + np.linalg.norm(x, -1) + np.linalg.norm(x, -np.inf))


# The string orders: the compiler's frontend refuses a str constant in a call (values.constant),
# so these run on the tape only (test_norm_string_orders_tape below).
def norm_string_orders(x):
    return np.linalg.norm(x, "fro") + np.linalg.norm(x, "nuc") * 2.0


def norm_string_axes(x):
    return np.sum(np.linalg.norm(x, "nuc", axis=(2, 0))) + np.sum(np.linalg.norm(x, "fro", axis=(0, 1)))


def norm_axis(x):
    return np.sum(np.linalg.norm(x, axis=1) * np.array([1.0, 2.0]).reshape(2, 1))


def norm_axis_keepdims(x):
    return np.sum(np.sin(np.linalg.norm(x, ord=3, axis=-1, keepdims=True)))


def norm_matrix_axes(x):
    return (np.sum(np.linalg.norm(x, -2, axis=(2, 0))) + np.sum(np.linalg.norm(x, 1, axis=(0, 1)))
            + np.sum(np.linalg.norm(x, 2, axis=(1, 2), keepdims=True)))


def norm_at_zero(x):
    return np.linalg.norm(x * 0.0) + np.linalg.norm(x)


def solve_vec(a, b):
    return np.sum(np.linalg.solve(a, b) * np.arange(3.0))


def solve_mat(a, b):
    return np.sum(np.sin(np.linalg.solve(a, b)))


def solve_batched_vec(a, b):
    return np.sum(np.linalg.solve(a, b) ** 2)


CASES = [
    Case("slogdet", slogdet_logabs, A),
    Case("slogdet", slogdet_both, BATCH),
    Case("det", det_times_sum, A),
    Case("det", det_batched, BATCH),
    Case("inv", inv_weighted, A),
    Case("inv", inv_batched, BATCH),
    Case("norm", norm_default, M),
    Case("norm", norm_default, T3, id="norm_default_3d"),
    Case("norm", norm_orders, V),
    Case("norm", norm_inf_tie, V_TIE),
    Case("norm", norm_matrix_orders, M),
    Case("norm", norm_axis, T3),
    Case("norm", norm_axis_keepdims, T3),
    Case("norm", norm_matrix_axes, T3, rtol=1e-4),
    Case("solve", solve_vec, A, rng.normal(size=3)),
    Case("solve", solve_mat, A, rng.normal(size=(3, 2))),
    Case("solve", solve_batched_vec, BATCH, rng.normal(size=3)),          # b broadcast over A's batch
    Case("solve", solve_mat, A, rng.normal(size=(2, 3, 2)), id="solve_batched_b"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_compiler(case):
    check_compiler(case)


@pytest.mark.parametrize("case", [c for c in CASES if c.tape], ids=lambda c: c.id)
def test_tape(case):
    check_tape(case)


@pytest.mark.parametrize("case", [Case("norm", norm_string_orders, M),
                                  Case("norm", norm_string_axes, T3, rtol=1e-4)],
                         ids=lambda c: c.id)
def test_norm_string_orders_tape(case):
    check_tape(case)


# Where the function has no derivative: PyTorch's values, checked against the value itself.
def test_norm_zero():
    x = rng.normal(size=4)
    g = grad(norm_at_zero)(x)
    np.testing.assert_allclose(g, x / np.linalg.norm(x))
    t = rt.tensor(x, requires_grad=True)
    norm_at_zero(t).backward()
    np.testing.assert_allclose(t.grad.numpy(), x / np.linalg.norm(x))


def test_norm_inf_tie_split():
    g = grad(norm_inf_tie)(V_TIE)
    np.testing.assert_allclose(g, [0.5, 0.0, -0.5, 0.0])


# float32 in, float32 gradient out (both designs), close to the float64 gradient.
F32 = [
    (norm_matrix_orders, (M,)),
    (norm_orders, (V,)),
    (norm_axis, (T3,)),
    (solve_mat, (A, rng.normal(size=(3, 2)))),
    (solve_batched_vec, (BATCH, rng.normal(size=3))),
]


@pytest.mark.parametrize("f,args", F32, ids=[f.__name__ for f, _ in F32])
def test_float32(f, args):
    wrt = tuple(range(len(args)))
    want = grad(f, wrt=wrt)(*args)
    a32 = [np.asarray(a, dtype=np.float32) for a in args]
    got = grad(f, wrt=wrt)(*a32)
    tensors = [rt.tensor(a, requires_grad=True) for a in a32]
    out = f(*tensors)
    out.backward()
    for k in range(len(args)):
        for what, value in (("compiler", got[k]), ("tape", tensors[k].grad.numpy())):
            assert np.asarray(value).dtype == np.float32, f"{what}: gradient {np.asarray(value).dtype}"
            np.testing.assert_allclose(value, want[k], rtol=2e-3, atol=2e-3, err_msg=what)
