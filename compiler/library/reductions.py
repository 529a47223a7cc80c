"""Statistics and scans (NumPy's reductions beyond the core sum/mean/max/min/prod): var, std,
average, median, nansum, nanmean, ptp, cumsum, cumprod, diff.

Every helper takes NumPy's axis forms (None, an int, a negative int, a tuple) and keepdims, and
keeps the dtype of its inputs (float32 stays float32: counts are Python ints, or arrays of x's
dtype). NumPy's keepdims default is often np._NoValue, which the tape passes (it binds NumPy's
defaults) where the compiler passes nothing: `_kd` reads both as False.

Kinks and ties (README's convention: ties split g evenly, otherwise PyTorch's values):
  std     where the spread is zero, d std = g (x - mean) / ((n - ddof) std) is 0 / 0 (PyTorch gives
          nan there); we give 0, the subgradient of the minimum of std at a constant slice.
  median  g goes to the middle value(s): split evenly among the entries equal to the median (ties);
          with an even count and two different middle values a < b, g/2 goes to a and g/2 to b (each
          half split among the entries equal to it).
  ptp     max - min, each split among its ties as the core max/min do (0 where max == min).
  nansum, nanmean: no gradient to the nan entries (0 there).
"""
from __future__ import annotations

import inspect
import math

import numpy as np

from . import Fn, helper, LINEAR, EACH, ROWS, UNKNOWN


def _kd(keepdims):
    """keepdims as a bool (np._NoValue, NumPy's default for many reductions, is False)."""
    return keepdims is not np._NoValue and bool(keepdims)


def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    return tuple(int(a) % ndim for a in axes)


def _count(shape, axis):
    """How many entries each result reduces (a Python int: it keeps float32 float32)."""
    return math.prod(shape[a] for a in _axes(axis, len(shape)))


def _keep(v, shape, axis, keepdims):
    """A reduction's result (or its adjoint) with the reduced axes back as length 1, so it
    broadcasts against the input."""
    if _kd(keepdims):
        return v
    axes = _axes(axis, len(shape))
    return np.reshape(v, tuple(1 if k in axes else n for k, n in enumerate(shape)))


def _ones(cond, like):
    """1 where cond holds, else 0, in like's dtype (a bool mask would promote counts to int64)."""
    return np.where(cond, np.ones_like(like), np.zeros_like(like))


def _index(ndim, axis, part):
    return (slice(None),) * (axis % ndim) + (part,)


# --- var, std, average ----------------------------------------------------------------------------

@helper(tangent=(EACH, EACH))
def var_grad(g, x, axis=None, ddof=0, keepdims=False):
    """d var = 2 (x - mean) / (n - ddof)."""
    shape = np.shape(x)
    centred = x - np.mean(x, axis=axis, keepdims=True)
    return _keep(g, shape, axis, keepdims) * centred * (2.0 / (_count(shape, axis) - ddof))


@helper(tangent=(EACH, EACH, "-std_grad(g, x, out, axis=axis, ddof=ddof, keepdims=keepdims) * sum_grad(out_dot / out, x, axis=axis, keepdims=keepdims)"))
def std_grad(g, x, out, axis=None, ddof=0, keepdims=False):
    """d std = (x - mean) / ((n - ddof) std); 0 where std == 0 (PyTorch: nan), see the module."""
    shape = np.shape(x)
    s = _keep(out, shape, axis, keepdims)
    zero = s == 0
    centred = x - np.mean(x, axis=axis, keepdims=True)
    scale = _keep(g, shape, axis, keepdims) / (np.where(zero, np.ones_like(s), s)
                                               * (_count(shape, axis) - ddof))
    return np.where(zero, np.zeros_like(s), scale) * centred


def _weights(w, x, axis):
    """The weights broadcast against x as np.average reads them (same shape, a 1-D array along an
    int axis, or a scalar: no weights)."""
    if np.ndim(w) == 0:
        return np.ones_like(x) * w   # x's dtype: a float32 x keeps a float32 gradient
    shape = np.shape(x)
    if np.ndim(w) == len(shape):
        return np.broadcast_to(w, shape)
    return np.broadcast_to(np.reshape(w, tuple(-1 if k == axis % len(shape) else 1
                                               for k in range(len(shape)))), shape)


