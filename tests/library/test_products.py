"""Products (einsum, tensordot, inner, kron, cross, polyval, trapezoid, convolve, correlate,
interp): each function's gradient, both designs, against central differences; float32 stays
float32."""
import numpy as np
import pytest

import runtime as rt
from compiler import grad
from harness import Case, check_compiler, check_tape

rng = np.random.default_rng(11)


def r(*shape):
    return rng.normal(size=shape)


A, B, C = r(3, 4), r(4, 5), r(5, 2)
SQ = r(4, 4)
BA, BB = r(2, 3, 4), r(2, 4, 3)
V3, W3 = r(3), r(3)
T3 = r(2, 4, 3)


# --- einsum ---------------------------------------------------------------------------------------

def einsum_matmul(a, b):
    return np.sum(np.sin(np.einsum("ij,jk->ik", a, b)))


def einsum_implicit(a, b):
    return np.sum(np.einsum("ij,jk", a, b) ** 2)


def einsum_implicit_order(a, b):  # implicit output in alphabetical order: "ba,ac" -> "bc"
    return np.sum(np.einsum("ba,ac", a, b) * np.arange(10.0).reshape(2, 5))


def einsum_trace(a):
    return np.einsum("ii", a) * np.einsum("ii->", a)


def einsum_diag(a):
    return np.sum(np.einsum("ii->i", a) * np.arange(1.0, 5.0))


def einsum_sum_out(a):  # labels of the only operand summed out
    return np.sum(np.einsum("ij->j", a) ** 2)


def einsum_transpose(a):
    return np.sum(np.einsum("ij->ji", a) * np.arange(12.0).reshape(4, 3))


def einsum_batched_ellipsis(a, b):
    return np.sum(np.cos(np.einsum("...ij,...jk->...ik", a, b)))


def einsum_ellipsis_implicit(a, b):  # implicit output with ellipsis: the broadcast axes first
    return np.sum(np.einsum("...j,j", a, b) ** 2)


def einsum_ellipsis_broadcast(a, b):  # a's ellipsis of one axis broadcasts against b's two
    return np.sum(np.tanh(np.einsum("...i,...i->...", a, b)))


def einsum_three(a, b, c):
    return np.sum(np.einsum("ij,jk,kl->il", a, b, c, optimize=True) ** 2)


def einsum_three_diag(a, b, c):  # a repeated label in one operand and the others
    return np.sum(np.einsum("ii,ij,j->i", a, b, c) ** 2)


def einsum_outer(a, b):
    return np.sum(np.sin(np.einsum("i,j->ij", a, b)))


def einsum_scalar_out(a, b):
    return np.einsum("ij,ij->", a, b) ** 2


def einsum_one_operand_broadcast(a, b):  # a size-1 labelled axis broadcast
    return np.sum(np.einsum("ij,ij->ij", a, b) ** 2)


def einsum_three_repeat(a):  # "iii": a label repeated three times
    return np.einsum("iii->", a) ** 2 + np.sum(np.einsum("iij->ij", a) ** 2)


def einsum_spaces(a, b):
    return np.sum(np.einsum(" ij , jk -> ki ", a, b) ** 2)


# The string form (the interleaved form, sublists of ints, reaches the same entry below).
STRING_FORM = [
    Case("einsum", einsum_matmul, A, B),
    Case("einsum", einsum_implicit, A, B),
    Case("einsum", einsum_implicit_order, r(2, 4), r(4, 5)),
    Case("einsum", einsum_trace, SQ),
    Case("einsum", einsum_diag, SQ),
    Case("einsum", einsum_sum_out, A),
    Case("einsum", einsum_transpose, A),
    Case("einsum", einsum_batched_ellipsis, BA, BB),
    Case("einsum", einsum_ellipsis_implicit, BA, r(4)),
    Case("einsum", einsum_ellipsis_broadcast, r(4), r(2, 3, 4)),
    Case("einsum", einsum_three, A, B, C),
    Case("einsum", einsum_three_diag, SQ, r(4, 3), r(3)),
    Case("einsum", einsum_outer, r(3), r(4)),
    Case("einsum", einsum_scalar_out, A, r(3, 4)),
    Case("einsum", einsum_one_operand_broadcast, r(3, 1), r(3, 4)),
    Case("einsum", einsum_three_repeat, r(3, 3, 3)),
    Case("einsum", einsum_spaces, A, B),
]


