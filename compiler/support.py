"""Small NumPy helpers that generated gradient code calls for arrays, one per adjoint that needs more
than one NumPy call. Each returns a fresh array of exactly the shape of the value it differentiates,
so gradients never alias the user's inputs or each other.
"""
from __future__ import annotations

import numpy as np


def unbroadcast(g, x):
    """Sum `g` over the axes broadcasting added or stretched, back to the shape of `x` (the adjoint
    of NumPy broadcasting)."""
    shape = np.shape(x)
    gshape = np.shape(g)
    if gshape == tuple(shape):
        return g
    lead = len(gshape) - len(shape)
    if lead < 0 or any(a < b for a, b in zip(gshape[lead:], shape)):
        return np.broadcast_to(g, shape)  # g smaller than x: spread it over x's shape
    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape)
                                      if n == 1 and gshape[i + lead] != 1)
    out = np.sum(g, axis=axes) if axes else g
    out = np.reshape(out, shape)
    return out if shape else float(out)


def _keep(g, shape, axis, keepdims):
    """`g` (a reduction's adjoint) with the reduced axes restored as size-1 axes."""
    if keepdims or axis is None and np.ndim(g) == len(shape):
        return g
    if axis is None:
        return np.reshape(g, (1,) * len(shape))
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    axes = tuple(a % len(shape) for a in axes)
    return np.expand_dims(g, axes)


def sum_grad(g, x, axis=None, keepdims=False):
    """g handed to every entry that was summed: a read-only broadcast view, no copy (the
    compiler copies it only if it is returned to the user as is)."""
    return np.broadcast_to(_keep(g, np.shape(x), axis, keepdims), np.shape(x))


def mean_grad(g, x, axis=None, keepdims=False):
    shape = np.shape(x)
    count = np.prod([shape[a] for a in _axes(axis, len(shape))]) if shape else 1
    return sum_grad(np.true_divide(g, count), x, axis, keepdims)


def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    return tuple(a % ndim for a in axes)


def extreme_grad(g, x, out, axis=None, keepdims=False):
    """max/min: the gradient goes to the positions that hold the extreme value, shared equally
    between ties (so it sums to g, as in PyTorch and JAX)."""
    shape = np.shape(x)
    hit = (np.asarray(x) == _keep(out, shape, axis, keepdims))
    count = np.sum(hit, axis=axis, keepdims=True) if axis is not None or shape else 1
    return hit * (_keep(g, shape, axis, keepdims) / count)


def prod_grad(g, x, axis=None, keepdims=False):
    """The product of the other entries, exactly, even where some entries are zero."""
    x = np.asarray(x, dtype=np.float64)
    shape = x.shape
    if axis is None:
        flat = x.reshape(-1)
        others = _exclusive_products(flat, 0).reshape(shape)
        return others * np.asarray(g).reshape((1,) * len(shape) if shape else ())
    axes = _axes(axis, len(shape))
    moved = np.moveaxis(x, axes, tuple(range(len(shape) - len(axes), len(shape))))
    lead = moved.shape[:len(shape) - len(axes)]
    flat = moved.reshape(lead + (-1,))
    others = _exclusive_products(flat, -1).reshape(moved.shape)
    others = np.moveaxis(others, tuple(range(len(shape) - len(axes), len(shape))), axes)
    return others * _keep(g, shape, axis, keepdims)


def _exclusive_products(a, axis):
    a = np.moveaxis(a, axis, -1)
    ones = np.ones(a.shape[:-1] + (1,))
    left = np.concatenate([ones, np.cumprod(a[..., :-1], axis=-1)], axis=-1)
    right = np.concatenate([np.cumprod(a[..., :0:-1], axis=-1)[..., ::-1], ones], axis=-1)
    return np.moveaxis(left * right, -1, axis)


def matmul_grad_a(g, a, b):
    """d(a @ b)/da applied to g, for 1-D, 2-D and batched operands (batch axes summed back)."""
    a_nd, b_nd = np.ndim(a), np.ndim(b)
    if a_nd == 1 and b_nd == 1:
        return g * b
    if b_nd == 1:
        return unbroadcast(np.expand_dims(g, -1) * b, a)
    if a_nd == 1:
        return unbroadcast(np.matmul(b, np.expand_dims(g, -1))[..., 0], a)
    return unbroadcast(np.matmul(g, np.swapaxes(b, -1, -2)), a)


def matmul_grad_b(g, a, b):
    a_nd, b_nd = np.ndim(a), np.ndim(b)
    if a_nd == 1 and b_nd == 1:
        return g * a
    if a_nd == 1:
        return unbroadcast(np.expand_dims(a, -1) * np.expand_dims(g, -2), b)
    if b_nd == 1:
        return unbroadcast(np.matmul(np.swapaxes(a, -1, -2), np.expand_dims(g, -1))[..., 0], b)
    return unbroadcast(np.matmul(np.swapaxes(a, -1, -2), g), b)


