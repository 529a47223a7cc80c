"""NumPy's own functions on Tensors: `__array_ufunc__` and `__array_function__` dispatch.

A user's NumPy-written function (`np.sin(x) * np.sum(y)`, `np.maximum(x, 0)`, `x @ W`) runs unchanged on
Tensors and is recorded, because NumPy hands every ufunc and array function with a Tensor argument to the
tables below, which map them to functional.py.

What has no derivative rule: comparisons, predicates and integer-valued functions (np.isnan, np.floor,
np.argmax, ...) run on the values and return plain NumPy results (their gradient is zero or undefined,
as in PyTorch). Any other NumPy function runs on the values too, but refuses a Tensor that requires grad
while grad mode is on, with an error naming the function, rather than silently dropping the gradient.
"""
from __future__ import annotations

import numpy as np

from . import functional as F
from .grad_mode import STATE
from .tensor import Tensor

UFUNCS = {
    np.add: F.add, np.subtract: F.sub, np.multiply: F.mul, np.true_divide: F.div, np.power: F.pow,
    np.float_power: F.pow, np.negative: F.neg, np.positive: lambda x: x, np.absolute: F.abs,
    np.fabs: F.abs, np.exp: F.exp, np.expm1: F.expm1, np.log: F.log, np.log1p: F.log1p,
    np.log2: F.log2, np.log10: F.log10, np.sqrt: F.sqrt, np.square: F.square,
    np.reciprocal: F.reciprocal, np.sin: F.sin, np.cos: F.cos, np.tan: F.tan, np.arcsin: F.arcsin,
    np.arccos: F.arccos, np.arctan: F.arctan, np.sinh: F.sinh, np.cosh: F.cosh, np.tanh: F.tanh,
    np.arctan2: F.arctan2, np.hypot: F.hypot, np.maximum: F.maximum, np.minimum: F.minimum,
    np.logaddexp: F.logaddexp, np.matmul: F.matmul,
}

# ufunc.reduce of these is a reduction we have.
REDUCE_UFUNCS = {np.add: F.sum, np.multiply: F.prod, np.maximum: F.max, np.minimum: F.min}

# No gradient (zero, or undefined): plain results for any input, even one that requires grad.
PLAIN_UFUNCS = {
    np.less, np.less_equal, np.greater, np.greater_equal, np.equal, np.not_equal, np.logical_and,
    np.logical_or, np.logical_not, np.logical_xor, np.isnan, np.isinf, np.isfinite, np.signbit,
    np.sign, np.floor, np.ceil, np.trunc, np.rint, np.floor_divide, np.remainder, np.fmod,
}


def _unwrap(x):
    """Tensors (also inside lists and tuples) replaced by their values."""
    if isinstance(x, Tensor):
        return x._data
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap(v) for v in x)
    return x


def _needs_grad(xs):
    for x in xs:
        if isinstance(x, Tensor):
            if x._edge is not None:
                return True
        elif isinstance(x, (list, tuple)) and _needs_grad(x):
            return True
    return False


def _refuse(name, args, kwargs):
    if STATE.enabled and (_needs_grad(args) or _needs_grad(kwargs.values())):
        raise TypeError(f"numpy.{name} has no derivative rule in runtime, so it would drop the gradient "
                        f"of a Tensor that requires grad. Write it with supported operations "
                        f"(runtime/ops.py lists the tape's primitives), or pass x.detach() if no gradient should flow.")


def array_ufunc(ufunc, method, inputs, kwargs):
    if method == "__call__" and not kwargs:
        fn = UFUNCS.get(ufunc)
        if fn is not None:
            return fn(*inputs)
    elif method == "reduce" and ufunc in REDUCE_UFUNCS and set(kwargs) <= {"axis", "keepdims"}:
        return REDUCE_UFUNCS[ufunc](inputs[0], kwargs.get("axis", 0), kwargs.get("keepdims", False))
    if "out" in kwargs:
        raise TypeError(f"numpy.{ufunc.__name__}(..., out=) cannot write into a Tensor; use the result "
                        f"(or an in-place operator such as +=)")
    if not (method == "__call__" and ufunc in PLAIN_UFUNCS):
        _refuse(f"{ufunc.__name__}" + ("" if method == "__call__" else f".{method}"), inputs, kwargs)
    return getattr(ufunc, method)(*_unwrap(inputs), **{k: _unwrap(v) for k, v in kwargs.items()})