@helper(tangent=(LINEAR, None, UNKNOWN))
def average_grad(g, x, w, axis=None, keepdims=False):
    """out = sum(w x) / sum(w): d/dx = w / sum(w)."""
    shape = np.shape(x)
    wb = _weights(w, x, axis)
    return _keep(g, shape, axis, keepdims) * wb / np.sum(wb, axis=axis, keepdims=True)


@helper(tangent=(LINEAR, UNKNOWN, UNKNOWN, UNKNOWN))
def average_w_grad(g, x, w, out, axis=None, keepdims=False):
    """d/dw = (x - out) / sum(w), summed back to the weights' own shape."""
    shape = np.shape(x)
    wb = _weights(w, x, axis)
    full = (_keep(g, shape, axis, keepdims) * (x - _keep(out, shape, axis, keepdims))
            / np.sum(wb, axis=axis, keepdims=True))
    if np.ndim(w) == len(shape):
        return full
    if np.ndim(w) == 0:
        return np.sum(full)
    ax = axis % len(shape)
    return np.sum(full, axis=tuple(k for k in range(len(shape)) if k != ax))


def average(a, weights, axis=None, keepdims=False):
    """np.average with the weights as a positional input (a scalar weight: none, the mean)."""
    kw = {"keepdims": True} if _kd(keepdims) else {}
    if np.ndim(weights) == 0:
        return np.mean(a, axis=axis, **kw)
    return np.average(a, axis=axis, weights=weights, **kw)


_AVERAGE = inspect.signature(np.average)


def _bind_average(args, kwargs, ctx):
    """np.average(a, axis=None, weights=None, returned=False, *, keepdims=...): the weights are an
    input when given; without them the input is the constant 1.0 (the mean)."""
    bound = _AVERAGE.bind(*args, **kwargs).arguments
    if bound.get("returned", False) is not False and ctx.const(bound["returned"]) is not False:
        raise ValueError("returned=True is not supported (compute np.sum(weights) yourself)")
    a = bound["a"]
    w = bound.get("weights")
    if w is None or _is_none(w, ctx):
        w = _constant_one(a)
    axis = ctx.const(bound["axis"], "axis") if "axis" in bound else None
    keepdims = ctx.const(bound["keepdims"], "keepdims") if "keepdims" in bound else False
    return [a, w], {"axis": axis, "keepdims": _kd(keepdims)}


def _is_none(value, ctx):
    try:
        return ctx.const(value) is None
    except Exception:  # an array: not a constant
        return False


def _constant_one(a):
    """The constant 1.0 as an input: an IR constant in the compiler's frontend, a float on the
    tape (bind= gives no way to say "a constant input", so it is told by the kind of `a`)."""
    from ..ir import Const, Var
    if isinstance(a, (Var, Const)):
        return Const(1.0)
    return 1.0


# --- median, ptp, nansum, nanmean -----------------------------------------------------------------

@helper(tangent=(LINEAR, None, None))
def median_grad(g, x, out, axis=None, keepdims=False):
    """g to the middle value(s), split among ties (see the module)."""
    shape = np.shape(x)
    m = _keep(out, shape, axis, keepdims)
    gk = _keep(g, shape, axis, keepdims)
    inf = np.inf
    lo = np.max(np.where(x <= m, x, -inf), axis=axis, keepdims=True)   # the lower middle value
    hi = np.min(np.where(x >= m, x, inf), axis=axis, keepdims=True)    # the upper one
    at_lo = _ones(x == lo, x)
    at_hi = _ones(x == hi, x)
    n_lo = np.sum(at_lo, axis=axis, keepdims=True)
    n_hi = np.sum(at_hi, axis=axis, keepdims=True)
    return gk * 0.5 * (at_lo / n_lo + at_hi / n_hi)


