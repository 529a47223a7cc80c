"""Gradients of functions called with lazy arrays (Dask): a version that builds a task graph.

A Dask array speaks NumPy's API (`__array_function__`, `__array_ufunc__`), so the generated code,
which calls `np.*` functions, builds Dask's graph when handed one. What it must not do is what
assumes NumPy memory or needs the data now:
- in-place updates (`t *= x`, `out=`, `del`, `np.add.at` into a buffer): the lazy version is the
  generic one with no storage plan (kinds unknown: nothing is written in place) and accumulators
  written `acc = acc + g` (emit.Emitter(lazy=True));
- running the function on the data to learn shapes: the lazy version works shapes out as it runs
  (runtime unbroadcast from Dask's metadata), and the user's function is not run first;
- computing a value (`bool()` of a lazy test in an `if`, `float()`, `np.asarray`): every call of
  the lazy version runs under `no_compute`, which turns any compute into a GradError naming the
  user's line and the operation, instead of a silent pass over the data.

The helpers the generated code calls (compiler/support.py) are swapped for lazy-safe ones where
NumPy's would compute (`float(out)`, `np.asarray`) or write in place (`np.add.at`).
"""
from __future__ import annotations

import contextlib
import linecache
import re
import sys

import numpy as np

from . import support
from .errors import GradError


def is_lazy(value):
    """Whether `value` is a Dask array (checked without importing Dask when it is not loaded)."""
    if "dask.array" not in sys.modules:
        return False
    import dask.array as da  # noqa: PLC0415
    return isinstance(value, da.Array)


def any_lazy(values):
    return "dask.array" in sys.modules and any(is_lazy(v) for v in values)


class HiddenCompute(Exception):
    """Raised by the scheduler `no_compute` installs: the generated code asked for a value."""


class UnknownShape(HiddenCompute):
    """A lazy value whose length is unknown (x[mask] on Dask data) reached a gradient that needs
    its shape: knowing it would mean computing the mask."""


def _refuse(*args, **kwargs):
    raise HiddenCompute()


@contextlib.contextmanager
def no_compute():
    """Any compute of a Dask collection inside raises HiddenCompute (whatever the scheduler: a
    distributed Client's too, since the configured scheduler is asked first)."""
    import dask  # noqa: PLC0415
    with dask.config.set(scheduler=_refuse):
        yield


_LINE = re.compile(r"#\s*(gradient of )?(?:(\w+), )?line (\d+): (.*)")


def refusal(fn, func_name, tb, exc=None):
    """The GradError for a compute the generated code asked for: at the user's line (the comment
    above the generated line that asked), saying what to do."""
    filename, lineno = None, None
    while tb is not None:  # the innermost frame of the generated function
        if tb.tb_frame.f_code.co_name == func_name:
            filename, lineno = tb.tb_frame.f_code.co_filename, tb.tb_lineno
        tb = tb.tb_next
    where, text = "", ""
    if filename is not None:
        for k in range(lineno, 0, -1):
            m = _LINE.search(linecache.getline(filename, k))
            if m:
                phase, func, line, text = m.groups()
                code = fn.__code__
                func = func or fn.__name__
                where = f'File "{code.co_filename}", line {line}, in {func}\n    {text}\n'
                if phase:
                    where += "(in its gradient)\n"
                break
        else:
            text = linecache.getline(filename, lineno).strip()
            where = f"in the generated code: {text}\n"
    if isinstance(exc, UnknownShape):
        return GradError(
            f"{where}{fn.__name__} is differentiated on Dask arrays, and this line makes an array "
            "whose length depends on the data (a boolean mask, x[x > 0]): its gradient needs "
            "that length, which only computing the mask would tell. Keep the shape with "
            "np.where(mask, x, 0.0), or select the data before the call and "
            "`.compute_chunk_sizes()` it.")
    return GradError(
        f"{where}{fn.__name__} is differentiated on Dask arrays, and this line needs the value of "
        "lazy data now (a data-dependent `if`/`while`, float(), np.asarray, or an operation Dask "
        "runs eagerly): that would compute the data in the middle of building the gradient. "
        "Write the test with np.where (both branches lazy), or compute the value yourself first "
        "and pass it as an argument.")


# --- helpers for the lazy version (compiler/support.py's, without computes or in-place writes) ---

def unbroadcast(g, x):
    """support.unbroadcast, keeping a 0-d lazy result lazy (NumPy's makes it a float)."""
    shape = tuple(np.shape(x))
    gshape = tuple(np.shape(g))
    if any(n != n for n in shape + gshape):  # nan: a length Dask does not know yet
        raise UnknownShape()
    if gshape == shape:
        return g
    lead = len(gshape) - len(shape)
    if lead < 0 or any(a < b for a, b in zip(gshape[lead:], shape)):
        return _spread(g, x)
    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape)
                                      if n == 1 and gshape[i + lead] != 1)
    out = np.sum(g, axis=axes) if axes else g
    out = np.reshape(out, shape)
    return out if shape or is_lazy(out) else float(out)


def _spread(g, x):
    """g broadcast to x's shape; to a lazy x's chunks when x is lazy (NumPy's broadcast view of a
    small g would be pickled whole into the task graph: gigabytes of one repeated number)."""
    import dask.array as da  # noqa: PLC0415
    if not is_lazy(x):
        return np.broadcast_to(g, np.shape(x)) if not is_lazy(g) else \
            da.broadcast_to(g, np.shape(x))
    return da.broadcast_to(da.asarray(g), x.shape, chunks=x.chunks)


