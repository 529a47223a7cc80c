"""Linear algebra (numpy.linalg): determinants, inverses, solves and factorisations.

Formulas use solves rather than explicit inverses where a solve is what the math needs, and batch
over leading axes wherever NumPy does.
"""
from __future__ import annotations

import numpy as np

from . import Fn, bind_arguments, helper, LINEAR, EACH, ROWS, OTHERS, UNKNOWN


def _mT(a):
    return np.swapaxes(a, -1, -2)


@helper(tangent=(LINEAR, UNKNOWN, UNKNOWN))
def det_grad(g, x, out):
    """d det(X) = det(X) tr(X^-1 dX): the adjoint is g det(X) X^-T, over any leading batch axes."""
    scale = np.expand_dims(np.expand_dims(g * out, -1), -1)
    return scale * _mT(np.linalg.inv(x))


@helper(tangent=(LINEAR, UNKNOWN))
def inv_grad(g, out):
    """d inv(X) = -inv(X) dX inv(X): the adjoint is -inv(X)^T g inv(X)^T."""
    return -np.matmul(_mT(out), np.matmul(g, _mT(out)))


@helper(tangent=(LINEAR, UNKNOWN))
def slogdet_grad(g, x, part=1):
    """slogdet's parts: the sign has no gradient; d log|det X| = tr(X^-1 dX), so g X^-T."""
    if part == 0:
        return np.zeros(np.shape(x))
    return np.expand_dims(np.expand_dims(g, -1), -1) * _mT(np.linalg.inv(x))


def _dtype(x):
    return np.result_type(x)


def _sum_to(a, shape):
    """`a` summed over the leading (batch) axes it has beyond `shape` and over axes `shape` has as 1:
    the adjoint of an input NumPy's batching broadcast."""
    shape = tuple(shape)
    lead = np.ndim(a) - len(shape)
    axes = tuple(range(lead)) + tuple(lead + k for k, n in enumerate(shape)
                                      if n == 1 and np.shape(a)[lead + k] != 1)
    if axes:
        a = np.sum(a, axis=axes, keepdims=True)
    return np.reshape(a, shape) if np.shape(a) != shape else a


def _norm_axes(ndim, ord, axis):
    """The axes a norm reduces (a tuple) and whether it is a matrix norm."""
    if axis is None:
        if ndim == 2 and ord is not None:
            return (0, 1), True
        if ord is None or ndim == 1:
            return tuple(range(ndim)), False  # the 2-norm of the flattened array
        raise ValueError("Improper number of dimensions to norm.")
    if isinstance(axis, int):
        return (axis % ndim,), False
    axis = tuple(a % ndim for a in axis)
    return axis, len(axis) == 2


def _ties(mask, like):
    """A mask's entries as weights in `like`'s dtype, each tie group sharing one (PyTorch)."""
    return np.where(mask, np.ones_like(like), np.zeros_like(like))


