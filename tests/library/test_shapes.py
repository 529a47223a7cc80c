"""Shapes and rearrangements: each function's gradient, both designs, against central differences; and
a float32 argument's gradient stays float32."""
import numpy as np
import pytest

import runtime as rt
from compiler import grad
from harness import Case, check_compiler, check_tape

rng = np.random.default_rng(11)
X = rng.normal(size=(2, 3, 4))
M = rng.normal(size=(3, 4))
S = rng.normal(size=(4, 4))
V = rng.normal(size=4)
W24 = np.arange(24.0).reshape(2, 3, 4) / 7.0
W12 = np.arange(12.0).reshape(3, 4) / 5.0
M32 = M.astype(np.float32)
X32 = X.astype(np.float32)
V32 = V.astype(np.float32)
IDX = np.array([2, 0, 2, -1])
IDX2 = np.array([[0, 2, 2, 1], [3, 3, 0, 1], [1, 0, 0, 3]])


def swapaxes_weighted(x):
    return np.sum(np.swapaxes(x, 0, 2) * np.arange(24.0).reshape(4, 3, 2))


def swapaxes_neg(x):
    return np.sum(np.sin(np.swapaxes(x, -1, -2)) * W12.T)


def moveaxis_weighted(x):
    return np.sum(np.moveaxis(x, 0, -1) * np.arange(24.0).reshape(3, 4, 2))


def moveaxis_many(x):
    return np.sum(np.moveaxis(x, (0, 1), (2, 0)) ** 2 * np.arange(24.0).reshape(3, 4, 2))


def flip_axis(x):
    return np.sum(np.flip(x, 1) * W24)


def flip_all(x):
    return np.sum(np.cos(np.flip(x)) * W12)


def flip_axes(x):
    return np.sum(np.flip(x, axis=(0, 2)) * W24)


def roll_flat(x):
    return np.sum(np.roll(x, 3) * W12)


def roll_axis(x):
    return np.sum(np.roll(x, -1, axis=1) ** 2 * W12)


def roll_axes(x):
    return np.sum(np.roll(x, (1, 2), axis=(0, 2)) * W24)


def tile_reps(x):
    return np.sum(np.sin(np.tile(x, (2, 1, 3))))


def tile_int(x):
    return np.sum(np.tile(x, 3) * np.arange(24.0).reshape(2, 12))


def tile_more_reps(x):
    return np.sum(np.tile(x, (2, 2)) * np.arange(16.0).reshape(2, 8))


def repeat_axis(x):
    return np.sum(np.repeat(x, 2, axis=1) ** 2 * np.arange(24.0).reshape(3, 8))


def repeat_flat(x):
    return np.sum(np.repeat(x, 3) * np.arange(36.0))


def repeat_counts(m):
    return np.sum(np.repeat(m, [1, 0, 3], axis=0) ** 2 * np.arange(16.0).reshape(4, 4))


def repeat_counts_flat(v):
    return np.sum(np.sin(np.repeat(v, (2, 1, 0, 3))))


def diag_vector(v):
    return np.sum(np.diag(v) * np.arange(16.0).reshape(4, 4))


def diag_vector_k(v):
    return np.sum(np.diag(v, 1) ** 2 * np.arange(25.0).reshape(5, 5))


def diag_matrix(m):
    return np.sum(np.diag(m) * np.array([1.0, -2.0, 3.0]))


def diag_matrix_k(m):
    return np.sum(np.sin(np.diag(m, -1)))


def diagonal_2d(m):
    return np.sum(np.diagonal(m, 1) * np.array([1.0, 2.0, 3.0]))


def diagonal_3d(x):
    return np.sum(np.diagonal(x, 0, 1, 2) ** 2 * np.arange(6.0).reshape(2, 3))


def diagonal_axes(x):
    return np.sum(np.sin(np.diagonal(x, offset=-1, axis1=0, axis2=2)))


def trace_square(s):
    return np.trace(s) * np.sum(s)


def trace_offset(m):
    return np.trace(m, 1) ** 2


def trace_batched(x):
    return np.sum(np.trace(x, axis1=1, axis2=2) * np.array([1.0, -3.0, 2.0, 0.5]))


def triu_k(m):
    return np.sum(np.triu(m, 1) * W12)


def triu_plain(x):
    return np.sum(np.sin(np.triu(x)))


def tril_k(m):
    return np.sum(np.tril(m, -1) * W12)


def tril_plain(s):
    return np.sum(np.tril(s) ** 2)