def einsum_i_matmul(a, b):
    return np.sum(np.sin(np.einsum(a, (0, 1), b, (1, 2), (0, 2))))


def einsum_i_implicit(a, b):
    return np.sum(np.einsum(a, (1, 0), b, (0, 2)) ** 2)


def einsum_i_trace(a):
    return np.einsum(a, (0, 0)) * np.sum(a)


def einsum_i_diag(a):
    return np.sum(np.einsum(a, (0, 0), (0,)) * np.arange(1.0, 5.0))


def einsum_i_sum_out(a):
    return np.sum(np.einsum(a, (0, 1), (1,)) ** 2)


def einsum_i_three(a, b, c):
    return np.sum(np.einsum(a, (0, 1), b, (1, 2), c, (2, 3), (0, 3), optimize=True) ** 2)


def einsum_i_three_diag(a, b, c):
    return np.sum(np.einsum(a, (0, 0), b, (0, 1), c, (1,), (0,)) ** 2)


def einsum_i_batched(a, b):
    return np.sum(np.cos(np.einsum(a, (0, 1, 2), b, (0, 2, 3), (0, 1, 3))))


def einsum_i_broadcast(a, b):
    return np.sum(np.einsum(a, (0, 1), b, (0, 1), (0, 1)) ** 2)


CASES = [
    Case("einsum", einsum_i_matmul, A, B),
    Case("einsum", einsum_i_implicit, r(3, 4), r(4, 5)),
    Case("einsum", einsum_i_trace, SQ),
    Case("einsum", einsum_i_diag, SQ),
    Case("einsum", einsum_i_sum_out, A),
    Case("einsum", einsum_i_three, A, B, C),
    Case("einsum", einsum_i_three_diag, SQ, r(4, 3), r(3)),
    Case("einsum", einsum_i_batched, BA, BB),
    Case("einsum", einsum_i_broadcast, r(3, 1), r(3, 4)),
]


# --- tensordot, inner, kron, cross ----------------------------------------------------------------

def tensordot_default(a, b):
    return np.sum(np.sin(np.tensordot(a, b)))


def tensordot_int(a, b):
    return np.sum(np.tensordot(a, b, 1) ** 2)


def tensordot_pairs(a, b):
    return np.sum(np.cos(np.tensordot(a, b, axes=((0, 2), (2, 1)))))


def tensordot_zero(a, b):
    return np.sum(np.tanh(np.tensordot(a, b, axes=0)))


def inner_vectors(a, b):
    return np.inner(a, b) ** 2


def inner_matrices(a, b):
    return np.sum(np.sin(np.inner(a, b)))


def inner_scalar(a, b):
    return np.sum(np.inner(a, b) ** 2)


def kron_matrices(a, b):
    return np.sum(np.sin(np.kron(a, b)) * np.arange(24.0).reshape(4, 6))


def kron_mixed(a, b):
    return np.sum(np.kron(a, b) ** 2)


def kron_vectors(a, b):
    return np.sum(np.cos(np.kron(a, b)))


def cross_vectors(a, b):
    return np.sum(np.cross(a, b) * np.array([1.0, -2.0, 3.0]))


def cross_batched(a, b):
    return np.sum(np.sin(np.cross(a, b)))


def cross_axis(a, b):
    return np.sum(np.cross(a, b, axis=0) ** 2)


CASES += [
    Case("tensordot", tensordot_default, r(2, 3, 4), r(3, 4, 2)),
    Case("tensordot", tensordot_int, A, B),
    Case("tensordot", tensordot_pairs, r(2, 3, 4), r(5, 4, 2)),
    Case("tensordot", tensordot_zero, r(2, 3), r(3)),
    Case("inner", inner_vectors, r(4), r(4)),
    Case("inner", inner_matrices, r(2, 3, 4), r(5, 4)),
    Case("inner", inner_scalar, 1.5, r(3, 2)),
    Case("kron", kron_matrices, r(2, 3), r(2, 2)),
    Case("kron", kron_mixed, r(3), r(2, 2)),
    Case("kron", kron_vectors, r(3), r(4)),
    Case("cross", cross_vectors, V3, W3),
    Case("cross", cross_batched, T3, r(3)),
    Case("cross", cross_axis, r(3, 4), r(3, 4)),
]


# --- polyval, trapezoid ---------------------------------------------------------------------------

