"""Linear algebra (numpy.linalg): determinants, inverses, solves and factorisations.

Formulas use solves rather than explicit inverses where a solve is what the math needs, and batch
over leading axes wherever NumPy does.
"""
from __future__ import annotations

import numpy as np

from . import Fn, helper


def _mT(a):
    return np.swapaxes(a, -1, -2)


@helper()
def det_grad(g, x, out):
    """d det(X) = det(X) tr(X^-1 dX): the adjoint is g det(X) X^-T, over any leading batch axes."""
    scale = np.expand_dims(np.expand_dims(g * out, -1), -1)
    return scale * _mT(np.linalg.inv(x))


@helper()
def inv_grad(g, out):
    """d inv(X) = -inv(X) dX inv(X): the adjoint is -inv(X)^T g inv(X)^T."""
    return -np.matmul(_mT(out), np.matmul(g, _mT(out)))


@helper()
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


@helper()
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


@helper()
def solve_grad_b(g, a, b):
    """x = solve(A, b): gb = solve(A^T, g), summed back over the batch axes b was broadcast over."""
    if np.ndim(b) == 1:
        gb = np.linalg.solve(_mT(a), g[..., None])[..., 0]
    else:
        gb = np.linalg.solve(_mT(a), g)
    return _sum_to(gb, np.shape(b))


@helper()
def solve_grad_a(g, a, b, out):
    """x = solve(A, b): gA = -gb x^T (gb = solve(A^T, g)), summed back to A's batch shape."""
    if np.ndim(b) == 1:
        gb = np.linalg.solve(_mT(a), g[..., None])
        x = out[..., None]
    else:
        gb = np.linalg.solve(_mT(a), g)
        x = out
    return _sum_to(-np.matmul(gb, _mT(x)), np.shape(a))


ENTRIES = [
    Fn("det", "x", "det_grad(g, x, out)", family="linalg", np=np.linalg.det),
    Fn("inv", "x", "inv_grad(g, out)", family="linalg", np=np.linalg.inv),
    Fn("slogdet", "x", "slogdet_grad(g, x, part=part)", family="linalg", np=np.linalg.slogdet,
       parts=2),
    # ord/axis/keepdims as NumPy's: vector norms (None, 2, 1, inf, -inf, 0, p) and matrix norms
    # ('fro', 'nuc', 1, -1, 2, -2, inf, -inf) over `axis`, an int or a pair
    Fn("norm", "x", "norm_grad(g, x, out, ord=ord, axis=axis, keepdims=keepdims)",
       family="linalg", np=np.linalg.norm, params="ord axis keepdims"),
    Fn("solve", "a b", "solve_grad_a(g, a, b, out)", "solve_grad_b(g, a, b)", family="linalg",
       np=np.linalg.solve),
]