@helper(tangent=(LINEAR, None))
def ptp_grad(g, x, axis=None, keepdims=False):
    """max - min: g to the max's ties, -g to the min's, each split evenly (as the core max)."""
    shape = np.shape(x)
    gk = _keep(g, shape, axis, keepdims)
    at_max = _ones(x == np.max(x, axis=axis, keepdims=True), x)
    at_min = _ones(x == np.min(x, axis=axis, keepdims=True), x)
    return gk * (at_max / np.sum(at_max, axis=axis, keepdims=True)
                 - at_min / np.sum(at_min, axis=axis, keepdims=True))


@helper(tangent=(LINEAR, None))
def nansum_grad(g, x, axis=None, keepdims=False):
    """g to every entry that is a number, 0 to the nan ones."""
    shape = np.shape(x)
    return np.where(np.isnan(x), np.zeros_like(x), _keep(g, shape, axis, keepdims))


@helper(tangent=(LINEAR, None))
def nanmean_grad(g, x, axis=None, keepdims=False):
    """g / (how many numbers) to every entry that is a number, 0 to the nan ones."""
    shape = np.shape(x)
    valid = np.where(np.isnan(x), np.zeros_like(x), np.ones_like(x))
    count = np.sum(valid, axis=axis, keepdims=True)
    count = np.where(count == 0, np.ones_like(count), count)   # all nan: no entry gets anything
    return valid * (_keep(g, shape, axis, keepdims) / count)


# --- scans ----------------------------------------------------------------------------------------

@helper(tangent=(LINEAR, None))
def cumsum_grad(g, x, axis=None):
    """The adjoint of a running sum is the running sum of g from the end."""
    if axis is None:
        return np.reshape(cumsum_grad(g, np.reshape(x, (-1,)), 0), np.shape(x))
    rev = _index(np.ndim(g), axis, slice(None, None, -1))
    return np.cumsum(g[rev], axis=axis)[rev]


@helper(tangent=(LINEAR, UNKNOWN, UNKNOWN))
def cumprod_grad(g, x, out, axis=None):
    """out_i = x_0 ... x_i. d/dx_k = out_{k-1} S_k, with S_k = g_k + x_{k+1} S_{k+1} and
    S_last = g_last: exact where some x are zero (no division); one step per entry along the
    axis."""
    if axis is None:
        flat = cumprod_grad(g, np.reshape(x, (-1,)), np.reshape(out, (-1,)), 0)
        return np.reshape(flat, np.shape(x))
    nd = np.ndim(x)
    n = np.shape(x)[axis % nd]
    if n == 0:
        return np.zeros_like(x)
    at = lambda v, k: v[_index(nd, axis, k)]   # noqa: E731
    s = at(g, n - 1)
    parts = [None] * n
    for k in range(n - 1, -1, -1):
        if k < n - 1:
            s = at(g, k) + at(x, k + 1) * s
        parts[k] = s if k == 0 else at(out, k - 1) * s
    return np.stack(parts, axis=axis % nd)


@helper(tangent=(LINEAR, None))
def diff_grad(g, x, n=1, axis=-1):
    """out = x[1:] - x[:-1], n times: each time the adjoint is [0, g] - [g, 0] along the axis."""
    nd = np.ndim(x)
    for _ in range(n):
        zero = np.zeros_like(g[_index(nd, axis, slice(0, 1))])
        g = np.concatenate([zero, g], axis=axis) - np.concatenate([g, zero], axis=axis)
    return g


# The core reductions' equations carry lib="np" (the frontend's array_call sets it); a library
# entry's do not, so in a graph the compiler judges statically scalar (no primitive that makes
# arrays) the emitter would spell them with `math` and fail (KeyError: no implementation for
# lib='math'). These functions take arrays (cumsum, diff make them from a number): they say so.
_ARRAYS = {"makes_arrays": True}

_DIFF = inspect.signature(np.diff)