def polyval_array(p, x):
    return np.sum(np.sin(np.polyval(p, x)))


def polyval_scalar(p, x):
    return np.polyval(p, x) ** 2


def polyval_matrix(p, x):
    return np.sum(np.polyval(p, x) * np.arange(6.0).reshape(2, 3))


def trapezoid_y(y):
    return np.trapezoid(y) ** 2


def trapezoid_dx_axis(y):
    return np.sum(np.sin(np.trapezoid(y, dx=0.3, axis=0)))


def trapezoid_x(y, x):
    return np.trapezoid(y, x) ** 2


def trapezoid_x_matrix(y, x):
    return np.sum(np.trapezoid(y, x, axis=1) ** 2)


def trapezoid_x_same_shape(y, x):
    return np.sum(np.cos(np.trapezoid(y, x=x)))


CASES += [
    Case("polyval", polyval_array, r(4), r(5)),
    Case("polyval", polyval_scalar, r(3), 0.7),
    Case("polyval", polyval_matrix, r(1), r(2, 3)),
    Case("polyval", polyval_matrix, r(5), r(2, 3), id="polyval_matrix_deg4"),
    Case("trapezoid", trapezoid_y, r(6)),
    Case("trapezoid", trapezoid_dx_axis, r(4, 3)),
    Case("trapezoid", trapezoid_x, r(5), np.sort(r(5))),
    Case("trapezoid", trapezoid_x_matrix, r(3, 5), np.sort(r(5))),
    Case("trapezoid", trapezoid_x_same_shape, r(2, 4), np.sort(r(2, 4), axis=1)),
]


# --- convolve, correlate (the default mode here; every mode in the tape below) ------------------

def convolve_full(a, v):
    return np.sum(np.sin(np.convolve(a, v)))


def correlate_valid(a, v):
    return np.sum(np.correlate(a, v) ** 2)


CASES += [
    Case("convolve", convolve_full, r(5), r(3)),
    Case("convolve", convolve_full, r(2), r(6), id="convolve_full_short_first"),
    Case("correlate", correlate_valid, r(6), r(3)),
    Case("correlate", correlate_valid, r(3), r(6), id="correlate_valid_short_first"),
]


def _weights(n):
    return np.arange(1.0, 1.0 + n)


# (the mode written in the code, as users write it: the compiler reads it when the gradient is built)
def convolve_full(a, v):
    out = np.convolve(a, v, mode="full")
    return np.sum(np.sin(out) * _weights(len(out)))


def convolve_same(a, v):
    out = np.convolve(a, v, mode="same")
    return np.sum(np.sin(out) * _weights(len(out)))


def convolve_valid(a, v):
    out = np.convolve(a, v, "valid")
    return np.sum(np.sin(out) * _weights(len(out)))


def correlate_full(a, v):
    out = np.correlate(a, v, "full")
    return np.sum(np.sin(out) * _weights(len(out)))


def correlate_same(a, v):
    out = np.correlate(a, v, mode="same")
    return np.sum(np.sin(out) * _weights(len(out)))


def correlate_valid(a, v):
    out = np.correlate(a, v)
    return np.sum(np.sin(out) * _weights(len(out)))


for _f in (convolve_full, convolve_same, convolve_valid, correlate_full, correlate_same,
           correlate_valid):
    for _n, _m in ((5, 3), (3, 5), (4, 4), (2, 5), (6, 2)):
        STRING_FORM.append(Case(_f.__name__.split("_")[0], _f, r(_n), r(_m), wrt=(0, 1),
                                id=f"{_f.__name__}_{_n}_{_m}"))


# --- interp ---------------------------------------------------------------------------------------

XP = np.array([-1.0, -0.2, 0.5, 1.3, 2.0])


def interp_inside(x, fp):
    return np.sum(np.sin(np.interp(x, XP, fp)))


def interp_clamped(x, fp):  # points left and right of the range: clamped, no gradient to x
    return np.sum(np.interp(x, XP, fp) ** 2)


def interp_left_right(x, fp):
    return np.sum(np.interp(x, XP, fp, left=-3.0, right=4.0) ** 2)


def interp_scalar(x, fp):
    return np.interp(x, XP, fp) ** 3