def ravel_fn(x):
    return np.sum(np.ravel(x) * np.arange(24.0))


def ravel_method(m):
    return np.sum(m.ravel() ** 2 * np.arange(12.0))


def flatten_method(m):
    return np.sum(m.flatten() * np.arange(12.0))


def flatten_method_3d(x):
    return np.sum(np.sin(x.flatten()))


def atleast_1d_vec(v):
    return np.sum(np.atleast_1d(v) * np.arange(4.0))


def atleast_1d_mat(m):
    return np.sum(np.atleast_1d(m) ** 2)


def atleast_2d_vec(v):
    return np.sum(np.atleast_2d(v) * np.arange(4.0).reshape(1, 4))


def atleast_2d_mat(m):
    return np.sum(np.sin(np.atleast_2d(m)))


def atleast_3d_vec(v):
    return np.sum(np.atleast_3d(v) * np.arange(4.0).reshape(1, 4, 1))


def atleast_3d_mat(m):
    return np.sum(np.atleast_3d(m) ** 2 * np.arange(12.0).reshape(3, 4, 1))


def broadcast_rows(v):
    return np.sum(np.broadcast_to(v, (3, 4)) * W12)


def broadcast_lead(m):
    return np.sum(np.broadcast_to(m, (2, 3, 4)) ** 2 * W24)


def pad_both(m):
    return np.sum(np.pad(m, 1) * np.arange(30.0).reshape(5, 6))


def pad_widths(x):
    return np.sum(np.sin(np.pad(x, (1, 2))))


def vstack_pair(m, v):
    return np.sum(np.vstack((m, v)) * np.arange(16.0).reshape(4, 4))


def vstack_three(m):
    return np.sum(np.vstack([m, m * 2.0, np.sin(m)]) ** 2)


def hstack_mats(m, s):
    return np.sum(np.hstack((s[:3], m)) * np.arange(24.0).reshape(3, 8))


def hstack_vecs(v):
    return np.sum(np.hstack((v, v ** 2)) * np.arange(8.0))


def dstack_mats(m):
    return np.sum(np.dstack((m, np.sin(m))) * np.arange(24.0).reshape(3, 4, 2))


def dstack_vecs(v):
    return np.sum(np.dstack((v, v * 3.0)) ** 2)


def column_stack_vecs(v):
    return np.sum(np.column_stack((v, np.cos(v))) * np.arange(8.0).reshape(4, 2))


def column_stack_mixed(m, v):
    return np.sum(np.column_stack((m.T, v)) ** 2 * np.arange(16.0).reshape(4, 4))


def take_flat(m):
    return np.sum(np.take(m, np.array([0, 5, 5, 11, -2])) * np.array([1.0, 2.0, 3.0, 4.0, 5.0]))


def take_axis(x):
    return np.sum(np.take(x, IDX, axis=2) ** 2 * W24)


def take_2d_indices(m):
    return np.sum(np.sin(np.take(m, IDX2[:2, :3] % 3, axis=0)))


def take_along(m):
    return np.sum(np.take_along_axis(m, IDX2, axis=1) * W12)


def take_along_rows(m):
    return np.sum(np.take_along_axis(m, np.array([[2, 0, 1, 1]]), axis=0) ** 2)


def sort_last(m):
    return np.sum(np.sort(m) * W12)


def sort_axis0(x):
    return np.sum(np.sort(x, axis=0) ** 2 * W24)


def sort_flat(m):
    return np.sum(np.sort(np.ravel(m)) * np.arange(12.0))


def sort_ties(v):
    return np.sum(np.sort(v * 0.0 + np.floor(v)) * np.arange(4.0))


def cast32(m):
    return np.sum(m.astype(np.float32) * W12.astype(np.float32))


def cast32_tape(m):
    return np.sum(np.astype(m, np.float32) * W12.astype(np.float32))


def cast64(m):
    return np.sum(np.sin(np.astype(m, np.float64)))