@helper(tangent=(LINEAR, UNKNOWN, UNKNOWN))
def norm_grad(g, x, out, ord=None, axis=None, keepdims=False):
    """np.linalg.norm's adjoint, for every vector and matrix order. Where the norm is 0 the 2-norm
    (and p-norm) gradient is 0, PyTorch's subgradient; ties of the inf/1 norms share g evenly."""
    ndim = np.ndim(x)
    axes, matrix = _norm_axes(ndim, ord, axis)
    if not keepdims:  # g and out with the reduced axes back, as size 1
        shape = tuple(1 if k in axes else n for k, n in enumerate(np.shape(x)))
        g = np.reshape(g, shape)
        out = np.reshape(out, shape)
    if matrix and ord in ("fro", None):
        matrix, ord = False, None
    if not matrix:
        if ord is None or ord == 2:
            safe = np.where(out == 0, np.ones_like(out), out)
            return g * x / safe
        if ord == 1:
            return g * np.sign(x)
        if ord == 0:
            return np.zeros_like(x) * g
        ax = np.abs(x)
        if ord in (np.inf, -np.inf):
            w = _ties(ax == out, x)
            return g * np.sign(x) * w / np.sum(w, axis=axes, keepdims=True)
        safe = np.where(out == 0, np.ones_like(out), out)
        p = float(ord)
        safe_ax = np.where(ax == 0, np.ones_like(ax), ax)
        scaled = np.where(ax == 0, np.zeros_like(ax), (safe_ax / safe) ** (p - 1.0))
        return np.where(out == 0, np.zeros_like(x), g * np.sign(x) * scaled)
    # matrix norms: the two axes moved last, then back
    r, c = axes
    rest = [k for k in range(ndim) if k not in axes]
    perm = rest + [r, c]
    back = tuple(np.argsort(perm))
    xm = np.transpose(x, perm)
    gm = np.transpose(g, perm)
    om = np.transpose(out, perm)
    if ord in (1, -1, np.inf, -np.inf):
        over = -2 if ord in (1, -1) else -1  # 1: column sums (over rows); inf: row sums
        sums = np.sum(np.abs(xm), axis=over, keepdims=True)
        w = _ties(sums == om, xm)
        res = gm * np.sign(xm) * w / np.sum(w, axis=-1 if over == -2 else -2, keepdims=True)
    elif ord in (2, -2, "nuc"):
        u, s, vh = np.linalg.svd(xm, full_matrices=False)
        if ord == "nuc":
            res = gm * np.matmul(u, vh)
        else:
            k = 0 if ord == 2 else np.shape(s)[-1] - 1
            res = gm * np.matmul(u[..., :, k:k + 1], vh[..., k:k + 1, :])
    else:
        raise ValueError(f"Invalid norm order {ord!r} for matrices.")
    return np.transpose(res, back)


def _solve_vec(a, b):
    """b as NumPy 2's solve reads it: a stack of columns (..., M, K); a 1-D b is one column."""
    return b[..., None] if np.ndim(b) == 1 else b


@helper(tangent=(LINEAR, UNKNOWN, UNKNOWN))
def solve_b_grad(g, a, b):
    """x = solve(A, b): gb = solve(A^T, g), summed back over the batch axes b was broadcast over."""
    if np.ndim(b) == 1:
        gb = np.linalg.solve(_mT(a), g[..., None])[..., 0]
    else:
        gb = np.linalg.solve(_mT(a), g)
    return _sum_to(gb, np.shape(b))


@helper(tangent=(LINEAR, UNKNOWN, UNKNOWN, UNKNOWN))
def solve_a_grad(g, a, b, out):
    """x = solve(A, b): gA = -gb x^T (gb = solve(A^T, g)), summed back to A's batch shape."""
    if np.ndim(b) == 1:
        gb = np.linalg.solve(_mT(a), g[..., None])
        x = out[..., None]
    else:
        gb = np.linalg.solve(_mT(a), g)
        x = out
    return _sum_to(-np.matmul(gb, _mT(x)), np.shape(a))



def _eye(n, like):
    return np.eye(n, dtype=_dtype(like))


def _tril_mask(n, like, k=0):
    return np.tril(np.ones((n, n), dtype=_dtype(like)), k)


@helper(tangent=(LINEAR, UNKNOWN))
def cholesky_grad(g, out):
    """A = L L^T (L = out): gA = L^-T Phi(L^T gL) L^-1, Phi the lower triangle with its diagonal
    halved, made symmetric (PyTorch's): NumPy reads only A's lower triangle, so the gradient is the
    one of a symmetric perturbation."""
    n = np.shape(out)[-1]
    p = np.matmul(_mT(out), g) * _tril_mask(n, out)
    phi = 0.5 * (p + _mT(p * _tril_mask(n, out, -1)))
    # L^-T phi L^-1 with L^-1 made once: an inverse and two products cost less than two solves
    # with n right-hand sides each (same result to rounding; L is well conditioned wherever the
    # Cholesky factor exists)
    inverse = np.linalg.inv(out)
    return np.matmul(_mT(inverse), np.matmul(phi, inverse))