def index_grad(g, x, index):
    """The adjoint of `x[index]`: zeros shaped like x, with g added at the indexed places
    (np.add.at, so an index that repeats gets every contribution)."""
    out = np.zeros(np.shape(x), dtype=np.result_type(g, np.float64))
    np.add.at(out, index, g)
    return out


def setitem(x, index, value):
    """`x[index] = value` as a value: a new array, the user's untouched."""
    out = np.array(x, dtype=np.result_type(x, value), copy=True)
    out[index] = value
    return out


def written_grad(g, index):
    """The adjoint of v in `x[index] = v`: g read at the written places. Where an index array
    repeats a place, NumPy keeps one of the writes (the last); the others reach nothing, so they
    get zero."""
    picked = g[index]
    kept = kept_writes(np.shape(g), index)
    if kept is None:
        return picked
    return np.where(kept, picked, 0.0).astype(picked.dtype, copy=False)


def kept_writes(shape, index):
    """For `a[index] = v` into an array of `shape`: which of v's places NumPy kept (a bool array
    shaped like a[index]), or None when no index array can repeat a place (every write is kept).
    Which write NumPy keeps is asked of NumPy itself, by the same assignment."""
    parts = index if isinstance(index, tuple) else (index,)
    if not any(isinstance(p, (list, np.ndarray)) and np.asarray(p).dtype.kind in "iu"
               for p in parts):
        return None
    writer = np.full(shape, -1)
    count = np.size(writer[index])
    position = np.arange(count).reshape(np.shape(writer[index]))
    writer[index] = position
    return writer[index] == position


def cleared(g, index):
    """g with the entries an assignment overwrote set to zero (they no longer reach the output)."""
    out = np.array(g, copy=True)
    out[index] = 0
    return out


def transpose_grad(g, axes=None):
    if axes is None:
        return np.transpose(g)
    return np.transpose(g, np.argsort(axes))


def reshape_grad(g, x):
    return np.reshape(g, np.shape(x))


def concat_grad(g, axis, index, *shapes):
    start = sum(s[axis] for s in shapes[:index])
    stop = start + shapes[index][axis]
    key = [slice(None)] * np.ndim(g)
    key[axis % np.ndim(g)] = slice(start, stop)
    return g[tuple(key)]


def stack_grad(g, axis, index):
    return np.take(g, index, axis=axis)


def clip_masks(x, lo, hi):
    """Where clip(x, lo, hi) = min(max(x, lo), hi) passes the gradient to x, to lo and to hi, as
    PyTorch's clamp: to x where lo <= x <= hi (the bounds themselves included); to lo where x < lo
    and lo < hi; to hi where x > hi, or everywhere when hi < lo (the result is hi there). At
    lo == hi with x below, PyTorch gives neither bound anything, and so do we. None: no bound.
    Three bool arrays, at the shape the three broadcast to."""
    x = np.asarray(x)
    lo_ = -np.inf if lo is None else np.asarray(lo)
    hi_ = np.inf if hi is None else np.asarray(hi)
    inside = (x >= lo_) & (x <= hi_)
    below = (x < lo_) & (lo_ < hi_)
    above = (x > hi_) | (hi_ < lo_)
    return inside, below, above


def clip_grad(g, x, lo, hi):
    return g * clip_masks(x, lo, hi)[0]


def clip_lo_grad(g, x, lo, hi):
    return g * clip_masks(x, lo, hi)[1]


def clip_hi_grad(g, x, lo, hi):
    return g * clip_masks(x, lo, hi)[2]


class Deopt(Exception):
    """Raised by a specialised version where the call takes a branch the instrumented run never
    took: its kinds and shapes were learnt on the other branch (api.respecialize then runs the
    generic version, which decides shapes as it goes)."""


def deopt():
    raise Deopt()


def outer_grad_a(g, b):
    return np.matmul(g, np.ravel(b))


def outer_grad_b(g, a):
    return np.matmul(np.ravel(a), g)


def moveaxis_grad(g, axis=0):
    """The adjoint of np.stack(items, axis) as a list: the items along the first axis."""
    return np.moveaxis(g, axis, 0) if axis else g


def make_object(cls, names, *values):
    """An object of class `cls` with these attributes (a dataclass returned as aux), made as
    trees.unflatten makes one: without running __init__ again."""
    obj = object.__new__(cls)
    for n, v in zip(names, values):
        object.__setattr__(obj, n, v)
    return obj


def stop_gradient(x):
    """`x` itself, as a constant for differentiation: no gradient flows back through it (JAX's
    lax.stop_gradient, the tape's `detach`). Compiled code sees it as a primitive; called from
    plain Python it returns its argument (detached, for a tape's tensor: the tape's `detach`)."""
    detach = getattr(x, "detach", None)
    return detach() if detach is not None and not isinstance(x, np.ndarray) else x


def fresh(x):
    """x as a value of its own: a copy of an array (a number is its own value)."""
    return x.copy() if isinstance(x, np.ndarray) else x
