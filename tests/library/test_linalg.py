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


TALL = rng.normal(size=(4, 3))
TALL_BATCH = rng.normal(size=(2, 4, 3))
WIDE = rng.normal(size=(3, 5))


def cholesky_weighted(a):
    spd = a @ a.T + 3.0 * np.eye(3)  # symmetric: the gradient is checked on it
    return np.sum(np.linalg.cholesky(spd) * np.arange(9.0).reshape(3, 3))


def cholesky_batched(a):
    return np.sum(np.sin(np.linalg.cholesky(a @ np.transpose(a, (0, 2, 1)) + 3.0 * np.eye(3))))


def eigh_values(a):
    return np.sum(np.linalg.eigh(a + a.T)[0] * np.arange(3.0))


def eigh_both(a):
    w, v = np.linalg.eigh(a + a.T)
    return np.sum(w ** 2) + np.sum(v ** 2 * np.arange(9.0).reshape(3, 3))  # v's signs cancel


def eigh_batched(a):
    w, v = np.linalg.eigh(a + np.transpose(a, (0, 2, 1)))
    return np.sum(w ** 2) + np.sum(v ** 2 * np.arange(9.0).reshape(3, 3))


def qr_both(a):
    q, r = np.linalg.qr(a)
    return np.sum(q * np.arange(12.0).reshape(4, 3)) + np.sum(np.sin(r))


def qr_r(a):
    return np.sum(np.linalg.qr(a)[1] ** 2 * np.arange(3.0))


def svd_all(a):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return (np.sum(u ** 2 * np.arange(12.0).reshape(4, 3)) + np.sum(s * np.arange(3.0))
            + np.sum(vh ** 2 * np.arange(9.0).reshape(3, 3)))


def svd_wide(a):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return np.sum(u ** 2 * np.arange(9.0).reshape(3, 3)) + np.sum(s ** 3) + np.sum(vh ** 2 * a)


def svd_full(a):  # full_matrices=True: only the first k columns of U are determined, and read
    u, s, vh = np.linalg.svd(a)
    return np.sum(u[:, :3] ** 2 * np.arange(12.0).reshape(4, 3)) + np.sum(s) + np.sum(vh ** 2 * a[:3])


def svd_batched(a):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return np.sum(s ** 2) + np.sum(u ** 2 * np.arange(12.0).reshape(4, 3)) + np.sum(vh ** 2)


def svdvals_sum(a):
    return np.sum(np.linalg.svdvals(a) * np.arange(3.0))


def pinv_tall(a):
    return np.sum(np.linalg.pinv(a) * np.arange(12.0).reshape(3, 4))


def pinv_batched(a):
    return np.sum(np.sin(np.linalg.pinv(a)))


def pinv_rcond(a):
    return np.sum(np.linalg.pinv(a, rcond=1e-10) ** 2)


def lstsq_solution(a, b):
    x, res, rank, sv = np.linalg.lstsq(a, b)
    return np.sum(x * np.arange(3.0))


def lstsq_all(a, b):
    x, res, rank, sv = np.linalg.lstsq(a, b, rcond=1e-12)
    return np.sum(np.sin(x)) + np.sum(res * np.array([1.0, 2.0])) + np.sum(sv)


def lstsq_underdetermined(a, b):  # the minimum-norm solution (no residuals)
    return np.sum(np.linalg.lstsq(a, b)[0] ** 2)


def matrix_power_3(a):
    return np.sum(np.linalg.matrix_power(a, 3) * np.arange(9.0).reshape(3, 3))


def matrix_power_neg(a):
    return np.sum(np.sin(np.linalg.matrix_power(a, -2)))


def matrix_power_01(a):
    return np.sum(np.linalg.matrix_power(a, 0) + np.linalg.matrix_power(a, 1) * 2.0)


def multi_dot_three(a, b, c):
    return np.sum(np.sin(np.linalg.multi_dot([a, b, c])))


def multi_dot_vectors(v, a, b, w):
    return np.linalg.multi_dot([v, a, b, w]) * 2.0


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
    Case("cholesky", cholesky_weighted, A),
    Case("cholesky", cholesky_batched, BATCH),
    Case("eigh", eigh_values, A),
    Case("eigh", eigh_both, A),
    Case("eigh", eigh_batched, BATCH),
    Case("qr", qr_both, TALL),
    Case("qr", qr_r, A),
    Case("qr", qr_both, TALL_BATCH, id="qr_batched"),
    Case("svd", svd_all, TALL),
    Case("svd", svd_wide, WIDE),
    Case("svd", svd_full, TALL),
    Case("svd", svd_batched, TALL_BATCH),
    Case("svdvals", svdvals_sum, TALL),
    Case("svdvals", svdvals_sum, TALL_BATCH, id="svdvals_batched"),
    Case("pinv", pinv_tall, TALL),
    Case("pinv", pinv_batched, TALL_BATCH),
    Case("pinv", pinv_batched, np.swapaxes(TALL_BATCH, 1, 2), id="pinv_batched_wide"),
    Case("pinv", pinv_rcond, A),
    Case("lstsq", lstsq_solution, TALL, rng.normal(size=4)),
    Case("lstsq", lstsq_all, TALL, rng.normal(size=(4, 2))),
    Case("lstsq", lstsq_underdetermined, WIDE, rng.normal(size=3)),
    Case("matrix_power", matrix_power_3, A),
    Case("matrix_power", matrix_power_3, BATCH, id="matrix_power_batched"),
    Case("matrix_power", matrix_power_neg, A),
    Case("matrix_power", matrix_power_01, A),
    Case("multi_dot", multi_dot_three, TALL, rng.normal(size=(3, 5)), rng.normal(size=(5, 2))),
    Case("multi_dot", multi_dot_vectors, rng.normal(size=4), TALL, rng.normal(size=(3, 2)),
         rng.normal(size=2)),
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
    (cholesky_batched, (BATCH,)),
    (eigh_batched, (BATCH,)),
    (qr_both, (TALL_BATCH,)),
    (svd_batched, (TALL_BATCH,)),
    (svd_full, (TALL,)),
    (svdvals_sum, (TALL,)),
    (pinv_tall, (TALL,)),
    (lstsq_all, (TALL, rng.normal(size=(4, 2)))),
    (matrix_power_neg, (A,)),
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


def svd_values_only(a):
    return np.sum(np.linalg.svd(a, compute_uv=False))


def test_svd_compute_uv_false_is_refused_with_the_alternative():
    from compiler.errors import GradError
    with pytest.raises(GradError, match="svdvals"):
        grad(svd_values_only)(TALL)


def eigh_values_sum(a):
    return np.sum(np.linalg.eigh(a)[0] * np.array([1.0, 2.0, 3.0]))


def test_eigh_values_at_a_degenerate_point():
    # eigenvalues of I repeat: the eigenvalue part stays finite (V diag(gw) V^T) in both designs
    g = grad(eigh_values_sum)(np.eye(3))
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(np.trace(g), 6.0)
    t = rt.tensor(np.eye(3), requires_grad=True)
    eigh_values_sum(t).backward()
    np.testing.assert_allclose(t.grad.numpy(), g)


def test_multi_dot_float32_compiler():
    args = (TALL, rng.normal(size=(3, 5)), rng.normal(size=(5, 2)))
    want = grad(multi_dot_three, wrt=(0, 1, 2))(*args)
    got = grad(multi_dot_three, wrt=(0, 1, 2))(*[a.astype(np.float32) for a in args])
    for w, v in zip(want, got):
        assert v.dtype == np.float32
        np.testing.assert_allclose(v, w, rtol=2e-3, atol=2e-3)