QX = np.array([-0.9, -0.5, 0.1, 0.45, 1.0, 1.9])
CASES += [
    Case("interp", interp_inside, QX, r(5)),
    Case("interp", interp_clamped, np.array([-2.0, -0.7, 0.3, 1.7, 2.5]), r(5)),
    Case("interp", interp_left_right, np.array([-2.0, -0.7, 0.3, 1.7, 2.5]), r(5)),
    Case("interp", interp_scalar, 0.8, r(5)),
    Case("interp", interp_inside, QX.reshape(2, 3), r(5), id="interp_matrix"),
]


# --- float32 stays float32 ------------------------------------------------------------------------

F32 = [
    (einsum_i_three, (A, B, C)),
    (tensordot_pairs, (r(2, 3, 4), r(5, 4, 2))),
    (inner_matrices, (r(2, 3, 4), r(5, 4))),
    (kron_matrices, (r(2, 3), r(2, 2))),
    (cross_batched, (T3, r(3))),
    (polyval_array, (r(4), r(5))),
    (trapezoid_x_matrix, (r(3, 5), np.sort(r(5)))),
    (trapezoid_dx_axis, (r(4, 3),)),
    (convolve_full, (r(5), r(3))),
    (correlate_valid, (r(6), r(3))),
    (interp_inside, (QX, r(5))),
]


@pytest.mark.parametrize("f, args", F32, ids=[f.__name__ for f, _ in F32])
def test_float32_gradients_stay_float32(f, args):
    args32 = [a.astype(np.float32) for a in args]
    wrt = tuple(range(len(args)))
    want = grad(f, wrt=wrt)(*args32)
    tensors = [rt.tensor(a, requires_grad=True) for a in args32]
    out = f(*tensors)
    out.backward()
    for k, (got, a) in enumerate(zip(want, args32)):
        assert np.asarray(got).dtype == np.float32, f"compiler, d/d arg {k}"
        tape = tensors[k].grad.numpy()
        assert tape.dtype == np.float32, f"tape, d/d arg {k}: {tape.dtype}"
        ref = grad(f, wrt=wrt)(*args)[k]
        np.testing.assert_allclose(got, ref, rtol=2e-3, atol=2e-3)
        np.testing.assert_allclose(tape, ref, rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("case", CASES + STRING_FORM, ids=lambda c: c.id)
def test_compiler(case):
    check_compiler(case)


@pytest.mark.parametrize("case", [c for c in CASES if c.tape] + STRING_FORM, ids=lambda c: c.id)
def test_tape(case):
    check_tape(case)


# --- second order in the tape: the helpers run on Tensors (create_graph=True) ---------------------

SECOND = [c for c in CASES + STRING_FORM
          if c.id not in ("einsum_i_diag", "einsum_diag", "einsum_transpose", "polyval_matrix")]


def _tape_grad_norm(case, args):
    ts = [rt.tensor(a, requires_grad=True) if k in case.wrt else a for k, a in enumerate(args)]
    gs = rt.autograd.grad(case.f(*ts), [ts[k] for k in case.wrt], create_graph=True)
    return ts, sum(rt.sum(g * g) for g in gs)


@pytest.mark.parametrize("case", SECOND, ids=lambda c: c.id)
def test_tape_second_order(case):
    """d/d(first input) of the squared norm of the gradient, against central differences of it."""
    from runtime.gradcheck import numerical_grad
    from harness import _copy, _close
    ts, s = _tape_grad_norm(case, [_copy(a) for a in case.args])
    s.backward()
    k0 = case.wrt[0]
    want = numerical_grad(lambda *a: float(_tape_grad_norm(case, a)[1].detach().numpy()),
                          [_copy(a) for a in case.args], k0)
    _close(ts[k0].grad.numpy(), want, case, f"tape, second order, d/d arg {k0}")


def test_float32_string_einsum_and_interp_in_the_tape():
    a, b = A.astype(np.float32), B.astype(np.float32)
    ta, tb = rt.tensor(a, requires_grad=True), rt.tensor(b, requires_grad=True)
    rt.sum(np.einsum("ij,jk->ik", ta, tb) ** 2).backward()
    assert ta.grad.numpy().dtype == np.float32 and tb.grad.numpy().dtype == np.float32
    x = rt.tensor(QX.astype(np.float32), requires_grad=True)
    fp = rt.tensor(r(5).astype(np.float32), requires_grad=True)
    rt.sum(np.interp(x, XP, fp)).backward()
    assert x.grad.numpy().dtype == np.float32 and fp.grad.numpy().dtype == np.float32