@helper(tangent=(LINEAR, UNKNOWN))
def eigh_grad(g, x, part=0, UPLO="L"):
    """A = V diag(w) V^T. Eigenvalues: gA = V diag(gw) V^T. Eigenvectors: gA = V (F o skew(V^T gV)) V^T
    with F_ij = 1/(w_j - w_i) off the diagonal and skew(X) = (X - X^T)/2 (PyTorch's): symmetric.
    Degenerate eigenvalues make F infinite, so the eigenvector part is inf/nan there (as JAX and
    PyTorch); the eigenvalue part is always finite."""
    w, v = np.linalg.eigh(x, UPLO=UPLO)
    if part == 0:
        return np.matmul(v * np.expand_dims(g, -2), _mT(v))
    vg = np.matmul(_mT(v), g)
    skew = 0.5 * (vg - _mT(vg))
    e = np.expand_dims(w, -2) - np.expand_dims(w, -1) + _eye(np.shape(w)[-1], w)
    return np.matmul(v, np.matmul(skew / e, _mT(v)))


@helper(tangent=(LINEAR, UNKNOWN))
def qr_grad(g, x, part=0):
    """A = QR (reduced, m >= n): M = R gR^T - gQ^T Q, gA = (gQ + Q copyltu(M)) R^-T, copyltu(M) the
    symmetric matrix with M's lower triangle (Seeger et al., as TensorFlow and PyTorch)."""
    q, r = np.linalg.qr(x)
    m, n = np.shape(x)[-2:]
    if m < n:
        raise NotImplementedError("the gradient of np.linalg.qr is for square or tall matrices "
                                  "(m >= n), as in PyTorch; this one is wide")
    if part == 0:
        mm = -np.matmul(_mT(g), q)
        top = g
    else:
        mm = np.matmul(r, _mT(g))
        top = None
    low = mm * _tril_mask(n, mm, -1)
    sym = low + _mT(low) + mm * _eye(n, mm)
    b = np.matmul(q, sym) if top is None else top + np.matmul(q, sym)
    return _mT(np.linalg.solve(r, _mT(b)))                       # b R^-T


@helper(tangent=(LINEAR, UNKNOWN))
def svd_grad(g, x, part=1, full_matrices=True):
    """A = U diag(S) Vh (k = min(m, n) singular triplets). As PyTorch: with full_matrices=True the
    extra columns of U (rows of Vh) get no gradient (any basis of their subspace would do).
    U:  gA = [U (skew(U^T gU) o S_j / E) + (I - U U^T) gU S^-1] Vh
    S:  gA = U diag(gS) Vh
    Vh: gA = U [(S_i skew(V^T gV) / E) Vh + S^-1 gV^T (I - V V^T)]
    with E_ij = S_j^2 - S_i^2 off the diagonal (1 on it) and skew(X) = X - X^T. Repeated singular
    values make E zero: the U and Vh parts are inf/nan there (the S part is always finite)."""
    u, s, vh = np.linalg.svd(x, full_matrices=False)
    k = np.shape(s)[-1]
    if part == 1:
        return np.matmul(u * np.expand_dims(g, -2), vh)
    s2 = s * s
    e = np.expand_dims(s2, -2) - np.expand_dims(s2, -1) + _eye(k, s2)
    if part == 0:
        gu = g[..., :, :k] if full_matrices else g
        ug = np.matmul(_mT(u), gu)
        inner = (ug - _mT(ug)) * np.expand_dims(s, -2) / e
        gus = gu / np.expand_dims(s, -2)
        left = np.matmul(u, inner) + gus - np.matmul(u, np.matmul(_mT(u), gus))
        return np.matmul(left, vh)
    gvh = g[..., :k, :] if full_matrices else g                  # the adjoint of Vh = V^T
    vg = np.matmul(vh, _mT(gvh))                                 # V^T gV
    inner = np.expand_dims(s, -1) * (vg - _mT(vg)) / e
    svh = gvh / np.expand_dims(s, -1)                            # S^-1 gV^T
    right = np.matmul(inner, vh) + svh - np.matmul(np.matmul(svh, _mT(vh)), vh)
    return np.matmul(u, right)