def _bind_diff(args, kwargs, ctx):
    """np.diff(a, n=1, axis=-1): n=0 is refused, for NumPy returns `a` itself there (not a new
    array: a write into the result would write into the input); prepend=/append= unsupported."""
    bound = _DIFF.bind(*args, **kwargs).arguments
    for name in ("prepend", "append"):
        if name in bound:
            raise ValueError(f"{name}= is not supported: np.concatenate the values first")
    n = ctx.const(bound["n"], "n") if "n" in bound else 1
    axis = ctx.const(bound["axis"], "axis") if "axis" in bound else -1
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n={n!r}: n must be a positive int here (n=0 returns the input itself)")
    return [bound["a"]], {"n": int(n), "axis": axis}


ENTRIES = [
    Fn("var", "x", "var_grad(g, x, axis=axis, ddof=ddof, keepdims=keepdims)",
       family="reduction", facts=_ARRAYS, np=np.var, params="axis ddof keepdims", method="var", tangent=("sum(var_grad(ones_like(out), x, axis=axis, ddof=ddof, keepdims=keepdims) * x_dot, axis=axis, keepdims=keepdims)",)),
    Fn("std", "x", "std_grad(g, x, out, axis=axis, ddof=ddof, keepdims=keepdims)",
       family="reduction", facts=_ARRAYS, np=np.std, params="axis ddof keepdims", method="std", tangent=("sum(std_grad(ones_like(out), x, out, axis=axis, ddof=ddof, keepdims=keepdims) * x_dot, axis=axis, keepdims=keepdims)",)),
    Fn("average", "x w", "average_grad(g, x, w, axis=axis, keepdims=keepdims)",
       "average_w_grad(g, x, w, out, axis=axis, keepdims=keepdims)",
       family="reduction", facts=_ARRAYS, np=average, also=(np.average,), params="axis keepdims",
       tape="average", bind=_bind_average, tangent=("sum(average_grad(ones_like(out), x, w, axis=axis, keepdims=keepdims) * x_dot, axis=axis, keepdims=keepdims)", ROWS)),
    Fn("median", "x", "median_grad(g, x, out, axis=axis, keepdims=keepdims)",
       family="reduction", facts=_ARRAYS, np=np.median, params="axis keepdims", tangent=("sum(median_grad(ones_like(out), x, out, axis=axis, keepdims=keepdims) * x_dot, axis=axis, keepdims=keepdims)",)),
    Fn("ptp", "x", "ptp_grad(g, x, axis=axis, keepdims=keepdims)",
       family="reduction", facts=_ARRAYS, np=np.ptp, params="axis keepdims", tangent=("sum(ptp_grad(ones_like(out), x, axis=axis, keepdims=keepdims) * x_dot, axis=axis, keepdims=keepdims)",)),
    Fn("nansum", "x", "nansum_grad(g, x, axis=axis, keepdims=keepdims)",
       family="reduction", facts=_ARRAYS, np=np.nansum, params="axis keepdims", tangent=("sum(nansum_grad(ones_like(out), x, axis=axis, keepdims=keepdims) * x_dot, axis=axis, keepdims=keepdims)",)),
    Fn("nanmean", "x", "nanmean_grad(g, x, axis=axis, keepdims=keepdims)",
       family="reduction", facts=_ARRAYS, np=np.nanmean, params="axis keepdims", tangent=("sum(nanmean_grad(ones_like(out), x, axis=axis, keepdims=keepdims) * x_dot, axis=axis, keepdims=keepdims)",)),
    Fn("cumsum", "x", "cumsum_grad(g, x, axis=axis)",
       family="reduction", facts=_ARRAYS, np=np.cumsum, params="axis", method="cumsum", tangent=(LINEAR,)),
    Fn("cumprod", "x", "cumprod_grad(g, x, out, axis=axis)",
       family="reduction", facts=_ARRAYS, np=np.cumprod, params="axis", method="cumprod", tangent=(ROWS,)),
    Fn("diff", "x", "diff_grad(g, x, n=n, axis=axis)",
       family="reduction", facts=_ARRAYS, np=np.diff, params="n axis", bind=_bind_diff, tangent=(LINEAR,)),
]