def _no_extras(name, **extras):
    for key, value in extras.items():
        if value is not None and value is not np._NoValue:
            raise TypeError(f"numpy.{name} on a Tensor does not support {key}=")


def _reducer(fn, name):
    def wrapper(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None, **kw):
        _no_extras(name, dtype=dtype, out=out, initial=initial, where=where, **kw)
        return fn(a, axis=axis, keepdims=bool(keepdims) if keepdims is not np._NoValue else False)
    return wrapper


def _max_reducer(fn, name):
    def wrapper(a, axis=None, out=None, keepdims=False, initial=None, where=None):
        _no_extras(name, out=out, initial=initial, where=where)
        return fn(a, axis=axis, keepdims=bool(keepdims) if keepdims is not np._NoValue else False)
    return wrapper


def _where(condition, x=None, y=None):
    if x is None and y is None:
        return np.where(_unwrap(condition))
    return F.where(condition, x, y)


def _clip(a, a_min=np._NoValue, a_max=np._NoValue, out=None, *, min=np._NoValue, max=np._NoValue, **kw):
    _no_extras("clip", out=out, **kw)
    lo = a_min if a_min is not np._NoValue else (min if min is not np._NoValue else None)
    hi = a_max if a_max is not np._NoValue else (max if max is not np._NoValue else None)
    return F.clip(a, lo, hi)


def _reshape(a, shape=None, order="C", *, newshape=None, copy=None):
    if order != "C":
        raise TypeError("numpy.reshape on a Tensor supports order='C' only")
    return F.reshape(a, shape if newshape is None else newshape)


def _transpose(a, axes=None):
    return F.transpose(a, axes)


def _copy(a, order="K", subok=False):
    return F.clone(a)


FUNCTIONS = {
    np.sum: _reducer(F.sum, "sum"), np.mean: _reducer(F.mean, "mean"), np.prod: _reducer(F.prod, "prod"),
    np.max: _max_reducer(F.max, "max"), np.min: _max_reducer(F.min, "min"),
    np.amax: _max_reducer(F.max, "amax"), np.amin: _max_reducer(F.min, "amin"),
    np.where: _where, np.clip: _clip, np.concatenate: F.concatenate, np.stack: F.stack,
    np.transpose: _transpose, np.reshape: _reshape, np.expand_dims: F.expand_dims,
    np.squeeze: F.squeeze, np.dot: F.dot, np.outer: F.outer, np.swapaxes: F.swapaxes,
    np.broadcast_to: F.broadcast_to, np.copy: _copy, np.ravel: lambda a, order="C": F.flatten(a),
    np.shape: F.shape, np.ndim: F.ndim, np.size: lambda a, axis=None: int(np.size(_unwrap(a), axis)),
}

# The library's functions (compiler/library/): each callable a user may call, to the tape's function.
from compiler.library import ENTRIES as _LIBRARY  # noqa: E402

for _entry in _LIBRARY:
    _fn = F.LIBRARY.get(_entry.tape) if _entry.tape else None
    if _fn is None:
        continue
    for _callable in (_entry.impls.get("np"), *_entry.also):
        if _callable is None:
            continue
        (UFUNCS if isinstance(_callable, np.ufunc) else FUNCTIONS)[_callable] = _fn

# No gradient: these run on the values whatever the inputs (plain results).
PLAIN_FUNCTIONS = {
    np.argmax, np.argmin, np.argsort, np.sort, np.allclose, np.isclose, np.array_equal, np.nonzero,
    np.count_nonzero, np.any, np.all, np.zeros_like, np.ones_like, np.empty_like, np.full_like,
    np.result_type, np.can_cast, np.unique, np.searchsorted, np.round, np.around,
}


def array_function(func, types, args, kwargs):
    fn = FUNCTIONS.get(func)
    if fn is not None:
        return fn(*args, **kwargs)
    if func not in PLAIN_FUNCTIONS:
        _refuse(func.__name__, args, kwargs)
    return func(*_unwrap(args), **{k: _unwrap(v) for k, v in kwargs.items()})


def _array_ufunc(self, ufunc, method, *inputs, **kwargs):
    return array_ufunc(ufunc, method, inputs, kwargs)


def _array_function(self, func, types, args, kwargs):
    return array_function(func, types, args, kwargs)


# NumPy's protocols on Tensor (tensor.py: the modules that own Tensor's operations give them)
Tensor.__array_ufunc__ = _array_ufunc
Tensor.__array_function__ = _array_function