@helper(tangent=(LINEAR, UNKNOWN))
def svdvals_grad(g, x):
    """The singular values alone: gA = U diag(gS) Vh."""
    u, s, vh = np.linalg.svd(x, full_matrices=False)
    return np.matmul(u * np.expand_dims(g, -2), vh)


def _svd_bind(args, kwargs, ctx):
    """np.linalg.svd(a, full_matrices=True, compute_uv=True, hermitian=False): the three parts only
    (compute_uv=False returns one array, which an entry of three parts cannot be: call
    np.linalg.svdvals for the singular values alone)."""
    bound = bind_arguments(("a", "full_matrices", "compute_uv", "hermitian"), args, kwargs, ("a",))
    def const(name, default):
        return ctx.const(bound[name], name) if name in bound else default

    if not const("compute_uv", True):
        raise ValueError("compute_uv=False is not supported here: call np.linalg.svdvals(a) for "
                         "the singular values alone")
    if const("hermitian", False):
        raise ValueError("hermitian=True is not supported here: leave it at its default (False)")
    return [bound["a"]], {"full_matrices": bool(const("full_matrices", True))}



def _pinv_adjoint(gp, p, a):
    """The adjoint of P = pinv(A) (Golub and Pereyra: dP = -P dA P + P P^T dA^T (I - A P)
    + (I - P A) dA^T P^T P, for A of constant rank):
    gA = -P^T gP P^T + (I - A P) gP^T P P^T + P^T P gP^T (I - P A)."""
    pt = _mT(p)
    t = np.matmul(_mT(gp), np.matmul(p, pt))
    s = np.matmul(np.matmul(pt, p), _mT(gp))
    return (-np.matmul(pt, np.matmul(gp, pt)) + t - np.matmul(a, np.matmul(p, t))
            + s - np.matmul(np.matmul(s, p), a))


@helper(tangent=(LINEAR, UNKNOWN, UNKNOWN))
def pinv_grad(g, x, out):
    """The pseudo-inverse's adjoint (_pinv_adjoint), exact where the rank does not change."""
    return _pinv_adjoint(g, out, x)


def _cols(v):
    return v[..., None] if np.ndim(v) == 1 else v


def _lstsq_pinv(a, rcond):
    return np.linalg.pinv(a) if rcond is None else np.linalg.pinv(a, rcond=rcond)


@helper(tangent=(LINEAR, UNKNOWN, UNKNOWN, UNKNOWN))
def lstsq_a_grad(g, a, b, out, part=0, rcond=None):
    """lstsq's parts (x, residuals, rank, s). x = pinv(A) b: gA through pinv's adjoint with
    gP = g b^T. residuals = |b - A x|^2 (column sums, empty unless m > n = rank): at the optimum
    d/dA = -2 r x^T, d/db = 2 r (r = b - A x). s: svdvals' gradient. rank: none."""
    if part == 2 or part == 1 and np.size(out) == 0:
        return np.zeros_like(a)
    if part == 3:
        return svdvals_grad(g, a)
    p = _lstsq_pinv(a, rcond)
    if part == 0:
        return _pinv_adjoint(np.matmul(_cols(g), _mT(_cols(b))), p, a)
    x = _cols(np.matmul(p, _cols(b)))
    r = _cols(b) - np.matmul(a, x)
    return -2.0 * np.matmul(r * g, _mT(x))


