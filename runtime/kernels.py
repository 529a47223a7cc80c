"""Forward kernels: what each primitive computes, on raw values (a Python float for a float64 scalar,
otherwise an ndarray).

Scalar kernels use `math` (several times faster than NumPy on a Python float) and fall back to NumPy
where `math` or Python arithmetic would raise, so a scalar gives exactly what a 0-d array would: inf,
nan and NumPy's warning, never a Python exception (log(0), exp(1000), 1/0.0, (-8)**(1/3)).
"""
from __future__ import annotations

import math

import numpy as np

ndarray = np.ndarray
LN2 = math.log(2.0)


def unary_kernel(scalar_fn, array_fn):
    """math for a Python float (fast), NumPy otherwise; NumPy also where math raises (log(0), exp(1e3))."""
    def kernel(x):
        if x.__class__ is float:
            try:
                return scalar_fn(x)
            except (ValueError, OverflowError):
                return float(array_fn(x))
        return array_fn(x)
    kernel.__name__ = array_fn.__name__
    return kernel


def div(a, b):
    try:
        return a / b
    except ZeroDivisionError:           # only Python scalars raise; arrays give inf/nan
        return np.true_divide(a, b)


def pow(a, b):
    if a.__class__ is float:
        try:
            r = a ** b
        except (ZeroDivisionError, OverflowError):
            return np.power(a, b)
        if r.__class__ is complex:      # (-8.0) ** (1/3): Python goes complex, NumPy gives nan
            return np.power(a, b)
        return r
    if isinstance(a, ndarray) and isinstance(b, (int, float)) and a.dtype.kind in "iu" and b < 0:
        return np.power(a.astype(np.float64), b)    # NumPy refuses int ** negative int
    return np.power(a, b)


def binary_math(scalar_fn, array_fn):
    def kernel(a, b):
        if a.__class__ is float and b.__class__ is float:
            try:
                return scalar_fn(a, b)
            except (ValueError, OverflowError):
                pass
        return array_fn(a, b)
    kernel.__name__ = array_fn.__name__
    return kernel


def logaddexp(a, b):
    if a == b:                          # also covers a = b = +-inf, where a - b is nan
        return a + LN2
    return max(a, b) + math.log1p(math.exp(-abs(a - b)))


def maximum(a, b):
    if a.__class__ is float and b.__class__ is float and a == a and b == b:
        return a if a >= b else b
    return np.maximum(a, b)


def minimum(a, b):
    if a.__class__ is float and b.__class__ is float and a == a and b == b:
        return a if a <= b else b
    return np.minimum(a, b)


def select(cond, a, b):
    if cond.__class__ is bool and a.__class__ is float and b.__class__ is float:
        return a if cond else b
    return np.where(cond, a, b)


def clip(x, lo, hi):
    if x.__class__ is float and lo.__class__ is float and hi.__class__ is float:
        return hi if x > hi else (lo if x < lo else x)   # NumPy's order: min(max(x, lo), hi)
    return np.minimum(np.maximum(x, lo), hi)


def reduce(fn):
    def kernel(x, axis, keepdims):
        if x.__class__ is float:
            if axis is None:
                return x
            x = np.asarray(x)               # NumPy decides what an axis of a 0-d value means
        return fn(x, axis=axis, keepdims=keepdims)
    kernel.__name__ = fn.__name__
    return kernel


def reshape(x, shape):
    if x.__class__ is float and shape == ():
        return x
    return np.reshape(x, shape)


def transpose(x, axes):
    return x if x.__class__ is float else np.transpose(x, axes)


def broadcast_to(x, shape):
    return np.broadcast_to(x, shape)


def getitem(x, index):
    if x.__class__ is float:
        return np.asarray(x)[index]
    return x[index]


def scatter_add(g, shape, index):
    """zeros(shape) with g added at `index`; repeated integer indices add (np.add.at), as in a gather's
    gradient."""
    out = np.zeros(shape, dtype=np.result_type(g))
    if is_basic(index):
        out[index] += g
    else:
        np.add.at(out, index, g)
    return out


def setitem(x, v, index):
    """Write v into x at index, in x's own memory (Tensor.__setitem__ hands it the tensor's array, so the
    base and the views of that tensor see the write; views.py)."""
    if x.__class__ is float:            # a float is immutable: write into a 0-d copy
        x = np.array(x)
    x[index] = v
    return x


def is_basic(index):
    """True when NumPy indexing is basic (ints, slices, None, Ellipsis): no index can repeat."""
    if not isinstance(index, tuple):
        index = (index,)
    for part in index:
        if not (part is None or part is Ellipsis or isinstance(part, (int, slice, np.integer))):
            return False
    return True


def matmul(a, b):
    return np.matmul(a, b)


def concatenate(xs, axis):
    return np.concatenate(xs, axis=axis)


def stack(xs, axis):
    return np.stack(xs, axis=axis)


def clone(x):
    return x if x.__class__ is float else x.copy()