def sum_grad(g, x, axis=None, keepdims=False):
    return _spread(support._keep(g, np.shape(x), axis, keepdims), x)


def mean_grad(g, x, axis=None, keepdims=False):
    shape = np.shape(x)
    count = np.prod([shape[a] for a in support._axes(axis, len(shape))]) if shape else 1
    return sum_grad(np.true_divide(g, count), x, axis, keepdims)


def extreme_grad(g, x, out, axis=None, keepdims=False):
    shape = np.shape(x)
    hit = x == support._keep(out, shape, axis, keepdims)
    count = np.sum(hit, axis=axis, keepdims=True) if axis is not None or shape else 1
    return hit * (support._keep(g, shape, axis, keepdims) / count)


def clip_masks(x, lo, hi):
    lo_ = -np.inf if lo is None else lo
    hi_ = np.inf if hi is None else hi
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


def _unsupported(name, what):
    def helper(*args, **kwargs):
        if not any(is_lazy(a) for a in args):
            return getattr(support, name)(*args, **kwargs)
        raise GradError(f"{what} on a Dask array: its gradient writes into an array in place, "
                        "which Dask arrays do not allow. Index with slices and integers, or "
                        "compute that part with NumPy.")
    helper.__name__ = name
    return helper


def _parts(index):
    return index if isinstance(index, tuple) else (index,)


def _basic(index):
    """An index of integers, slices, None and ... : it names each place at most once."""
    return all(isinstance(p, (int, np.integer, slice)) or p is None or p is Ellipsis
               for p in _parts(index))


def index_grad(g, x, index):
    """The adjoint of `x[index]` with a Dask array in it: zeros shaped (and, for a Dask x,
    chunked) like x with g assigned at the places, which an integer or slice index names once.
    An index array may repeat a place (a scatter-add Dask lacks): refused by name."""
    if not is_lazy(g) and not is_lazy(x) and not any(map(is_lazy, _parts(index))):
        return support.index_grad(g, x, index)
    if not _basic(index):
        raise GradError("indexing a Dask array with an index array or a mask (x[idx], x[x > 0]): "
                        "its gradient adds into repeated places, which Dask cannot do lazily. "
                        "Use np.where(mask, x, 0.0) instead of x[mask], or compute that part "
                        "with NumPy.")
    import dask.array as da  # noqa: PLC0415
    out = da.zeros_like(x, dtype=np.float64) if is_lazy(x) else \
        da.zeros(np.shape(x), dtype=np.float64)
    out[index] = g
    return out


def index_add(acc, index, value):
    """`acc[index] += value` as a value (integers and slices: each place once): in place into a
    NumPy buffer when the value is NumPy's too, else a new Dask array (Dask's lazy assignment)."""
    if not is_lazy(acc) and not is_lazy(value):
        acc[index] += value
        return acc
    import dask.array as da  # noqa: PLC0415
    acc = da.asarray(acc)
    acc[index] = acc[index] + value
    return acc


def zero_like(x):
    """The zero adjoint of x: lazily for a Dask x (NumPy's zeros would be the whole array)."""
    if is_lazy(x):
        import dask.array as da  # noqa: PLC0415
        return da.zeros_like(x)
    return 0.0 if np.ndim(x) == 0 else np.zeros(np.shape(x))


def fresh(x):
    return x if is_lazy(x) else support.fresh(x)


HELPERS = {
    "unbroadcast": unbroadcast,
    "sum_grad": sum_grad,
    "mean_grad": mean_grad,
    "extreme_grad": extreme_grad,
    "clip_masks": clip_masks,
    "clip_grad": clip_grad,
    "clip_lo_grad": clip_lo_grad,
    "clip_hi_grad": clip_hi_grad,
    "fresh": fresh,
    "index_grad": index_grad,
    "setitem": _unsupported("setitem", "assigning into an array (x[i] = v)"),
    "cleared": _unsupported("cleared", "assigning into an array (x[i] = v)"),
    "prod_grad": _unsupported("prod_grad", "np.prod"),
}


def lazy_bindings(bindings):
    """The generated code's helpers, with support.py's (and zero_like) replaced by the lazy-safe
    ones above."""
    from .primitives import PRIMS  # noqa: PLC0415
    out = dict(bindings)
    for name, obj in bindings.items():
        own = getattr(obj, "__name__", None)
        if getattr(obj, "__module__", None) == support.__name__ and own in HELPERS:
            out[name] = HELPERS[own]
        elif obj is PRIMS["zero_like"].funcs.get(None):
            out[name] = zero_like
    return out


def as_lazy(value, like=None):
    """A result of the lazy version as a Dask array (a gradient that did not meet the data is
    NumPy's; the caller computes everything in one dask.compute); the gradient of an array
    argument `like` shaped like it (a number that reached it spread over its shape and chunks)."""
    if not is_lazy(value) and not isinstance(value, (float, int, np.number, np.ndarray)):
        return value
    if like is not None and np.ndim(like) > 0 and np.ndim(value) == 0:
        return _spread(value, like if is_lazy(like) else np.asarray(like))
    import dask.array as da  # noqa: PLC0415
    return value if is_lazy(value) else da.asarray(value)