@helper(tangent=(LINEAR, UNKNOWN, UNKNOWN, UNKNOWN))
def lstsq_b_grad(g, a, b, out, part=0, rcond=None):
    """See lstsq_a_grad: gb = pinv(A)^T g through x, 2 r g through the residuals."""
    if part in (2, 3) or part == 1 and np.size(out) == 0:
        return np.zeros_like(b)
    p = _lstsq_pinv(a, rcond)
    if part == 0:
        return np.matmul(_mT(p), g)
    r = b - np.matmul(a, np.matmul(p, b))
    return 2.0 * r * g


@helper(tangent=(LINEAR, UNKNOWN))
def matrix_power_grad(g, x, n=1):
    """A^n: gA = sum_k (A^T)^k g (A^T)^(n-1-k) for n > 0, 0 for n = 0; for n < 0, B = inv(A)
    raised to -n, and gA = -B^T gB B^T."""
    if n == 0:
        return np.zeros_like(x) * g
    if n < 0:
        b = np.linalg.inv(x)
        gb = matrix_power_grad(g, b, n=-n)
        return -np.matmul(_mT(b), np.matmul(gb, _mT(b)))
    xt = _mT(x)
    powers = [None, xt]                               # (A^T)^k, k >= 1; k = 0 is the identity
    for _ in range(2, n):
        powers.append(np.matmul(powers[-1], xt))
    total = None
    for k in range(n):
        term = g if k == 0 else np.matmul(powers[k], g)
        if n - 1 - k:
            term = np.matmul(term, powers[n - 1 - k])
        total = term if total is None else total + term
    return np.copy(total) if n == 1 else total  # fresh: never g itself


@helper(tangent=(EACH, OTHERS))
def multi_dot_grad(g, *xs, which=0):
    """multi_dot(A1, ..., An) = A1 ... An (a 1-D first array a row, a 1-D last a column): the
    adjoint of Ai is (A1 ... Ai-1)^T G (Ai+1 ... An)^T, G being g with those axes restored."""
    mats = list(xs)
    if np.ndim(mats[0]) == 1:
        mats[0] = mats[0][None, :]
    if np.ndim(mats[-1]) == 1:
        mats[-1] = mats[-1][:, None]
    gm = np.reshape(g, (np.shape(mats[0])[0], np.shape(mats[-1])[-1]))
    if which + 1 < len(mats):
        right = mats[which + 1]
        for m in mats[which + 2:]:
            right = np.matmul(right, m)
        gm = np.matmul(gm, _mT(right))
    if which > 0:
        left = mats[0]
        for m in mats[1:which]:
            left = np.matmul(left, m)
        gm = np.matmul(_mT(left), gm)
    return np.reshape(gm, np.shape(xs[which]))


def _multi_dot(*arrays):
    """np.linalg.multi_dot with its arrays spread: a variadic entry's callable is called as
    fn(*inputs) by the compiler's generated code, its evaluator and the tape's forward."""
    return np.linalg.multi_dot(list(arrays))


_multi_dot.__name__ = _multi_dot.__qualname__ = "multi_dot"


def _multi_dot_bind(args, kwargs, ctx):
    """np.linalg.multi_dot(arrays): the arrays of its list are the inputs."""
    if len(args) != 1 or kwargs:
        raise TypeError("takes one list of arrays (and no out=)")
    arrays = ctx.items(args[0])
    if len(arrays) < 2:
        raise ValueError("expecting at least two arrays")
    return arrays, {}


@helper(tangent=(LINEAR, UNKNOWN, UNKNOWN))
def solve_a_tangent(a_dot, a, out):
    """d solve(a, b) along a_dot: -a^-1 a_dot x, for x = solve(a, b) a vector (b one vector, even
    one shared by a batch of matrices) or a matrix."""
    if np.ndim(out) == np.ndim(a) - 1:
        return -np.linalg.solve(a, np.matmul(a_dot, out[..., None]))[..., 0]
    return -np.linalg.solve(a, np.matmul(a_dot, out))