CASES = [
    Case("swapaxes", swapaxes_weighted, X),
    Case("swapaxes", swapaxes_neg, M),
    Case("swapaxes", swapaxes_weighted, X32, rtol=1e-4, id="swapaxes_f32"),
    Case("moveaxis", moveaxis_weighted, X),
    Case("moveaxis", moveaxis_many, X),
    Case("moveaxis", moveaxis_weighted, X32, rtol=1e-4, id="moveaxis_f32"),
    Case("flip", flip_axis, X),
    Case("flip", flip_all, M),
    Case("flip", flip_axes, X),
    Case("flip", flip_axis, X32, rtol=1e-4, id="flip_f32"),
    Case("roll", roll_flat, M),
    Case("roll", roll_axis, M),
    Case("roll", roll_axes, X),
    Case("roll", roll_flat, M32, rtol=1e-4, id="roll_f32"),
    Case("tile", tile_reps, X),
    Case("tile", tile_int, M[:2]),
    Case("tile", tile_more_reps, V),
    Case("tile", tile_int, M32[:2], rtol=1e-4, id="tile_f32"),
    Case("repeat", repeat_axis, M),
    Case("repeat", repeat_flat, M),
    Case("repeat", repeat_counts, M),
    Case("repeat", repeat_counts_flat, V),
    Case("repeat", repeat_flat, M32, rtol=1e-4, id="repeat_f32"),
    Case("diag", diag_vector, V),
    Case("diag", diag_vector_k, V),
    Case("diag", diag_matrix, M),
    Case("diag", diag_matrix_k, M),
    Case("diag", diag_matrix, M32, rtol=1e-4, id="diag_f32"),
    Case("diagonal", diagonal_2d, M),
    Case("diagonal", diagonal_3d, X),
    Case("diagonal", diagonal_axes, X),
    Case("diagonal", diagonal_3d, X32, rtol=1e-4, id="diagonal_f32"),
    Case("trace", trace_square, S),
    Case("trace", trace_offset, M),
    Case("trace", trace_batched, X.transpose(2, 0, 1).copy()),
    Case("trace", trace_offset, M32, rtol=1e-4, id="trace_f32"),
    Case("triu", triu_k, M),
    Case("triu", triu_plain, X),
    Case("triu", triu_k, M32, rtol=1e-4, id="triu_f32"),
    Case("tril", tril_k, M),
    Case("tril", tril_plain, S),
    Case("tril", tril_k, M32, rtol=1e-4, id="tril_f32"),
    Case("ravel", ravel_fn, X),
    Case("ravel", ravel_method, M),
    Case("ravel", ravel_fn, X32, rtol=1e-4, id="ravel_f32"),
    Case("flatten", flatten_method, M),
    Case("flatten", flatten_method_3d, X),
    Case("flatten", flatten_method, M32, rtol=1e-4, id="flatten_f32"),
    Case("atleast_1d", atleast_1d_vec, V),
    Case("atleast_1d", atleast_1d_mat, M),
    Case("atleast_1d", atleast_1d_vec, V32, rtol=1e-4, id="atleast_1d_f32"),
    Case("atleast_2d", atleast_2d_vec, V),
    Case("atleast_2d", atleast_2d_mat, M),
    Case("atleast_2d", atleast_2d_vec, V32, rtol=1e-4, id="atleast_2d_f32"),
    Case("atleast_3d", atleast_3d_vec, V),
    Case("atleast_3d", atleast_3d_mat, M),
    Case("atleast_3d", atleast_3d_vec, V32, rtol=1e-4, id="atleast_3d_f32"),
    Case("np_broadcast_to", broadcast_rows, V),
    Case("np_broadcast_to", broadcast_lead, M),
    Case("np_broadcast_to", broadcast_rows, V32, rtol=1e-4, id="broadcast_to_f32"),
    Case("pad", pad_both, M),
    Case("pad", pad_widths, X),
    Case("pad", pad_both, M32, rtol=1e-4, id="pad_f32"),
    Case("vstack", vstack_pair, M, V),
    Case("vstack", vstack_three, M),
    Case("vstack", vstack_pair, M32, V32, rtol=1e-4, id="vstack_f32"),
    Case("hstack", hstack_mats, M, S),
    Case("hstack", hstack_vecs, V),
    Case("hstack", hstack_vecs, V32, rtol=1e-4, id="hstack_f32"),
    Case("dstack", dstack_mats, M),
    Case("dstack", dstack_vecs, V),
    Case("dstack", dstack_mats, M32, rtol=1e-4, id="dstack_f32"),
    Case("column_stack", column_stack_vecs, V),
    Case("column_stack", column_stack_mixed, M, V),
    Case("column_stack", column_stack_vecs, V32, rtol=1e-4, id="column_stack_f32"),
    Case("take", take_flat, M),
    Case("take", take_axis, X),
    Case("take", take_2d_indices, M),
    Case("take", take_flat, M32, rtol=1e-4, id="take_f32"),
    Case("take_along_axis", take_along, M),
    Case("take_along_axis", take_along_rows, M),
    Case("take_along_axis", take_along, M32, rtol=1e-4, id="take_along_axis_f32"),
    Case("sort", sort_last, M),
    Case("sort", sort_axis0, X),
    Case("sort", sort_flat, M),
    Case("sort", sort_last, M32, rtol=1e-4, id="sort_f32"),
    # central differences through a cast to float32 are only good to float32's rounding over the step
    Case("cast", cast32, M, tape_f=cast32_tape, rtol=5e-2, atol=1e-3),
    Case("cast", cast64, M32, rtol=1e-4),
    Case("cast", cast32, M32, tape_f=cast32_tape, rtol=5e-2, atol=1e-3, id="cast_f32"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_compiler(case):
    check_compiler(case)


@pytest.mark.parametrize("case", [c for c in CASES if c.tape], ids=lambda c: c.id)
def test_tape(case):
    check_tape(case)


F32 = [c for c in CASES if any(isinstance(a, np.ndarray) and a.dtype == np.float32 for a in c.args)]


@pytest.mark.parametrize("case", F32, ids=lambda c: c.id)
def test_float32_gradient_stays_float32(case):
    args = [a.copy() for a in case.args]
    g = grad(case.f, wrt=case.wrt)(*args)
    for k, gk in zip(case.wrt, g):
        assert np.asarray(gk).dtype == case.args[k].dtype, f"compiler: d/d arg {k} is {np.asarray(gk).dtype}"
    if case.tape:
        tensors = [rt.tensor(a.copy(), requires_grad=True) if k in case.wrt else a
                   for k, a in enumerate(case.args)]
        out = case.tape_f(*tensors)
        out.backward()
        for k in case.wrt:
            got = tensors[k].grad.numpy().dtype
            assert got == case.args[k].dtype, f"tape: d/d arg {k} is {got}"


# The adjoints are written without writes into arrays, so the tape records them under
# create_graph=True: the gradient of a gradient, against central differences of the first one.
SECOND_ORDER = {
    "take": (lambda m: np.take(m, np.array([0, 5, 5, 11])), M),
    "take_axis": (lambda m: np.take(m, np.array([2, 0, 2]), axis=1), M),
    "take_along_axis": (lambda m: np.take_along_axis(m, IDX2, axis=1), M),
    "diag_matrix": (lambda m: np.diag(m, 1), M),
    "diag_vector": (lambda v: np.diag(v, -1), V),
    "diagonal": (lambda x: np.diagonal(x, 1, 0, 2), X),
    "trace": (lambda m: np.trace(m, 1), M),
    "sort": (lambda m: np.sort(m, axis=0), M),
    "tile": (lambda m: np.tile(m, (2, 1)), M),
    "repeat": (lambda m: np.repeat(m, 2, axis=1), M),
    "repeat_counts": (lambda m: np.repeat(m, (2, 0, 1, 1), axis=1), M),
    "pad": (lambda m: np.pad(m, (1, 2)), M),
    "roll": (lambda m: np.roll(m, 2, axis=1), M),
    "flip": (lambda m: np.flip(m, 1), M),
    "moveaxis": (lambda x: np.moveaxis(x, 0, -1), X),
    "triu": (lambda m: np.triu(m, 1), M),
    "tril": (lambda m: np.tril(m, -1), M),
    "vstack": (lambda m: np.vstack((m, m[0])), M),
    "hstack": (lambda m: np.hstack((m, m[:, :1])), M),
    "dstack": (lambda m: np.dstack((m, m)), M),
    "column_stack": (lambda v: np.column_stack((v, v * v)), V),
    "atleast_3d": (lambda v: np.atleast_3d(v), V),
}


def _tape_grad(f, a, create_graph):
    t = rt.tensor(a.copy(), requires_grad=True)
    rt.sum(rt.sin(f(t))).backward(create_graph=create_graph)
    return t


@pytest.mark.parametrize("name", sorted(SECOND_ORDER))
def test_tape_second_order(name):
    from runtime.gradcheck import numerical_grad
    f, a = SECOND_ORDER[name]
    weights = np.cos(np.arange(a.size).reshape(a.shape))
    t = _tape_grad(f, a, True)
    g = t.grad
    t.grad = None
    rt.sum(g * weights).backward()
    want = numerical_grad(lambda v: float(np.sum(_tape_grad(f, v, False).grad.numpy() * weights)),
                          [a.copy()], 0)
    np.testing.assert_allclose(t.grad.numpy(), want, rtol=1e-4, atol=1e-6)