ENTRIES = [
    Fn("det", "x", "det_grad(g, x, out)", family="linalg", np=np.linalg.det, tangent=("sum(det_grad(ones_like(out), x, out) * x_dot, axis=(-2, -1))",)),
    Fn("inv", "x", "inv_grad(g, out)", family="linalg", np=np.linalg.inv, tangent=("-matmul(matmul(out, x_dot), out)",)),
    Fn("slogdet", "x", "slogdet_grad(g, x, part=part)", family="linalg", np=np.linalg.slogdet,
       parts=2, tangent=("sum(slogdet_grad(ones_like(out), x, part=part) * x_dot, axis=(-2, -1))",)),
    # ord/axis/keepdims as NumPy's: vector norms (None, 2, 1, inf, -inf, 0, p) and matrix norms
    # ('fro', 'nuc', 1, -1, 2, -2, inf, -inf) over `axis`, an int or a pair
    Fn("norm", "x", "norm_grad(g, x, out, ord=ord, axis=axis, keepdims=keepdims)",
       family="linalg", np=np.linalg.norm, params="ord axis keepdims", tangent=("sum(norm_grad(ones_like(out), x, out, ord=ord, axis=axis, keepdims=keepdims) * x_dot, axis=axis, keepdims=keepdims)",)),
    Fn("solve", "a b", "solve_a_grad(g, a, b, out)", "solve_b_grad(g, a, b)", family="linalg",
       np=np.linalg.solve, tangent=("solve_a_tangent(a_dot, a, out)", "solve(a, b_dot)")),
    # the lower factor; the gradient is symmetric (PyTorch's), see cholesky_grad
    Fn("cholesky", "x", "cholesky_grad(g, out)", family="linalg", np=np.linalg.cholesky, tangent=(ROWS,)),
    # (w, v); a str UPLO cannot be written in compiled code today (the frontend refuses str
    # constants), so the compiler runs the default "L"; the tape takes either
    Fn("eigh", "x", "eigh_grad(g, x, part=part, UPLO=UPLO)", family="linalg", np=np.linalg.eigh,
       params="UPLO", parts=2, tangent=(ROWS,)),
    # (Q, R), mode="reduced" only (the default); m >= n
    Fn("qr", "x", "qr_grad(g, x, part=part)", family="linalg", np=np.linalg.qr, parts=2, tangent=(ROWS,)),
    # (U, S, Vh); compute_uv=False refused by the bind (svdvals is that function)
    Fn("svd", "x", "svd_grad(g, x, part=part, full_matrices=full_matrices)", family="linalg",
       np=np.linalg.svd, params="full_matrices", parts=3, bind=_svd_bind, tangent=(ROWS,)),
    Fn("svdvals", "x", "svdvals_grad(g, x)", family="linalg", np=np.linalg.svdvals, tangent=(ROWS,)),
    # hermitian=True (NumPy then reads one triangle only) is refused: it keeps its default
    Fn("pinv", "x", "pinv_grad(g, x, out)", family="linalg", np=np.linalg.pinv,
       params="rcond rtol", tangent=(ROWS,)),
    # (x, residuals, rank, s), 2-D a as NumPy's (no batching)
    Fn("lstsq", "a b", "lstsq_a_grad(g, a, b, out, part=part, rcond=rcond)",
       "lstsq_b_grad(g, a, b, out, part=part, rcond=rcond)", family="linalg", np=np.linalg.lstsq,
       params="rcond", parts=4, tangent=(ROWS, ROWS)),
    # n == 1 returns the input itself (NumPy's short-cut): an opaque view, so a write into its
    # result or into `a` while both live is checked when the code runs (refused if they share); the
    # tape, as PyTorch, returns a new array there
    Fn("matrix_power", "x", "matrix_power_grad(g, x, n=n)", family="linalg",
       np=np.linalg.matrix_power, params="n", facts={"fresh": False, "view": "opaque"}, tangent=(ROWS,)),
    Fn("multi_dot", "*xs", "multi_dot_grad(g, *xs, which=i)", family="linalg",
       np=_multi_dot, also=(np.linalg.multi_dot,), bind=_multi_dot_bind, tangent=(EACH,)),
]
